#include "workers/engine/kernels/transpose.h"

#include <cstdint>
#include <cstring>
#include <numeric>
#include <vector>

#include "gtest/gtest.h"

namespace mp::kernels {
namespace {

TEST(TransposeReference, HandComputed2D) {
  const std::vector<float> x = {1, 2, 3, 4, 5, 6};  // [2, 3]
  const int64_t shape[] = {2, 3};
  const int perm[] = {1, 0};
  std::vector<float> y(6);
  TransposeReference(2, shape, perm, sizeof(float), x.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{1, 4, 2, 5, 3, 6}));
}

TEST(TransposeReference, HandComputed3D) {
  std::vector<int32_t> x(24);
  std::iota(x.begin(), x.end(), 0);  // [2, 3, 4]: x[a,b,c] = 12a + 4b + c
  const int64_t shape[] = {2, 3, 4};
  const int perm[] = {2, 0, 1};  // out [4, 2, 3]: out[c,a,b] = x[a,b,c]
  std::vector<int32_t> y(24);
  TransposeReference(3, shape, perm, sizeof(int32_t), x.data(), y.data());
  for (int c = 0; c < 4; ++c) {
    for (int a = 0; a < 2; ++a) {
      for (int b = 0; b < 3; ++b) EXPECT_EQ(y[(c * 2 + a) * 3 + b], 12 * a + 4 * b + c);
    }
  }
}

struct Case {
  std::vector<int64_t> shape;
  std::vector<int> perm;
};

template <typename T>
void Check(const Case& c, ThreadPool* pool) {
  const int rank = static_cast<int>(c.shape.size());
  int64_t n = 1;
  for (int64_t d : c.shape) n *= d;
  std::vector<T> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<T>(i * 2654435761u + 7);
  std::vector<T> want(x.size()), got(x.size(), T{});
  TransposeReference(rank, c.shape.data(), c.perm.data(), sizeof(T), x.data(), want.data());
  Transpose(rank, c.shape.data(), c.perm.data(), sizeof(T), x.data(), got.data(), pool);
  EXPECT_EQ(got, want);
}

struct Bytes3 {
  uint8_t b[3];
  explicit Bytes3(uint64_t v = 0) : b{uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16)} {}
  bool operator==(const Bytes3& o) const { return std::memcmp(b, o.b, 3) == 0; }
};

TEST(Transpose, MatchesReferenceForEveryElementSizeAndPool) {
  const std::vector<Case> cases = {
      {{5, 7}, {1, 0}},
      {{65, 33}, {1, 0}},  // several tiles, ragged edges
      {{2, 3, 4}, {0, 2, 1}},
      {{2, 3, 4}, {2, 1, 0}},
      {{2, 3, 4}, {1, 0, 2}},                                // run copies
      {{1, 64, 7, 9}, {0, 2, 3, 1}},                         // NCHW -> NHWC
      {{3, 7, 9, 16}, {0, 3, 1, 2}},                         // NHWC -> NCHW
      {{2, 1, 3, 1, 5}, {4, 3, 2, 1, 0}},                    // size-1 axes
      {{2, 3, 2, 3, 2, 3, 2, 2}, {7, 0, 6, 1, 5, 2, 4, 3}},  // rank 8
      {{4, 5}, {0, 1}},                                      // identity
      {{}, {}},                                              // scalar
      {{3, 0, 2}, {2, 1, 0}},                                // empty
      {{300, 200}, {1, 0}},                                  // big enough to split over threads
  };
  ThreadPool two(2);
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << "rank " << c.shape.size());
    for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), &two}) {
      Check<uint8_t>(c, pool);
      Check<uint16_t>(c, pool);
      Check<float>(c, pool);
      Check<uint64_t>(c, pool);
      Check<Bytes3>(c, pool);
    }
  }
}

}  // namespace
}  // namespace mp::kernels
