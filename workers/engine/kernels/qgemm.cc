// Integer GEMM kernel: see qgemm.h. Per output tile (kRowTile rows x kColTile columns) a
// task packs its rows of A as a_u (4 bytes of one row per uint32 word, [block][k4][kMr]) with
// the row sums, then runs a register-blocked micro-kernel over kMr rows x kPanels panels of
// packed B, and applies the zero-point correction while storing C.
//
// Micro-kernel dot step, per 32-bit lane (one output column) and 4 consecutive k:
//   AVX3_DL: vpdpbusd acc, a_u(4 x u8), b_s(4 x s8) — exact, non-saturating;
//   other targets: a and b split into their even/odd bytes widened to int16, then two
//   int16 pair-sums (ReorderWidenMulAccumulate = vpmaddwd on x86): a0*b0 + a2*b2 and
//   a1*b1 + a3*b3, each term <= 255*128, so nothing saturates.
// AVX3_DL (AVX-512 + VNNI) is compiled only on request in Highway 1.0.3; this file wants it
// for vpdpbusd. (Its tests define the same so they can force and test that target.)
#ifndef HWY_WANT_AVX3_DL
#define HWY_WANT_AVX3_DL
#endif

#include <algorithm>
#include <bit>
#include <cstring>
#include <vector>

#include "common/check.h"
#include "workers/engine/kernels/qgemm.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "workers/engine/kernels/qgemm.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace mp::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using D32 = hn::ScalableTag<int32_t>;
constexpr int64_t kL = static_cast<int64_t>(HWY_LANES(int32_t));
constexpr int64_t kPanel = PackedQB::kPanel;
// Register blocking per vector width: AVX-512 8 rows x 2 panels, AVX2 4 x 1, 128-bit 2 x 1.
constexpr int64_t kPanels = kL >= 16 ? 2 : 1;
constexpr int64_t kVecs = kPanels * kPanel / kL;  // int32 vectors per row of the micro tile
constexpr int64_t kMr = kL >= 16 ? 8 : kL == 8 ? 4 : kL == 4 ? 2 : 1;
constexpr int64_t kRowTile = 48;   // multiple of every kMr
constexpr int64_t kColPanels = 4;  // panels per task tile (multiple of kPanels)
static_assert(kRowTile % kMr == 0 && kColPanels % kPanels == 0);

using V = hn::Vec<D32>;

// Full unrolling keeps the micro tile's accumulators in registers.
#define HWY_UNROLL_ALL _Pragma("GCC unroll 16")

#if HWY_TARGET == HWY_AVX3_DL
// acc += sum of the 4 products (u8 of a) x (s8 of b) per int32 lane; Highway 1.0.3's
// AVX3_DL attribute set enables AVX-VNNI but not the EVEX form, hence inline asm.
HWY_INLINE V Dot4(V acc, V a, V b, V& /*acc1*/) {
  __m512i r = acc.raw;
  asm("vpdpbusd %2, %1, %0" : "+v"(r) : "v"(a.raw), "v"(b.raw));
  return V{r};
}
#elif HWY_TARGET == HWY_SCALAR
// One lane: the same four products in plain integers.
HWY_INLINE V Dot4(V acc, V a, V b, V& /*acc1*/) {
  const D32 d;
  const uint32_t au = static_cast<uint32_t>(hn::GetLane(a));
  const uint32_t bu = static_cast<uint32_t>(hn::GetLane(b));
  int32_t sum = hn::GetLane(acc);
  for (int t = 0; t < 4; ++t) {
    sum += static_cast<int32_t>((au >> (8 * t)) & 0xFF) *
           static_cast<int32_t>(static_cast<int8_t>((bu >> (8 * t)) & 0xFF));
  }
  return hn::Set(d, sum);
}
#else
HWY_INLINE V Dot4(V acc, V a, V b, V& acc1) {
  const D32 d32;
  const hn::Repartition<int16_t, D32> d16;
  const hn::Repartition<uint16_t, D32> du16;
  const auto a16 = hn::BitCast(du16, a);
  const auto ae = hn::BitCast(d16, hn::And(a16, hn::Set(du16, 0xFF)));  // a0, a2 (0..255)
  const auto ao = hn::BitCast(d16, hn::ShiftRight<8>(a16));             // a1, a3
  const auto b16 = hn::BitCast(d16, b);
  const auto be = hn::ShiftRight<8>(hn::ShiftLeft<8>(b16));  // b0, b2 sign-extended
  const auto bo = hn::ShiftRight<8>(b16);                    // b1, b3
  acc = hn::ReorderWidenMulAccumulate(d32, ae, be, acc, acc1);
  return hn::ReorderWidenMulAccumulate(d32, ao, bo, acc, acc1);
}
#endif

// Where one micro tile's results go: C rows [0, rows) x columns [0, cols) at c (row stride
// ldc), after the zero-point correction C = S - zb[j]*row_sum[r] - corr[j] (wrapping int32;
// zb, corr: this tile's columns, padded to kPanels*kPanel).
struct TileOut {
  int32_t* c;
  int64_t ldc, rows, cols;
  const int32_t* row_sums;
  const int32_t* zb;
  const int32_t* corr;
};

// Sums over the k4 groups of a(r) . b(j) for kMr rows and kPanels panels, then the
// correction and the store. a: [k4][kMr] words; b0/b1: the panels (b1 unused when
// kPanels == 1).
void MicroKernel(const uint32_t* a, const int8_t* b0, const int8_t* b1, int64_t k4,
                 const TileOut& out) {
  const D32 d;
  V acc[kMr][kVecs];
  V acc1[kMr][kVecs];
  HWY_UNROLL_ALL for (int64_t r = 0; r < kMr; ++r) {
    HWY_UNROLL_ALL for (int64_t v = 0; v < kVecs; ++v) acc[r][v] = acc1[r][v] = hn::Zero(d);
  }
  constexpr int64_t kVecsPerPanel = kVecs / kPanels;
  for (int64_t g = 0; g < k4; ++g) {
    V bv[kVecs];
    HWY_UNROLL_ALL for (int64_t v = 0; v < kVecs; ++v) {
      const int8_t* panel = (v / kVecsPerPanel == 0) ? b0 : b1;
      const int8_t* src = panel + g * kPanel * 4 + (v % kVecsPerPanel) * kL * 4;
      bv[v] = hn::LoadU(d, reinterpret_cast<const int32_t*>(src));
    }
    HWY_UNROLL_ALL for (int64_t r = 0; r < kMr; ++r) {
      const V av = hn::Set(d, static_cast<int32_t>(a[g * kMr + r]));
      HWY_UNROLL_ALL for (int64_t v = 0; v < kVecs; ++v) acc[r][v] =
          Dot4(acc[r][v], av, bv[v], acc1[r][v]);
    }
  }
  V zb[kVecs], corr[kVecs];
  HWY_UNROLL_ALL for (int64_t v = 0; v < kVecs; ++v) {
    zb[v] = hn::LoadU(d, out.zb + v * kL);
    corr[v] = hn::LoadU(d, out.corr + v * kL);
  }
  const bool full_cols = out.cols == kVecs * kL;
  HWY_ALIGN int32_t row_buf[kVecs * kL];
  HWY_UNROLL_ALL for (int64_t r = 0; r < kMr; ++r) {
    if (r >= out.rows) break;
    const V rs = hn::Set(d, out.row_sums[r]);
    int32_t* dst = full_cols ? out.c + r * out.ldc : row_buf;
    HWY_UNROLL_ALL for (int64_t v = 0; v < kVecs; ++v) {
      const V sum = hn::RearrangeToOddPlusEven(acc[r][v], acc1[r][v]);
      // Wrapping int32 lane arithmetic (mullo keeps the low 32 bits).
      hn::StoreU(hn::Sub(hn::Sub(sum, hn::Mul(zb[v], rs)), corr[v]), d, dst + v * kL);
    }
    if (!full_cols) std::copy(row_buf, row_buf + out.cols, out.c + r * out.ldc);
  }
}

// Packs rows [r0, r0 + rows) of A (rows <= kRowTile) as a_u words, [block][k4][kMr], zero
// beyond M and K; row_sums[r] = sum_k a_u.
void PackA(const uint8_t* a, bool flip, int64_t lda, int64_t rows, int64_t k, int64_t k4,
           uint32_t* out, uint32_t* row_sums) {
  const int64_t blocks = (rows + kMr - 1) / kMr;
  std::fill(out, out + blocks * k4 * kMr, 0u);
  const uint8_t x = flip ? 0x80 : 0;
  const uint32_t x4 = flip ? 0x80808080u : 0u;
  const int64_t full = k / 4;  // groups of 4 bytes inside K
  static_assert(std::endian::native == std::endian::little);
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* row = a + r * lda;
    uint32_t* dst = out + (r / kMr) * k4 * kMr + r % kMr;
    // Whole groups: the 4 bytes as one little-endian word (byte t at bits 8t), flipped at
    // once; the byte sum through two 16-bit lanes (each at most 2*255 per group).
    uint64_t sum_lo = 0, sum_hi = 0;
    for (int64_t g = 0; g < full; ++g) {
      uint32_t word;
      std::memcpy(&word, row + 4 * g, 4);
      word ^= x4;
      dst[g * kMr] = word;
      const uint32_t pairs = (word & 0x00FF00FFu) + ((word >> 8) & 0x00FF00FFu);
      sum_lo += pairs & 0xFFFFu;
      sum_hi += pairs >> 16;
    }
    uint32_t sum = static_cast<uint32_t>(sum_lo + sum_hi);
    for (int64_t g = full; g < k4; ++g) {
      uint32_t word = 0;
      const int64_t kk = std::min<int64_t>(4, k - 4 * g);
      for (int64_t t = 0; t < kk; ++t) {
        const uint32_t u = static_cast<uint8_t>(row[4 * g + t] ^ x);
        sum += u;
        word |= u << (8 * t);
      }
      dst[g * kMr] = word;
    }
    row_sums[r] = sum;
  }
}

// corr[j] = za*colsum[j] - K*za*zb[j] (wrapping), over the padded columns.
void ColumnCorrection(const PackedQB& b, QType a_type, int32_t a_zero, std::vector<int32_t>& corr) {
  const bool flip = a_type == QType::kInt8;
  const uint32_t za = static_cast<uint32_t>(flip ? a_zero + 128 : a_zero);
  const int64_t padded = (b.panels() + 1) / 2 * 2 * kPanel;
  corr.resize(static_cast<size_t>(padded));
  for (int64_t j = 0; j < padded; ++j) {
    const uint32_t z = static_cast<uint32_t>(b.zero_points()[j]);
    const uint32_t cs = static_cast<uint32_t>(b.col_sums()[j]);
    corr[static_cast<size_t>(j)] =
        static_cast<int32_t>(za * cs - static_cast<uint32_t>(b.k()) * za * z);
  }
}

int64_t RowBlockImpl() { return kMr; }

void QGemmPackedAImpl(int64_t m, const uint32_t* a_pack, const uint32_t* row_sums, int64_t mr,
                      QType a_type, int32_t a_zero, const PackedQB& b, int32_t* c, int64_t ldc) {
  MP_CHECK(mr == kMr);
  thread_local std::vector<int32_t> corr;
  ColumnCorrection(b, a_type, a_zero, corr);
  const int64_t k4 = b.k4(), n = b.n();
  for (int64_t p = 0; p < b.panels(); p += kPanels) {
    const int8_t* b0 = b.panel(p);
    const int8_t* b1 = kPanels > 1 ? b.panel(p + 1) : b0;  // panel count is padded even
    const int64_t c0 = p * kPanel;
    for (int64_t rb = 0; rb * kMr < m; ++rb) {
      const TileOut out = {c + rb * kMr * ldc + c0,
                           ldc,
                           std::min(kMr, m - rb * kMr),
                           std::min(kPanels * kPanel, n - c0),
                           reinterpret_cast<const int32_t*>(row_sums) + rb * kMr,
                           b.zero_points() + c0,
                           corr.data() + c0};
      MicroKernel(a_pack + rb * k4 * kMr, b0, b1, k4, out);
    }
  }
}

void QGemmImpl(int64_t m, const void* a_ptr, QType a_type, int64_t lda, int32_t a_zero,
               const PackedQB& b, int32_t* c, int64_t ldc, ThreadPool* pool) {
  const int64_t k = b.k(), k4 = b.k4(), n = b.n();
  const bool flip = a_type == QType::kInt8;
  const uint8_t* a = static_cast<const uint8_t*>(a_ptr);
  const int64_t row_tiles = (m + kRowTile - 1) / kRowTile;
  const int64_t col_tiles = (b.panels() + kColPanels - 1) / kColPanels;
  std::vector<int32_t> corr;
  ColumnCorrection(b, a_type, a_zero, corr);
  auto run = [&](int64_t begin, int64_t end) {
    thread_local std::vector<uint32_t> a_pack;
    thread_local std::vector<int32_t> row_sums;
    int64_t packed_row_tile = -1;
    for (int64_t t = begin; t < end; ++t) {
      const int64_t rt = t / col_tiles, ct = t % col_tiles;
      const int64_t r0 = rt * kRowTile, rows = std::min(kRowTile, m - r0);
      if (rt != packed_row_tile) {
        a_pack.resize(static_cast<size_t>(kRowTile * std::max<int64_t>(k4, 1)));
        row_sums.resize(kRowTile);
        PackA(a + r0 * lda, flip, lda, rows, k, k4, a_pack.data(),
              reinterpret_cast<uint32_t*>(row_sums.data()));
        packed_row_tile = rt;
      }
      const int64_t p_end = std::min(b.panels(), (ct + 1) * kColPanels);
      for (int64_t p = ct * kColPanels; p < p_end; p += kPanels) {
        const int8_t* b0 = b.panel(p);
        const int8_t* b1 = kPanels > 1 ? b.panel(p + 1) : b0;  // panel count is padded even
        const int64_t c0 = p * kPanel;
        for (int64_t rb = 0; rb * kMr < rows; ++rb) {
          const TileOut out = {c + (r0 + rb * kMr) * ldc + c0,
                               ldc,
                               std::min(kMr, rows - rb * kMr),
                               std::min(kPanels * kPanel, n - c0),
                               row_sums.data() + rb * kMr,
                               b.zero_points() + c0,
                               corr.data() + c0};
          MicroKernel(a_pack.data() + rb * k4 * kMr, b0, b1, k4, out);
        }
      }
    }
  };
  const int64_t tasks = row_tiles * col_tiles;
  if (pool == nullptr || tasks == 1) {
    run(0, tasks);
  } else {
    pool->ParallelFor(tasks, 1, run);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace mp::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace mp::kernels {

HWY_EXPORT(QGemmImpl);
HWY_EXPORT(QGemmPackedAImpl);
HWY_EXPORT(RowBlockImpl);

int64_t QGemmRowBlock() { return HWY_DYNAMIC_DISPATCH(RowBlockImpl)(); }

void QGemmPackedA(int64_t m, const uint32_t* a_pack, const uint32_t* row_sums, int64_t mr,
                  QType a_type, int32_t a_zero, const PackedQB& b, int32_t* c, int64_t ldc) {
  if (m <= 0 || b.n() <= 0) return;
  if (b.k() == 0) {
    for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + b.n(), 0);
    return;
  }
  HWY_DYNAMIC_DISPATCH(QGemmPackedAImpl)(m, a_pack, row_sums, mr, a_type, a_zero, b, c, ldc);
}

void QGemm(int64_t m, const void* a, QType a_type, int64_t lda, int32_t a_zero, const PackedQB& b,
           int32_t* c, int64_t ldc, ThreadPool* pool) {
  if (m <= 0 || b.n() <= 0) return;
  if (b.k() == 0) {
    for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + b.n(), 0);
    return;
  }
  HWY_DYNAMIC_DISPATCH(QGemmImpl)(m, a, a_type, lda, a_zero, b, c, ldc, pool);
}

}  // namespace mp::kernels
#endif  // HWY_ONCE
