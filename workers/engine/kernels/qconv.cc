// Quantized convolution: im2col per pixel tile + QGemm + an NCHW output stage (qconv.h).
#include "workers/engine/kernels/qconv.h"

#include <algorithm>
#include <cstring>

#include "common/check.h"

namespace mp::kernels {
namespace {

constexpr int64_t kPixelTile = 96;  // output pixels per task (a multiple of QGemm's row tile)

struct Geometry {
  int64_t cg, mg, kg, hw;
};

Geometry GeometryOf(const Conv2dParams& p) {
  Geometry g;
  g.cg = p.in_channels / p.group;
  g.mg = p.out_channels / p.group;
  g.kg = g.cg * p.kernel_h * p.kernel_w;
  g.hw = p.out_h * p.out_w;
  return g;
}

// dst[0, n) = src[0, n), with fixed-size copies (a few moves, no library call) for the
// common kernel widths.
inline void CopyKernelRow(const uint8_t* src, int64_t n, uint8_t* dst) {
  switch (n) {
    case 1:
      *dst = *src;
      return;
    case 3:
      std::memcpy(dst, src, 3);
      return;
    case 5:
      std::memcpy(dst, src, 5);
      return;
    case 7:
      std::memcpy(dst, src, 7);
      return;
    default:
      std::memcpy(dst, src, static_cast<size_t>(n));
  }
}

// Row i of `out` (stride kg bytes) = the patch of output pixel p0 + i, for `count` pixels of
// image plane group x_g ([Cg, in_h, in_w] bytes); positions outside the image hold `pad`.
// Pixels whose kernel columns all fall inside the image (most of them) copy each kernel row
// without per-byte bounds checks; the bytes written are the same either way.
void Im2ColRows(const Conv2dParams& p, int64_t cg, const uint8_t* x_g, int64_t p0, int64_t count,
                uint8_t pad, uint8_t* out, int64_t kg) {
  const int64_t plane = p.in_h * p.in_w;
  const int64_t kw_n = p.kernel_w, dw = p.dilation_w;
  int64_t oh = p0 / p.out_w, ow = p0 % p.out_w;
  for (int64_t i = 0; i < count; ++i) {
    uint8_t* row = out + i * kg;
    const int64_t iw0 = ow * p.stride_w - p.pad_left;
    const bool cols_in = iw0 >= 0 && iw0 + (kw_n - 1) * dw < p.in_w;
    for (int64_t c = 0; c < cg; ++c) {
      const uint8_t* xc = x_g + c * plane;
      for (int64_t kh = 0; kh < p.kernel_h; ++kh) {
        const int64_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
        if (ih < 0 || ih >= p.in_h) {
          std::memset(row, pad, static_cast<size_t>(kw_n));
        } else if (cols_in && dw == 1) {
          CopyKernelRow(xc + ih * p.in_w + iw0, kw_n, row);
        } else if (cols_in) {
          const uint8_t* src = xc + ih * p.in_w + iw0;
          for (int64_t kw = 0; kw < kw_n; ++kw) row[kw] = src[kw * dw];
        } else {
          const uint8_t* src = xc + ih * p.in_w;
          for (int64_t kw = 0; kw < kw_n; ++kw) {
            const int64_t iw = iw0 + kw * dw;
            row[kw] = iw >= 0 && iw < p.in_w ? src[iw] : pad;
          }
        }
        row += kw_n;
      }
    }
    if (++ow == p.out_w) {
      ow = 0;
      ++oh;
    }
  }
}

// Runs the convolution, handing each task's result to store(n, g, p0, count, acc) where
// acc is [Cout_g x count] int32 (channel-major, ready for NCHW rows).
template <class Store>
void Run(const Conv2dParams& p, const void* x, QType x_type, int32_t x_zero,
         const PackedQConvWeights& w, ThreadPool* pool, const Store& store) {
  const Geometry geo = GeometryOf(p);
  const int64_t tiles = (geo.hw + kPixelTile - 1) / kPixelTile;
  const int64_t tasks = p.batch * p.group * tiles;
  const uint8_t* xb = static_cast<const uint8_t*>(x);
  const uint8_t pad = static_cast<uint8_t>(x_zero);  // the zero point's byte (uint8 or int8)
  auto run = [&](int64_t begin, int64_t end) {
    thread_local std::vector<uint8_t> patches;
    thread_local std::vector<int32_t> acc, acc_t;
    patches.resize(static_cast<size_t>(kPixelTile * std::max<int64_t>(geo.kg, 1)));
    acc.resize(static_cast<size_t>(kPixelTile * geo.mg));
    acc_t.resize(acc.size());
    for (int64_t t = begin; t < end; ++t) {
      const int64_t n = t / (p.group * tiles), g = t / tiles % p.group, tile = t % tiles;
      const int64_t p0 = tile * kPixelTile, count = std::min(kPixelTile, geo.hw - p0);
      const uint8_t* x_g = xb + (n * p.in_channels + g * geo.cg) * p.in_h * p.in_w;
      Im2ColRows(p, geo.cg, x_g, p0, count, pad, patches.data(), geo.kg);
      QGemm(count, patches.data(), x_type, geo.kg, x_zero, w.group(g), acc.data(), geo.mg);
      for (int64_t i = 0; i < count; ++i) {
        for (int64_t j = 0; j < geo.mg; ++j) {
          acc_t[static_cast<size_t>(j * count + i)] = acc[static_cast<size_t>(i * geo.mg + j)];
        }
      }
      store(n, g, p0, count, acc_t.data());
    }
  };
  if (pool == nullptr || tasks == 1) {
    run(0, tasks);
  } else {
    pool->ParallelFor(tasks, 1, run);
  }
}

}  // namespace

std::unique_ptr<PackedQConvWeights> PackedQConvWeights::Pack(const Conv2dParams& p, const void* w,
                                                             QType w_type, const int32_t* w_zero,
                                                             bool per_channel) {
  const Geometry geo = GeometryOf(p);
  auto packed = std::make_unique<PackedQConvWeights>();
  const uint8_t* wb = static_cast<const uint8_t*>(w);
  for (int64_t g = 0; g < p.group; ++g) {
    const int32_t* zeros = w_zero == nullptr ? nullptr : w_zero + (per_channel ? g * geo.mg : 0);
    packed->groups_.push_back(PackedQB::Pack(/*trans_b=*/true, geo.kg, geo.mg,
                                             wb + g * geo.mg * geo.kg, w_type, geo.kg, zeros,
                                             per_channel));
  }
  return packed;
}

void QConv2dInt32(const Conv2dParams& p, const void* x, QType x_type, int32_t x_zero,
                  const PackedQConvWeights& w, int32_t* y, ThreadPool* pool) {
  const Geometry geo = GeometryOf(p);
  Run(p, x, x_type, x_zero, w, pool,
      [&](int64_t n, int64_t g, int64_t p0, int64_t count, const int32_t* acc) {
        for (int64_t j = 0; j < geo.mg; ++j) {
          int32_t* dst = y + (n * p.out_channels + g * geo.mg + j) * geo.hw + p0;
          std::memcpy(dst, acc + j * count, static_cast<size_t>(count) * sizeof(int32_t));
        }
      });
}

void QConv2d(const Conv2dParams& p, const void* x, QType x_type, int32_t x_zero,
             const PackedQConvWeights& w, const int32_t* bias, const float* scale, int32_t y_zero,
             QType y_type, void* y, ThreadPool* pool) {
  const Geometry geo = GeometryOf(p);
  uint8_t* yb = static_cast<uint8_t*>(y);
  Run(p, x, x_type, x_zero, w, pool,
      [&](int64_t n, int64_t g, int64_t p0, int64_t count, const int32_t* acc) {
        for (int64_t j = 0; j < geo.mg; ++j) {
          const int64_t oc = g * geo.mg + j;
          Requantize(acc + j * count, count, bias == nullptr ? 0 : bias[oc], scale[oc], y_zero,
                     y_type, yb + (n * p.out_channels + oc) * geo.hw + p0);
        }
      });
}

void QConv2dInt32Reference(const Conv2dParams& p, const void* x, QType x_type, int32_t x_zero,
                           const void* w, QType w_type, const int32_t* w_zero, bool per_channel,
                           int32_t* y) {
  const Geometry geo = GeometryOf(p);
  for (int64_t n = 0; n < p.batch; ++n) {
    for (int64_t oc = 0; oc < p.out_channels; ++oc) {
      const int64_t g = oc / geo.mg;
      const int32_t wz = w_zero == nullptr ? 0 : w_zero[per_channel ? oc : 0];
      for (int64_t oh = 0; oh < p.out_h; ++oh) {
        for (int64_t ow = 0; ow < p.out_w; ++ow) {
          int64_t sum = 0;
          for (int64_t c = 0; c < geo.cg; ++c) {
            for (int64_t kh = 0; kh < p.kernel_h; ++kh) {
              for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
                const int64_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
                const int64_t iw = ow * p.stride_w - p.pad_left + kw * p.dilation_w;
                int64_t xv = 0;  // padding reads as x_zero: contributes 0
                if (ih >= 0 && ih < p.in_h && iw >= 0 && iw < p.in_w) {
                  const int64_t xi =
                      ((n * p.in_channels + g * geo.cg + c) * p.in_h + ih) * p.in_w + iw;
                  xv = QLoad(x, x_type, xi) - x_zero;
                }
                const int64_t wi = ((oc * geo.cg + c) * p.kernel_h + kh) * p.kernel_w + kw;
                sum += xv * (QLoad(w, w_type, wi) - wz);
              }
            }
          }
          y[((n * p.out_channels + oc) * p.out_h + oh) * p.out_w + ow] =
              static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(sum)));
        }
      }
    }
  }
}

}  // namespace mp::kernels
