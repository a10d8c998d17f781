#include "workers/engine/kernels/reduce.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "workers/engine/kernels/nn_test_util.h"

namespace mp::kernels {
namespace {

using testing::ExpectNear;
using testing::ForEachTarget;
using testing::RandomVector;

TEST(ReduceReference, HandComputed) {
  // [2, 3, 2]
  const std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  std::vector<float> y(4);
  ReduceReference(ReduceOp::kSum, 2, 3, 2, x.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{9, 12, 27, 30}));
  ReduceReference(ReduceOp::kMean, 2, 3, 2, x.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{3, 4, 9, 10}));
  ReduceReference(ReduceOp::kMax, 2, 3, 2, x.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{5, 6, 11, 12}));
  ReduceReference(ReduceOp::kMin, 2, 3, 2, x.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{1, 2, 7, 8}));
}

TEST(Reduce, MatchesReferenceOnEveryTarget) {
  struct Shape {
    int64_t outer, reduce, inner;
  };
  for (Shape s : {Shape{1, 1, 1}, Shape{3, 17, 1}, Shape{2, 1000, 1}, Shape{4, 5, 3},
                  Shape{2, 7, 33}, Shape{1, 64, 49}, Shape{5, 3, 8}, Shape{2, 0, 3}}) {
    const auto x = RandomVector(s.outer * s.reduce * s.inner, 16, -4, 4);
    for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kMean, ReduceOp::kMax, ReduceOp::kMin}) {
      SCOPED_TRACE(::testing::Message() << s.outer << "x" << s.reduce << "x" << s.inner << " op "
                                        << static_cast<int>(op));
      std::vector<float> want(s.outer * s.inner);
      ReduceReference(op, s.outer, s.reduce, s.inner, x.data(), want.data());
      const bool exact = s.inner > 1 || op == ReduceOp::kMax || op == ReduceOp::kMin;
      ForEachTarget([&] {
        std::vector<float> got(want.size(), 5.0f);
        Reduce(op, s.outer, s.reduce, s.inner, x.data(), got.data());
        if (exact) {
          for (size_t i = 0; i < got.size(); ++i) {
            if (std::isnan(want[i])) {
              EXPECT_TRUE(std::isnan(got[i]));
            } else {
              EXPECT_EQ(got[i], want[i]) << i;
            }
          }
        } else {
          ExpectNear(got, want, 1e-5f * static_cast<float>(s.reduce), 1e-6f);
        }
      });
    }
  }
}

TEST(Reduce, ThreadCountInvariant) {
  ThreadPool two(2), three(3);
  struct Shape {
    int64_t outer, reduce, inner;
  };
  for (Shape s : {Shape{64, 1000, 1}, Shape{1, 300, 500}, Shape{16, 40, 100}}) {
    const auto x = RandomVector(s.outer * s.reduce * s.inner, 17);
    std::vector<float> a(s.outer * s.inner), b(a.size()), c(a.size());
    Reduce(ReduceOp::kMean, s.outer, s.reduce, s.inner, x.data(), a.data());
    Reduce(ReduceOp::kMean, s.outer, s.reduce, s.inner, x.data(), b.data(), &two);
    Reduce(ReduceOp::kMean, s.outer, s.reduce, s.inner, x.data(), c.data(), &three);
    EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
    EXPECT_EQ(0, std::memcmp(a.data(), c.data(), a.size() * sizeof(float)));
  }
}

}  // namespace
}  // namespace mp::kernels
