// MaxPool / AveragePool / global pools: see pool.h.
#include "workers/engine/kernels/pool.h"

#include <algorithm>
#include <limits>

#include "workers/engine/kernels/reduce.h"

#ifndef MP_KERNELS_POOL_AT_
#define MP_KERNELS_POOL_AT_
namespace mp::kernels::pool_internal {

// The scalar definition of one output of plane xp (see pool.h); the SIMD code uses it for
// the border columns and the references for everything.
float PoolAt(const Pool2dParams& p, const float* xp, int64_t oh, int64_t ow, bool is_max);

// Taps of one axis counted by AveragePool: in-bounds, or inside the padded extent.
inline int64_t AxisCount(int64_t start, int64_t kernel, int64_t dilation, int64_t in,
                         int64_t pad_end, bool include_pad) {
  const int64_t hi = include_pad ? in + pad_end : in;
  const int64_t lo = include_pad ? std::min<int64_t>(start, 0) : 0;
  int64_t count = 0;
  for (int64_t k = 0; k < kernel; ++k) {
    const int64_t i = start + k * dilation;
    if (i >= lo && i < hi) ++count;
  }
  return count;
}

}  // namespace mp::kernels::pool_internal
#endif  // MP_KERNELS_POOL_AT_

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "workers/engine/kernels/pool.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace mp::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using pool_internal::AxisCount;
using pool_internal::PoolAt;

// Outputs [ow0, ow0 + Lanes(d)) of row oh (every tap inside the row); see PoolPlanesT.
template <bool kMax, class D>
HWY_INLINE void PoolVector(D d, const Pool2dParams& p, const float* xp, int64_t h0, float count,
                           int64_t ow0, float* yrow) {
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  auto acc = hn::Set(d, kMax ? -std::numeric_limits<float>::infinity() : 0.0f);
  for (int64_t kh = 0; kh < p.kernel_h; ++kh) {
    const int64_t ih = h0 + kh * p.dilation_h;
    if (ih < 0 || ih >= p.in_h) continue;
    const float* base = xp + ih * p.in_w + ow0 * p.stride_w - p.pad_left;
    for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
      const float* src = base + kw * p.dilation_w;
      hn::Vec<D> v;
#if HWY_TARGET != HWY_SCALAR
      if (p.stride_w == 2) {
        v = hn::ConcatEven(d, hn::LoadU(d, src + lanes), hn::LoadU(d, src));
      } else {
        v = hn::LoadU(d, src);
      }
#else
      (void)lanes;
      v = hn::LoadU(d, src);
#endif
      acc = kMax ? hn::Max(acc, v) : hn::Add(acc, v);
    }
  }
  if (!kMax) acc = count > 0 ? hn::Div(acc, hn::Set(d, count)) : hn::Zero(d);
  hn::StoreU(acc, d, yrow + ow0);
}

// Outputs [lo, hi) of row oh with vectors of d, the last one overlapping the previous
// (outputs are recomputed identically); false when the range is narrower than a vector.
template <bool kMax, class D>
HWY_INLINE bool PoolRange(D d, const Pool2dParams& p, const float* xp, int64_t h0, float count,
                          int64_t lo, int64_t hi, float* yrow) {
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  if (hi - lo < lanes) return false;
  int64_t ow = lo;
  for (; ow + lanes <= hi; ow += lanes) PoolVector<kMax>(d, p, xp, h0, count, ow, yrow);
  if (ow < hi) PoolVector<kMax>(d, p, xp, h0, count, hi - lanes, yrow);
  return true;
}

template <bool kMax>
void PoolPlanesT(const Pool2dParams& p, const float* x, float* y, int64_t begin, int64_t end) {
  const int64_t in_plane = p.in_h * p.in_w, out_plane = p.out_h * p.out_w;
  // Output columns whose every kw tap is inside [0, in_w).
  const int64_t last = (p.kernel_w - 1) * p.dilation_w;
  int64_t lo = (p.pad_left + p.stride_w - 1) / p.stride_w;
  int64_t hi =
      p.in_w - 1 + p.pad_left - last >= 0 ? (p.in_w - 1 + p.pad_left - last) / p.stride_w + 1 : 0;
  lo = std::min(lo, p.out_w);
  hi = std::clamp(hi, lo, p.out_w);
  const bool vector_ok = (p.stride_w == 1 || p.stride_w == 2) && HWY_TARGET != HWY_SCALAR;
  // With stride 2, two loads read one element past the last tap: stop a vector early.
  const int64_t vec_end = vector_ok ? (p.stride_w == 2 ? hi - 1 : hi) : lo;
  for (int64_t plane = begin; plane < end; ++plane) {
    const float* xp = x + plane * in_plane;
    float* yp = y + plane * out_plane;
    for (int64_t oh = 0; oh < p.out_h; ++oh) {
      float* yrow = yp + oh * p.out_w;
      const int64_t h0 = oh * p.stride_h - p.pad_top;
      const float count = static_cast<float>(
          AxisCount(h0, p.kernel_h, p.dilation_h, p.in_h, p.pad_bottom, p.count_include_pad) *
          p.kernel_w);
      // The widest vectors that fit [lo, vec_end); scalar outside it (or if none fits).
      const bool done =
          PoolRange<kMax>(hn::ScalableTag<float>(), p, xp, h0, count, lo, vec_end, yrow) ||
          PoolRange<kMax>(hn::CappedTag<float, 8>(), p, xp, h0, count, lo, vec_end, yrow) ||
          PoolRange<kMax>(hn::CappedTag<float, 4>(), p, xp, h0, count, lo, vec_end, yrow);
      for (int64_t ow = 0; ow < p.out_w; ++ow) {
        if (done && ow == lo) ow = vec_end;
        if (ow < p.out_w) yrow[ow] = PoolAt(p, xp, oh, ow, kMax);
      }
    }
  }
}

void PoolPlanes(bool is_max, const Pool2dParams& p, const float* x, float* y, int64_t begin,
                int64_t end) {
  if (is_max) {
    PoolPlanesT<true>(p, x, y, begin, end);
  } else {
    PoolPlanesT<false>(p, x, y, begin, end);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace mp::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace mp::kernels {
HWY_EXPORT(PoolPlanes);

namespace pool_internal {

float PoolAt(const Pool2dParams& p, const float* xp, int64_t oh, int64_t ow, bool is_max) {
  const int64_t h0 = oh * p.stride_h - p.pad_top;
  const int64_t w0 = ow * p.stride_w - p.pad_left;
  float acc = is_max ? -std::numeric_limits<float>::infinity() : 0.0f;
  for (int64_t kh = 0; kh < p.kernel_h; ++kh) {
    const int64_t ih = h0 + kh * p.dilation_h;
    if (ih < 0 || ih >= p.in_h) continue;
    for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
      const int64_t iw = w0 + kw * p.dilation_w;
      if (iw < 0 || iw >= p.in_w) continue;
      const float v = xp[ih * p.in_w + iw];
      acc = is_max ? std::max(acc, v) : acc + v;
    }
  }
  if (is_max) return acc;
  const float count = static_cast<float>(
      AxisCount(h0, p.kernel_h, p.dilation_h, p.in_h, p.pad_bottom, p.count_include_pad) *
      AxisCount(w0, p.kernel_w, p.dilation_w, p.in_w, p.pad_right, p.count_include_pad));
  return count > 0 ? acc / count : 0.0f;
}

}  // namespace pool_internal

namespace {

void RunPlanes(bool is_max, const Pool2dParams& p, const float* x, float* y, ThreadPool* pool) {
  const auto planes = HWY_DYNAMIC_DISPATCH(PoolPlanes);
  const int64_t n = p.batch * p.channels;
  if (pool == nullptr || pool->num_threads() <= 1 || n < 2) {
    planes(is_max, p, x, y, 0, n);
  } else {
    pool->ParallelFor(n, 1, [&](int64_t b, int64_t e) { planes(is_max, p, x, y, b, e); });
  }
}

void Reference(bool is_max, const Pool2dParams& p, const float* x, float* y) {
  for (int64_t plane = 0; plane < p.batch * p.channels; ++plane) {
    for (int64_t oh = 0; oh < p.out_h; ++oh) {
      for (int64_t ow = 0; ow < p.out_w; ++ow) {
        y[(plane * p.out_h + oh) * p.out_w + ow] =
            pool_internal::PoolAt(p, x + plane * p.in_h * p.in_w, oh, ow, is_max);
      }
    }
  }
}

}  // namespace

int64_t PoolOutputSize(int64_t in, int64_t kernel, int64_t stride, int64_t pad_begin,
                       int64_t pad_end, int64_t dilation, bool ceil_mode) {
  const int64_t span = in + pad_begin + pad_end - dilation * (kernel - 1) - 1;
  if (span < 0) return 0;
  int64_t out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad_begin) --out;
  return out;
}

void MaxPool2d(const Pool2dParams& p, const float* x, float* y, ThreadPool* pool) {
  RunPlanes(true, p, x, y, pool);
}
void MaxPool2dReference(const Pool2dParams& p, const float* x, float* y) {
  Reference(true, p, x, y);
}
void AveragePool2d(const Pool2dParams& p, const float* x, float* y, ThreadPool* pool) {
  RunPlanes(false, p, x, y, pool);
}
void AveragePool2dReference(const Pool2dParams& p, const float* x, float* y) {
  Reference(false, p, x, y);
}

void GlobalAveragePool(int64_t planes, int64_t spatial, const float* x, float* y,
                       ThreadPool* pool) {
  Reduce(ReduceOp::kMean, planes, spatial, 1, x, y, pool);
}
void GlobalMaxPool(int64_t planes, int64_t spatial, const float* x, float* y, ThreadPool* pool) {
  Reduce(ReduceOp::kMax, planes, spatial, 1, x, y, pool);
}

}  // namespace mp::kernels
#endif  // HWY_ONCE
