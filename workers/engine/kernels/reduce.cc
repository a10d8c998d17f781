// Reductions over [outer, reduce, inner]: see reduce.h.
#include "workers/engine/kernels/reduce.h"

#include <algorithm>
#include <cmath>
#include <limits>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "workers/engine/kernels/reduce.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace mp::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <class VOp, class SOp>
void ReduceBlockWith(int64_t o_begin, int64_t o_end, int64_t i_begin, int64_t i_end, int64_t reduce,
                     int64_t inner, float identity, const float* x, float* y, const VOp& vop,
                     const SOp& sop) {
  const hn::ScalableTag<float> d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  for (int64_t o = o_begin; o < o_end; ++o) {
    float* yo = y + o * inner;
    if (inner == 1) {  // one contiguous row: lane-parallel partial results
      const float* xr = x + o * reduce;
      auto acc = hn::Set(d, identity);
      int64_t r = 0;
      for (; r + lanes <= reduce; r += lanes) acc = vop(acc, hn::LoadU(d, xr + r));
      // Fold lanes: a lane-wise tree through a buffer keeps this target-independent code.
      HWY_ALIGN float lanes_buf[HWY_MAX_BYTES / sizeof(float)];
      hn::Store(acc, d, lanes_buf);
      float v = identity;
      for (int64_t l = 0; l < lanes; ++l) v = sop(v, lanes_buf[l]);
      for (; r < reduce; ++r) v = sop(v, xr[r]);
      yo[0] = v;
      continue;
    }
    std::fill(yo + i_begin, yo + i_end, identity);
    for (int64_t r = 0; r < reduce; ++r) {
      const float* xr = x + (o * reduce + r) * inner;
      int64_t i = i_begin;
      for (; i + lanes <= i_end; i += lanes) {
        hn::StoreU(vop(hn::LoadU(d, yo + i), hn::LoadU(d, xr + i)), d, yo + i);
      }
      for (; i < i_end; ++i) yo[i] = sop(yo[i], xr[i]);
    }
  }
}

void ReduceBlock(ReduceOp op, int64_t o_begin, int64_t o_end, int64_t i_begin, int64_t i_end,
                 int64_t reduce, int64_t inner, const float* x, float* y) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kMean:
      ReduceBlockWith(
          o_begin, o_end, i_begin, i_end, reduce, inner, 0.0f, x, y,
          [](auto a, auto b) { return hn::Add(a, b); }, [](float a, float b) { return a + b; });
      break;
    case ReduceOp::kMax:
      ReduceBlockWith(
          o_begin, o_end, i_begin, i_end, reduce, inner, -kInf, x, y,
          [](auto a, auto b) { return hn::Max(a, b); },
          [](float a, float b) { return std::max(a, b); });
      break;
    case ReduceOp::kMin:
      ReduceBlockWith(
          o_begin, o_end, i_begin, i_end, reduce, inner, kInf, x, y,
          [](auto a, auto b) { return hn::Min(a, b); },
          [](float a, float b) { return std::min(a, b); });
      break;
  }
  if (op == ReduceOp::kMean) {
    const float count = static_cast<float>(reduce);
    for (int64_t o = o_begin; o < o_end; ++o) {
      for (int64_t i = (inner == 1 ? 0 : i_begin); i < (inner == 1 ? 1 : i_end); ++i) {
        y[o * inner + i] /= count;
      }
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace mp::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace mp::kernels {
HWY_EXPORT(ReduceBlock);

void Reduce(ReduceOp op, int64_t outer, int64_t reduce, int64_t inner, const float* x, float* y,
            ThreadPool* pool) {
  const auto block = HWY_DYNAMIC_DISPATCH(ReduceBlock);
  const int64_t work = outer * std::max<int64_t>(reduce, 1) * inner;
  const int threads = pool ? pool->num_threads() : 1;
  if (threads <= 1 || work < 32768) {
    block(op, 0, outer, 0, inner, reduce, inner, x, y);
  } else if (outer >= threads || inner == 1) {
    pool->ParallelFor(
        outer, 1, [&](int64_t b, int64_t e) { block(op, b, e, 0, inner, reduce, inner, x, y); });
  } else {  // few long rows: split the columns, each keeps its own r-ascending order
    pool->ParallelFor(
        inner, 64, [&](int64_t b, int64_t e) { block(op, 0, outer, b, e, reduce, inner, x, y); });
  }
}

void ReduceReference(ReduceOp op, int64_t outer, int64_t reduce, int64_t inner, const float* x,
                     float* y) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      float acc = op == ReduceOp::kMax ? -kInf : op == ReduceOp::kMin ? kInf : 0.0f;
      for (int64_t r = 0; r < reduce; ++r) {
        const float v = x[(o * reduce + r) * inner + i];
        switch (op) {
          case ReduceOp::kSum:
          case ReduceOp::kMean:
            acc += v;
            break;
          case ReduceOp::kMax:
            acc = std::max(acc, v);
            break;
          case ReduceOp::kMin:
            acc = std::min(acc, v);
            break;
        }
      }
      if (op == ReduceOp::kMean) acc /= static_cast<float>(reduce);
      y[o * inner + i] = acc;
    }
  }
}

}  // namespace mp::kernels
#endif  // HWY_ONCE
