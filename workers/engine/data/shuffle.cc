#include "workers/engine/data/shuffle.h"

#include <numeric>
#include <utility>

#include "common/check.h"

namespace mp::data {

uint64_t SplitMix64::Next() {
  state_ += 0x9E3779B97F4A7C15ULL;
  uint64_t z = state_;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

uint64_t SplitMix64::Uniform(uint64_t bound) {
  MP_CHECK_GE(bound, 1u);
  // 2^64 mod bound, computed in 64 bits as (2^64 - bound) mod bound.
  const uint64_t rem = (0 - bound) % bound;
  const uint64_t limit = 0 - rem;  // 2^64 - rem (0 means "no rejection" when rem == 0)
  while (true) {
    const uint64_t x = Next();
    if (rem == 0 || x < limit) return x % bound;
  }
}

uint64_t DeriveSeed(uint64_t seed, uint64_t stream) {
  return SplitMix64(seed ^ SplitMix64(stream).Next()).Next();
}

std::vector<int64_t> ShuffledIndices(int64_t n, uint64_t seed) {
  MP_CHECK_GE(n, 0);
  std::vector<int64_t> p(static_cast<size_t>(n));
  std::iota(p.begin(), p.end(), int64_t{0});
  SplitMix64 rng(seed);
  for (int64_t i = n - 1; i >= 1; --i) {
    const auto j = static_cast<int64_t>(rng.Uniform(static_cast<uint64_t>(i) + 1));
    std::swap(p[static_cast<size_t>(i)], p[static_cast<size_t>(j)]);
  }
  return p;
}

}  // namespace mp::data
