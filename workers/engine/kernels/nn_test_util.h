// Test helpers shared by the NN kernel tests: run a body once per compiled and supported
// Highway target, deterministic random data, and tolerance checks.
#ifndef MP_WORKERS_ENGINE_KERNELS_NN_TEST_UTIL_H_
#define MP_WORKERS_ENGINE_KERNELS_NN_TEST_UTIL_H_

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "hwy/targets.h"

namespace mp::kernels::testing {

// Calls body() with each target forced as the dispatch choice, under a SCOPED_TRACE naming
// the target, then restores normal dispatch. Fails if no target ran.
template <typename Body>
void ForEachTarget(const Body& body) {
  int ran = 0;
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    SCOPED_TRACE(hwy::TargetName(target));
    body();
    ++ran;
  }
  hwy::SetSupportedTargetsForTest(0);
  EXPECT_GT(ran, 0);
}

// n values uniform in [lo, hi) from a fixed seed.
inline std::vector<float> RandomVector(int64_t n, uint32_t seed, float lo = -1.0f,
                                       float hi = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& f : v) f = dist(gen);
  return v;
}

// n bytes uniform in [0, 255] from a fixed seed (uint8 or int8 quantized data).
inline std::vector<uint8_t> RandomBytes(int64_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> dist(0, 255);
  std::vector<uint8_t> v(static_cast<size_t>(n));
  for (uint8_t& b : v) b = static_cast<uint8_t>(dist(gen));
  return v;
}

// True when both hold the same float bit patterns (empty vectors compare equal).
inline bool SameBits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// Expects |got - want| <= abs_tol + rel_tol * |want| elementwise (NaN must match NaN,
// infinities must match exactly); reports the first few mismatches.
inline void ExpectNear(const std::vector<float>& got, const std::vector<float>& want, float abs_tol,
                       float rel_tol) {
  ASSERT_EQ(got.size(), want.size());
  int reported = 0;
  for (size_t i = 0; i < got.size() && reported < 5; ++i) {
    const float g = got[i], w = want[i];
    bool ok;
    if (std::isnan(w)) {
      ok = std::isnan(g);
    } else if (std::isinf(w)) {
      ok = g == w;
    } else {
      ok = std::fabs(g - w) <= abs_tol + rel_tol * std::fabs(w);
    }
    if (!ok) {
      ADD_FAILURE() << "index " << i << ": got " << g << ", want " << w;
      ++reported;
    }
  }
}

}  // namespace mp::kernels::testing

#endif  // MP_WORKERS_ENGINE_KERNELS_NN_TEST_UTIL_H_
