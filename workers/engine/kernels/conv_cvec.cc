// Channel-vectorised direct convolution: Conv2d's path for small output planes on x86 AVX2
// and AVX-512 targets (see conv_internal.h, UseCvec).
//
// The shifted-plane GEMM form vectorises over output positions on a padded grid, which for
// a 7x7 output computes 8x8 = 64 positions (30% waste) and, for strides, splits the input
// into phase planes. Here the vector lanes run over output channels instead: a register tile
// is kNP output positions times NV vectors of channels (AVX-512: 6 x 4 or 8 x 2, AVX2: 6 x 2,
// within the 32 or 16 vector registers), and every multiply-add takes one
// broadcast input value and one weight vector:
//   acc[j][oc] = bias[oc] + sum_{k = (c, kh, kw) ascending} W[oc][k] * xp[pos_j + off[k]]
// where xp is a block of images zero-padded (pad_top + in_h + pad_bottom rows of
// pad_left + in_w + pad_right floats per channel), pos_j = image offset + (oh*s_h)*Wp +
// ow*s_w and off[k] = c*Hp*Wp + kh*d_h*Wp + kw*d_w. Positions are dense (any stride, no
// phase planes), so only real outputs are computed. The tile writes a [position][channel]
// buffer, which the copy-out transposes into NCHW y (adding the residual, clamping).
//
// Every output is one fixed sequence of fused multiply-adds (from the bias, k ascending)
// whatever the block, tile or thread, so results are bit-identical for any thread count.
#include <algorithm>
#include <cstring>
#include <vector>

#include "workers/engine/kernels/conv_internal.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "workers/engine/kernels/conv_cvec.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace mp::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using D = hn::ScalableTag<float>;
using V = hn::Vec<D>;
constexpr int64_t kL = static_cast<int64_t>(hn::MaxLanes(D()));
constexpr int64_t kMaxNP = conv_internal::kCvecPositions;

#if HWY_MAX_BYTES >= 32 && HWY_ARCH_X86
// out[j*cout + v*L + l] = bias[v*L + l] + sum_kk w[kk*cout + v*L + l] * x[pos[j] + off[kk]]
// for j < kNP, v < NV.
template <int NV, int kNP>
HWY_INLINE void Tile(const float* HWY_RESTRICT x, const int64_t* pos, const float* HWY_RESTRICT w,
                     int64_t cout, const int64_t* HWY_RESTRICT off, int64_t k, const float* bias,
                     float* out) {
  const D d;
  V acc[kNP][NV];
#pragma GCC unroll 8
  for (int j = 0; j < kNP; ++j) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[j][v] = hn::LoadU(d, bias + v * kL);
  }
  const float* xj[kNP];
#pragma GCC unroll 8
  for (int j = 0; j < kNP; ++j) xj[j] = x + pos[j];
  for (int64_t kk = 0; kk < k; ++kk) {
    const int64_t o = off[kk];
    const float* wk = w + kk * cout;
    V wv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) wv[v] = hn::LoadU(d, wk + v * kL);
#pragma GCC unroll 8
    for (int j = 0; j < kNP; ++j) {
      const V b = hn::Set(d, xj[j][o]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[j][v] = hn::MulAdd(b, wv[v], acc[j][v]);
    }
  }
#pragma GCC unroll 8
  for (int j = 0; j < kNP; ++j) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) hn::StoreU(acc[j][v], d, out + j * cout + v * kL);
  }
}
#endif

// Positions [0, npos) of a staged block (pos[] their offsets in x) for all cout channels
// (a multiple of the lanes): out[p*cout + oc]. Rows past npos up to a multiple of the tile's
// positions (at most kMaxNP) are written too (copies of the last position).
void CvecBlockImpl(const float* x, const int64_t* pos, int64_t npos, const float* w, int64_t cout,
                   const int64_t* off, int64_t k, const float* bias, float* out) {
#if HWY_MAX_BYTES >= 32 && HWY_ARCH_X86
#if HWY_MAX_BYTES == 32
  // 16 registers: 2 channel vectors by 6 positions.
  for (int64_t t = 0; t < npos; t += 6) {
    int64_t pj[6];
    for (int64_t j = 0; j < 6; ++j) pj[j] = pos[std::min(t + j, npos - 1)];
    for (int64_t cb = 0; cb < cout; cb += 2 * kL) {
      float* o = out + t * cout + cb;
      if (cout - cb >= 2 * kL) {
        Tile<2, 6>(x, pj, w + cb, cout, off, k, bias + cb, o);
      } else {
        Tile<1, 6>(x, pj, w + cb, cout, off, k, bias + cb, o);
      }
    }
  }
  return;
#endif
  // Two channel vectors: 8 positions (16 accumulators); else 6 (up to 24).
  if (cout == 2 * kL) {
    for (int64_t t = 0; t < npos; t += 8) {
      int64_t pj[8];
      for (int64_t j = 0; j < 8; ++j) pj[j] = pos[std::min(t + j, npos - 1)];
      Tile<2, 8>(x, pj, w, cout, off, k, bias, out + t * cout);
    }
    return;
  }
  for (int64_t t = 0; t < npos; t += 6) {
    int64_t pj[6];
    for (int64_t j = 0; j < 6; ++j) pj[j] = pos[std::min(t + j, npos - 1)];
    for (int64_t cb = 0; cb < cout;) {
      const int64_t nv = std::min<int64_t>(4, (cout - cb) / kL);
      float* o = out + t * cout + cb;
      if (nv == 4) {
        Tile<4, 6>(x, pj, w + cb, cout, off, k, bias + cb, o);
      } else if (nv == 3) {
        Tile<3, 6>(x, pj, w + cb, cout, off, k, bias + cb, o);
      } else if (nv == 2) {
        Tile<2, 6>(x, pj, w + cb, cout, off, k, bias + cb, o);
      } else {
        Tile<1, 6>(x, pj, w + cb, cout, off, k, bias + cb, o);
      }
      cb += nv * kL;
    }
  }
#else
  (void)x, (void)pos, (void)npos, (void)w, (void)cout, (void)off, (void)k, (void)bias, (void)out;
#endif
}

// y[oc*plane + q] = clamp(out[q*cout + oc] (+ res[oc*plane + q]), lo, hi) for oc < cout (a
// multiple of 4), q < plane: one image's copy-out, 4x4 blocks transposed in registers.
void CvecCopyOutImpl(const float* out, int64_t cout, int64_t plane, const float* res, float lo,
                     float hi, float* y) {
#if HWY_TARGET != HWY_SCALAR
  const hn::Full128<float> d4;
  const auto vlo = hn::Set(d4, lo), vhi = hn::Set(d4, hi);
  const int64_t q4 = plane / 4 * 4;
  for (int64_t oc = 0; oc < cout; oc += 4) {
    for (int64_t q = 0; q < q4; q += 4) {
      const float* src = out + q * cout + oc;
      const auto r0 = hn::LoadU(d4, src), r1 = hn::LoadU(d4, src + cout);
      const auto r2 = hn::LoadU(d4, src + 2 * cout), r3 = hn::LoadU(d4, src + 3 * cout);
      const auto t0 = hn::InterleaveLower(d4, r0, r1), t1 = hn::InterleaveLower(d4, r2, r3);
      const auto t2 = hn::InterleaveUpper(d4, r0, r1), t3 = hn::InterleaveUpper(d4, r2, r3);
      decltype(t0) c[4] = {hn::ConcatLowerLower(d4, t1, t0), hn::ConcatUpperUpper(d4, t1, t0),
                           hn::ConcatLowerLower(d4, t3, t2), hn::ConcatUpperUpper(d4, t3, t2)};
      for (int64_t i = 0; i < 4; ++i) {
        const int64_t at = (oc + i) * plane + q;
        auto v = c[i];
        if (res != nullptr) v = hn::Add(v, hn::LoadU(d4, res + at));
        hn::StoreU(hn::Min(hn::Max(v, vlo), vhi), d4, y + at);
      }
    }
  }
#else
  const int64_t q4 = 0;
#endif
  for (int64_t oc = 0; oc < cout; ++oc) {
    for (int64_t q = q4; q < plane; ++q) {
      float v = out[q * cout + oc];
      if (res != nullptr) v += res[oc * plane + q];
      y[oc * plane + q] = std::min(std::max(v, lo), hi);
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace mp::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace mp::kernels {
HWY_EXPORT(CvecBlockImpl);
HWY_EXPORT(CvecCopyOutImpl);

namespace conv_internal {
namespace {

// Staged floats per block (padded input and the [position][channel] result) aim for L2.
constexpr int64_t kCvecBlockFloats = int64_t{64} << 10;

}  // namespace

bool UseCvec(const Conv2dParams& p, const ThreadPool* pool) {
  if (p.group != 1) return false;
  // The tiles are sized for the register counts of x86 AVX2 and AVX-512.
  const int64_t lanes = X86VectorLanes();
  if (lanes == 0 || p.out_channels % lanes != 0 || p.out_channels < 2 * lanes) return false;
  if (p.out_h * p.out_w > kCvecMaxPlane) return false;
  // 1x1 kernels: K too short to pay for the transposed copy-out.
  if (p.kernel_h * p.kernel_w == 1) return false;
  const int64_t threads = pool != nullptr ? pool->num_threads() : 1;
  return p.batch >= 2 * threads;  // whole images per work item, and some to spare
}

void CvecConv2d(const Conv2dParams& p, const float* x, const float* w, const float* bias, float* y,
                ThreadPool* pool, const float* residual) {
  const int64_t cin = p.in_channels, cout = p.out_channels;
  const int64_t hp = p.pad_top + p.in_h + p.pad_bottom, wp = p.pad_left + p.in_w + p.pad_right;
  const int64_t k = cin * p.kernel_h * p.kernel_w;
  const int64_t in_plane = p.in_h * p.in_w, out_plane = p.out_h * p.out_w;
  const int64_t staged_image = cin * hp * wp;
  // Weights as [k][cout], from the GEMM form's panels (PackShiftWeights, m_pad == cout).
  std::vector<float> wk(static_cast<size_t>(k * cout));
  for (int64_t m = 0; m < cout; ++m) {
    const float* panel = w + (m / kShiftPanel) * kShiftPanel * k + m % kShiftPanel;
    for (int64_t kk = 0; kk < k; ++kk)
      wk[static_cast<size_t>(kk * cout + m)] = panel[kk * kShiftPanel];
  }
  std::vector<float> b(static_cast<size_t>(cout), 0.0f);
  if (bias != nullptr) std::copy(bias, bias + cout, b.begin());
  std::vector<int64_t> off(static_cast<size_t>(k));
  for (int64_t c = 0; c < cin; ++c) {
    for (int64_t kh = 0; kh < p.kernel_h; ++kh) {
      for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
        off[static_cast<size_t>((c * p.kernel_h + kh) * p.kernel_w + kw)] =
            c * hp * wp + kh * p.dilation_h * wp + kw * p.dilation_w;
      }
    }
  }
  const int64_t per_image = staged_image + out_plane * cout;
  const int64_t threads = pool != nullptr ? pool->num_threads() : 1;
  const int64_t images =
      std::clamp<int64_t>(kCvecBlockFloats / per_image, 1, std::max<int64_t>(1, p.batch / threads));
  const int64_t blocks = (p.batch + images - 1) / images;
  // Offsets of a full block's positions, image by image, row by row.
  std::vector<int64_t> pos(static_cast<size_t>(images * out_plane));
  for (int64_t i = 0; i < images; ++i) {
    for (int64_t oh = 0; oh < p.out_h; ++oh) {
      for (int64_t ow = 0; ow < p.out_w; ++ow) {
        pos[static_cast<size_t>((i * p.out_h + oh) * p.out_w + ow)] =
            i * staged_image + oh * p.stride_h * wp + ow * p.stride_w;
      }
    }
  }
  const auto kernel = HWY_DYNAMIC_DISPATCH(CvecBlockImpl);
  const auto copy_out = HWY_DYNAMIC_DISPATCH(CvecCopyOutImpl);
  auto run = [&](int64_t begin, int64_t end) {
    // The last tile writes up to kCvecPositions - 1 rows past the block's positions.
    const int64_t out_rows = images * out_plane + kCvecPositions;
    float* in = Scratch(static_cast<size_t>(images * staged_image), 1);
    float* out = Scratch(static_cast<size_t>(out_rows * cout), 0);
    // The padding stays zero: blocks write only the data rows.
    std::memset(in, 0, static_cast<size_t>(images * staged_image) * sizeof(float));
    for (int64_t blk = begin; blk < end; ++blk) {
      const int64_t n0 = blk * images, n = std::min(images, p.batch - n0);
      for (int64_t i = 0; i < n; ++i) {
        for (int64_t c = 0; c < cin; ++c) {
          const float* src = x + ((n0 + i) * cin + c) * in_plane;
          float* dst = in + i * staged_image + (c * hp + p.pad_top) * wp + p.pad_left;
          for (int64_t ih = 0; ih < p.in_h; ++ih) {
            std::memcpy(dst + ih * wp, src + ih * p.in_w, static_cast<size_t>(p.in_w) * 4);
          }
        }
      }
      kernel(in, pos.data(), n * out_plane, wk.data(), cout, off.data(), k, b.data(), out);
      for (int64_t i = 0; i < n; ++i) {
        const int64_t at = (n0 + i) * cout * out_plane;
        copy_out(out + i * out_plane * cout, cout, out_plane,
                 residual != nullptr ? residual + at : nullptr, p.act_min, p.act_max, y + at);
      }
    }
  };
  if (pool != nullptr && pool->num_threads() > 1 && blocks > 1) {
    pool->ParallelFor(blocks, 1, run);
  } else {
    run(0, blocks);
  }
}

void CvecCopyOut(const float* out, int64_t channels, int64_t plane, const float* res, float lo,
                 float hi, float* y) {
  HWY_DYNAMIC_DISPATCH(CvecCopyOutImpl)(out, channels, plane, res, lo, hi, y);
}

}  // namespace conv_internal
}  // namespace mp::kernels
#endif  // HWY_ONCE
