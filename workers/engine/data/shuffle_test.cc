#include "workers/engine/data/shuffle.h"

#include <algorithm>
#include <vector>

#include "gtest/gtest.h"

namespace mp::data {
namespace {

// Known-answer values: the SplitMix64 reference (seed 0), and permutations computed by an
// independent Python implementation of the algorithm documented in shuffle.h.
TEST(ShuffleTest, SplitMix64MatchesTheReference) {
  SplitMix64 rng(0);
  EXPECT_EQ(rng.Next(), 0xE220A8397B1DCDAFULL);
  EXPECT_EQ(rng.Next(), 0x6E789E6AA1B965F4ULL);
  EXPECT_EQ(rng.Next(), 0x06C45D188009454FULL);
}

TEST(ShuffleTest, UniformMatchesTheDocumentedRejectionRule) {
  SplitMix64 rng(7);
  std::vector<uint64_t> got;
  for (int i = 0; i < 10; ++i) got.push_back(rng.Uniform(3));
  EXPECT_EQ(got, (std::vector<uint64_t>{0, 0, 0, 0, 1, 0, 1, 0, 2, 2}));
  SplitMix64 one(1);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(one.Uniform(1), 0u);
}

TEST(ShuffleTest, PermutationsAreFixedAcrossPlatforms) {
  EXPECT_EQ(ShuffledIndices(10, 42), (std::vector<int64_t>{0, 9, 5, 8, 6, 4, 7, 2, 1, 3}));
  EXPECT_EQ(ShuffledIndices(10, 43), (std::vector<int64_t>{4, 2, 5, 6, 1, 3, 9, 8, 7, 0}));
  EXPECT_EQ(DeriveSeed(42, 0), 5592132763777985307ULL);
  EXPECT_EQ(DeriveSeed(42, 1), 0x7EB3B394AC9EFC29ULL);
}

TEST(ShuffleTest, IsAPermutationForAwkwardSizes) {
  for (int64_t n : {0, 1, 2, 3, 7, 64, 1000, 4097}) {
    std::vector<int64_t> p = ShuffledIndices(n, static_cast<uint64_t>(n) * 31);
    std::sort(p.begin(), p.end());
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(p[static_cast<size_t>(i)], i) << n;
  }
}

TEST(ShuffleTest, PositionsAreRoughlyUniform) {
  // Each of 8 items lands in position 0 about 1/8 of the time over 8000 seeds.
  std::vector<int> first(8, 0);
  for (uint64_t seed = 0; seed < 8000; ++seed)
    ++first[static_cast<size_t>(ShuffledIndices(8, seed)[0])];
  for (int c : first) {
    EXPECT_GT(c, 850);
    EXPECT_LT(c, 1150);
  }
}

}  // namespace
}  // namespace mp::data
