// Sgemm / SgemmPacked / PackedB::Pack: Goto-style blocked fp32 GEMM, one Highway family.
//
// Loop nest for one output region C[m0:m1, n0:n1] (BLIS naming):
//   jc over N in kNC      B block (kKC x kNC) packed into NR-column panels, lives in L3/L2
//    pc over K in kKC     the K blocking is fixed, so every C element sums in one order
//     ic over M in kMC    A block (kMC x kKC) packed into MR-row panels, lives in L2
//      jr over kNR, ir over kMR: micro-kernel, an MR x NR tile of C in registers; per k it
//      loads NR floats of B (kNV vectors), broadcasts MR floats of A and issues MR*kNV FMAs.
// Register tile: 14 x 32 on AVX-512 targets (28 zmm accumulators), 6 x 2 vectors elsewhere
// (6 x 16 on AVX2). Row remainders use kernels specialised for 1..MR-1 rows; column
// remainders go through a zero-padded B panel and a bounce buffer for C.
// A region at most kDirectAMaxPanels panels wide reads op(A) in place (packing would cost
// about as much as the few panels reuse it), which makes small GEMMs ~1.5x faster.
// Packed layouts (zero-padded to full panels):
//   A panel: a[k * kMR + r];  B panel: b[k * kNR + c];  a packed B block of kc rows holds
//   ceil(nc / kNR) panels of kc * kNR floats each.
// The first K block applies beta (beta == 0 never reads C); later blocks accumulate
// C += alpha * partial. Threads split over whole NR (or MR) panels of C, and each region runs
// the same loop nest, so the bytes of C do not depend on the thread count. PackedB stores
// the K-blocked panels of the whole B and the target-specific entry point that matches its
// layout, so SgemmPacked always runs the same kernel family that packed it.
#ifndef MP_WORKERS_ENGINE_KERNELS_GEMM_CC_ONCE_
#define MP_WORKERS_ENGINE_KERNELS_GEMM_CC_ONCE_

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>

#include "hwy/aligned_allocator.h"
#include "hwy/cache_control.h"
#include "workers/engine/kernels/gemm.h"

namespace mp::kernels::gemm_internal {

// All arguments of one GEMM call (op(A) is m x k, op(B) is k x n).
struct Args {
  bool trans_a, trans_b;
  int64_t m, n, k;
  float alpha;
  const float* a;
  int64_t lda;
  const float* b;
  int64_t ldb;
  float beta;
  float* c;
  int64_t ldc;
  // Optional: A packed as K blocks of kKC columns (block pc starts at pc * a_m_padded), each
  // as MR-row panels; B produced by a writer instead of packed from b.
  const float* a_packed = nullptr;
  int64_t a_m_padded = 0;
  const BPanelWriter* b_writer = nullptr;
};

class PackedBImpl;
using PackedRunFn = void (*)(const Args& args, const PackedBImpl* packed, ThreadPool* pool);

// B packed as K blocks of `kc` rows; block p starts at p * kc * n_padded floats.
class PackedBImpl final : public PackedB {
 public:
  PackedBImpl(int64_t k, int64_t n, int64_t padded_n, PackedRunFn run_fn)
      : PackedB(k, n), n_padded(padded_n), run(run_fn) {
    data = hwy::AllocateAligned<float>(static_cast<size_t>(std::max<int64_t>(1, k * n_padded)));
  }
  const int64_t n_padded;
  const PackedRunFn run;
  hwy::AlignedFreeUniquePtr<float[]> data;
};

// A packed as K blocks of `kc` columns; block p starts at p * kc * m_padded floats.
class PackedAImpl final : public PackedA {
 public:
  PackedAImpl(int64_t m, int64_t k, int64_t padded_m, PackedRunFn run_fn)
      : PackedA(m, k), m_padded(padded_m), run(run_fn) {
    data = hwy::AllocateAligned<float>(static_cast<size_t>(std::max<int64_t>(1, k * m_padded)));
  }
  const int64_t m_padded;
  const PackedRunFn run;
  hwy::AlignedFreeUniquePtr<float[]> data;
};

inline int64_t RoundUp(int64_t x, int64_t m) { return (x + m - 1) / m * m; }
inline int64_t CeilDiv(int64_t x, int64_t m) { return (x + m - 1) / m; }

}  // namespace mp::kernels::gemm_internal

#endif  // MP_WORKERS_ENGINE_KERNELS_GEMM_CC_ONCE_

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "workers/engine/kernels/gemm.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace mp::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using gemm_internal::Args;
using gemm_internal::CeilDiv;
using gemm_internal::PackedBImpl;
using gemm_internal::RoundUp;

using D = hn::ScalableTag<float>;
using V = hn::Vec<D>;
constexpr int64_t kL = static_cast<int64_t>(hn::MaxLanes(D()));
// Register tile: 32 vector registers (AVX-512) hold 14 x 2 accumulators; 16 hold 6 x 2.
constexpr int64_t kNV = 2;
constexpr int64_t kMR = HWY_MAX_BYTES >= 64 ? 14 : 6;
constexpr int64_t kNR = kNV * kL;
// Cache blocking: a kKC x kNR B panel stays in L1, a kMC x kKC A block in L2.
// Measured on Zen5 (48 KiB L1d, 1 MiB L2): KC 128..384 and MC x0.5..x2 are within noise.
constexpr int64_t kKC = 256;
constexpr int64_t kMC = kMR * (HWY_MAX_BYTES >= 64 ? 16 : 24);
constexpr int64_t kNC = kNR * (HWY_MAX_BYTES >= 64 ? 128 : 256);
// Regions at most this many NR panels wide read op(A) in place instead of packing it.
constexpr int64_t kDirectAMaxPanels = 16;
// Smallest share of work (multiply-adds) worth handing to another thread.
constexpr int64_t kMinFmaPerChunk = int64_t{1} << 17;

// Packs rows [i0, i0 + mc) x cols [p0, p0 + kc) of op(A) into MR-row panels.
void PackA(const Args& g, int64_t i0, int64_t mc, int64_t p0, int64_t kc, float* HWY_RESTRICT out) {
  for (int64_t ip = 0; ip < mc; ip += kMR) {
    const int64_t rows = std::min(kMR, mc - ip);
    float* HWY_RESTRICT dst = out + ip * kc;
    if (g.trans_a) {
      for (int64_t kk = 0; kk < kc; ++kk) {
        const float* src = g.a + (p0 + kk) * g.lda + i0 + ip;
        for (int64_t r = 0; r < rows; ++r) dst[kk * kMR + r] = src[r];
        for (int64_t r = rows; r < kMR; ++r) dst[kk * kMR + r] = 0.0f;
      }
    } else {
      const float* src[kMR];
      for (int64_t r = 0; r < kMR; ++r)
        src[r] = g.a + (i0 + ip + std::min(r, rows - 1)) * g.lda + p0;
      for (int64_t kk = 0; kk < kc; ++kk) {
        for (int64_t r = 0; r < kMR; ++r) dst[kk * kMR + r] = r < rows ? src[r][kk] : 0.0f;
      }
    }
  }
}

// Packs rows [p0, p0 + kc) x cols [j0, j0 + nc) of op(B) into NR-column panels.
void PackB(bool trans_b, const float* b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0,
           int64_t nc, float* HWY_RESTRICT out) {
  const D d;
  for (int64_t jp = 0; jp < nc; jp += kNR) {
    const int64_t cols = std::min(kNR, nc - jp);
    float* HWY_RESTRICT dst = out + jp * kc;
    if (trans_b) {
      if (cols < kNR) {
        for (int64_t kk = 0; kk < kc; ++kk) {
          for (int64_t c = cols; c < kNR; ++c) dst[kk * kNR + c] = 0.0f;
        }
      }
      for (int64_t c = 0; c < cols; ++c) {
        const float* src = b + (j0 + jp + c) * ldb + p0;
        for (int64_t kk = 0; kk < kc; ++kk) dst[kk * kNR + c] = src[kk];
      }
    } else if (cols == kNR) {
      for (int64_t kk = 0; kk < kc; ++kk) {
        const float* src = b + (p0 + kk) * ldb + j0 + jp;
        for (int64_t v = 0; v < kNV; ++v) {
          hn::Store(hn::LoadU(d, src + v * kL), d, dst + kk * kNR + v * kL);
        }
      }
    } else {
      for (int64_t kk = 0; kk < kc; ++kk) {
        const float* src = b + (p0 + kk) * ldb + j0 + jp;
        for (int64_t c = 0; c < cols; ++c) dst[kk * kNR + c] = src[c];
        for (int64_t c = cols; c < kNR; ++c) dst[kk * kNR + c] = 0.0f;
      }
    }
  }
}

// The A operand of one micro-tile: element (r, kk) is p[r * rs + kk * cs]. Packed panels
// have rs = 1, cs = kMR; op(A) read in place has (lda, 1) or, transposed, (1, lda).
struct ATile {
  const float* p;
  int64_t rs, cs;
};

// C tile (R rows, `cols` <= kNR valid columns) = alpha * A tile * B panel, merged into C:
// first K block: alpha * acc (+ beta * C unless beta == 0); later blocks: C + alpha * acc.
// kRowA: A is read along rows (cs == 1) instead of along a column of R values.
template <int64_t R, bool kRowA>
HWY_NOINLINE void MicroKernel(int64_t kc, ATile a, const float* HWY_RESTRICT bp,
                              float* HWY_RESTRICT c, int64_t ldc, int64_t cols, float alpha,
                              float beta, bool first) {
  const D d;
  V acc[R][kNV];
#pragma GCC unroll 16
  for (int64_t r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int64_t v = 0; v < kNV; ++v) acc[r][v] = hn::Zero(d);
  }
  // The C tile is merged after the K loop: start fetching it now.
#pragma GCC unroll 16
  for (int64_t r = 0; r < R; ++r) {
    hwy::Prefetch(c + r * ldc);
    hwy::Prefetch(c + r * ldc + kNR - 1);
  }
  const float* HWY_RESTRICT ap = a.p;
#pragma GCC unroll 4
  for (int64_t kk = 0; kk < kc; ++kk) {
    V bv[kNV];
#pragma GCC unroll 4
    for (int64_t v = 0; v < kNV; ++v) bv[v] = hn::Load(d, bp + v * kL);
#pragma GCC unroll 16
    for (int64_t r = 0; r < R; ++r) {
      const V av = hn::Set(d, kRowA ? ap[r * a.rs + kk] : ap[r]);
#pragma GCC unroll 4
      for (int64_t v = 0; v < kNV; ++v) acc[r][v] = hn::MulAdd(av, bv[v], acc[r][v]);
    }
    if (!kRowA) ap += a.cs;
    bp += kNR;
  }
  const V valpha = hn::Set(d, alpha);
  const V vbeta = hn::Set(d, beta);
  const bool read_c = !first || beta != 0.0f;
  HWY_ALIGN float tmp[kNR];
#pragma GCC unroll 16
  for (int64_t r = 0; r < R; ++r) {
    float* HWY_RESTRICT cr = c + r * ldc;
    float* HWY_RESTRICT io = cols == kNR ? cr : tmp;
    if (cols < kNR && read_c) std::memcpy(tmp, cr, cols * sizeof(float));
#pragma GCC unroll 4
    for (int64_t v = 0; v < kNV; ++v) {
      V out;
      if (!read_c) {
        out = hn::Mul(valpha, acc[r][v]);
      } else if (first) {
        out = hn::MulAdd(valpha, acc[r][v], hn::Mul(vbeta, hn::LoadU(d, io + v * kL)));
      } else {
        out = hn::MulAdd(valpha, acc[r][v], hn::LoadU(d, io + v * kL));
      }
      hn::StoreU(out, d, io + v * kL);
    }
    if (cols < kNR) std::memcpy(cr, tmp, cols * sizeof(float));
  }
}

// Runs the micro-kernel specialised for `rows` (1..R) rows.
template <int64_t R, bool kRowA>
HWY_INLINE void MicroKernelRows(int64_t rows, int64_t kc, ATile a, const float* bp, float* c,
                                int64_t ldc, int64_t cols, float alpha, float beta, bool first) {
  if constexpr (R == 1) {
    MicroKernel<1, kRowA>(kc, a, bp, c, ldc, cols, alpha, beta, first);
  } else {
    if (rows == R) {
      MicroKernel<R, kRowA>(kc, a, bp, c, ldc, cols, alpha, beta, first);
    } else {
      MicroKernelRows<R - 1, kRowA>(rows, kc, a, bp, c, ldc, cols, alpha, beta, first);
    }
  }
}

// C[0:mc, 0:nc] (+)= alpha * A block * packed B block. Row panel ip of A starts at
// a.p + ip * panel_step (kc for a packed block, the row stride for A read in place).
template <bool kRowA>
void MacroKernel(ATile a, int64_t panel_step, const float* bp, int64_t mc, int64_t nc, int64_t kc,
                 float* c, int64_t ldc, float alpha, float beta, bool first) {
  for (int64_t jp = 0; jp < nc; jp += kNR) {
    const int64_t cols = std::min(kNR, nc - jp);
    const float* b_panel = bp + jp * kc;
    for (int64_t ip = 0; ip < mc; ip += kMR) {
      const int64_t rows = std::min(kMR, mc - ip);
      const ATile tile{a.p + ip * panel_step, a.rs, a.cs};
      float* ct = c + ip * ldc + jp;
      if (rows == kMR) {
        MicroKernel<kMR, kRowA>(kc, tile, b_panel, ct, ldc, cols, alpha, beta, first);
      } else {
        MicroKernelRows<kMR - 1, kRowA>(rows, kc, tile, b_panel, ct, ldc, cols, alpha, beta, first);
      }
    }
  }
}

// Per-thread packing buffers, grown on demand and reused across calls.
struct Buffers {
  hwy::AlignedFreeUniquePtr<float[]> a, b;
  int64_t a_size = 0, b_size = 0;
  float* A(int64_t size) { return Grow(&a, &a_size, size); }
  float* B(int64_t size) { return Grow(&b, &b_size, size); }
  static float* Grow(hwy::AlignedFreeUniquePtr<float[]>* p, int64_t* have, int64_t size) {
    if (*have < size) {
      *p = hwy::AllocateAligned<float>(static_cast<size_t>(size));
      *have = size;
    }
    return p->get();
  }
};

Buffers& ThreadBuffers() {
  static thread_local Buffers buffers;
  return buffers;
}

// Computes the region C[m0:m1, n0:n1]; n0 is a multiple of kNR when `packed` is set.
void RunRegion(const Args& g, const PackedBImpl* packed, int64_t m0, int64_t m1, int64_t n0,
               int64_t n1) {
  Buffers& buf = ThreadBuffers();
  const int64_t kc_max = std::min(kKC, g.k);
  // Packing A costs about one cycle per element and is amortised over the NR panels of the
  // region; with few panels it is cheaper to read op(A) in place.
  const bool direct_a = g.a_packed == nullptr && CeilDiv(n1 - n0, kNR) <= kDirectAMaxPanels;
  float* a_buf =
      direct_a || g.a_packed ? nullptr : buf.A(RoundUp(std::min(kMC, m1 - m0), kMR) * kc_max);
  // kBPanelSlack floats past the block: scratch for a BPanelWriter (see gemm.h).
  float* b_buf =
      packed ? nullptr : buf.B(RoundUp(std::min(kNC, n1 - n0), kNR) * kc_max + kBPanelSlack);
  for (int64_t jc = n0; jc < n1; jc += kNC) {
    const int64_t nc = std::min(kNC, n1 - jc);
    for (int64_t pc = 0; pc < g.k; pc += kKC) {
      const int64_t kc = std::min(kKC, g.k - pc);
      const float* bp;
      if (packed) {
        bp = packed->data.get() + pc * packed->n_padded + jc * kc;
      } else if (g.b_writer) {
        g.b_writer->Write(pc, kc, jc, nc, kNR, b_buf);
        bp = b_buf;
      } else {
        PackB(g.trans_b, g.b, g.ldb, pc, kc, jc, nc, b_buf);
        bp = b_buf;
      }
      for (int64_t ic = m0; ic < m1; ic += kMC) {
        const int64_t mc = std::min(kMC, m1 - ic);
        float* ct = g.c + ic * g.ldc + jc;
        if (g.a_packed) {
          MacroKernel<false>(ATile{g.a_packed + pc * g.a_m_padded + ic * kc, 1, kMR}, kc, bp, mc,
                             nc, kc, ct, g.ldc, g.alpha, g.beta, pc == 0);
        } else if (!direct_a) {
          PackA(g, ic, mc, pc, kc, a_buf);
          MacroKernel<false>(ATile{a_buf, 1, kMR}, kc, bp, mc, nc, kc, ct, g.ldc, g.alpha, g.beta,
                             pc == 0);
        } else if (g.trans_a) {
          MacroKernel<false>(ATile{g.a + pc * g.lda + ic, 1, g.lda}, 1, bp, mc, nc, kc, ct, g.ldc,
                             g.alpha, g.beta, pc == 0);
        } else {
          MacroKernel<true>(ATile{g.a + ic * g.lda + pc, g.lda, 1}, g.lda, bp, mc, nc, kc, ct,
                            g.ldc, g.alpha, g.beta, pc == 0);
        }
      }
    }
  }
}

// Entry point for one target: splits C into per-thread regions of whole panels.
void SgemmTarget(const Args& g, const PackedBImpl* packed, ThreadPool* pool) {
  const int threads = pool ? pool->num_threads() : 1;
  const int64_t n_panels = CeilDiv(g.n, kNR);
  const int64_t m_panels = CeilDiv(g.m, kMR);
  if (threads == 1 || g.m * g.n * g.k < 2 * kMinFmaPerChunk) {
    RunRegion(g, packed, 0, g.m, 0, g.n);
    return;
  }
  if (n_panels >= m_panels || n_panels >= 4 * threads) {
    const int64_t min_chunk = CeilDiv(kMinFmaPerChunk, kNR * g.m * g.k);
    pool->ParallelFor(n_panels, min_chunk, [&](int64_t begin, int64_t end) {
      RunRegion(g, packed, 0, g.m, begin * kNR, std::min(g.n, end * kNR));
    });
  } else {
    const int64_t min_chunk = CeilDiv(kMinFmaPerChunk, kMR * g.n * g.k);
    pool->ParallelFor(m_panels, min_chunk, [&](int64_t begin, int64_t end) {
      RunRegion(g, packed, begin * kMR, std::min(g.m, end * kMR), 0, g.n);
    });
  }
}

// Packs all of op(B) (k x n) in K blocks of kKC rows, each as NR-column panels.
PackedB* PackBTarget(bool trans_b, int64_t k, int64_t n, const float* b, int64_t ldb) {
  auto* packed = new PackedBImpl(k, n, RoundUp(n, kNR), &SgemmTarget);
  for (int64_t pc = 0; pc < k; pc += kKC) {
    const int64_t kc = std::min(kKC, k - pc);
    PackB(trans_b, b, ldb, pc, kc, 0, n, packed->data.get() + pc * packed->n_padded);
  }
  return packed;
}

// Packs all of op(A) (m x k) in K blocks of kKC columns, each as MR-row panels.
PackedA* PackATarget(bool trans_a, int64_t m, int64_t k, const float* a, int64_t lda) {
  auto* packed = new gemm_internal::PackedAImpl(m, k, RoundUp(m, kMR), &SgemmTarget);
  Args g{};
  g.trans_a = trans_a;
  g.a = a;
  g.lda = lda;
  for (int64_t pc = 0; pc < k; pc += kKC) {
    const int64_t kc = std::min(kKC, k - pc);
    PackA(g, 0, m, pc, kc, packed->data.get() + pc * packed->m_padded);
  }
  return packed;
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace mp::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace mp::kernels {

HWY_EXPORT(SgemmTarget);
HWY_EXPORT(PackBTarget);
HWY_EXPORT(PackATarget);

namespace {

// C = beta * C over an m x n block (the k == 0 case); beta == 0 writes zeros.
void ScaleC(int64_t m, int64_t n, float beta, float* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    float* row = c + i * ldc;
    for (int64_t j = 0; j < n; ++j) row[j] = beta == 0.0f ? 0.0f : beta * row[j];
  }
}

}  // namespace

void Sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc,
           ThreadPool* pool) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) return ScaleC(m, n, beta, c, ldc);
  const gemm_internal::Args args{trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc};
  HWY_DYNAMIC_DISPATCH(SgemmTarget)(args, nullptr, pool);
}

std::unique_ptr<PackedB> PackedB::Pack(bool trans_b, int64_t k, int64_t n, const float* b,
                                       int64_t ldb) {
  return std::unique_ptr<PackedB>(HWY_DYNAMIC_DISPATCH(PackBTarget)(
      trans_b, std::max<int64_t>(0, k), std::max<int64_t>(0, n), b, ldb));
}

void SgemmPacked(bool trans_a, int64_t m, float alpha, const float* a, int64_t lda,
                 const PackedB& b, float beta, float* c, int64_t ldc, ThreadPool* pool) {
  const auto& packed = static_cast<const gemm_internal::PackedBImpl&>(b);
  if (m <= 0 || b.n() <= 0) return;
  if (b.k() <= 0) return ScaleC(m, b.n(), beta, c, ldc);
  const gemm_internal::Args g{trans_a, false,   m, b.n(), b.k(), alpha, a,
                              lda,     nullptr, 0, beta,  c,     ldc};
  packed.run(g, &packed, pool);
}

std::unique_ptr<PackedA> PackedA::Pack(bool trans_a, int64_t m, int64_t k, const float* a,
                                       int64_t lda) {
  return std::unique_ptr<PackedA>(HWY_DYNAMIC_DISPATCH(PackATarget)(
      trans_a, std::max<int64_t>(0, m), std::max<int64_t>(0, k), a, lda));
}

namespace {

// Runs g (whose A is `a`) on the kernel family that packed a.
void RunPackedA(const PackedA& a, gemm_internal::Args g, ThreadPool* pool) {
  const auto& packed = static_cast<const gemm_internal::PackedAImpl&>(a);
  if (g.m <= 0 || g.n <= 0) return;
  if (g.k <= 0) return ScaleC(g.m, g.n, g.beta, g.c, g.ldc);
  g.a_packed = packed.data.get();
  g.a_m_padded = packed.m_padded;
  packed.run(g, nullptr, pool);
}

}  // namespace

void SgemmPackedA(const PackedA& a, bool trans_b, int64_t n, float alpha, const float* b,
                  int64_t ldb, float beta, float* c, int64_t ldc, ThreadPool* pool) {
  RunPackedA(a, {false, trans_b, a.m(), n, a.k(), alpha, nullptr, 0, b, ldb, beta, c, ldc}, pool);
}

void SgemmPackedA(const PackedA& a, int64_t n, const BPanelWriter& b, float alpha, float beta,
                  float* c, int64_t ldc, ThreadPool* pool) {
  gemm_internal::Args g{false, false, a.m(), n, a.k(), alpha, nullptr, 0, nullptr, 0, beta, c, ldc};
  g.b_writer = &b;
  RunPackedA(a, g, pool);
}

}  // namespace mp::kernels
#endif  // HWY_ONCE
