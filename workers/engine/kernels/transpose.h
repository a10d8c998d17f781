// N-D transpose (the ONNX Transpose operator) for any element size.
//
//   out_shape[d] = in_shape[perm[d]],  out[i_0, ..., i_{r-1}] = in[j] with j_{perm[d]} = i_d
//   (dense row-major on both sides; perm is a permutation of [0, rank), rank <= 8).
//
// The kernel first merges output axes that stay adjacent and in order in the input and
// drops size-1 axes. Then:
//   - if the innermost output axis is also innermost in the input, it copies runs
//     (memcpy) while walking the outer axes;
//   - otherwise it transposes 2-D blocks between the input's innermost axis and the
//     output's innermost axis in cache-sized tiles (typed copies for 1/2/4/8-byte elements),
//     walking the remaining axes.
// Pure data movement: the result is bit-identical to the reference for any thread count
// (a pool splits the outermost walk). `out` must not overlap `in`.
#ifndef MP_WORKERS_ENGINE_KERNELS_TRANSPOSE_H_
#define MP_WORKERS_ENGINE_KERNELS_TRANSPOSE_H_

#include <cstddef>
#include <cstdint>

#include "workers/engine/kernels/parallel.h"

namespace mp::kernels {

inline constexpr int kMaxTransposeRank = 8;

void Transpose(int rank, const int64_t* in_shape, const int* perm, size_t elem_size, const void* in,
               void* out, ThreadPool* pool = nullptr);
void TransposeReference(int rank, const int64_t* in_shape, const int* perm, size_t elem_size,
                        const void* in, void* out);

}  // namespace mp::kernels

#endif  // MP_WORKERS_ENGINE_KERNELS_TRANSPOSE_H_
