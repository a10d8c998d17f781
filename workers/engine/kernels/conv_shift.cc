// Shifted-plane convolution: Conv2d's main path (see conv.h for the op, conv_internal.h for
// the interface).
//
// im2col + GEMM materialises B[(c, kh, kw)][output column], kh*kw copies of the input. Here
// no B is ever written: a block of images is staged once into zero-padded "phase planes" in
// which every row of B is the same plane read at a fixed shift, so the micro-kernel loads
// its B vectors straight from the staged planes at precomputed per-tap offsets.
//
// Staging grid. The images of a block are stacked vertically in one grid G per channel:
// image n's row ih sits at G row n*R0 + pad_top + ih, its column iw at G column
// pad_left + iw, everything else is 0. With R0 >= in_h + max(pad_top, pad_bottom) and row
// pitch P >= in_w + max(pad_left, pad_right), neighbouring images share their zero rows
// and neighbouring rows their zero columns, yet every window of a valid output reads only
// its own image's data or zeros (a read past the right edge wraps into the next row's left
// padding, one past the bottom into the next image's top padding, which G keeps zero).
// R0 and P are also >= stride * out_{h,w} and multiples of the stride.
//
// Phases. With stride s, tap (kh, kw) of output (oh, ow) reads G[n*R0 + s*oh + kh*dh]
// [s*ow + kw*dw]; split kh*dh = s*qh + a (a < s) and likewise kw*dw = s*qw + b: the read is
// phase plane (a, b) — G sampled at rows a, a+s, ... and columns b, b+s, ... — at
// [n*R + oh + qh][ow + qw] with R = R0/s and pitch Pp = P/s. Numbering outputs on the phase
// grid, t = (n*R + oh)*Pp + ow, tap (c, kh, kw) of every output t is plane(c, a, b)[t + off]
// with off = qh*Pp + qw: a constant shift per tap. Stride 1 has one phase.
//
// GEMM form (kGemm): out[m][t] = bias[m] + sum_k W[m][k] * staged[off[k] + t] over
// k = (c, kh, kw) ascending — an M x K by K x T product whose B columns are the staged
// planes at T consecutive positions. Register tile: 8 rows x 3 vectors on 512-bit targets
// (24 accumulators), 4 x 3 elsewhere; A is packed in panels of 8 rows, [k][8].
// FIR form (kFir, one input channel per group, few outputs each): per output channel,
// out[t] = bias + sum_tap w[tap] * plane[off[tap] + t] — a 1-D filter over the long staged
// plane, vectorised along t.
// Outputs on the phase grid that are not real outputs (ow >= out_w, oh >= out_h, rows
// between images) are computed and dropped when the block is copied out to NCHW.
// Waste: (R*Pp) / (out_h*out_w) - 1, e.g. 7% for 28x28 pad 1, 30% for 7x7 pad 1.
//
// Every output is one fixed sequence of fused multiply-adds (from the bias, k ascending)
// whatever the block, tile or thread that computes it, so results are bit-identical for
// any thread count.
#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "workers/engine/kernels/conv_internal.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "workers/engine/kernels/conv_shift.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace mp::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using D = hn::ScalableTag<float>;
using V = hn::Vec<D>;
constexpr int64_t kL = static_cast<int64_t>(hn::MaxLanes(D()));
constexpr int64_t kNV = 3;                            // vectors of outputs per tile
constexpr int64_t kMR = HWY_MAX_BYTES >= 64 ? 8 : 4;  // rows per tile (divides the panel)
constexpr int64_t kPanel = conv_internal::kShiftPanel;

// out[r*ld + t] = clamp(bias[r] + sum_kk a[kk*kPanel + r] * src[off[kk] + t]) for r < kMR,
// t < NV*kL.
template <int64_t NV>
HWY_INLINE void GemmTile(const float* HWY_RESTRICT a, const float* src, const int64_t* off,
                         int64_t k, const float* bias, V lo, V hi, float* out, int64_t ld) {
  const D d;
  V acc[kMR][NV];
#pragma GCC unroll 8
  for (int64_t r = 0; r < kMR; ++r) {
#pragma GCC unroll 3
    for (int64_t v = 0; v < NV; ++v) acc[r][v] = hn::Set(d, bias[r]);
  }
  for (int64_t kk = 0; kk < k; ++kk) {
    const float* s = src + off[kk];
    V b[NV];
#pragma GCC unroll 3
    for (int64_t v = 0; v < NV; ++v) b[v] = hn::LoadU(d, s + v * kL);
#pragma GCC unroll 8
    for (int64_t r = 0; r < kMR; ++r) {
      const V w = hn::Set(d, a[kk * kPanel + r]);
#pragma GCC unroll 3
      for (int64_t v = 0; v < NV; ++v) acc[r][v] = hn::MulAdd(w, b[v], acc[r][v]);
    }
  }
#pragma GCC unroll 8
  for (int64_t r = 0; r < kMR; ++r) {
#pragma GCC unroll 3
    for (int64_t v = 0; v < NV; ++v) {
      hn::StoreU(hn::Min(hn::Max(acc[r][v], lo), hi), d, out + r * ld + v * kL);
    }
  }
}

// GEMM form over outputs [t_begin, t_end) (multiples of kL except a final t_end = T) for
// all m_pad rows: `a` holds m_pad/kPanel panels of k x kPanel, `src` the staged planes,
// `out` the [m_pad][ld] result (vector stores may run up to RoundUp(t_end, kL)).
void ShiftGemm(const float* a, int64_t m_pad, int64_t k, const float* src, const int64_t* off,
               const float* bias, float lo, float hi, int64_t t_begin, int64_t t_end, float* out,
               int64_t ld) {
  const D d;
  const V vlo = hn::Set(d, lo), vhi = hn::Set(d, hi);
  for (int64_t t = t_begin; t < t_end; t += kNV * kL) {
    const int64_t nv = std::min(kNV, (t_end - t + kL - 1) / kL);
    for (int64_t m = 0; m < m_pad; m += kMR) {
      const float* ap = a + (m / kPanel) * k * kPanel + m % kPanel;
      float* o = out + m * ld + t;
      if (nv == 3) {
        GemmTile<3>(ap, src + t, off, k, bias + m, vlo, vhi, o, ld);
      } else if (nv == 2) {
        GemmTile<2>(ap, src + t, off, k, bias + m, vlo, vhi, o, ld);
      } else {
        GemmTile<1>(ap, src + t, off, k, bias + m, vlo, vhi, o, ld);
      }
    }
  }
}

// FIR form: out[t] = clamp(bias + sum_tap w[tap] * src[off[tap] + t]) for t in
// [t_begin, t_end) (vector stores may run up to RoundUp(t_end, kL)).
void ShiftFir(const float* w, int64_t taps, const float* src, const int64_t* off, float bias,
              float lo, float hi, int64_t t_begin, int64_t t_end, float* out) {
  const D d;
  const V vlo = hn::Set(d, lo), vhi = hn::Set(d, hi);
  constexpr int64_t kU = 4;  // independent accumulators
  int64_t t = t_begin;
  for (; t + kU * kL <= t_end; t += kU * kL) {
    V acc[kU];
#pragma GCC unroll 4
    for (int64_t u = 0; u < kU; ++u) acc[u] = hn::Set(d, bias);
    for (int64_t i = 0; i < taps; ++i) {
      const V wv = hn::Set(d, w[i]);
      const float* s = src + off[i] + t;
#pragma GCC unroll 4
      for (int64_t u = 0; u < kU; ++u) acc[u] = hn::MulAdd(wv, hn::LoadU(d, s + u * kL), acc[u]);
    }
#pragma GCC unroll 4
    for (int64_t u = 0; u < kU; ++u) {
      hn::StoreU(hn::Min(hn::Max(acc[u], vlo), vhi), d, out + t + u * kL);
    }
  }
  for (; t < t_end; t += kL) {
    V acc = hn::Set(d, bias);
    for (int64_t i = 0; i < taps; ++i) {
      acc = hn::MulAdd(hn::Set(d, w[i]), hn::LoadU(d, src + off[i] + t), acc);
    }
    hn::StoreU(hn::Min(hn::Max(acc, vlo), vhi), d, out + t);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace mp::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace mp::kernels {
HWY_EXPORT(ShiftGemm);
HWY_EXPORT(ShiftFir);

namespace conv_internal {
namespace {

// Staged floats per work item (inputs and outputs together) aim for L2.
constexpr int64_t kBlockFloats = int64_t{64} << 10;
// Over-read margin after the staged planes and the output rows (vector tails).
constexpr int64_t kSlack = 64;
// Most groups staged together for the FIR form.
constexpr int64_t kFirGroups = 16;
// Outputs per task when the pool splits one item.
constexpr int64_t kTile = 48;

struct Geometry {
  int64_t ph_h, ph_w;   // phases staged per axis
  int64_t rows, pitch;  // phase-plane rows per image (R) and row pitch (Pp)
  int64_t images;       // images per block
  int64_t groups;       // groups per work item
  int64_t plane;        // floats per staged (channel, phase) plane of a full block
  int64_t out_rows;     // staged output rows per group: RoundUp(Cout_g, 8) (GEMM) or Cout_g
  int64_t ld;           // staged output row stride
  int64_t cin_g, cout_g, k, taps;
};

// Phase-grid positions [0, T) computed for a block of n images (the last one trimmed).
int64_t Positions(const Conv2dParams& p, const Geometry& g, int64_t n) {
  return ((n - 1) * g.rows + p.out_h - 1) * g.pitch + p.out_w;
}

Geometry MakeGeometry(const Conv2dParams& p, ShiftKind kind) {
  Geometry g;
  g.cin_g = p.in_channels / p.group;
  g.cout_g = p.out_channels / p.group;
  g.taps = p.kernel_h * p.kernel_w;
  g.k = g.cin_g * g.taps;
  g.ph_h = std::min(p.stride_h, (p.kernel_h - 1) * p.dilation_h + 1);
  g.ph_w = std::min(p.stride_w, (p.kernel_w - 1) * p.dilation_w + 1);
  const int64_t r0 = RoundUp(
      std::max(p.in_h + std::max(p.pad_top, p.pad_bottom), p.stride_h * p.out_h), p.stride_h);
  const int64_t p0 = RoundUp(
      std::max(p.in_w + std::max(p.pad_left, p.pad_right), p.stride_w * p.out_w), p.stride_w);
  g.rows = r0 / p.stride_h;
  g.pitch = p0 / p.stride_w;
  g.out_rows = kind == ShiftKind::kFir ? g.cout_g : RoundUp(g.cout_g, kShiftPanel);
  g.groups = kind == ShiftKind::kFir ? std::min(p.group, kFirGroups) : 1;
  const int64_t per_image = g.groups * g.rows * g.pitch * (g.cin_g * g.ph_h * g.ph_w + g.out_rows);
  g.images = std::clamp<int64_t>(kBlockFloats / std::max<int64_t>(per_image, 1), 1, p.batch);
  g.plane = RoundUp((g.images + 1) * g.rows * g.pitch + kSlack, 16);
  g.ld = RoundUp(Positions(p, g, g.images), 16) + kSlack;
  return g;
}

// Per-tap shifts into a group's staged planes, k = (c, kh, kw) ascending (file comment).
std::vector<int64_t> Offsets(const Conv2dParams& p, const Geometry& g) {
  std::vector<int64_t> off(static_cast<size_t>(g.k));
  for (int64_t c = 0; c < g.cin_g; ++c) {
    for (int64_t kh = 0; kh < p.kernel_h; ++kh) {
      for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
        const int64_t dh = kh * p.dilation_h, dw = kw * p.dilation_w;
        const int64_t phase = (c * g.ph_h + dh % p.stride_h) * g.ph_w + dw % p.stride_w;
        off[static_cast<size_t>((c * p.kernel_h + kh) * p.kernel_w + kw)] =
            phase * g.plane + (dh / p.stride_h) * g.pitch + dw / p.stride_w;
      }
    }
  }
  return off;
}

// Copies the real outputs of groups [g0, g0 + gn) for images [n0, n0 + n) from the staged
// output rows (group gi's row r at out + (gi*out_rows + r)*ld) to y, image by image; with a
// residual, y = clamp(out + residual) (the tiles did not clamp).
void Unstage(const Conv2dParams& p, const Geometry& g, const float* out, const float* residual,
             int64_t n0, int64_t n, int64_t g0, int64_t gn, float* y) {
  const int64_t out_plane = p.out_h * p.out_w;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t first = ((n0 + i) * p.out_channels + g0 * g.cout_g) * out_plane;
    for (int64_t gi = 0; gi < gn; ++gi) {
      for (int64_t r = 0; r < g.cout_g; ++r) {
        const int64_t at = first + (gi * g.cout_g + r) * out_plane;
        UnstageRows(out + (gi * g.out_rows + r) * g.ld + i * g.rows * g.pitch, g.pitch,
                    residual ? residual + at : nullptr, p.act_min, p.act_max, y + at, p.out_w,
                    p.out_h);
      }
    }
  }
}

}  // namespace

ShiftKind ChooseShift(const Conv2dParams& p) {
  if (UseWinograd(p)) return ShiftKind::kWinograd;
  const int64_t cin_g = p.in_channels / p.group, cout_g = p.out_channels / p.group;
  const int64_t k = cin_g * p.kernel_h * p.kernel_w;
  const Geometry g = MakeGeometry(p, ShiftKind::kGemm);
  if (g.ph_h > kMaxPhases || g.ph_w > kMaxPhases) return ShiftKind::kNone;
  // One image's staged planes must fit in L2 with room to spare; bigger images keep the
  // tiled im2col path.
  if (g.rows * g.pitch * (cin_g * g.ph_h * g.ph_w + g.out_rows) > 4 * kBlockFloats) {
    return ShiftKind::kNone;
  }
  if (cin_g == 1 && cout_g < 4) return ShiftKind::kFir;
  // A few outputs per group over a short K: the direct loops (conv.cc) waste no panel rows.
  if (cout_g <= 4 && k <= 32) return ShiftKind::kNone;
  // Very long K: the A panel would not stay in L1; the blocked GEMM handles it.
  if (k > kShiftMaxK) return ShiftKind::kNone;
  return ShiftKind::kGemm;
}

std::vector<float> PackShiftWeights(const Conv2dParams& p, ShiftKind kind, const float* w) {
  if (kind == ShiftKind::kWinograd) return PackWinogradWeights(p, w);
  const int64_t cout_g = p.out_channels / p.group;
  const int64_t k = p.in_channels / p.group * p.kernel_h * p.kernel_w;
  const int64_t m_pad = RoundUp(cout_g, kShiftPanel);
  std::vector<float> packed(static_cast<size_t>(p.group * m_pad * k));
  float* out = packed.data();
  for (int64_t g = 0; g < p.group; ++g) {
    for (int64_t m = 0; m < m_pad; ++m) {
      float* panel = out + (g * m_pad + m / kShiftPanel * kShiftPanel) * k + m % kShiftPanel;
      const float* src = w + (g * cout_g + m) * k;
      for (int64_t kk = 0; kk < k; ++kk) panel[kk * kShiftPanel] = m < cout_g ? src[kk] : 0.0f;
    }
  }
  return packed;
}

void ShiftConv2d(const Conv2dParams& p, ShiftKind kind, const float* x, const float* w,
                 const float* bias, float* y, ThreadPool* pool, const float* residual) {
  if (kind == ShiftKind::kWinograd) {
    WinogradConv2d(p, x, w, bias, y, pool, residual);
    return;
  }
  if (kind == ShiftKind::kGemm && UsePointwise(p)) {  // nothing to stage
    PointwiseConv2d(p, x, w, bias, y, pool, residual);
    return;
  }
  if (kind == ShiftKind::kGemm && UseStridedPointwise(p)) {  // sampled, then as above
    StridedPointwiseConv2d(p, x, w, bias, y, pool, residual);
    return;
  }
  if (kind == ShiftKind::kGemm && UseCvec(p, pool)) {  // dense positions, no phases
    CvecConv2d(p, x, w, bias, y, pool, residual);
    return;
  }
  if (kind == ShiftKind::kFir && UseDepthwiseCvec(p)) {  // nor here
    DepthwiseCvecConv2d(p, x, w, bias, y, pool, residual);
    return;
  }
  if (kind == ShiftKind::kFir && UseDepthwiseFlat(p)) {
    DepthwiseFlatConv2d(p, x, w, bias, y, pool, residual);
    return;
  }
  if (kind == ShiftKind::kFir && UseDepthwise(p)) {
    DepthwiseConv2d(p, x, w, bias, y, pool, residual);
    return;
  }
  const Geometry g = MakeGeometry(p, kind);
  // With a residual the clamp comes after the add, in Unstage.
  const float lo = residual ? -std::numeric_limits<float>::infinity() : p.act_min;
  const float hi = residual ? std::numeric_limits<float>::infinity() : p.act_max;
  const std::vector<int64_t> off = Offsets(p, g);
  const int64_t blocks = (p.batch + g.images - 1) / g.images;
  const int64_t chunks = (p.group + g.groups - 1) / g.groups;
  const int64_t items = blocks * chunks;
  const int64_t in_plane = p.in_h * p.in_w;
  const int64_t group_staged = g.cin_g * g.ph_h * g.ph_w * g.plane;
  // Bias per group, zero-padded to out_rows.
  std::vector<float> b(static_cast<size_t>(p.group * g.out_rows), 0.0f);
  for (int64_t gi = 0; gi < p.group; ++gi) {
    for (int64_t r = 0; r < g.cout_g; ++r) {
      b[static_cast<size_t>(gi * g.out_rows + r)] = bias ? bias[gi * g.cout_g + r] : 0.0f;
    }
  }
  const auto gemm = HWY_DYNAMIC_DISPATCH(ShiftGemm);
  const auto fir = HWY_DYNAMIC_DISPATCH(ShiftFir);
  // Outputs [t0, t1) of group gi from its staged planes `in` into its output rows `out`.
  auto compute = [&](int64_t gi, const float* in, int64_t t0, int64_t t1, float* out) {
    const float* bg = b.data() + gi * g.out_rows;
    if (kind == ShiftKind::kGemm) {
      gemm(w + gi * g.out_rows * g.k, g.out_rows, g.k, in, off.data(), bg, lo, hi, t0, t1, out,
           g.ld);
      return;
    }
    for (int64_t r = 0; r < g.cout_g; ++r) {
      fir(w + (gi * g.cout_g + r) * g.taps, g.taps, in, off.data(), bg[r], lo, hi, t0, t1,
          out + r * g.ld);
    }
  };
  auto run_items = [&](int64_t begin, int64_t end, ThreadPool* inner) {
    float* in = Scratch(static_cast<size_t>(g.groups * group_staged), 1);
    float* out = Scratch(static_cast<size_t>(g.groups * g.out_rows * g.ld), 0);
    // Zeroed once: every block has the same layout (StageArgs::zeroed).
    std::memset(in, 0, static_cast<size_t>(g.groups * group_staged) * sizeof(float));
    for (int64_t item = begin; item < end; ++item) {
      const int64_t n0 = item / chunks * g.images, n = std::min(g.images, p.batch - n0);
      const int64_t g0 = item % chunks * g.groups, gn = std::min(g.groups, p.group - g0);
      const StageArgs args{.x = x + (n0 * p.in_channels + g0 * g.cin_g) * in_plane,
                           .x_stride = p.in_channels * in_plane,
                           .in_plane = in_plane,
                           .channels = gn * g.cin_g,
                           .in_h = p.in_h,
                           .in_w = p.in_w,
                           .pad_top = p.pad_top,
                           .pad_left = p.pad_left,
                           .images = n,
                           .r0 = g.rows * p.stride_h,
                           .s_h = p.stride_h,
                           .s_w = p.stride_w,
                           .ph_h = g.ph_h,
                           .ph_w = g.ph_w,
                           .pitch = g.pitch,
                           .plane = g.plane,
                           .zeroed = true};
      StageBlock(args, in);
      const int64_t t_count = Positions(p, g, n);
      auto task = [&](int64_t gi, int64_t t0, int64_t t1) {
        compute(g0 + gi, in + gi * group_staged, t0, t1, out + gi * g.out_rows * g.ld);
      };
      if (inner == nullptr) {
        for (int64_t gi = 0; gi < gn; ++gi) task(gi, 0, t_count);
      } else {
        // Split (group, tile of kTile outputs) pairs across the pool.
        const int64_t tiles = (t_count + kTile - 1) / kTile;
        inner->ParallelFor(gn * tiles, 1, [&](int64_t tb, int64_t te) {
          for (int64_t u = tb; u < te;) {
            const int64_t gi = u / tiles, first = u % tiles;
            const int64_t last = std::min(tiles, first + (te - u));
            task(gi, first * kTile, std::min(last * kTile, t_count));
            u += last - first;
          }
        });
      }
      Unstage(p, g, out, residual, n0, n, g0, gn, y);
    }
  };
  if (pool == nullptr || pool->num_threads() <= 1) {
    run_items(0, items, nullptr);
  } else if (items >= pool->num_threads()) {
    pool->ParallelFor(items, 1, [&](int64_t b0, int64_t e0) { run_items(b0, e0, nullptr); });
  } else {
    run_items(0, items, pool);
  }
}

}  // namespace conv_internal
}  // namespace mp::kernels
#endif  // HWY_ONCE
