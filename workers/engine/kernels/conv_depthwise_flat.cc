// Depthwise convolution over whole flattened planes: Conv2d's path for depthwise layers
// with small planes (see conv_internal.h, UseDepthwiseFlat).
//
// With stride 1 and pad_left + pad_right == (kernel_w - 1)*dilation_w the output rows are
// exactly in_w wide, so output t = oh*in_w + ow reads tap (kh, kw) at x[q, t + shift] with
// the constant
//   shift = (kh*dh - pad_top)*in_w + (kw*dw - pad_left)
// (a read that wrapped across a row edge is a padding position, masked off). A plane is then
// a 1-D filter along the flattened plane, vectorised over all of its outputs whatever the row
// width (a 7x7 plane is 49 consecutive lanes, not 7 rows of 7 lanes; a 4x4 plane one vector).
// Lanes whose read falls outside the image (padding) or past the plane are masked off; the
// masks depend only on the geometry, so they are built once per call, one per (vector, tap).
// Masked loads do not touch masked-off floats (x86 AVX2 and AVX-512 only; the other targets
// keep the staged FIR form). Measured on Zen5 (AVX-512, batch 256): 4x4 planes 2x and 7x7
// ~10% faster than the staged FIR form; 14x14 rows are better served row by row, and stride 2
// by the FIR form's phase planes.
//
//   y[q, oh, ow] = clamp(bias[c] + sum_{kh, kw} w[c, kh, kw] * x[...] (+ residual[q, oh, ow]))
// with the multiply-adds from the bias, (kh, kw) ascending. Work splits over planes, so the
// result does not depend on the thread count.
#include <algorithm>
#include <vector>

#include "workers/engine/kernels/conv_internal.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "workers/engine/kernels/conv_depthwise_flat.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace mp::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using D = hn::ScalableTag<float>;
using DI = hn::RebindToSigned<D>;
using V = hn::Vec<D>;

// Whether the target reads its masks as bits (FlatPlan::masks).
bool FlatBitsImpl() { return HWY_TARGET <= HWY_AVX3; }

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
// Outputs [i0*L, (i0 + U)*L) of the stride-1 plane: U vectors with independent chains.
// `masks` points at vector i0's masks ([u][tap][lane]).
template <int U>
HWY_INLINE void FlatVectors(const float* HWY_RESTRICT xq, const float* HWY_RESTRICT wq, float b,
                            const int64_t* HWY_RESTRICT shift, const int32_t* HWY_RESTRICT masks,
                            int64_t taps, V* HWY_RESTRICT out) {
  const D d;
  [[maybe_unused]] const DI di;
  constexpr int64_t kL = static_cast<int64_t>(hn::MaxLanes(D()));
  V acc[U];
#pragma GCC unroll 4
  for (int u = 0; u < U; ++u) acc[u] = hn::Set(d, b);
  for (int64_t tap = 0; tap < taps; ++tap) {
    const V wv = hn::Set(d, wq[tap]);
    const float* src = xq + shift[tap];
    const int32_t* mt = masks + tap * kL;
#pragma GCC unroll 4
    for (int u = 0; u < U; ++u) {
#if HWY_TARGET <= HWY_AVX3
      // One bit per lane: a mask register load, no vector-to-mask conversion.
      const auto m = hn::LoadMaskBits(d, reinterpret_cast<const uint8_t*>(mt + u * taps * kL));
#else
      const auto m = hn::MaskFromVec(hn::BitCast(d, hn::LoadU(di, mt + u * taps * kL)));
#endif
      acc[u] = hn::MulAdd(wv, hn::MaskedLoad(m, d, src + u * kL), acc[u]);
    }
  }
#pragma GCC unroll 4
  for (int u = 0; u < U; ++u) out[u] = acc[u];
}
#endif

// Planes [begin, end) of the batch (q = n*C + c).
void DepthwiseFlatImpl(const Conv2dParams& p, const conv_internal::FlatPlan& plan, const float* x,
                       const float* w, const float* bias, const float* res, float* y, int64_t begin,
                       int64_t end) {
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
  const D d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const V lo = hn::Set(d, p.act_min), hi = hn::Set(d, p.act_max);
  const int64_t plane = p.out_h * p.out_w;  // == in_h * in_w
  const int64_t taps = plan.taps, vectors = plan.vectors;
  const int64_t* shift = plan.shift.data();
  const int32_t* masks = plan.masks.data();
  for (int64_t q = begin; q < end; ++q) {
    const int64_t c = q % p.out_channels;
    const float* xq = x + q * plane;
    const float* wq = w + c * taps;
    const float b = bias != nullptr ? bias[c] : 0.0f;
    const float* rq = res != nullptr ? res + q * plane : nullptr;
    float* yq = y + q * plane;
    auto emit = [&](int64_t i, V acc) {
      const int64_t at = i * lanes;
      const int64_t count = std::min(lanes, plane - at);
      if (count == lanes) {
        if (rq != nullptr) acc = hn::Add(acc, hn::LoadU(d, rq + at));
        hn::StoreU(hn::Min(hn::Max(acc, lo), hi), d, yq + at);
        return;
      }
      const auto m = hn::FirstN(d, static_cast<size_t>(count));
      if (rq != nullptr) acc = hn::Add(acc, hn::MaskedLoad(m, d, rq + at));
      hn::BlendedStore(hn::Min(hn::Max(acc, lo), hi), m, d, yq + at);
    };
    int64_t i = 0;
    for (; i + 4 <= vectors; i += 4) {
      V acc[4];
      FlatVectors<4>(xq + i * lanes, wq, b, shift, masks + i * taps * lanes, taps, acc);
      for (int u = 0; u < 4; ++u) emit(i + u, acc[u]);
    }
    for (; i < vectors; ++i) {
      V acc[1];
      FlatVectors<1>(xq + i * lanes, wq, b, shift, masks + i * taps * lanes, taps, acc);
      emit(i, acc[0]);
    }
  }
#else
  (void)p, (void)plan, (void)x, (void)w, (void)bias, (void)res, (void)y, (void)begin, (void)end;
#endif
}

}  // namespace HWY_NAMESPACE
}  // namespace mp::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace mp::kernels {
HWY_EXPORT(DepthwiseFlatImpl);
HWY_EXPORT(FlatBitsImpl);

namespace conv_internal {

bool UseDepthwiseFlat(const Conv2dParams& p) {
  if (p.in_channels != p.group || p.out_channels != p.group) return false;
  if (p.stride_h != 1 || p.stride_w != 1) return false;
  if (p.pad_left + p.pad_right != (p.kernel_w - 1) * p.dilation_w) return false;
  if (p.pad_top + p.pad_bottom != (p.kernel_h - 1) * p.dilation_h) return false;
  if (p.kernel_h * p.kernel_w > kFlatMaxTaps) return false;
  const int64_t lanes = X86VectorLanes();
  // Rows of at most half a vector (wider ones waste few lanes in the other paths).
  return lanes > 0 && 2 * p.in_w <= lanes && p.in_h * p.in_w <= kFlatMaxPlane;
}

FlatPlan MakeFlatPlan(const Conv2dParams& p, int64_t lanes, bool bits) {
  FlatPlan plan;
  const int64_t plane = p.in_h * p.in_w;
  plan.taps = p.kernel_h * p.kernel_w;
  plan.vectors = (plane + lanes - 1) / lanes;
  plan.shift.resize(static_cast<size_t>(plan.taps));
  plan.masks.assign(static_cast<size_t>(plan.vectors * plan.taps * lanes), 0);
  for (int64_t kh = 0; kh < p.kernel_h; ++kh) {
    for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
      const int64_t tap = kh * p.kernel_w + kw;
      const int64_t dh = kh * p.dilation_h - p.pad_top, dw = kw * p.dilation_w - p.pad_left;
      plan.shift[static_cast<size_t>(tap)] = dh * p.in_w + dw;
      for (int64_t t = 0; t < plane; ++t) {
        const int64_t ih = t / p.in_w + dh, iw = t % p.in_w + dw;
        if (ih < 0 || ih >= p.in_h || iw < 0 || iw >= p.in_w) continue;
        int32_t* at = plan.masks.data() + ((t / lanes) * plan.taps + tap) * lanes;
        const int64_t l = t % lanes;
        if (bits) {
          reinterpret_cast<uint8_t*>(at)[l / 8] |= static_cast<uint8_t>(1u << (l % 8));
        } else {
          at[l] = -1;
        }
      }
    }
  }
  return plan;
}

void DepthwiseFlatConv2d(const Conv2dParams& p, const float* x, const float* w, const float* bias,
                         float* y, ThreadPool* pool, const float* residual) {
  const FlatPlan plan = MakeFlatPlan(p, X86VectorLanes(), HWY_DYNAMIC_DISPATCH(FlatBitsImpl)());
  const auto kernel = HWY_DYNAMIC_DISPATCH(DepthwiseFlatImpl);
  const int64_t planes = p.batch * p.out_channels;
  auto run = [&](int64_t begin, int64_t end) {
    kernel(p, plan, x, w, bias, residual, y, begin, end);
  };
  ParallelForOrInline(pool, planes, run);
}

}  // namespace conv_internal
}  // namespace mp::kernels
#endif  // HWY_ONCE
