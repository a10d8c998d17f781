// PackedQB::Pack, the unpacked QGemm entry point and the scalar reference (see qgemm.h).
#include <algorithm>

#include "common/check.h"
#include "workers/engine/kernels/qgemm.h"

namespace mp::kernels {

std::unique_ptr<PackedQB> PackedQB::Pack(bool trans_b, int64_t k, int64_t n, const void* b,
                                         QType type, int64_t ldb, const int32_t* b_zero,
                                         bool per_column) {
  MP_CHECK(k >= 0 && n >= 0);
  std::unique_ptr<PackedQB> p(new PackedQB(k, n));
  const int64_t panels = (p->panels() + 1) / 2 * 2;  // even, for 2-panel micro-kernels
  const int64_t k4 = p->k4();
  const int64_t cols = panels * kPanel;
  p->data_.assign(static_cast<size_t>(panels * k4 * kPanel * 4), 0);
  p->col_sums_.assign(static_cast<size_t>(cols), 0);
  p->zeros_.assign(static_cast<size_t>(cols), 0);
  const bool flip = type == QType::kUint8;  // b_s = b - 128
  const uint8_t* bytes = static_cast<const uint8_t*>(b);
  for (int64_t j = 0; j < n; ++j) {
    const int32_t z = b_zero == nullptr ? 0 : b_zero[per_column ? j : 0];
    p->zeros_[static_cast<size_t>(j)] = flip ? z - 128 : z;
    int8_t* panel = p->data_.data() + (j / kPanel) * k4 * kPanel * 4 + (j % kPanel) * 4;
    int32_t sum = 0;
    for (int64_t kk = 0; kk < k; ++kk) {
      const uint8_t raw = trans_b ? bytes[j * ldb + kk] : bytes[kk * ldb + j];
      const int8_t v = static_cast<int8_t>(flip ? raw ^ 0x80 : raw);
      sum += v;
      panel[(kk / 4) * kPanel * 4 + kk % 4] = v;
    }
    p->col_sums_[static_cast<size_t>(j)] = sum;
  }
  return p;
}

void QGemm(bool trans_b, int64_t m, int64_t n, int64_t k, const void* a, QType a_type, int64_t lda,
           int32_t a_zero, const void* b, QType b_type, int64_t ldb, const int32_t* b_zero,
           bool b_zero_per_column, int32_t* c, int64_t ldc, ThreadPool* pool) {
  if (m <= 0 || n <= 0) return;
  const std::unique_ptr<PackedQB> packed =
      PackedQB::Pack(trans_b, k, n, b, b_type, ldb, b_zero, b_zero_per_column);
  QGemm(m, a, a_type, lda, a_zero, *packed, c, ldc, pool);
}

void QGemmReference(bool trans_b, int64_t m, int64_t n, int64_t k, const void* a, QType a_type,
                    int64_t lda, int32_t a_zero, const void* b, QType b_type, int64_t ldb,
                    const int32_t* b_zero, bool b_zero_per_column, int32_t* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      const int32_t zb = b_zero == nullptr ? 0 : b_zero[b_zero_per_column ? j : 0];
      int64_t sum = 0;
      for (int64_t kk = 0; kk < k; ++kk) {
        const int64_t av = QLoad(a, a_type, i * lda + kk) - a_zero;
        const int64_t bv = QLoad(b, b_type, trans_b ? j * ldb + kk : kk * ldb + j) - zb;
        sum += av * bv;
      }
      c[i * ldc + j] = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(sum)));
    }
  }
}

}  // namespace mp::kernels
