// SgemmReference: the scalar definition of Sgemm (see gemm.h). Each element sums its K
// products in ascending k with fp32 fma, then C = alpha * sum + beta * C (beta == 0: C is
// not read).
#include <cmath>

#include "workers/engine/kernels/gemm.h"

namespace mp::kernels {

void SgemmReference(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                    const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                    int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      float sum = 0.0f;
      for (int64_t p = 0; p < k; ++p) {
        const float av = trans_a ? a[p * lda + i] : a[i * lda + p];
        const float bv = trans_b ? b[j * ldb + p] : b[p * ldb + j];
        sum = std::fma(av, bv, sum);
      }
      float& out = c[i * ldc + j];
      out = beta == 0.0f ? alpha * sum : alpha * sum + beta * out;
    }
  }
}

}  // namespace mp::kernels
