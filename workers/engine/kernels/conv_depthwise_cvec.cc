// Channel-vectorised depthwise convolution: Conv2d's path for depthwise layers with small
// planes and many channels (see conv_internal.h, UseDepthwiseCvec).
//
// Small planes leave most lanes idle when vectorised along a row (a 7-wide row fills 7 of
// 16), and the staged FIR form pays a copy in and out per plane. Here the lanes run over L
// channels: per image and block of L channels the input is transposed once into a
// zero-padded [row][column][channel] tile, and every output position is
//   acc = bias[cb..] ; for (kh, kw) ascending: acc = MulAdd(w[cb.., kh, kw], xt[ih][iw][..], acc)
// with ih = oh*s_h + kh*d_h, iw = ow*s_w + kw*d_w in padded coordinates: plain vector
// loads, no masks, any stride, only real outputs. The [position][channel] result is
// transposed into y (adding the residual, clamping) by conv_cvec.cc's copy-out.
//
// Work splits over (image, channel block); every output is one fixed sequence of
// multiply-adds, the same as the other depthwise paths', so results do not depend on the
// thread count or the path.
#include <algorithm>
#include <cstring>
#include <vector>

#include "workers/engine/kernels/conv_internal.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "workers/engine/kernels/conv_depthwise_cvec.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace mp::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using D = hn::ScalableTag<float>;
using V = hn::Vec<D>;

// xt[((ih + pad_top)*wp + iw + pad_left)*L + c] = x[c*in_plane + ih*in_w + iw] for c < L
// (the padding of xt is left as it is: zero).
void DwTransposeInImpl(const Conv2dParams& p, const float* x, int64_t wp, float* xt) {
#if HWY_MAX_BYTES >= 32 && HWY_ARCH_X86
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(D()));
  const int64_t in_plane = p.in_h * p.in_w;
  const hn::Full128<float> d4;
  const int64_t w4 = p.in_w / 4 * 4;
  for (int64_t c = 0; c < lanes; c += 4) {
    for (int64_t ih = 0; ih < p.in_h; ++ih) {
      const float* src = x + c * in_plane + ih * p.in_w;
      float* dst = xt + ((ih + p.pad_top) * wp + p.pad_left) * lanes + c;
      for (int64_t iw = 0; iw < w4; iw += 4) {
        const auto r0 = hn::LoadU(d4, src + iw), r1 = hn::LoadU(d4, src + in_plane + iw);
        const auto r2 = hn::LoadU(d4, src + 2 * in_plane + iw);
        const auto r3 = hn::LoadU(d4, src + 3 * in_plane + iw);
        const auto t0 = hn::InterleaveLower(d4, r0, r1), t1 = hn::InterleaveLower(d4, r2, r3);
        const auto t2 = hn::InterleaveUpper(d4, r0, r1), t3 = hn::InterleaveUpper(d4, r2, r3);
        float* o = dst + iw * lanes;
        hn::StoreU(hn::ConcatLowerLower(d4, t1, t0), d4, o);
        hn::StoreU(hn::ConcatUpperUpper(d4, t1, t0), d4, o + lanes);
        hn::StoreU(hn::ConcatLowerLower(d4, t3, t2), d4, o + 2 * lanes);
        hn::StoreU(hn::ConcatUpperUpper(d4, t3, t2), d4, o + 3 * lanes);
      }
      for (int64_t iw = w4; iw < p.in_w; ++iw) {
        for (int64_t i = 0; i < 4; ++i) dst[iw * lanes + i] = src[i * in_plane + iw];
      }
    }
  }
#else
  (void)p, (void)x, (void)wp, (void)xt;
#endif
}

// out[(oh*out_w + ow)*L + c] = bias[c] + sum_{kh, kw} wt[(kh*kw_n + kw)*L + c] *
// xt[((oh*s_h + kh*d_h)*wp + ow*s_w + kw*d_w)*L + c], 4 positions at a time.
void DwComputeImpl(const Conv2dParams& p, const float* xt, int64_t wp, const float* wt,
                   const float* bias, float* out) {
#if HWY_MAX_BYTES >= 32 && HWY_ARCH_X86
  const D d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t taps = p.kernel_h * p.kernel_w;
  const int64_t positions = p.out_h * p.out_w;
  int64_t tap_off[conv_internal::kDwCvecMaxTaps];
  for (int64_t kh = 0; kh < p.kernel_h; ++kh) {
    for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
      tap_off[kh * p.kernel_w + kw] = (kh * p.dilation_h * wp + kw * p.dilation_w) * lanes;
    }
  }
  const V b = hn::LoadU(d, bias);
  auto base = [&](int64_t q) {
    const int64_t oh = q / p.out_w, ow = q % p.out_w;
    return xt + (oh * p.stride_h * wp + ow * p.stride_w) * lanes;
  };
  int64_t q = 0;
  for (; q + 4 <= positions; q += 4) {
    const float* s0 = base(q);
    const float* s1 = base(q + 1);
    const float* s2 = base(q + 2);
    const float* s3 = base(q + 3);
    V a0 = b, a1 = b, a2 = b, a3 = b;
    for (int64_t t = 0; t < taps; ++t) {
      const V w = hn::LoadU(d, wt + t * lanes);
      const int64_t o = tap_off[t];
      a0 = hn::MulAdd(w, hn::LoadU(d, s0 + o), a0);
      a1 = hn::MulAdd(w, hn::LoadU(d, s1 + o), a1);
      a2 = hn::MulAdd(w, hn::LoadU(d, s2 + o), a2);
      a3 = hn::MulAdd(w, hn::LoadU(d, s3 + o), a3);
    }
    hn::StoreU(a0, d, out + q * lanes);
    hn::StoreU(a1, d, out + (q + 1) * lanes);
    hn::StoreU(a2, d, out + (q + 2) * lanes);
    hn::StoreU(a3, d, out + (q + 3) * lanes);
  }
  for (; q < positions; ++q) {
    const float* s0 = base(q);
    V a0 = b;
    for (int64_t t = 0; t < taps; ++t) {
      a0 = hn::MulAdd(hn::LoadU(d, wt + t * lanes), hn::LoadU(d, s0 + tap_off[t]), a0);
    }
    hn::StoreU(a0, d, out + q * lanes);
  }
#else
  (void)p, (void)xt, (void)wp, (void)wt, (void)bias, (void)out;
#endif
}

}  // namespace HWY_NAMESPACE
}  // namespace mp::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace mp::kernels {
HWY_EXPORT(DwTransposeInImpl);
HWY_EXPORT(DwComputeImpl);

namespace conv_internal {

bool UseDepthwiseCvec(const Conv2dParams& p) {
  if (p.in_channels != p.group || p.out_channels != p.group) return false;
  const int64_t lanes = X86VectorLanes();
  if (lanes == 0 || p.group % lanes != 0) return false;
  if (p.kernel_h * p.kernel_w > kDwCvecMaxTaps) return false;
  const int64_t hp = p.pad_top + p.in_h + p.pad_bottom, wp = p.pad_left + p.in_w + p.pad_right;
  if (p.out_h * p.out_w > kDwCvecMaxPlane || hp * wp > 4 * kDwCvecMaxPlane) return false;
  // On 512-bit targets, stride-1 planes above 64 positions (14x14) measured faster row by
  // row (conv_depthwise.cc), whose vectors are then mostly full.
  return !(lanes >= 16 && p.stride_h == 1 && p.stride_w == 1 && p.out_h * p.out_w > 64);
}

void DepthwiseCvecConv2d(const Conv2dParams& p, const float* x, const float* w, const float* bias,
                         float* y, ThreadPool* pool, const float* residual) {
  const int64_t lanes = X86VectorLanes();
  const int64_t channels = p.group, blocks = channels / lanes;
  const int64_t taps = p.kernel_h * p.kernel_w;
  const int64_t hp = p.pad_top + p.in_h + p.pad_bottom, wp = p.pad_left + p.in_w + p.pad_right;
  const int64_t in_plane = p.in_h * p.in_w, out_plane = p.out_h * p.out_w;
  // Weights as [block][tap][lane], biases zero when absent.
  std::vector<float> wt(static_cast<size_t>(channels * taps));
  for (int64_t c = 0; c < channels; ++c) {
    for (int64_t t = 0; t < taps; ++t) {
      wt[static_cast<size_t>(((c / lanes) * taps + t) * lanes + c % lanes)] = w[c * taps + t];
    }
  }
  std::vector<float> b(static_cast<size_t>(channels), 0.0f);
  if (bias != nullptr) std::copy(bias, bias + channels, b.begin());
  const auto transpose_in = HWY_DYNAMIC_DISPATCH(DwTransposeInImpl);
  const auto compute = HWY_DYNAMIC_DISPATCH(DwComputeImpl);
  auto run = [&](int64_t begin, int64_t end) {
    float* xt = Scratch(static_cast<size_t>(hp * wp * lanes), 1);
    float* out = Scratch(static_cast<size_t>(out_plane * lanes), 0);
    // The padding stays zero: every item writes only the data positions.
    std::memset(xt, 0, static_cast<size_t>(hp * wp * lanes) * sizeof(float));
    for (int64_t item = begin; item < end; ++item) {
      const int64_t n = item / blocks, cb = item % blocks * lanes;
      transpose_in(p, x + (n * channels + cb) * in_plane, wp, xt);
      compute(p, xt, wp, wt.data() + cb * taps, b.data() + cb, out);
      const int64_t at = (n * channels + cb) * out_plane;
      CvecCopyOut(out, lanes, out_plane, residual != nullptr ? residual + at : nullptr, p.act_min,
                  p.act_max, y + at);
    }
  };
  const int64_t items = p.batch * blocks;
  ParallelForOrInline(pool, items, run);
}

}  // namespace conv_internal
}  // namespace mp::kernels
#endif  // HWY_ONCE
