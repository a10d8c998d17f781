// Data movement of the shifted-plane convolution (conv_shift.cc): staging a block of images
// into zero-padded phase planes, copying real outputs back to NCHW (optionally adding a
// residual and clamping), and the residual pass of the other conv paths. Pure copies apart
// from the add and clamp, which round like the scalar `std::min(std::max(a + b, lo), hi)`.
#include <algorithm>
#include <cstring>
#include <vector>

#include "workers/engine/kernels/conv_internal.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "workers/engine/kernels/conv_stage.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
// Must follow highway.h (per-target header).
#include "workers/engine/kernels/conv_span-inl.h"

HWY_BEFORE_NAMESPACE();
namespace mp::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using D = hn::ScalableTag<float>;
using V = hn::Vec<D>;
constexpr int64_t kL = static_cast<int64_t>(hn::MaxLanes(D()));

// Copies `rows` rows of `width` floats from src (row pitch src_pitch) to dst (rows packed,
// pitch width); with `res` (dst's layout), dst = clamp(src + res, lo, hi) instead.
void UnstageRowsImpl(const float* src, int64_t src_pitch, const float* res, float lo, float hi,
                     float* dst, int64_t width, int64_t rows) {
  if (src_pitch == width) {
    width *= rows;
    rows = 1;
  }
  for (int64_t r = 0; r < rows; ++r) {
    if (res == nullptr) {
      span::CopySpan(src + r * src_pitch, dst + r * width, width);
    } else {
      span::AddClampSpan(src + r * src_pitch, res + r * width, lo, hi, dst + r * width, width);
    }
  }
}

// y[i] = clamp(y[i] + res[i], lo, hi) for i < n.
void AddClampImpl(const float* res, float lo, float hi, int64_t n, float* y) {
  const D d;
  const V vlo = hn::Set(d, lo), vhi = hn::Set(d, hi);
  int64_t i = 0;
  for (; i + kL <= n; i += kL) {
    const V v = hn::Add(hn::LoadU(d, y + i), hn::LoadU(d, res + i));
    hn::StoreU(hn::Min(hn::Max(v, vlo), vhi), d, y + i);
  }
  for (; i < n; ++i) y[i] = std::min(std::max(y[i] + res[i], lo), hi);
}

// dst[j] = src[j * stride] for j < n; reads only those elements.
HWY_INLINE void GatherStrided(const float* src, int64_t stride, float* dst, int64_t n) {
  if (stride == 1) {
    span::CopySpan(src, dst, n);
    return;
  }
  int64_t j = 0;
#if HWY_TARGET != HWY_SCALAR
  if (stride == 2) {
    const D d;
    // Reads src[2j .. 2j + 2*kL - 1], within the n elements' span while j + kL < n.
    for (; j + kL < n; j += kL) {
      const float* s2 = src + 2 * j;
      hn::StoreU(hn::ConcatEven(d, hn::LoadU(d, s2 + kL), hn::LoadU(d, s2)), d, dst + j);
    }
  }
#endif
  for (; j < n; ++j) dst[j] = src[j * stride];
}

#if HWY_TARGET != HWY_SCALAR
// StageBlockImpl for s_w == 2 after the memset: a channel's rows are first copied into a
// buffer of zero-padded rows (G's rows: pad_left zeros, the row, zeros; all rows first, so
// the vector loads below do not wait on the narrower stores just made), then every phase
// row b is written whole with vectors of ConcatEven / ConcatOdd of its buffer row (G
// columns 2j + b). Stores past a phase row's `pitch` floats write G's zeros (buffer columns
// >= 2*pitch lie past the data), landing on later rows of the same plane, which are written
// after, or on padding or the plane's slack, which must be zero anyway.
void StageStride2(const conv_internal::StageArgs& g, float* out) {
  const D d;
  const int64_t vectors = (g.pitch + kL - 1) / kL;
  const int64_t row_pitch = 2 * vectors * kL + kL;
  thread_local std::vector<float> buffer;
  const size_t need = static_cast<size_t>(g.in_h * row_pitch);
  buffer.assign(std::max(need, buffer.size()), 0.0f);
  float* rows = buffer.data();
  for (int64_t img = 0; img < g.images; ++img) {
    for (int64_t c = 0; c < g.channels; ++c) {
      const float* src = g.x + img * g.x_stride + c * g.in_plane;
      for (int64_t ih = 0; ih < g.in_h; ++ih) {
        span::CopySpan(src + ih * g.in_w, rows + ih * row_pitch + g.pad_left, g.in_w);
      }
      for (int64_t a = 0; a < g.ph_h; ++a) {
        const int64_t g0 = img * g.r0 + g.pad_top - a;  // > -s_h
        const int64_t i0 = g0 <= 0 ? 0 : (g0 + g.s_h - 1) / g.s_h;
        const int64_t ih0 = g.s_h * i0 - g0;
        float* dst = out + (c * g.ph_h + a) * g.ph_w * g.plane + i0 * g.pitch;
        for (int64_t ih = ih0; ih < g.in_h; ih += g.s_h, dst += g.pitch) {
          const float* row = rows + ih * row_pitch;
          for (int64_t v = 0; v < vectors; ++v) {
            const V lo = hn::LoadU(d, row + 2 * v * kL);
            const V hi = hn::LoadU(d, row + 2 * v * kL + kL);
            hn::StoreU(hn::ConcatEven(d, hi, lo), d, dst + v * kL);
            if (g.ph_w > 1) hn::StoreU(hn::ConcatOdd(d, hi, lo), d, dst + g.plane + v * kL);
          }
        }
      }
    }
  }
}
#endif

// Writes the staged planes of a block (StageArgs): zeros, then the data rows, image by
// image and channel by channel (x is read in order). When a channel's rows are contiguous in
// both x and the plane (no column padding, stride 1), they are copied as one span. (Zeroing
// the whole block first measured faster than zeroing only the padding row by row.)
void StageBlockImpl(const conv_internal::StageArgs& g, float* out) {
  const int64_t phases = g.ph_h * g.ph_w;
  if (!g.zeroed) {
    std::memset(out, 0, static_cast<size_t>(g.channels * phases * g.plane) * sizeof(float));
  }
  constexpr int64_t kMaxPhases = conv_internal::kMaxPhases;
  int64_t j_lo[kMaxPhases], cols[kMaxPhases], iw0[kMaxPhases];
  for (int64_t b = 0; b < g.ph_w; ++b) {
    j_lo[b] = std::max<int64_t>(0, (g.pad_left - b + g.s_w - 1) / g.s_w);
    const int64_t j_hi =
        std::clamp<int64_t>((g.pad_left + g.in_w - b + g.s_w - 1) / g.s_w, j_lo[b], g.pitch);
    cols[b] = j_hi - j_lo[b];
    iw0[b] = g.s_w * j_lo[b] + b - g.pad_left;
  }
  const bool whole_rows = g.s_w == 1 && g.s_h == 1 && cols[0] == g.in_w && g.in_w == g.pitch;
#if HWY_TARGET != HWY_SCALAR
  if (g.s_w == 2 && kL > 1) {
    StageStride2(g, out);
    return;
  }
#endif
  for (int64_t img = 0; img < g.images; ++img) {
    for (int64_t a = 0; a < g.ph_h; ++a) {
      const int64_t g0 = img * g.r0 + g.pad_top - a;  // > -s_h
      const int64_t i0 = g0 <= 0 ? 0 : (g0 + g.s_h - 1) / g.s_h;
      const int64_t ih0 = g.s_h * i0 - g0;
      if (ih0 >= g.in_h) continue;
      for (int64_t c = 0; c < g.channels; ++c) {
        const float* src = g.x + img * g.x_stride + c * g.in_plane + ih0 * g.in_w;
        for (int64_t b = 0; b < g.ph_w; ++b) {
          if (cols[b] <= 0) continue;
          float* dst = out + ((c * g.ph_h + a) * g.ph_w + b) * g.plane + i0 * g.pitch + j_lo[b];
          if (whole_rows) {
            span::CopySpan(src, dst, (g.in_h - ih0) * g.in_w);
            continue;
          }
          const float* row = src + iw0[b];
          for (int64_t ih = ih0; ih < g.in_h; ih += g.s_h, row += g.s_h * g.in_w) {
            GatherStrided(row, g.s_w, dst, cols[b]);
            dst += g.pitch;
          }
        }
      }
    }
  }
}

// out[(q*out_h + oh)*out_w + ow] = x[q*in_plane + oh*s_h*in_w + ow*s_w] for planes q.
void SamplePlanesImpl(const Conv2dParams& p, const float* x, int64_t planes, float* out) {
  const int64_t in_plane = p.in_h * p.in_w;
  for (int64_t q = 0; q < planes; ++q) {
    for (int64_t oh = 0; oh < p.out_h; ++oh) {
      GatherStrided(x + q * in_plane + oh * p.stride_h * p.in_w, p.stride_w,
                    out + (q * p.out_h + oh) * p.out_w, p.out_w);
    }
  }
}

int64_t TargetLanesImpl() { return static_cast<int64_t>(hn::Lanes(D())); }
int64_t X86VectorLanesImpl() { return HWY_ARCH_X86 && HWY_MAX_BYTES >= 32 ? TargetLanesImpl() : 0; }

}  // namespace HWY_NAMESPACE
}  // namespace mp::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace mp::kernels {
HWY_EXPORT(UnstageRowsImpl);
HWY_EXPORT(AddClampImpl);
HWY_EXPORT(StageBlockImpl);
HWY_EXPORT(SamplePlanesImpl);
HWY_EXPORT(TargetLanesImpl);
HWY_EXPORT(X86VectorLanesImpl);

namespace conv_internal {

void StageBlock(const StageArgs& args, float* out) {
  HWY_DYNAMIC_DISPATCH(StageBlockImpl)(args, out);
}

void UnstageRows(const float* src, int64_t src_pitch, const float* res, float lo, float hi,
                 float* dst, int64_t width, int64_t rows) {
  HWY_DYNAMIC_DISPATCH(UnstageRowsImpl)(src, src_pitch, res, lo, hi, dst, width, rows);
}

void AddClamp(const float* residual, float lo, float hi, int64_t n, float* y) {
  HWY_DYNAMIC_DISPATCH(AddClampImpl)(residual, lo, hi, n, y);
}

void SamplePlanes(const Conv2dParams& p, const float* x, int64_t planes, float* out) {
  HWY_DYNAMIC_DISPATCH(SamplePlanesImpl)(p, x, planes, out);
}

int64_t TargetLanes() { return HWY_DYNAMIC_DISPATCH(TargetLanesImpl)(); }

int64_t X86VectorLanes() { return HWY_DYNAMIC_DISPATCH(X86VectorLanesImpl)(); }

}  // namespace conv_internal
}  // namespace mp::kernels
#endif  // HWY_ONCE
