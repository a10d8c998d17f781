// Reductions (float32) over the middle axis of an [outer, reduce, inner] view; callers
// collapse the reduced axes into one (transposing first when they are not adjacent).
//
//   y[o, i] = R_{r < reduce} x[(o*reduce + r)*inner + i],   y: [outer, inner]
//   Sum: sum; Mean: sum / reduce; Max / Min: max / min (identity -inf / +inf, so an empty
//   reduction gives 0 for Sum, NaN for Mean, -inf / +inf for Max / Min).
//
// inner > 1: vectorised across inner, accumulating r in ascending order exactly like the
// reference (bit-identical, no fma). inner == 1: each row reduced with lane-parallel partial
// sums (Sum/Mean differ from the reference by rounding order; Max/Min are exact).
// Work splits over outer (or inner tiles), never inside one sum, so the bytes do not depend
// on the thread count.
#ifndef MP_WORKERS_ENGINE_KERNELS_REDUCE_H_
#define MP_WORKERS_ENGINE_KERNELS_REDUCE_H_

#include <cstdint>

#include "workers/engine/kernels/parallel.h"

namespace mp::kernels {

enum class ReduceOp { kSum, kMean, kMax, kMin };

void Reduce(ReduceOp op, int64_t outer, int64_t reduce, int64_t inner, const float* x, float* y,
            ThreadPool* pool = nullptr);
void ReduceReference(ReduceOp op, int64_t outer, int64_t reduce, int64_t inner, const float* x,
                     float* y);

}  // namespace mp::kernels

#endif  // MP_WORKERS_ENGINE_KERNELS_REDUCE_H_
