// Depthwise convolution (one input and one output channel per group, stride_w 1 or 2) row
// by row straight from x into y: Conv2d's path for what the shifted-plane FIR form would
// otherwise stage (see conv_internal.h).
//
// For plane q = n*C + c, output row oh and a vector of output columns [ow0, ow0 + L):
//   y[q, oh, ow] = clamp(bias[c] + sum_{kh, kw} w[c, kh, kw] * x[q, ih, iw] (+ residual))
// with ih = oh*s_h - pad_top + kh*d_h (rows outside [0, in_h) skipped) and
// iw = ow*s_w - pad_left + kw*d_w; the multiply-adds run from the bias, (kh, kw) ascending.
// Each tap is one vector load of x's row (two, deinterleaved, for stride 2). Lanes whose
// column falls outside [0, in_w) read 0: on AVX2 and AVX-512 through masked loads, which
// do not touch the masked-off floats (so the rows need no padded copy); on the other targets
// through a small zero-filled buffer. Lanes past out_w are not stored (masked or partial
// stores). One pass over x and y, no staging, no copy out.
//
// Work splits over planes; every output is one fixed sequence of multiply-adds, so the
// result does not depend on the thread count.
#include <algorithm>

#include "workers/engine/kernels/conv_internal.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "workers/engine/kernels/conv_depthwise.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace mp::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using D = hn::ScalableTag<float>;
using V = hn::Vec<D>;
constexpr int64_t kL = static_cast<int64_t>(hn::MaxLanes(D()));
constexpr int64_t kDepthwiseMaxKw = conv_internal::kDepthwiseMaxKw;

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
// Lanes l with 0 <= base + l < in_w.
HWY_INLINE hn::Mask<D> SpanMask(D d, int64_t base, int64_t in_w) {
  const int64_t lo = std::clamp<int64_t>(-base, 0, kL);
  const int64_t hi = std::clamp<int64_t>(in_w - base, 0, kL);
  return hn::AndNot(hn::FirstN(d, static_cast<size_t>(lo)), hn::FirstN(d, static_cast<size_t>(hi)));
}

// Output rows [oh0, oh0 + R) of one column vector, every row reading all kernel rows
// (interior rows): R independent accumulators, one tap's weight shared by all.
template <int R, bool kStride2>
HWY_INLINE void InteriorRows(D d, const Conv2dParams& p, const float* xq, const float* wq, float b,
                             const hn::Mask<D>* m0, const hn::Mask<D>* m1, const int64_t* base,
                             int64_t oh0, int64_t ow0, hn::Mask<D> store, const float* rq,
                             float* yq, V lo, V hi) {
  V acc[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) acc[r] = hn::Set(d, b);
  const int64_t row_step = p.stride_h * p.in_w;
  const float* row0 = xq + (oh0 * p.stride_h - p.pad_top) * p.in_w;
  for (int64_t kh = 0; kh < p.kernel_h; ++kh) {
    const float* rows = row0 + kh * p.dilation_h * p.in_w;
    const float* wk = wq + kh * p.kernel_w;
    for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
      const V w = hn::Set(d, wk[kw]);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const float* src = rows + r * row_step + base[kw];
        V v = hn::MaskedLoad(m0[kw], d, src);
        if (kStride2) v = hn::ConcatEven(d, hn::MaskedLoad(m1[kw], d, src + kL), v);
        acc[r] = hn::MulAdd(w, v, acc[r]);
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    const int64_t at = (oh0 + r) * p.out_w + ow0;
    if (rq != nullptr) acc[r] = hn::Add(acc[r], hn::MaskedLoad(store, d, rq + at));
    hn::BlendedStore(hn::Min(hn::Max(acc[r], lo), hi), store, d, yq + at);
  }
}

// One plane with fault-free masked loads and stores. The masks of a column vector depend
// only on (ow0, kw), so they are made once per vector and reused by every row and kh.
// Interior rows go 4 at a time (independent multiply-add chains); rows whose window crosses
// the top or bottom edge one at a time over their valid kernel rows.
template <bool kStride2>
HWY_INLINE void PlaneMasked(D d, const Conv2dParams& p, const float* xq, const float* wq, float b,
                            const float* rq, float* yq, V lo, V hi) {
  hn::Mask<D> m0[kDepthwiseMaxKw], m1[kDepthwiseMaxKw];
  int64_t base[kDepthwiseMaxKw];
  for (int64_t ow0 = 0; ow0 < p.out_w; ow0 += kL) {
    for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
      base[kw] = ow0 * p.stride_w - p.pad_left + kw * p.dilation_w;
      m0[kw] = SpanMask(d, base[kw], p.in_w);
      if (kStride2) m1[kw] = SpanMask(d, base[kw] + kL, p.in_w);
    }
    const auto store = hn::FirstN(d, static_cast<size_t>(std::min(kL, p.out_w - ow0)));
    for (int64_t oh = 0; oh < p.out_h;) {
      const int64_t top = oh * p.stride_h - p.pad_top;
      const int64_t kh_lo = top >= 0 ? 0 : (-top + p.dilation_h - 1) / p.dilation_h;
      const int64_t kh_hi = std::max(
          kh_lo, std::min(p.kernel_h, top < p.in_h ? (p.in_h - 1 - top) / p.dilation_h + 1 : 0));
      if (kh_lo == 0 && kh_hi == p.kernel_h) {
        // Interior rows from oh on: top + (kernel_h - 1)*dh < in_h, top grows by stride_h.
        const int64_t span = (p.kernel_h - 1) * p.dilation_h;
        const int64_t last = std::min(p.out_h - 1, (p.in_h - 1 - span + p.pad_top) / p.stride_h);
        const int64_t count = last - oh + 1;
        if (count >= 4) {
          InteriorRows<4, kStride2>(d, p, xq, wq, b, m0, m1, base, oh, ow0, store, rq, yq, lo, hi);
          oh += 4;
          continue;
        }
      }
      V acc = hn::Set(d, b);
      for (int64_t kh = kh_lo; kh < kh_hi; ++kh) {
        const float* row = xq + (top + kh * p.dilation_h) * p.in_w;
        const float* wk = wq + kh * p.kernel_w;
        for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
          V v = hn::MaskedLoad(m0[kw], d, row + base[kw]);
          if (kStride2) v = hn::ConcatEven(d, hn::MaskedLoad(m1[kw], d, row + base[kw] + kL), v);
          acc = hn::MulAdd(hn::Set(d, wk[kw]), v, acc);
        }
      }
      const int64_t at = oh * p.out_w + ow0;
      if (rq != nullptr) acc = hn::Add(acc, hn::MaskedLoad(store, d, rq + at));
      hn::BlendedStore(hn::Min(hn::Max(acc, lo), hi), store, d, yq + at);
      ++oh;
    }
  }
}
#else  // targets whose vector loads may fault past the data: a buffered gather

// Lanes l < L of row[base + l*stride] for 0 <= base + l*stride < in_w, else 0; reads only
// those floats.
HWY_INLINE V LoadGather(D d, const float* row, int64_t base, int64_t stride, int64_t in_w) {
  HWY_ALIGN float buf[kL];
  for (int64_t l = 0; l < kL; ++l) {
    const int64_t iw = base + l * stride;
    buf[l] = iw >= 0 && iw < in_w ? row[iw] : 0.0f;
  }
  return hn::Load(d, buf);
}

// Lanes l < L of row[base + l] for 0 <= base + l < in_w, else 0; reads only those floats.
HWY_INLINE V LoadSpan(D d, const float* row, int64_t base, int64_t in_w) {
  if (base >= 0 && base + kL <= in_w) return hn::LoadU(d, row + base);
  const int64_t lo = std::clamp<int64_t>(-base, 0, kL);
  const int64_t hi = std::clamp<int64_t>(in_w - base, 0, kL);
  if (lo >= hi) return hn::Zero(d);
  return LoadGather(d, row, base, 1, in_w);
}

// Tap vector: lanes l of row[base + l*s_w] (zeros outside the row).
HWY_INLINE V LoadTap(D d, const float* row, int64_t base, int64_t s_w, int64_t in_w) {
  if (s_w == 1) return LoadSpan(d, row, base, in_w);
#if HWY_TARGET != HWY_SCALAR
  if (s_w == 2) {
    const V lo = LoadSpan(d, row, base, in_w);
    const V hi = LoadSpan(d, row, base + kL, in_w);
    return hn::ConcatEven(d, hi, lo);
  }
#endif
  return LoadGather(d, row, base, s_w, in_w);
}

#endif

// Planes [begin, end) of the batch (q = n*C + c).
void DepthwiseImpl(const Conv2dParams& p, const float* x, const float* w, const float* bias,
                   const float* res, float* y, int64_t begin, int64_t end) {
  const D d;
  const V lo = hn::Set(d, p.act_min), hi = hn::Set(d, p.act_max);
  const int64_t in_plane = p.in_h * p.in_w, out_plane = p.out_h * p.out_w;
  const int64_t taps = p.kernel_h * p.kernel_w;
  for (int64_t q = begin; q < end; ++q) {
    const int64_t c = q % p.out_channels;
    const float* xq = x + q * in_plane;
    const float* wq = w + c * taps;
    const float b = bias != nullptr ? bias[c] : 0.0f;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
    const float* rq = res != nullptr ? res + q * out_plane : nullptr;
    if (p.stride_w == 1) {
      PlaneMasked<false>(d, p, xq, wq, b, rq, y + q * out_plane, lo, hi);
    } else {
      PlaneMasked<true>(d, p, xq, wq, b, rq, y + q * out_plane, lo, hi);
    }
#else
    for (int64_t oh = 0; oh < p.out_h; ++oh) {
      const int64_t top = oh * p.stride_h - p.pad_top;
      const int64_t kh_lo = top >= 0 ? 0 : (-top + p.dilation_h - 1) / p.dilation_h;
      const int64_t kh_hi = std::max(
          kh_lo, std::min(p.kernel_h, top < p.in_h ? (p.in_h - 1 - top) / p.dilation_h + 1 : 0));
      const int64_t at = q * out_plane + oh * p.out_w;
      for (int64_t ow0 = 0; ow0 < p.out_w; ow0 += kL) {
        V acc = hn::Set(d, b);
        for (int64_t kh = kh_lo; kh < kh_hi; ++kh) {
          const float* row = xq + (top + kh * p.dilation_h) * p.in_w;
          for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
            const int64_t base = ow0 * p.stride_w - p.pad_left + kw * p.dilation_w;
            const V v = LoadTap(d, row, base, p.stride_w, p.in_w);
            acc = hn::MulAdd(hn::Set(d, wq[kh * p.kernel_w + kw]), v, acc);
          }
        }
        const int64_t count = std::min(kL, p.out_w - ow0);
        if (count == kL) {
          if (res != nullptr) acc = hn::Add(acc, hn::LoadU(d, res + at + ow0));
          hn::StoreU(hn::Min(hn::Max(acc, lo), hi), d, y + at + ow0);
          continue;
        }
        HWY_ALIGN float out[kL];
        hn::Store(acc, d, out);
        for (int64_t l = 0; l < count; ++l) {
          float v = out[l];
          if (res != nullptr) v += res[at + ow0 + l];
          y[at + ow0 + l] = std::min(std::max(v, p.act_min), p.act_max);
        }
      }
    }
#endif
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace mp::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace mp::kernels {
HWY_EXPORT(DepthwiseImpl);

namespace conv_internal {

// Rows of at least 3/4 of a vector: narrower rows waste most lanes here, while the staged
// FIR form packs several images' rows into its vectors (measured on Zen5, AVX-512: 14x14
// planes ~10% faster here, 7x7 and 4x4 up to 2x slower).
bool UseDepthwise(const Conv2dParams& p) {
  return p.in_channels == p.group && p.out_channels == p.group &&
         (p.stride_w == 1 || p.stride_w == 2) && p.kernel_w <= kDepthwiseMaxKw &&
         4 * p.out_w >= 3 * TargetLanes();
}

void DepthwiseConv2d(const Conv2dParams& p, const float* x, const float* w, const float* bias,
                     float* y, ThreadPool* pool, const float* residual) {
  const auto kernel = HWY_DYNAMIC_DISPATCH(DepthwiseImpl);
  const int64_t planes = p.batch * p.out_channels;
  auto run = [&](int64_t begin, int64_t end) { kernel(p, x, w, bias, residual, y, begin, end); };
  ParallelForOrInline(pool, planes, run);
}

}  // namespace conv_internal
}  // namespace mp::kernels
#endif  // HWY_ONCE
