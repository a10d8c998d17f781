// Quantize / dequantize / requantize on every compiled Highway target vs the scalar
// definitions, including ties (round half to even), saturation, NaN and infinities.
#include "workers/engine/kernels/quantize.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "gtest/gtest.h"
#include "workers/engine/kernels/nn_test_util.h"

namespace mp::kernels {
namespace {

using testing::ForEachTarget;
using testing::RandomVector;

std::vector<float> Awkward() {
  std::vector<float> x = RandomVector(37, 3, -300.0f, 300.0f);
  const float inf = std::numeric_limits<float>::infinity();
  for (float v : {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 127.5f, 128.5f, -128.5f, 254.5f, 255.5f,
                  1e30f, -1e30f, inf, -inf, std::nanf(""), 0.0f, -0.0f}) {
    x.push_back(v);
  }
  return x;
}

TEST(QuantizeTest, RoundsHalfToEvenAndSaturates) {
  EXPECT_EQ(QuantizeOneReference(2.5f, 1.0f, 0, QType::kUint8), 2);
  EXPECT_EQ(QuantizeOneReference(3.5f, 1.0f, 0, QType::kUint8), 4);
  EXPECT_EQ(QuantizeOneReference(-2.5f, 1.0f, 0, QType::kInt8), -2);
  EXPECT_EQ(QuantizeOneReference(1000.0f, 1.0f, 0, QType::kInt8), 127);
  EXPECT_EQ(QuantizeOneReference(-1000.0f, 1.0f, 10, QType::kUint8), 0);
  EXPECT_EQ(QuantizeOneReference(std::nanf(""), 1.0f, 10, QType::kUint8), 0);
  EXPECT_EQ(QuantizeOneReference(std::nanf(""), 1.0f, 0, QType::kInt8), -128);
  // x / scale is a division: 0.3f / 0.1f rounds differently from 0.3f * (1 / 0.1f) in
  // general; check the reference uses the quotient.
  EXPECT_EQ(QuantizeOneReference(0.25f, 0.1f, 0, QType::kUint8),
            static_cast<int32_t>(std::nearbyint(0.25f / 0.1f)));
}

TEST(QuantizeTest, VectorMatchesReferenceOnEveryTarget) {
  const std::vector<float> x = Awkward();
  const int64_t n = static_cast<int64_t>(x.size());
  for (QType type : {QType::kUint8, QType::kInt8}) {
    for (int32_t zp : {QMin(type), 0 + (type == QType::kUint8 ? 128 : 0), QMax(type)}) {
      for (float scale : {1.0f, 0.37f, 3.0f}) {
        std::vector<uint8_t> want(x.size());
        for (size_t i = 0; i < x.size(); ++i) {
          want[i] = static_cast<uint8_t>(QuantizeOneReference(x[i], scale, zp, type));
        }
        ForEachTarget([&] {
          for (int64_t len : {n, n - 1, int64_t{5}}) {
            std::vector<uint8_t> got(x.size(), 0xAB);
            QuantizeLinear(x.data(), len, scale, zp, type, got.data());
            for (int64_t i = 0; i < len; ++i) {
              ASSERT_EQ(got[static_cast<size_t>(i)], want[static_cast<size_t>(i)])
                  << "x=" << x[static_cast<size_t>(i)] << " scale=" << scale << " zp=" << zp;
            }
            if (len < n) {
              EXPECT_EQ(got[static_cast<size_t>(len)], 0xAB);  // no overrun
            }
          }
        });
      }
    }
  }
}

TEST(QuantizeTest, DequantizeMatchesDefinition) {
  std::vector<uint8_t> q(300);
  for (size_t i = 0; i < q.size(); ++i) q[i] = static_cast<uint8_t>(i * 7);
  std::vector<int32_t> q32 = {-2147483647, -5, 0, 7, 1 << 30, 123456789, 3, 4, 5, 6, 7, 8, 9};
  ForEachTarget([&] {
    for (QType type : {QType::kUint8, QType::kInt8}) {
      std::vector<float> got(q.size());
      DequantizeLinear(q.data(), type, static_cast<int64_t>(q.size()) - 3, 0.125f, 3, got.data());
      for (size_t i = 0; i + 3 < q.size(); ++i) {
        ASSERT_EQ(got[i],
                  static_cast<float>(QLoad(q.data(), type, static_cast<int64_t>(i)) - 3) * 0.125f);
      }
    }
    std::vector<float> got(q32.size());
    DequantizeLinearInt32(q32.data(), static_cast<int64_t>(q32.size()), 0.001f, 0, got.data());
    for (size_t i = 0; i < q32.size(); ++i) {
      ASSERT_EQ(got[i], static_cast<float>(q32[i]) * 0.001f);
    }
  });
}

TEST(QuantizeTest, RequantizeMatchesReference) {
  std::vector<int32_t> acc;
  for (int i = -70; i < 70; ++i) acc.push_back(i * 997 + (i % 3) * 5);
  acc.push_back(std::numeric_limits<int32_t>::max());
  acc.push_back(std::numeric_limits<int32_t>::min() + 100);
  const int64_t n = static_cast<int64_t>(acc.size());
  std::vector<int32_t> bias(acc.size());
  std::vector<float> scale(acc.size());
  for (size_t i = 0; i < acc.size(); ++i) {
    bias[i] = static_cast<int32_t>(i % 11) - 5;
    scale[i] = 0.001f * static_cast<float>(1 + i % 7);
  }
  ForEachTarget([&] {
    for (QType type : {QType::kUint8, QType::kInt8}) {
      const int32_t zp = type == QType::kUint8 ? 100 : -3;
      std::vector<uint8_t> got(acc.size()), got_pe(acc.size());
      Requantize(acc.data(), n, 4, 0.01f, zp, type, got.data());
      RequantizePerElement(acc.data(), n, bias.data(), scale.data(), zp, type, got_pe.data());
      for (size_t i = 0; i < acc.size(); ++i) {
        const int32_t want = RequantizeOneReference(
            static_cast<int32_t>(static_cast<uint32_t>(acc[i]) + 4u), 0.01f, zp, type);
        ASSERT_EQ(static_cast<uint8_t>(want), got[i]) << i;
        const int32_t want_pe = RequantizeOneReference(
            static_cast<int32_t>(static_cast<uint32_t>(acc[i]) + static_cast<uint32_t>(bias[i])),
            scale[i], zp, type);
        ASSERT_EQ(static_cast<uint8_t>(want_pe), got_pe[i]) << i;
      }
    }
  });
}

}  // namespace
}  // namespace mp::kernels
