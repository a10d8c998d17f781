// fp32 GEMM: C = alpha * op(A) * op(B) + beta * C, row-major.
//
//   op(A) is M x K: A[m*lda + k], or with trans_a, A[k*lda + m].
//   op(B) is K x N: B[k*ldb + n], or with trans_b, B[n*ldb + k].
//   C is M x N: C[m*ldc + n]. beta == 0 means C is write-only (NaNs in C are ignored).
//
// Sgemm packs panels, blocks for caches and runs a register-blocked Highway micro-kernel,
// dispatched once per call to the best compiled target. With a pool it splits over
// independent output blocks, so the result is bit-identical for any thread count.
// SgemmReference is the scalar definition the tests compare against (k ascending, fp32
// accumulation with fma); Sgemm may sum in another order, so tests compare with a tolerance.
//
// PackedB: for inference, a constant B (weights) is packed once and reused every call.
// PackedA: likewise for a constant A (e.g. convolution weights, C = W * im2col(x)); with it
// B can also be produced straight into the kernel's panel layout by a BPanelWriter (e.g.
// im2col), skipping the intermediate copy of B. Packed and unpacked calls give identical bytes.
#ifndef MP_WORKERS_ENGINE_KERNELS_GEMM_H_
#define MP_WORKERS_ENGINE_KERNELS_GEMM_H_

#include <cstdint>
#include <memory>

#include "workers/engine/kernels/parallel.h"

namespace mp::kernels {

void Sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc,
           ThreadPool* pool = nullptr);

void SgemmReference(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                    const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                    int64_t ldc);

// op(B) (K x N) packed into the micro-kernel's panel layout. Immutable once built; safe to
// share across threads and calls.
class PackedB {
 public:
  static std::unique_ptr<PackedB> Pack(bool trans_b, int64_t k, int64_t n, const float* b,
                                       int64_t ldb);
  int64_t k() const { return k_; }
  int64_t n() const { return n_; }
  virtual ~PackedB() = default;

 protected:
  PackedB(int64_t k, int64_t n) : k_(k), n_(n) {}

 private:
  int64_t k_, n_;
};

// C = alpha * op(A) * B + beta * C with B pre-packed. Same result as Sgemm on the unpacked B.
void SgemmPacked(bool trans_a, int64_t m, float alpha, const float* a, int64_t lda,
                 const PackedB& b, float beta, float* c, int64_t ldc, ThreadPool* pool = nullptr);

// op(A) (M x K) packed into the micro-kernel's panel layout. Immutable once built; safe to
// share across threads and calls.
class PackedA {
 public:
  static std::unique_ptr<PackedA> Pack(bool trans_a, int64_t m, int64_t k, const float* a,
                                       int64_t lda);
  int64_t m() const { return m_; }
  int64_t k() const { return k_; }
  virtual ~PackedA() = default;

 protected:
  PackedA(int64_t m, int64_t k) : m_(m), k_(k) {}

 private:
  int64_t m_, k_;
};

// C = alpha * A * op(B) + beta * C with A pre-packed (op(B) is a.k() x n). Same result as
// Sgemm on the unpacked A.
void SgemmPackedA(const PackedA& a, bool trans_b, int64_t n, float alpha, const float* b,
                  int64_t ldb, float beta, float* c, int64_t ldc, ThreadPool* pool = nullptr);

// Produces blocks of B (K x N) directly in the GEMM's panel layout. Write must fill rows
// [k0, k0 + kc) x columns [n0, n0 + nc) as panels of `nr` columns:
//   out[(j / nr) * kc * nr + kk * nr + j % nr] = B[k0 + kk][n0 + j]
// for kk < kc and j < RoundUp(nc, nr), with zeros in the columns j >= nc. Called from the
// threads of the pool (concurrently, for disjoint blocks): must be thread-safe. `out` is
// followed by kBPanelSlack floats that Write may scribble on (e.g. full-vector stores).
constexpr int64_t kBPanelSlack = 64;
class BPanelWriter {
 public:
  virtual void Write(int64_t k0, int64_t kc, int64_t n0, int64_t nc, int64_t nr,
                     float* out) const = 0;

 protected:
  ~BPanelWriter() = default;
};

// C = alpha * A * B + beta * C, B (a.k() x n) produced by `b`. Same result as Sgemm with the
// materialised B.
void SgemmPackedA(const PackedA& a, int64_t n, const BPanelWriter& b, float alpha, float beta,
                  float* c, int64_t ldc, ThreadPool* pool = nullptr);

}  // namespace mp::kernels

#endif  // MP_WORKERS_ENGINE_KERNELS_GEMM_H_
