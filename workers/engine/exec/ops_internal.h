// Small helpers shared by the op families: the structural ones (ops_shape.cc,
// ops_transform.cc, ops_generator.cc) and numpy matmul shapes (ops_gemm.cc,
// ops_quant_gemm.cc). Internal to mp_engine_exec.
#ifndef MP_WORKERS_ENGINE_EXEC_OPS_INTERNAL_H_
#define MP_WORKERS_ENGINE_EXEC_OPS_INTERNAL_H_

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
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

// numpy matmul shapes of A = input `a` [..., M, K] and B = input `b` [..., K, N] (ranks >= 1,
// checked by the caller): a 1-D A is [1, K] and a 1-D B is [K, 1], the promoted axis dropped
// from Y; the leading batch dims broadcast.
struct MatMulShape {
  int64_t m = 0, n = 0, k = 0;
  Shape batch;                                // broadcast batch dims
  std::vector<int64_t> a_strides, b_strides;  // per batch dim, in matrices
  bool fold = false;                          // B is one matrix: A's batch folds into M
  std::vector<int64_t> out;                   // Y's dims
};

// INVALID_ARGUMENT naming input `b` when the K dims differ, or the node when the batch
// dims do not broadcast.
absl::StatusOr<MatMulShape> GetMatMulShape(const PrepareContext& ctx, int a, int b);

// Calls fn(t, a_index, b_index) for every batch t of s.batch (row-major), with the indices
// of the A and B matrices that batch reads.
template <typename Fn>
void ForEachMatMulBatch(const MatMulShape& s, Fn fn) {
  const int rank = s.batch.rank();
  const int64_t batches = s.batch.num_elements();
  std::vector<int64_t> index(static_cast<size_t>(rank), 0);
  int64_t oa = 0, ob = 0;
  for (int64_t t = 0; t < batches; ++t) {
    fn(t, oa, ob);
    for (int d = rank - 1; d >= 0; --d) {
      const size_t du = static_cast<size_t>(d);
      oa += s.a_strides[du];
      ob += s.b_strides[du];
      if (++index[du] < s.batch.dim(d)) break;
      oa -= s.a_strides[du] * s.batch.dim(d);
      ob -= s.b_strides[du] * s.batch.dim(d);
      index[du] = 0;
    }
  }
}

}  // namespace mp::exec::internal

#endif  // MP_WORKERS_ENGINE_EXEC_OPS_INTERNAL_H_
