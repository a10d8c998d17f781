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

}  // namespace mp::kernels

#endif  // MP_WORKERS_ENGINE_KERNELS_GEMM_H_
