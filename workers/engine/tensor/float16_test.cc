#include "workers/engine/tensor/float16.h"

#include <bit>
#include <cmath>
#include <limits>

#include "gtest/gtest.h"

namespace mp::tensor {
namespace {

// Reference: round-to-nearest-even by exhaustive search over the finite halves bracketing
// the value (slow but obviously right).
uint16_t ReferenceHalf(float v) {
  if (std::isnan(v)) return 0x7E00;
  const uint16_t sign = std::signbit(v) ? 0x8000 : 0;
  const double a = std::fabs(static_cast<double>(v));
  uint16_t best = 0;
  double best_err = a;
  for (uint32_t h = 1; h <= 0x7BFF; ++h) {
    const double hv = static_cast<double>(HalfToFloat(static_cast<uint16_t>(h)));
    const double err = std::fabs(hv - a);
    if (err < best_err || (err == best_err && (h & 1) == 0)) {
      best = static_cast<uint16_t>(h);
      best_err = err;
    }
  }
  // Beyond max finite + half an ulp: infinity.
  if (a >= 65520.0) return sign | 0x7C00;
  return sign | best;
}

TEST(Float16Test, KnownValues) {
  EXPECT_EQ(FloatToHalf(0.0f), 0x0000);
  EXPECT_EQ(FloatToHalf(-0.0f), 0x8000);
  EXPECT_EQ(FloatToHalf(1.0f), 0x3C00);
  EXPECT_EQ(FloatToHalf(-2.0f), 0xC000);
  EXPECT_EQ(FloatToHalf(65504.0f), 0x7BFF);
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7C00);
  EXPECT_EQ(FloatToHalf(1e10f), 0x7C00);
  EXPECT_EQ(FloatToHalf(std::numeric_limits<float>::infinity()), 0x7C00);
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -24)), 0x0001);  // min subnormal
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -25)), 0x0000);  // tie -> even (0)
  EXPECT_EQ(FloatToHalf(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -14)), 0x0400);  // min normal
  const uint16_t nan = FloatToHalf(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(nan & 0x7C00, 0x7C00);
  EXPECT_NE(nan & 0x3FF, 0);
  EXPECT_EQ(HalfToFloat(0x3C00), 1.0f);
  EXPECT_EQ(HalfToFloat(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(HalfToFloat(0x03FF), std::ldexp(1023.0f, -24));
  EXPECT_TRUE(std::isinf(HalfToFloat(0xFC00)));
  EXPECT_TRUE(std::isnan(HalfToFloat(0x7E00)));
}

TEST(Float16Test, EveryHalfRoundTrips) {
  for (uint32_t h = 0; h <= 0xFFFF; ++h) {
    const uint16_t bits = static_cast<uint16_t>(h);
    const float f = HalfToFloat(bits);
    if (std::isnan(f)) continue;
    EXPECT_EQ(FloatToHalf(f), bits) << std::hex << h;
  }
}

TEST(Float16Test, MatchesReferenceRounding) {
  // Midpoints and near-midpoints between consecutive halves, plus scattered values.
  for (uint32_t h = 0; h < 0x7BFF; h += 37) {
    const float lo = HalfToFloat(static_cast<uint16_t>(h));
    const float hi = HalfToFloat(static_cast<uint16_t>(h + 1));
    const float mid = static_cast<float>((static_cast<double>(lo) + hi) / 2);
    for (float v : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1e9f), -mid}) {
      EXPECT_EQ(FloatToHalf(v), ReferenceHalf(v)) << v;
    }
  }
  for (float v : {65519.0f, 65520.0f, 65535.0f, 3.14159f, -1e-6f, 1e-8f}) {
    EXPECT_EQ(FloatToHalf(v), ReferenceHalf(v)) << v;
  }
}

TEST(BFloat16Test, RoundsToNearestEven) {
  EXPECT_EQ(FloatToBFloat16(1.0f), 0x3F80);
  EXPECT_EQ(BFloat16ToFloat(0x3F80), 1.0f);
  // 1 + 2^-8 is exactly between 1 and 1 + 2^-7: ties to even (1.0).
  EXPECT_EQ(FloatToBFloat16(1.0f + std::ldexp(1.0f, -8)), 0x3F80);
  EXPECT_EQ(FloatToBFloat16(1.0f + std::ldexp(3.0f, -8)), 0x3F82);
  EXPECT_EQ(FloatToBFloat16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)), 0x3F81);
  EXPECT_TRUE(std::isnan(BFloat16ToFloat(FloatToBFloat16(std::nanf("")))));
  EXPECT_TRUE(std::isinf(BFloat16ToFloat(FloatToBFloat16(3.4e38f))));
  for (uint32_t b = 0; b <= 0xFFFF; b += 7) {
    const float f = BFloat16ToFloat(static_cast<uint16_t>(b));
    if (!std::isnan(f)) {
      EXPECT_EQ(FloatToBFloat16(f), b);
    }
  }
}

}  // namespace
}  // namespace mp::tensor
