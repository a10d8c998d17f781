// Quantized convolution: im2col per pixel tile, written straight in QGemm's packed-A layout
// (QGemmPackedA, so QGemm does not repack it), + QGemm + an NCHW output stage (qconv.h).
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

// The patch bytes of one im2col row as QGemm's packed-A words (qgemm.h, QGemmPackedA): 4
// consecutive k per little-endian word, flipped by x4 (0x80808080 for int8 x), 0 beyond K.
// Returns the row's byte sum. Byte t of group g comes from src(4g + t).
template <class Src>
uint32_t PackRow(const Src& src, int64_t k, int64_t k4, uint32_t x4, int64_t mr, uint32_t* dst) {
  const int64_t full = k / 4;
  uint64_t sum_lo = 0, sum_hi = 0;
  for (int64_t g = 0; g < full; ++g) {
    const uint32_t word =
        (static_cast<uint32_t>(src(4 * g)) | static_cast<uint32_t>(src(4 * g + 1)) << 8 |
         static_cast<uint32_t>(src(4 * g + 2)) << 16 |
         static_cast<uint32_t>(src(4 * g + 3)) << 24) ^
        x4;
    dst[g * mr] = word;
    // The byte sum through two 16-bit lanes (each at most 2*255 per group).
    const uint32_t pairs = (word & 0x00FF00FFu) + ((word >> 8) & 0x00FF00FFu);
    sum_lo += pairs & 0xFFFFu;
    sum_hi += pairs >> 16;
  }
  uint32_t sum = static_cast<uint32_t>(sum_lo + sum_hi);
  if (full < k4) {
    uint32_t word = 0;
    for (int64_t t = 0; t < k - 4 * full; ++t) {
      const uint32_t u = (static_cast<uint32_t>(src(4 * full + t)) ^ x4) & 0xFFu;
      sum += u;
      word |= u << (8 * t);
    }
    dst[full * mr] = word;
  }
  return sum;
}

// Where a pixel block's bytes may be read: the whole input buffer [0, size).
struct Bounds {
  const uint8_t* x;    // the input's first byte
  int64_t size;        // input bytes
  int64_t kmax;        // max koff
  uint32_t tail_mask;  // bytes of the last group inside K (all ones if K % 4 == 0)
};

using U8x16 = uint8_t __attribute__((vector_size(16)));
using U32x4 = uint32_t __attribute__((vector_size(16)));
using U16x8 = uint16_t __attribute__((vector_size(16)));
using U64x2 = uint64_t __attribute__((vector_size(16)));

// Fast path for one block of MR (4 or 8) pixels starting at output pixel q with stride_w 1:
// if every pixel's patch is inside the image and the block spans at most two output rows,
// pixel r's byte kk is lo[koff[kk] + r] (r < L, the pixels on q's row) or hi[koff[kk] + r];
// MR bytes are loaded per kk and transposed into the packed words (byte r of 4 loads -> word
// r). Writes dst[g*MR + r] and row_sums[r]; returns false (nothing written) otherwise.
template <int MR>
bool PackBlock(const Conv2dParams& p, const uint8_t* x_g, int64_t q, const int64_t* koff,
               int64_t k4, const Bounds& bd, uint32_t x4, uint32_t* dst, uint32_t* row_sums) {
  const int64_t oh = q / p.out_w, ow = q % p.out_w;
  const int64_t len = std::min<int64_t>(MR, p.out_w - ow);
  const int64_t h_span = (p.kernel_h - 1) * p.dilation_h, w_span = (p.kernel_w - 1) * p.dilation_w;
  auto rows_in = [&](int64_t row) {
    const int64_t ih0 = row * p.stride_h - p.pad_top;
    return row < p.out_h && ih0 >= 0 && ih0 + h_span < p.in_h;
  };
  auto cols_in = [&](int64_t first, int64_t last) {  // output columns [first, last]
    return first - p.pad_left >= 0 && last - p.pad_left + w_span < p.in_w;
  };
  if (!rows_in(oh) || !cols_in(ow, ow + len - 1)) return false;
  const int64_t g_off = x_g - bd.x;
  const int64_t lo = g_off + (oh * p.stride_h - p.pad_top) * p.in_w + ow - p.pad_left;
  if (lo + bd.kmax + MR > bd.size) return false;
  int64_t hi = lo;
  if (len < MR) {
    if (MR - len > p.out_w || !rows_in(oh + 1) || !cols_in(0, MR - len - 1)) return false;
    hi = g_off + ((oh + 1) * p.stride_h - p.pad_top) * p.in_w - p.pad_left - len;
    if (hi < 0 || hi + bd.kmax + MR > bd.size) return false;
  }
  const uint64_t keep_lo = len == 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * len)) - 1;
  auto load = [&](int64_t kk) {
    uint64_t a = 0, b = 0;
    std::memcpy(&a, bd.x + lo + koff[kk], MR);
    if (len == MR) return a;
    std::memcpy(&b, bd.x + hi + koff[kk], MR);
    return (a & keep_lo) | (b & ~keep_lo);
  };
  constexpr int kVecs = MR / 4;
  U32x4 sum_lo[kVecs] = {}, sum_hi[kVecs] = {};
  const U32x4 lane_mask = {0x00FF00FFu, 0x00FF00FFu, 0x00FF00FFu, 0x00FF00FFu};
  for (int64_t g = 0; g < k4; ++g) {
    const uint64_t v0 = load(4 * g), v1 = load(4 * g + 1), v2 = load(4 * g + 2),
                   v3 = load(4 * g + 3);
    // Byte interleaves (punpcklbw, then punpcklwd / punpckhwd on SSE2): word r = byte r of
    // v0, v1, v2, v3.
    const U8x16 b0 = reinterpret_cast<U8x16>(U64x2{v0, 0}),
                b1 = reinterpret_cast<U8x16>(U64x2{v1, 0});
    const U8x16 b2 = reinterpret_cast<U8x16>(U64x2{v2, 0}),
                b3 = reinterpret_cast<U8x16>(U64x2{v3, 0});
    const U16x8 ab = reinterpret_cast<U16x8>(
        __builtin_shufflevector(b0, b1, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23));
    const U16x8 cd = reinterpret_cast<U16x8>(
        __builtin_shufflevector(b2, b3, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23));
    U32x4 words[kVecs];
    words[0] = reinterpret_cast<U32x4>(__builtin_shufflevector(ab, cd, 0, 8, 1, 9, 2, 10, 3, 11));
    if constexpr (MR == 8) {
      words[kVecs - 1] =
          reinterpret_cast<U32x4>(__builtin_shufflevector(ab, cd, 4, 12, 5, 13, 6, 14, 7, 15));
    }
    const uint32_t mask = g + 1 == k4 ? bd.tail_mask : ~0u;
    for (int v = 0; v < kVecs; ++v) {
      words[v] = (words[v] ^ x4) & mask;
      std::memcpy(dst + g * MR + 4 * v, &words[v], sizeof(words[v]));
      const U32x4 pairs = (words[v] & lane_mask) + ((words[v] >> 8) & lane_mask);
      sum_lo[v] += pairs & 0xFFFFu;
      sum_hi[v] += pairs >> 16;
    }
  }
  for (int v = 0; v < kVecs; ++v) {
    const U32x4 sum = sum_lo[v] + sum_hi[v];
    std::memcpy(row_sums + 4 * v, &sum, sizeof(sum));
  }
  return true;
}

// Writes the patches of output pixels [p0, p0 + count) of image plane group x_g (as
// Im2ColRows would) straight into QGemm's packed-A layout with mr rows per block (rows
// beyond count zero) and their row sums. koff[kk] = offset of patch byte kk from the
// pixel's top-left input position (c*plane + kh*dh*in_w + kw*dw); pixels whose whole patch
// lies inside the image gather through it without bounds checks (whole blocks of 4 or 8 at
// once through PackBlock), the others go through Im2ColRows. koff has 4*k4 entries (0 beyond
// K). row_buf: kg bytes of scratch.
void Im2ColPacked(const Conv2dParams& p, const Geometry& geo, const uint8_t* x_g, int64_t p0,
                  int64_t count, uint8_t pad, uint32_t x4, int64_t mr, const int64_t* koff,
                  const Bounds& bd, uint32_t* out, uint32_t* row_sums, uint8_t* row_buf) {
  const int64_t k = geo.kg, k4 = (k + 3) / 4;
  const int64_t blocks = (count + mr - 1) / mr;
  const int64_t h_span = (p.kernel_h - 1) * p.dilation_h, w_span = (p.kernel_w - 1) * p.dilation_w;
  int64_t oh = p0 / p.out_w, ow = p0 % p.out_w;
  for (int64_t i = 0; i < count; ++i) {
    uint32_t* dst = out + (i / mr) * k4 * mr + i % mr;
    if (i % mr == 0 && i + mr <= count && p.stride_w == 1 &&
        ((mr == 8 && PackBlock<8>(p, x_g, p0 + i, koff, k4, bd, x4, dst, row_sums + i)) ||
         (mr == 4 && PackBlock<4>(p, x_g, p0 + i, koff, k4, bd, x4, dst, row_sums + i)))) {
      i += mr - 1;  // the loop adds the last one
      for (ow += mr; ow >= p.out_w; ow -= p.out_w) ++oh;
      continue;
    }
    const int64_t ih0 = oh * p.stride_h - p.pad_top, iw0 = ow * p.stride_w - p.pad_left;
    if (ih0 >= 0 && ih0 + h_span < p.in_h && iw0 >= 0 && iw0 + w_span < p.in_w) {
      const uint8_t* base = x_g + ih0 * p.in_w + iw0;
      row_sums[i] = PackRow([&](int64_t kk) { return base[koff[kk]]; }, k, k4, x4, mr, dst);
    } else {
      Im2ColRows(p, geo.cg, x_g, p0 + i, 1, pad, row_buf, k);
      row_sums[i] = PackRow([&](int64_t kk) { return row_buf[kk]; }, k, k4, x4, mr, dst);
    }
    if (++ow == p.out_w) {
      ow = 0;
      ++oh;
    }
  }
  for (int64_t i = count; i < blocks * mr; ++i) {
    uint32_t* dst = out + (i / mr) * k4 * mr + i % mr;
    for (int64_t g = 0; g < k4; ++g) dst[g * mr] = 0;
    row_sums[i] = 0;
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
  const uint32_t x4 = x_type == QType::kInt8 ? 0x80808080u : 0u;
  const int64_t mr = QGemmRowBlock();
  const int64_t k4 = (geo.kg + 3) / 4;
  std::vector<int64_t> koff(static_cast<size_t>(4 * k4), 0);
  for (int64_t c = 0, kk = 0; c < geo.cg; ++c) {
    for (int64_t kh = 0; kh < p.kernel_h; ++kh) {
      for (int64_t kw = 0; kw < p.kernel_w; ++kw, ++kk) {
        koff[static_cast<size_t>(kk)] =
            c * p.in_h * p.in_w + kh * p.dilation_h * p.in_w + kw * p.dilation_w;
      }
    }
  }
  const int64_t kg_rem = geo.kg % 4;
  const Bounds bd = {xb, p.batch * p.in_channels * p.in_h * p.in_w,
                     *std::max_element(koff.begin(), koff.end()),
                     kg_rem == 0 ? ~0u : (1u << (8 * kg_rem)) - 1};
  auto run = [&](int64_t begin, int64_t end) {
    thread_local std::vector<uint8_t> row_buf;
    thread_local std::vector<uint32_t> a_pack, row_sums;
    thread_local std::vector<int32_t> acc, acc_t;
    row_buf.resize(static_cast<size_t>(std::max<int64_t>(geo.kg, 1)));
    const int64_t rows = (kPixelTile + mr - 1) / mr * mr;
    a_pack.resize(static_cast<size_t>(rows * std::max<int64_t>(k4, 1)));
    row_sums.resize(static_cast<size_t>(rows));
    acc.resize(static_cast<size_t>(kPixelTile * geo.mg));
    acc_t.resize(acc.size());
    for (int64_t t = begin; t < end; ++t) {
      const int64_t n = t / (p.group * tiles), g = t / tiles % p.group, tile = t % tiles;
      const int64_t p0 = tile * kPixelTile, count = std::min(kPixelTile, geo.hw - p0);
      const uint8_t* x_g = xb + (n * p.in_channels + g * geo.cg) * p.in_h * p.in_w;
      Im2ColPacked(p, geo, x_g, p0, count, pad, x4, mr, koff.data(), bd, a_pack.data(),
                   row_sums.data(), row_buf.data());
      QGemmPackedA(count, a_pack.data(), row_sums.data(), mr, x_type, x_zero, w.group(g),
                   acc.data(), geo.mg);
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
