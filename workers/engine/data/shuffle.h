// Seeded, platform-independent randomness for data order: SplitMix64 and a Fisher–Yates
// shuffle. Everything here is integer arithmetic on uint64_t with a fully specified
// algorithm, so the same seed gives the same permutation on every platform, compiler and
// thread count (std::shuffle / std::uniform_int_distribution give no such guarantee).
#ifndef MP_WORKERS_ENGINE_DATA_SHUFFLE_H_
#define MP_WORKERS_ENGINE_DATA_SHUFFLE_H_

#include <cstdint>
#include <vector>

namespace mp::data {

// SplitMix64 (Steele, Lea, Flood 2014; the reference in Vigna's xoshiro page):
//   state += 0x9E3779B97F4A7C15
//   z = state; z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
//              z = (z ^ (z >> 27)) * 0x94D049BB133111EB;  return z ^ (z >> 31)
// Seeded with 0, the first outputs are 0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next();
  // Uniform in [0, bound), bound >= 1, by rejection: draw x = Next() until
  // x < 2^64 - (2^64 mod bound), return x mod bound. No modulo bias.
  uint64_t Uniform(uint64_t bound);

 private:
  uint64_t state_;
};

// The seed for stream `stream` (e.g. an epoch) derived from `seed`: the first output of
// SplitMix64(seed ^ SplitMix64(stream).Next()). Distinct streams give unrelated orders.
uint64_t DeriveSeed(uint64_t seed, uint64_t stream);

// A permutation of 0..n-1: start from the identity, then for i = n-1 down to 1 swap
// p[i] with p[rng.Uniform(i + 1)], rng = SplitMix64(seed). n = 0 gives an empty vector.
std::vector<int64_t> ShuffledIndices(int64_t n, uint64_t seed);

}  // namespace mp::data

#endif  // MP_WORKERS_ENGINE_DATA_SHUFFLE_H_
