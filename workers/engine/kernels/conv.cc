// Conv2d / ConvTranspose2d: see conv.h. The Highway parts are the direct loop, the im2col
// writer into the GEMM's B panels and the bias + clamp epilogue; the rest is tiling and
// col2im data movement around the GEMM.
#include "workers/engine/kernels/conv.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "workers/engine/kernels/conv_internal.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "workers/engine/kernels/conv.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace mp::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// y[r*ld + c] = clamp(y[r*ld + c] + (bias ? bias[r] : 0), lo, hi) for r < rows, c < cols.
void BiasClampRows(int64_t rows, int64_t cols, int64_t ld, const float* bias, float lo, float hi,
                   float* y) {
  const hn::ScalableTag<float> d;
  const int64_t n = static_cast<int64_t>(hn::Lanes(d));
  const auto vlo = hn::Set(d, lo);
  const auto vhi = hn::Set(d, hi);
  for (int64_t r = 0; r < rows; ++r) {
    float* row = y + r * ld;
    const float b = bias ? bias[r] : 0.0f;
    const auto vb = hn::Set(d, b);
    int64_t c = 0;
    for (; c + n <= cols; c += n) {
      const auto v = hn::Add(hn::LoadU(d, row + c), vb);
      hn::StoreU(hn::Min(hn::Max(v, vlo), vhi), d, row + c);
    }
    for (; c < cols; ++c) row[c] = std::min(std::max(row[c] + b, lo), hi);
  }
}

// Direct convolution (no im2col), used for depthwise and other small-K convolutions.
// The group's input planes are first copied into a zero-padded buffer (pad_left zeros, the
// row, zeros up to the widest read), so every output column is computed by the same vector
// code without bounds checks; rows outside [0, in_h) are skipped. Taps are summed in
// (c, kh, kw) order from the bias, as in the reference (padding taps add +-0).
struct DirectGeometry {
  int64_t pw;        // padded row width
  int64_t in_plane;  // padded plane size = in_h * pw
};

inline DirectGeometry Geometry(const Conv2dParams& p) {
  const int64_t reach = (p.out_w - 1) * p.stride_w + (p.kernel_w - 1) * p.dilation_w + 2;
  const int64_t pw = std::max(p.pad_left + p.in_w, reach);
  return {pw, p.in_h * pw};
}

// Outputs [ow, ow + Lanes(d)) of row oh for kB consecutive output channels (weights
// w_stride apart, output planes y_stride apart); one input load feeds kB accumulators.
template <int kB, class D>
HWY_INLINE void DirectVector(D d, const Conv2dParams& p, const DirectGeometry& geo, int64_t cin_g,
                             const float* xpad, const float* wp, int64_t w_stride, const float* b,
                             int64_t oh, int64_t kh_lo, int64_t kh_hi, int64_t ow, float* yrow,
                             int64_t y_stride) {
  const int64_t taps = p.kernel_h * p.kernel_w;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  hn::Vec<D> acc[kB];
  for (int j = 0; j < kB; ++j) acc[j] = hn::Set(d, b[j]);
  for (int64_t c = 0; c < cin_g; ++c) {
    for (int64_t kh = kh_lo; kh < kh_hi; ++kh) {
      const int64_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
      const float* row = xpad + c * geo.in_plane + ih * geo.pw + ow * p.stride_w;
      const float* wk = wp + c * taps + kh * p.kernel_w;
      for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
        const float* src = row + kw * p.dilation_w;
        hn::Vec<D> v;
#if HWY_TARGET == HWY_SCALAR
        (void)lanes;
        v = hn::LoadU(d, src);
#else
        if constexpr (hn::MaxLanes(D()) == 1) {
          v = hn::LoadU(d, src);  // one lane: any stride
        } else {
          v = p.stride_w == 2 ? hn::ConcatEven(d, hn::LoadU(d, src + lanes), hn::LoadU(d, src))
                              : hn::LoadU(d, src);
        }
#endif
        for (int j = 0; j < kB; ++j) {
          acc[j] = hn::MulAdd(hn::Set(d, wk[j * w_stride + kw]), v, acc[j]);
        }
      }
    }
  }
  const auto lo = hn::Set(d, p.act_min), hi = hn::Set(d, p.act_max);
  for (int j = 0; j < kB; ++j) {
    hn::StoreU(hn::Min(hn::Max(acc[j], lo), hi), d, yrow + j * y_stride + ow);
  }
}

// All outputs of row oh: vectors over [0, out_w), the last one overlapping the previous
// instead of a scalar tail (outputs are recomputed identically).
template <int kB, class D>
void DirectRow(D d, const Conv2dParams& p, const DirectGeometry& geo, int64_t cin_g,
               const float* xpad, const float* wp, int64_t w_stride, const float* b, int64_t oh,
               int64_t kh_lo, int64_t kh_hi, float* yrow, int64_t y_stride) {
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  for (int64_t ow = 0;;) {
    DirectVector<kB>(d, p, geo, cin_g, xpad, wp, w_stride, b, oh, kh_lo, kh_hi, ow, yrow, y_stride);
    if (ow + lanes >= p.out_w) break;
    ow = std::min(ow + lanes, p.out_w - lanes);
  }
}

template <int kB>
void DirectBlock(const Conv2dParams& p, const DirectGeometry& geo, int64_t cin_g, const float* xpad,
                 const float* wp, const float* b, float* yp) {
  const hn::ScalableTag<float> d;
  const hn::CappedTag<float, 8> d8;
  const hn::CappedTag<float, 4> d4;
  const hn::CappedTag<float, 1> d1;
  const int64_t w_stride = cin_g * p.kernel_h * p.kernel_w;
  const int64_t out_plane = p.out_h * p.out_w;
  const bool wide = p.stride_w == 1 || p.stride_w == 2;  // else one lane at a time
  for (int64_t oh = 0; oh < p.out_h; ++oh) {
    // kh with ih = oh*sh - pad_top + kh*dh inside [0, in_h).
    const int64_t top = oh * p.stride_h - p.pad_top;
    const int64_t kh_lo = top >= 0 ? 0 : (-top + p.dilation_h - 1) / p.dilation_h;
    const int64_t kh_hi = std::max(
        kh_lo, std::min(p.kernel_h, top < p.in_h ? (p.in_h - 1 - top) / p.dilation_h + 1 : 0));
    float* yrow = yp + oh * p.out_w;
    if (!wide) {
      DirectRow<kB>(d1, p, geo, cin_g, xpad, wp, w_stride, b, oh, kh_lo, kh_hi, yrow, out_plane);
    } else if (p.out_w >= static_cast<int64_t>(hn::Lanes(d))) {
      DirectRow<kB>(d, p, geo, cin_g, xpad, wp, w_stride, b, oh, kh_lo, kh_hi, yrow, out_plane);
    } else if (p.out_w >= static_cast<int64_t>(hn::Lanes(d8))) {
      DirectRow<kB>(d8, p, geo, cin_g, xpad, wp, w_stride, b, oh, kh_lo, kh_hi, yrow, out_plane);
    } else if (p.out_w >= static_cast<int64_t>(hn::Lanes(d4))) {
      DirectRow<kB>(d4, p, geo, cin_g, xpad, wp, w_stride, b, oh, kh_lo, kh_hi, yrow, out_plane);
    } else {
      DirectRow<kB>(d1, p, geo, cin_g, xpad, wp, w_stride, b, oh, kh_lo, kh_hi, yrow, out_plane);
    }
  }
}

constexpr int64_t kDirectBlock = 4;  // output channels sharing one input load

// Work items [begin, end) of (n, g, block of kDirectBlock output channels of group g).
void DirectItems(const Conv2dParams& p, const float* x, const float* w, const float* bias, float* y,
                 int64_t begin, int64_t end) {
  const int64_t cin_g = p.in_channels / p.group, cout_g = p.out_channels / p.group;
  const int64_t blocks = (cout_g + kDirectBlock - 1) / kDirectBlock;
  const int64_t in_plane = p.in_h * p.in_w, out_plane = p.out_h * p.out_w;
  const int64_t w_stride = cin_g * p.kernel_h * p.kernel_w;
  const DirectGeometry geo = Geometry(p);
  float* xpad = conv_internal::Scratch(static_cast<size_t>(cin_g * geo.in_plane));
  int64_t padded_for = -1;  // (n, g) whose planes xpad holds
  for (int64_t item = begin; item < end; ++item) {
    const int64_t ng = item / blocks;  // n * group + g
    const int64_t g = ng % p.group;
    if (ng != padded_for) {
      const float* xs = x + ng * cin_g * in_plane;  // (n*C_in + g*cin_g) * in_plane
      for (int64_t r = 0; r < cin_g * p.in_h; ++r) {
        float* dst = xpad + r * geo.pw;
        std::fill(dst, dst + p.pad_left, 0.0f);
        std::memcpy(dst + p.pad_left, xs + r * p.in_w, static_cast<size_t>(p.in_w) * 4);
        std::fill(dst + p.pad_left + p.in_w, dst + geo.pw, 0.0f);
      }
      padded_for = ng;
    }
    const int64_t oc0 = g * cout_g + (item % blocks) * kDirectBlock;
    const int64_t count = std::min(kDirectBlock, (g + 1) * cout_g - oc0);
    float b[kDirectBlock];
    for (int64_t j = 0; j < count; ++j) b[j] = bias ? bias[oc0 + j] : 0.0f;
    float* yp = y + ((ng / p.group) * p.out_channels + oc0) * out_plane;
    if (count == kDirectBlock) {
      DirectBlock<kDirectBlock>(p, geo, cin_g, xpad, w + oc0 * w_stride, b, yp);
    } else {
      for (int64_t j = 0; j < count; ++j) {
        DirectBlock<1>(p, geo, cin_g, xpad, w + (oc0 + j) * w_stride, b + j, yp + j * out_plane);
      }
    }
  }
}

// BPanelWriter::Write for im2col from a PaddedInput (see gemm.h for the panel layout): each
// panel row is a few runs of consecutive output columns within one output row; with the
// padding done, a run is a plain (strided) copy, done with whole vectors that may overrun
// the run (the next run, the zero fill or the next row rewrites those floats later; the
// last overrun lands in the caller's kBPanelSlack; source over-reads stay within the
// slack Conv2d leaves after the padded input).
void Im2ColPanels(const Conv2dParams& p, const conv_internal::PaddedInput& in, int64_t k0,
                  int64_t kc, int64_t n0, int64_t nc, int64_t nr, float* out) {
  const hn::ScalableTag<float> d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t columns = p.out_h * p.out_w, taps = p.kernel_h * p.kernel_w;
  thread_local std::vector<int64_t> runs;  // (source offset, destination, length) triples
  if (runs.size() < static_cast<size_t>(3 * nr)) runs.resize(static_cast<size_t>(3 * nr));
  // Source offset of B row k0 + kk, (c, i, jw) = unravel(k0 + kk, (Cin_g, kh, kw)).
  thread_local std::vector<int64_t> row_offset;
  if (row_offset.size() < static_cast<size_t>(kc)) row_offset.resize(static_cast<size_t>(kc));
  {
    int64_t c = k0 / taps, i = (k0 / p.kernel_w) % p.kernel_h, jw = k0 % p.kernel_w;
    for (int64_t kk = 0; kk < kc; ++kk) {
      row_offset[kk] = c * in.plane + i * p.dilation_h * in.pw + jw * p.dilation_w;
      if (++jw == p.kernel_w) {
        jw = 0;
        if (++i == p.kernel_h) i = 0, ++c;
      }
    }
  }
  for (int64_t jp = 0; jp < nc; jp += nr) {
    const int64_t cols = std::min(nr, nc - jp);
    float* panel = out + jp * kc;
    int64_t count = 0;
    for (int64_t j = 0; j < cols;) {
      const int64_t t = in.t0 + n0 + jp + j;
      const int64_t cc = t % columns, oh = cc / p.out_w, ow = cc % p.out_w;
      const int64_t len = std::min(p.out_w - ow, cols - j);
      runs[3 * count] =
          (t / columns - in.n_first) * in.image + oh * p.stride_h * in.pw + ow * p.stride_w;
      runs[3 * count + 1] = j;
      runs[3 * count + 2] = len;
      ++count;
      j += len;
    }
    for (int64_t kk = 0; kk < kc; ++kk) {
      const float* base = in.x + row_offset[kk];
      float* dst_row = panel + kk * nr;
      for (int64_t r = 0; r < count; ++r) {
        const float* src = base + runs[3 * r];
        float* dst = dst_row + runs[3 * r + 1];
        const int64_t len = runs[3 * r + 2];
        if (p.stride_w == 1) {
          for (int64_t e = 0; e < len; e += lanes) hn::StoreU(hn::LoadU(d, src + e), d, dst + e);
#if HWY_TARGET != HWY_SCALAR
        } else if (p.stride_w == 2 && lanes > 1) {
          for (int64_t e = 0; e < len; e += lanes) {
            const float* s2 = src + 2 * e;
            hn::StoreU(hn::ConcatEven(d, hn::LoadU(d, s2 + lanes), hn::LoadU(d, s2)), d, dst + e);
          }
#endif
        } else {
          for (int64_t e = 0; e < len; ++e) dst[e] = src[e * p.stride_w];
        }
      }
      for (int64_t e = cols; e < nr; ++e) dst_row[e] = 0.0f;
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace mp::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "workers/engine/kernels/gemm.h"

namespace mp::kernels {
HWY_EXPORT(BiasClampRows);
HWY_EXPORT(DirectItems);
HWY_EXPORT(Im2ColPanels);

namespace {

using conv_internal::Scratch;

// Columns per GEMM call: the K x tile im2col block stays near 384 KiB, and tiles are whole
// multiples of 64 columns (the GEMM's panel widths are 16 or 32).
int64_t ColumnTile(int64_t k, int64_t columns) {
  int64_t tile = (int64_t{98304} / std::max<int64_t>(k, 1)) / 64 * 64;
  tile = std::clamp<int64_t>(tile, 64, 2048);
  return std::min(tile, columns);
}

constexpr int64_t kDirectBlock = 4;  // must match HWY_NAMESPACE::kDirectBlock

// Direct loops beat im2col + GEMM only for at most kDirectBlock output channels per group
// with depthwise input or small K = Cin/G * kh * kw (measured on Zen5, AVX-512 and AVX2:
// e.g. LeNet conv1, 1 -> 6 channels 5x5, runs 2x faster as im2col + GEMM).
bool UseDirect(const Conv2dParams& p) {
  const int64_t cin_g = p.in_channels / p.group, cout_g = p.out_channels / p.group;
  const int64_t k = cin_g * p.kernel_h * p.kernel_w;
  return cout_g <= kDirectBlock && (cin_g == 1 || k <= 32);
}

// Runs fn(begin, end) over [0, items) on the pool when there is enough work for every
// thread; returns false (doing nothing) otherwise so the caller can thread inside Sgemm.
template <typename Fn>
bool OuterParallel(ThreadPool* pool, int64_t items, const Fn& fn) {
  if (pool == nullptr || pool->num_threads() <= 1 || items < pool->num_threads()) {
    return false;
  }
  pool->ParallelFor(items, 1, fn);
  return true;
}

// im2col of one group over global columns (image, oh, ow) from a PaddedInput, written
// straight into the GEMM's B panels: B[(c*kh + i)*kw + j][t - t0] =
//   x[t / columns, c, oh*sh - pad_top + i*dh, ow*sw - pad_left + j*dw] (0 outside).
class Im2ColWriter final : public BPanelWriter {
 public:
  using Fn = decltype(&N_SCALAR::Im2ColPanels);
  Im2ColWriter(const Conv2dParams& p, const conv_internal::PaddedInput& in, Fn fn)
      : p_(p), in_(in), fn_(fn) {}
  void Write(int64_t k0, int64_t kc, int64_t n0, int64_t nc, int64_t nr,
             float* out) const override {
    fn_(p_, in_, k0, kc, n0, nc, nr, out);
  }

 private:
  const Conv2dParams& p_;
  const conv_internal::PaddedInput& in_;
  Fn fn_;
};

}  // namespace

std::unique_ptr<PackedConvWeights> PackedConvWeights::Pack(const Conv2dParams& p, const float* w) {
  const conv_internal::ShiftKind shift = conv_internal::ChooseShift(p);
  if (shift == conv_internal::ShiftKind::kGemm || shift == conv_internal::ShiftKind::kWinograd) {
    auto packed = std::make_unique<PackedConvWeights>();
    packed->shift_ = conv_internal::PackShiftWeights(p, shift, w);
    return packed;
  }
  if (shift == conv_internal::ShiftKind::kFir || UseDirect(p)) return nullptr;
  const int64_t cout_g = p.out_channels / p.group;
  const int64_t k = p.in_channels / p.group * p.kernel_h * p.kernel_w;
  auto packed = std::make_unique<PackedConvWeights>();
  for (int64_t g = 0; g < p.group; ++g) {
    packed->groups_.push_back(PackedA::Pack(false, cout_g, k, w + g * cout_g * k, k));
  }
  return packed;
}

void Conv2d(const Conv2dParams& p, const float* x, const float* w, const float* bias, float* y,
            ThreadPool* pool, const PackedConvWeights* packed, const float* residual) {
  const int64_t cin_g = p.in_channels / p.group;
  const int64_t cout_g = p.out_channels / p.group;
  const int64_t columns = p.out_h * p.out_w;
  const int64_t in_plane = p.in_h * p.in_w;
  const conv_internal::ShiftKind shift = conv_internal::ChooseShift(p);
  if (residual != nullptr && shift == conv_internal::ShiftKind::kNone) {
    // The other paths clamp in their epilogues: convolve unclamped, then add and clamp.
    Conv2dParams unclamped = p;
    unclamped.act_min = -std::numeric_limits<float>::infinity();
    unclamped.act_max = std::numeric_limits<float>::infinity();
    Conv2d(unclamped, x, w, bias, y, pool, packed);
    conv_internal::AddClamp(residual, p.act_min, p.act_max,
                            p.batch * p.out_channels * p.out_h * p.out_w, y);
    return;
  }
  if (shift == conv_internal::ShiftKind::kFir) {
    conv_internal::ShiftConv2d(p, shift, x, w, bias, y, pool, residual);
    return;
  }
  if (shift == conv_internal::ShiftKind::kGemm || shift == conv_internal::ShiftKind::kWinograd) {
    std::vector<float> local;
    const float* wp = packed != nullptr ? packed->shift() : nullptr;
    if (wp == nullptr) {
      local = conv_internal::PackShiftWeights(p, shift, w);
      wp = local.data();
    }
    conv_internal::ShiftConv2d(p, shift, x, wp, bias, y, pool, residual);
    return;
  }
  if (UseDirect(p)) {
    const auto direct = HWY_DYNAMIC_DISPATCH(DirectItems);
    const int64_t blocks = (cout_g + kDirectBlock - 1) / kDirectBlock;
    const int64_t items = p.batch * p.group * blocks;
    auto fn = [&](int64_t b, int64_t e) { direct(p, x, w, bias, y, b, e); };
    if (!OuterParallel(pool, items, fn)) fn(0, items);
    return;
  }
  std::unique_ptr<PackedConvWeights> local;
  if (packed == nullptr) {
    local = PackedConvWeights::Pack(p, w);
    packed = local.get();
  }
  // Columns are indexed globally over (image, oh, ow) so that small images share one GEMM.
  // Tiles never straddle an image boundary: a large image splits into `sub` tiles of about
  // equal width; small images go `per_tile` whole images to a tile.
  const int64_t k = cin_g * p.kernel_h * p.kernel_w;
  const bool direct = p.kernel_h == 1 && p.kernel_w == 1 && p.stride_h == 1 && p.stride_w == 1 &&
                      p.pad_top == 0 && p.pad_left == 0 && p.pad_bottom == 0 && p.pad_right == 0;
  const int64_t tile = ColumnTile(k, p.batch * columns);
  const int64_t even = (columns + tile - 1) / tile;
  const int64_t sub_width = std::min(columns, ((columns + even - 1) / even + 31) / 32 * 32);
  const int64_t sub = (columns + sub_width - 1) / sub_width;
  const int64_t per_tile = sub > 1 ? 1 : std::max<int64_t>(1, tile / columns);
  const int64_t tiles = sub > 1 ? p.batch * sub : (p.batch + per_tile - 1) / per_tile;
  const int64_t items = p.group * tiles;
  const int64_t x_stride = p.in_channels * in_plane;
  const auto epilogue = HWY_DYNAMIC_DISPATCH(BiasClampRows);
  const auto panels = HWY_DYNAMIC_DISPATCH(Im2ColPanels);
  const int64_t pw = p.pad_left + p.in_w + p.pad_right;
  const int64_t padded_plane = (p.pad_top + p.in_h + p.pad_bottom) * pw;
  auto run = [&](int64_t begin, int64_t end, ThreadPool* gemm_pool) {
    // The padded images of the previous item, reused while the group and images match.
    conv_internal::PaddedInput in{nullptr, -1, pw, padded_plane, cin_g * padded_plane, 0};
    int64_t padded_g = -1, padded_last = -1;
    for (int64_t item = begin; item < end; ++item) {
      const int64_t g = item / tiles, u = item % tiles;
      int64_t t0, width;
      if (sub > 1) {
        const int64_t c_begin = (u % sub) * sub_width;
        t0 = (u / sub) * columns + c_begin;
        width = std::min(sub_width, columns - c_begin);
      } else {
        t0 = u * per_tile * columns;
        width = std::min(per_tile, p.batch - u * per_tile) * columns;
      }
      const PackedA& wg = packed->group(g);
      const float* bg = bias ? bias + g * cout_g : nullptr;
      const int64_t n0 = t0 / columns, c0 = t0 % columns;
      const int64_t n_last = (t0 + width - 1) / columns;
      const bool single = c0 + width <= columns;
      // A 1x1 GEMM over one image reads x in place; everything else goes through im2col.
      const bool in_place = direct && single;
      if (!in_place && (g != padded_g || n0 != in.n_first || n_last != padded_last)) {
        // Slack for the writer's vector over-reads (2 vectors past a run, any target).
        float* buf = Scratch(static_cast<size_t>((n_last - n0 + 1) * in.image + 1024), 1);
        conv_internal::PadImages(p, cin_g, x + g * cin_g * in_plane, x_stride, n0, n_last, pw, buf);
        in.x = buf;
        in.n_first = n0;
        padded_g = g;
        padded_last = n_last;
      }
      in.t0 = t0;
      const Im2ColWriter writer(p, in, panels);
      if (single) {  // one image: write y in place
        float* yg = y + (n0 * p.out_channels + g * cout_g) * columns + c0;
        if (in_place) {
          const float* xg = x + n0 * x_stride + g * cin_g * in_plane;
          SgemmPackedA(wg, false, width, 1.0f, xg + c0, in_plane, 0.0f, yg, columns, gemm_pool);
        } else {
          SgemmPackedA(wg, width, writer, 1.0f, 0.0f, yg, columns, gemm_pool);
        }
        epilogue(cout_g, width, columns, bg, p.act_min, p.act_max, yg);
        continue;
      }
      // Several images: GEMM over their columns side by side into scratch, then scatter.
      float* out = Scratch(static_cast<size_t>(cout_g * width));
      SgemmPackedA(wg, width, writer, 1.0f, 0.0f, out, width, gemm_pool);
      for (int64_t t = t0; t < t0 + width;) {
        const int64_t n = t / columns, c = t % columns;
        const int64_t len = std::min(columns - c, t0 + width - t);
        float* yg = y + (n * p.out_channels + g * cout_g) * columns + c;
        for (int64_t r = 0; r < cout_g; ++r) {
          std::memcpy(yg + r * columns, out + r * width + (t - t0),
                      static_cast<size_t>(len) * sizeof(float));
        }
        epilogue(cout_g, len, columns, bg, p.act_min, p.act_max, yg);
        t += len;
      }
    }
  };
  if (!OuterParallel(pool, items, [&](int64_t b, int64_t e) { run(b, e, nullptr); })) {
    run(0, items, pool);
  }
}

void ConvTranspose2d(const Conv2dParams& p, const float* x, const float* w, const float* bias,
                     float* y, ThreadPool* pool) {
  const int64_t cin_g = p.in_channels / p.group;
  const int64_t cout_g = p.out_channels / p.group;
  const int64_t in_plane = p.in_h * p.in_w;
  const int64_t out_plane = p.out_h * p.out_w;
  const int64_t m = cout_g * p.kernel_h * p.kernel_w;
  // The forward convolution mapping y (its input) to x (its output).
  Conv2dParams fwd = p;
  fwd.in_channels = p.out_channels;
  fwd.out_channels = p.in_channels;
  fwd.in_h = p.out_h;
  fwd.in_w = p.out_w;
  fwd.out_h = p.in_h;
  fwd.out_w = p.in_w;
  const auto epilogue = HWY_DYNAMIC_DISPATCH(BiasClampRows);
  for (int64_t n = 0; n < p.batch; ++n) {
    float* yn = y + n * p.out_channels * out_plane;
    for (int64_t c = 0; c < p.out_channels; ++c) {
      std::fill(yn + c * out_plane, yn + (c + 1) * out_plane, bias ? bias[c] : 0.0f);
    }
    for (int64_t g = 0; g < p.group; ++g) {
      float* col = Scratch(static_cast<size_t>(m * in_plane));
      const float* xg = x + (n * p.in_channels + g * cin_g) * in_plane;
      Sgemm(true, false, m, in_plane, cin_g, 1.0f, w + g * cin_g * m, m, xg, in_plane, 0.0f, col,
            in_plane, pool);
      float* yg = yn + g * cout_g * out_plane;
      auto scatter = [&](int64_t b, int64_t e) { Col2ImAdd(fwd, b, e, col, yg); };
      if (!OuterParallel(pool, cout_g, scatter)) scatter(0, cout_g);
    }
    epilogue(1, p.out_channels * out_plane, 0, nullptr, p.act_min, p.act_max, yn);
  }
}

}  // namespace mp::kernels
#endif  // HWY_ONCE
