// Pointwise convolution (1x1 kernel, stride 1, no padding) straight from NCHW x into NCHW y,
// the shifted-plane path's GEMM form without staging (see conv_internal.h).
//
// For image n and group g, y[n, g*Cout_g + m, t] (t < HW = in_h*in_w) is
//   clamp(bias[m] + sum_{k < Cin_g} W[m][k] * x[n, g*Cin_g + k, t] (+ residual), lo, hi)
// with the fused multiply-adds from the bias, k ascending — the same sequence as the staged
// GEMM form (conv_shift.cc), so both give the same bytes. x[n, g*Cin_g + k] is the image's
// plane k at a constant stride HW, so the micro-kernel loads its B vectors from x itself:
// no im2col, no staging copy, no copy out.
//
// Vectors. Image n's outputs are covered by ceil(HW / L) vectors of L lanes starting at
// min(j*L, HW - L) (the last one overlaps the previous instead of running past the plane;
// it recomputes those outputs bit-identically). A register tile is up to 3 such vectors,
// possibly from consecutive images, times kMR output rows. Needs HW >= L (UsePointwise).
//
// Work items are (group, block of images, block of row panels); every output is computed by
// the same sequence whatever the item, tile or thread, so results do not depend on the
// thread count. Items never share an output vector (overlapping vectors stay in one image
// and one item), so no two threads store to the same float.
#include <algorithm>
#include <vector>

#include "workers/engine/kernels/conv_internal.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "workers/engine/kernels/conv_pointwise.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace mp::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using D = hn::ScalableTag<float>;
using V = hn::Vec<D>;
constexpr int64_t kL = static_cast<int64_t>(hn::MaxLanes(D()));
constexpr int64_t kNV = 3;                            // vectors per tile
constexpr int64_t kMR = HWY_MAX_BYTES >= 64 ? 8 : 4;  // rows per tile (divides the panel)
constexpr int64_t kPanel = conv_internal::kShiftPanel;

// For r < rows (<= kMR), v < NV: out[v] + r*ld .. + L = clamp(bias[r] + sum_kk a[kk*kPanel + r]
// * src[v][kk*ld_src + 0..L) (+ res[v] + r*ld), lo, hi).
template <int64_t NV>
HWY_INLINE void Tile(const float* HWY_RESTRICT a, const float* const* src, int64_t ld_src,
                     int64_t k, const float* bias, int64_t rows, V lo, V hi, float* const* out,
                     const float* const* res, int64_t ld) {
  const D d;
  V acc[kMR][NV];
#pragma GCC unroll 8
  for (int64_t r = 0; r < kMR; ++r) {
#pragma GCC unroll 3
    for (int64_t v = 0; v < NV; ++v) acc[r][v] = hn::Set(d, bias[r]);
  }
  const float* s[NV];
#pragma GCC unroll 3
  for (int64_t v = 0; v < NV; ++v) s[v] = src[v];
  for (int64_t kk = 0; kk < k; ++kk) {
    V b[NV];
#pragma GCC unroll 3
    for (int64_t v = 0; v < NV; ++v) {
      b[v] = hn::LoadU(d, s[v]);
      s[v] += ld_src;
    }
#pragma GCC unroll 8
    for (int64_t r = 0; r < kMR; ++r) {
      const V w = hn::Set(d, a[kk * kPanel + r]);
#pragma GCC unroll 3
      for (int64_t v = 0; v < NV; ++v) acc[r][v] = hn::MulAdd(w, b[v], acc[r][v]);
    }
  }
#pragma GCC unroll 8
  for (int64_t r = 0; r < kMR; ++r) {
    if (r >= rows) break;
#pragma GCC unroll 3
    for (int64_t v = 0; v < NV; ++v) {
      V y = acc[r][v];
      if (res != nullptr) y = hn::Add(y, hn::LoadU(d, res[v] + r * ld));
      hn::StoreU(hn::Min(hn::Max(y, lo), hi), d, out[v] + r * ld);
    }
  }
}

// Group g's outputs for images [n0, n1) and weight rows [m0, m1) (m0 a multiple of kMR).
// `a` holds the group's m_pad/kPanel packed panels (PackShiftWeights), `bias` its m_pad
// biases (zero-padded). x and y point at image 0's group g channels; images are x_stride /
// y_stride apart; `res` (y's layout, or null) likewise.
void PointwiseImpl(const float* a, int64_t k, const float* bias, int64_t m0, int64_t m1,
                   int64_t cout_g, const float* x, int64_t x_stride, const float* res, float* y,
                   int64_t y_stride, int64_t hw, int64_t n0, int64_t n1, float lo, float hi) {
  const D d;
  const V vlo = hn::Set(d, lo), vhi = hn::Set(d, hi);
  const int64_t per_image = (hw + kL - 1) / kL;
  const int64_t total = (n1 - n0) * per_image;
  for (int64_t u = 0; u < total; u += kNV) {
    const int64_t nv = std::min(kNV, total - u);
    const float* src[kNV];
    float* out[kNV];
    const float* rv[kNV];
    for (int64_t v = 0; v < nv; ++v) {
      const int64_t n = n0 + (u + v) / per_image;
      const int64_t t = std::min(((u + v) % per_image) * kL, hw - kL);
      src[v] = x + n * x_stride + t;
      out[v] = y + n * y_stride + t;
      rv[v] = res != nullptr ? res + n * y_stride + t : nullptr;
    }
    const float* const* rp = res != nullptr ? rv : nullptr;
    for (int64_t m = m0; m < m1; m += kMR) {
      const float* ap = a + (m / kPanel) * k * kPanel + m % kPanel;
      const int64_t rows = std::min(kMR, cout_g - m);
      float* o[kNV];
      const float* r[kNV];
      for (int64_t v = 0; v < nv; ++v) {
        o[v] = out[v] + m * hw;
        r[v] = rp != nullptr ? rv[v] + m * hw : nullptr;
      }
      const float* const* rr = rp != nullptr ? r : nullptr;
      if (nv == 3) {
        Tile<3>(ap, src, hw, k, bias + m, rows, vlo, vhi, o, rr, hw);
      } else if (nv == 2) {
        Tile<2>(ap, src, hw, k, bias + m, rows, vlo, vhi, o, rr, hw);
      } else {
        Tile<1>(ap, src, hw, k, bias + m, rows, vlo, vhi, o, rr, hw);
      }
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace mp::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace mp::kernels {
HWY_EXPORT(PointwiseImpl);

namespace conv_internal {

namespace {

// The stride-1 convolution over the sampled input (conv_internal.h, UseStridedPointwise).
Conv2dParams Sampled(const Conv2dParams& p) {
  Conv2dParams q = p;
  q.in_h = p.out_h;
  q.in_w = p.out_w;
  q.stride_h = q.stride_w = 1;
  return q;
}

}  // namespace

bool UseStridedPointwise(const Conv2dParams& p) {
  return p.kernel_h == 1 && p.kernel_w == 1 && (p.stride_h > 1 || p.stride_w > 1) &&
         p.pad_top == 0 && p.pad_left == 0 && p.pad_bottom == 0 && p.pad_right == 0 &&
         UsePointwise(Sampled(p));
}

void StridedPointwiseConv2d(const Conv2dParams& p, const float* x, const float* w,
                            const float* bias, float* y, ThreadPool* pool, const float* residual) {
  const int64_t in_plane = p.in_h * p.in_w, out_plane = p.out_h * p.out_w;
  // Blocks of images whose sampled input (in L2) feeds PointwiseConv2d, one block per item.
  const int64_t images =
      std::clamp<int64_t>((int64_t{32} << 10) / (p.in_channels * out_plane), 1, p.batch);
  const int64_t blocks = (p.batch + images - 1) / images;
  auto run = [&](int64_t begin, int64_t end) {
    float* sampled = Scratch(static_cast<size_t>(images * p.in_channels * out_plane), 1);
    for (int64_t blk = begin; blk < end; ++blk) {
      const int64_t n0 = blk * images, n = std::min(images, p.batch - n0);
      SamplePlanes(p, x + n0 * p.in_channels * in_plane, n * p.in_channels, sampled);
      Conv2dParams q = Sampled(p);
      q.batch = n;
      const int64_t at = n0 * p.out_channels * out_plane;
      PointwiseConv2d(q, sampled, w, bias, y + at, nullptr,
                      residual != nullptr ? residual + at : nullptr);
    }
  };
  if (pool != nullptr && pool->num_threads() > 1 && blocks > 1) {
    pool->ParallelFor(blocks, 1, run);
  } else {
    run(0, blocks);
  }
}

bool UsePointwise(const Conv2dParams& p) {
  return p.kernel_h == 1 && p.kernel_w == 1 && p.stride_h == 1 && p.stride_w == 1 &&
         p.pad_top == 0 && p.pad_left == 0 && p.pad_bottom == 0 && p.pad_right == 0 &&
         p.in_h * p.in_w >= TargetLanes();
}

void PointwiseConv2d(const Conv2dParams& p, const float* x, const float* w, const float* bias,
                     float* y, ThreadPool* pool, const float* residual) {
  const int64_t cin_g = p.in_channels / p.group, cout_g = p.out_channels / p.group;
  const int64_t m_pad = RoundUp(cout_g, kShiftPanel);
  const int64_t hw = p.in_h * p.in_w;
  std::vector<float> b(static_cast<size_t>(p.group * m_pad), 0.0f);
  for (int64_t g = 0; g < p.group; ++g) {
    for (int64_t r = 0; r < cout_g; ++r) {
      b[static_cast<size_t>(g * m_pad + r)] = bias ? bias[g * cout_g + r] : 0.0f;
    }
  }
  // Images per item: about 64 vectors' worth of outputs (the B block of a tile stays in L1
  // across the row panels); rows split only when there are fewer items than threads.
  const int64_t threads = pool != nullptr ? pool->num_threads() : 1;
  const int64_t images = std::clamp<int64_t>(64 * 16 / hw, 1, p.batch);
  const int64_t image_blocks = (p.batch + images - 1) / images;
  const int64_t panels = m_pad / kShiftPanel;
  const int64_t row_blocks = p.group * image_blocks >= threads ? 1 : std::min(panels, threads);
  const int64_t items = p.group * image_blocks * row_blocks;
  const auto kernel = HWY_DYNAMIC_DISPATCH(PointwiseImpl);
  const float lo = p.act_min, hi = p.act_max;
  auto run = [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      const int64_t g = item / (image_blocks * row_blocks);
      const int64_t ib = item / row_blocks % image_blocks, rb = item % row_blocks;
      const int64_t n0 = ib * images, n1 = std::min(p.batch, n0 + images);
      const int64_t m0 = panels * rb / row_blocks * kShiftPanel;
      const int64_t m1 = std::min(cout_g, panels * (rb + 1) / row_blocks * kShiftPanel);
      const int64_t y_off = g * cout_g * hw;
      kernel(w + g * m_pad * cin_g, cin_g, b.data() + g * m_pad, m0, m1, cout_g, x + g * cin_g * hw,
             p.in_channels * hw, residual ? residual + y_off : nullptr, y + y_off,
             p.out_channels * hw, hw, n0, n1, lo, hi);
    }
  };
  if (items > 1 && threads > 1) {
    pool->ParallelFor(items, 1, run);
  } else {
    run(0, items);
  }
}

}  // namespace conv_internal
}  // namespace mp::kernels
#endif  // HWY_ONCE
