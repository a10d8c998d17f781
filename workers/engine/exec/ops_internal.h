// Small helpers shared by the structural op families (ops_shape.cc, ops_transform.cc,
// ops_generator.cc). Internal to mp_engine_exec.
#ifndef MP_WORKERS_ENGINE_EXEC_OPS_INTERNAL_H_
#define MP_WORKERS_ENGINE_EXEC_OPS_INTERNAL_H_

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "workers/engine/exec/op.h"

namespace mp::exec::internal {

// Copies `bytes` bytes from src to dst, split over the pool in 64 KiB chunks.
void ParallelCopy(const void* src, void* dst, int64_t bytes, kernels::ThreadPool* pool);

// Gathers a strided view into a dense row-major `out_shape` tensor of `elem_size`-byte
// elements: dst[i0..in] = src[(offset + sum_d i_d * src_strides[d]) * elem_size], strides in
// elements (may be 0 for broadcast or negative for reversed slices). Parallel over output
// rows; any thread count gives the same bytes.
void StridedCopy(const void* src, int64_t offset, std::span<const int64_t> src_strides,
                 const Shape& out_shape, size_t elem_size, void* dst, kernels::ThreadPool* pool);

// Output 0 = input 0's bytes (any dtype); used by Reshape, Flatten, Squeeze, Identity...
// The output may have another shape with the same element count and dtype.
class CopyKernel : public OpKernel {
 public:
  absl::Status Run(RunContext& ctx) override;
};

// A PreparedOp with output 0 = (dtype, shape) and a CopyKernel.
PreparedOp CopyOp(const PrepareContext& ctx, DType dtype, Shape shape);

// The one-output PreparedOp skeleton: outputs sized to the node, output 0 set.
PreparedOp SingleOutput(const PrepareContext& ctx, DType dtype, Shape shape,
                        std::unique_ptr<OpKernel> kernel);

}  // namespace mp::exec::internal

#endif  // MP_WORKERS_ENGINE_EXEC_OPS_INTERNAL_H_
