// QGemm on every compiled Highway target vs the scalar reference (bit-exact), over awkward
// sizes, all four type combinations, per-column zero points, threads, and the saturation
// traps of int8 dot products (uint8 255 x int8 -128/127 over long K).
// Compile and test AVX3_DL too (qgemm.cc uses it for VNNI; Highway builds it on request).
#ifndef HWY_WANT_AVX3_DL
#define HWY_WANT_AVX3_DL
#endif

#include "workers/engine/kernels/qgemm.h"

#include <cstdint>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "workers/engine/kernels/nn_test_util.h"

namespace mp::kernels {
namespace {

using testing::ForEachTarget;
using testing::RandomBytes;

struct Case {
  int64_t m, n, k;
  QType a_type, b_type;
  bool trans_b, per_column;
};

void CheckCase(const Case& c, ThreadPool* pool, uint32_t seed) {
  SCOPED_TRACE(::testing::Message() << "m=" << c.m << " n=" << c.n << " k=" << c.k
                                    << " a_int8=" << (c.a_type == QType::kInt8)
                                    << " b_int8=" << (c.b_type == QType::kInt8)
                                    << " trans_b=" << c.trans_b << " per_column=" << c.per_column);
  const int64_t lda = c.k + 3;  // padded leading dimensions
  const int64_t ldb = (c.trans_b ? c.k : c.n) + 5;
  const int64_t ldc = c.n + 2;
  const std::vector<uint8_t> a = RandomBytes(c.m * lda, seed);
  const std::vector<uint8_t> b = RandomBytes((c.trans_b ? c.n : c.k) * ldb, seed + 1);
  std::mt19937 gen(seed + 2);
  std::uniform_int_distribution<int> zdist(QMin(c.b_type), QMax(c.b_type));
  std::vector<int32_t> zb(static_cast<size_t>(c.n));
  for (int32_t& z : zb) z = zdist(gen);
  const int32_t za = c.a_type == QType::kUint8 ? 131 : -7;
  std::vector<int32_t> want(static_cast<size_t>(c.m * ldc), -1);
  QGemmReference(c.trans_b, c.m, c.n, c.k, a.data(), c.a_type, lda, za, b.data(), c.b_type, ldb,
                 zb.data(), c.per_column, want.data(), ldc);
  ForEachTarget([&] {
    std::vector<int32_t> got(want.size(), -1);
    QGemm(c.trans_b, c.m, c.n, c.k, a.data(), c.a_type, lda, za, b.data(), c.b_type, ldb, zb.data(),
          c.per_column, got.data(), ldc, pool);
    for (int64_t i = 0; i < c.m; ++i) {
      for (int64_t j = 0; j < c.n; ++j) {
        const size_t at = static_cast<size_t>(i * ldc + j);
        ASSERT_EQ(got[at], want[at]) << "at (" << i << ", " << j << ")";
      }
    }
    // Padding columns of C are untouched.
    for (int64_t i = 0; i < c.m; ++i) EXPECT_EQ(got[static_cast<size_t>(i * ldc + c.n)], -1);
  });
}

TEST(QGemmTest, MatchesReferenceOnAwkwardSizes) {
  const QType types[2] = {QType::kUint8, QType::kInt8};
  uint32_t seed = 1;
  for (const auto& [m, n, k] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{{1, 1, 1},
                                                                                  {1, 17, 3},
                                                                                  {3, 5, 7},
                                                                                  {7, 16, 4},
                                                                                  {9, 33, 13},
                                                                                  {49, 31, 65},
                                                                                  {50, 64, 128},
                                                                                  {13, 100, 1},
                                                                                  {97, 3, 257}}) {
    for (QType at : types) {
      for (QType bt : types) {
        CheckCase({m, n, k, at, bt, (seed % 2) == 0, (seed % 3) != 0}, nullptr, seed);
        ++seed;
      }
    }
  }
}

TEST(QGemmTest, ThreadCountDoesNotChangeResult) {
  ThreadPool pool(4);
  CheckCase({130, 70, 300, QType::kUint8, QType::kInt8, false, true}, &pool, 99);
  CheckCase({5, 200, 64, QType::kInt8, QType::kInt8, true, false}, &pool, 100);
}

TEST(QGemmTest, PackedEqualsUnpacked) {
  const int64_t m = 20, n = 40, k = 37;
  const std::vector<uint8_t> a = RandomBytes(m * k, 5), b = RandomBytes(k * n, 6);
  const int32_t zb = 3;
  const auto packed = PackedQB::Pack(false, k, n, b.data(), QType::kInt8, n, &zb, false);
  std::vector<int32_t> c1(static_cast<size_t>(m * n)), c2(c1.size());
  QGemm(m, a.data(), QType::kUint8, k, 10, *packed, c1.data(), n);
  QGemm(false, m, n, k, a.data(), QType::kUint8, k, 10, b.data(), QType::kInt8, n, &zb, false,
        c2.data(), n);
  EXPECT_EQ(c1, c2);
}

// The vpmaddubsw trap: a pair 255*127 + 255*127 = 64770 overflows int16. Over K = 4096 the
// exact sums are +-133M, far from any int16 or saturating-int32 limit issue, and every
// intermediate must stay exact.
TEST(QGemmTest, NoSaturationWithExtremeValuesOverLongK) {
  const int64_t m = 3, n = 20, k = 4096;
  std::vector<uint8_t> a(static_cast<size_t>(m * k), 255);
  std::vector<int8_t> b(static_cast<size_t>(k * n));
  for (int64_t kk = 0; kk < k; ++kk) {
    for (int64_t j = 0; j < n; ++j) {
      // Columns: all 127, all -128, alternating pairs.
      const int8_t v = j % 3 == 0 ? 127 : j % 3 == 1 ? -128 : ((kk / 2) % 2 ? 127 : -128);
      b[static_cast<size_t>(kk * n + j)] = v;
    }
  }
  ForEachTarget([&] {
    std::vector<int32_t> c(static_cast<size_t>(m * n));
    QGemm(false, m, n, k, a.data(), QType::kUint8, k, 0, b.data(), QType::kInt8, n, nullptr, false,
          c.data(), n);
    for (int64_t i = 0; i < m; ++i) {
      EXPECT_EQ(c[static_cast<size_t>(i * n + 0)], 255 * 127 * k);
      EXPECT_EQ(c[static_cast<size_t>(i * n + 1)], -255 * 128 * k);
      EXPECT_EQ(c[static_cast<size_t>(i * n + 2)], 255 * (127 - 128) * (k / 2));
    }
  });
}

// Zero points at the extremes: (0 - 255) * (127 - (-128)) per product, K = 33025 is the
// largest K whose worst case still fits in int32.
TEST(QGemmTest, ExtremeZeroPointsStayExact) {
  const int64_t m = 2, n = 3, k = 33025;
  std::vector<uint8_t> a(static_cast<size_t>(m * k), 0);
  std::vector<int8_t> b(static_cast<size_t>(k * n), 127);
  const int32_t zb = -128;
  ForEachTarget([&] {
    std::vector<int32_t> c(static_cast<size_t>(m * n));
    QGemm(false, m, n, k, a.data(), QType::kUint8, k, 255, b.data(), QType::kInt8, n, &zb, false,
          c.data(), n);
    for (int32_t v : c) EXPECT_EQ(v, -255 * 255 * k);
  });
}

TEST(QGemmTest, EmptyKGivesZeros) {
  std::vector<int32_t> c(6, 7);
  const uint8_t dummy = 0;
  QGemm(false, 2, 3, 0, &dummy, QType::kUint8, 0, 0, &dummy, QType::kInt8, 3, nullptr, false,
        c.data(), 3);
  EXPECT_EQ(c, std::vector<int32_t>(6, 0));
}

}  // namespace
}  // namespace mp::kernels
