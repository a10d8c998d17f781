#include "workers/engine/kernels/elementwise.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "gtest/gtest.h"
#include "workers/engine/kernels/nn_test_util.h"

namespace mp::kernels {
namespace {

using testing::ExpectNear;
using testing::ForEachTarget;
using testing::RandomVector;

int64_t Numel(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

TEST(BroadcastStrides, RightAlignedZeroOnBroadcastAxes) {
  const std::vector<int64_t> out = {2, 3, 4, 5};
  int64_t s[4];
  const int64_t in1[] = {3, 1, 5};
  BroadcastStrides(3, in1, 4, out.data(), s);
  EXPECT_EQ(std::vector<int64_t>(s, s + 4), (std::vector<int64_t>{0, 5, 0, 1}));
  const int64_t in2[] = {2, 3, 4, 5};
  BroadcastStrides(4, in2, 4, out.data(), s);
  EXPECT_EQ(std::vector<int64_t>(s, s + 4), (std::vector<int64_t>{60, 20, 5, 1}));
  BroadcastStrides(0, nullptr, 4, out.data(), s);
  EXPECT_EQ(std::vector<int64_t>(s, s + 4), (std::vector<int64_t>{0, 0, 0, 0}));
}

TEST(BinaryReference, HandComputed) {
  // [2,1] - [1,3] -> [2,3]
  const std::vector<float> a = {10, 20}, b = {1, 2, 3};
  const int64_t shape[] = {2, 3}, sa[] = {1, 0}, sb[] = {0, 1};
  std::vector<float> out(6);
  BinaryReference(BinaryOp::kSub, 2, shape, a.data(), sa, b.data(), sb, out.data());
  EXPECT_EQ(out, (std::vector<float>{9, 8, 7, 19, 18, 17}));
  const std::vector<float> x = {-2, 3}, slope = {0.5f, 0.25f};
  const int64_t s2[] = {2}, dense[] = {1};
  BinaryReference(BinaryOp::kPRelu, 1, s2, x.data(), dense, slope.data(), dense, out.data());
  EXPECT_EQ(out[0], -1.0f);
  EXPECT_EQ(out[1], 3.0f);
  BinaryReference(BinaryOp::kPow, 1, s2, x.data(), dense, x.data(), dense, out.data());
  EXPECT_EQ(out[0], 0.25f);
  EXPECT_EQ(out[1], 27.0f);
}

struct BroadcastCase {
  std::vector<int64_t> out, a, b;  // a, b right-aligned numpy shapes
};

const std::vector<BroadcastCase>& Cases() {
  static const std::vector<BroadcastCase> cases = {
      {{1}, {1}, {1}},
      {{7}, {7}, {7}},
      {{67}, {67}, {67}},
      {{67}, {67}, {}},                            // b scalar
      {{33}, {}, {33}},                            // a scalar
      {{}, {}, {}},                                // rank 0
      {{2, 5, 3, 3}, {2, 5, 3, 3}, {1, 5, 1, 1}},  // per-channel bias
      {{4, 3, 5}, {4, 1, 5}, {4, 3, 5}},           // middle-axis broadcast
      {{3, 7}, {3, 1}, {1, 7}},                    // outer product
      {{2, 3, 4, 9}, {3, 1, 9}, {2, 1, 4, 1}},     // both broadcast, different axes
      {{5, 1, 6}, {5, 1, 6}, {6}},
      {{2, 2, 2, 2, 2, 2, 2, 3}, {2, 1, 2, 1, 2, 1, 2, 3}, {1, 2, 1, 2, 1, 2, 1, 1}},
      {{3, 0, 4}, {3, 0, 4}, {4}},  // empty
  };
  return cases;
}

void Strides(const std::vector<int64_t>& in, const std::vector<int64_t>& out, int64_t* s) {
  BroadcastStrides(static_cast<int>(in.size()), in.data(), static_cast<int>(out.size()), out.data(),
                   s);
}

void CheckBinary(BinaryOp op, const BroadcastCase& c, float lo, float hi, float rel) {
  const int rank = static_cast<int>(c.out.size());
  int64_t sa[kMaxBroadcastRank], sb[kMaxBroadcastRank];
  Strides(c.a, c.out, sa);
  Strides(c.b, c.out, sb);
  const auto a = RandomVector(Numel(c.a), 1, lo, hi);
  auto b = RandomVector(Numel(c.b), 2, lo, hi);
  if (op == BinaryOp::kDiv) {
    for (float& v : b) v = v < 0 ? v - 0.5f : v + 0.5f;
  }
  std::vector<float> want(Numel(c.out));
  BinaryReference(op, rank, c.out.data(), a.data(), sa, b.data(), sb, want.data());
  ForEachTarget([&] {
    std::vector<float> got(Numel(c.out), 123.0f);
    Binary(op, rank, c.out.data(), a.data(), sa, b.data(), sb, got.data());
    if (rel == 0) {
      EXPECT_TRUE(testing::SameBits(got, want));
    } else {
      ExpectNear(got, want, 0, rel);
    }
  });
}

TEST(Binary, ExactOpsMatchReferenceBitForBit) {
  for (BinaryOp op : {BinaryOp::kAdd, BinaryOp::kSub, BinaryOp::kMul, BinaryOp::kDiv,
                      BinaryOp::kMax, BinaryOp::kMin, BinaryOp::kPRelu}) {
    for (const auto& c : Cases()) {
      SCOPED_TRACE(::testing::Message() << "op " << static_cast<int>(op) << " rank " << c.out.size()
                                        << " numel " << Numel(c.out));
      CheckBinary(op, c, -2.0f, 2.0f, 0.0f);
    }
  }
}

TEST(Binary, PowGeneralAndFastExponents) {
  for (const auto& c : Cases()) CheckBinary(BinaryOp::kPow, c, 0.1f, 3.0f, 1e-6f);
  for (float e : {1.0f, 2.0f, 3.0f, 0.5f, -1.0f, 1.5f, -2.0f}) {
    const std::vector<int64_t> shape = {37};
    const auto a = RandomVector(37, 3, 0.05f, 4.0f);
    const int64_t sa[] = {1}, sb[] = {0};
    std::vector<float> want(37);
    BinaryReference(BinaryOp::kPow, 1, shape.data(), a.data(), sa, &e, sb, want.data());
    ForEachTarget([&] {
      std::vector<float> got(37);
      Binary(BinaryOp::kPow, 1, shape.data(), a.data(), sa, &e, sb, got.data());
      ExpectNear(got, want, 0, 1e-6f);
    });
  }
}

TEST(Binary, StridedInputsUseTheGeneralPath) {
  // a is a transposed view: a[i, j] = base[j, i].
  const int64_t shape[] = {5, 6};
  const auto base = RandomVector(30, 4);
  const auto b = RandomVector(30, 5);
  const int64_t sa[] = {1, 5}, sb[] = {6, 1};
  std::vector<float> want(30), got(30);
  BinaryReference(BinaryOp::kMul, 2, shape, base.data(), sa, b.data(), sb, want.data());
  for (int64_t i = 0; i < 5; ++i) {
    for (int64_t j = 0; j < 6; ++j) ASSERT_EQ(want[i * 6 + j], base[j * 5 + i] * b[i * 6 + j]);
  }
  ForEachTarget([&] {
    Binary(BinaryOp::kMul, 2, shape, base.data(), sa, b.data(), sb, got.data());
    EXPECT_EQ(got, want);
  });
}

TEST(Binary, InPlaceAndThreadCountInvariant) {
  const std::vector<int64_t> out = {3, 64, 33, 17};
  const std::vector<int64_t> bshape = {64, 1, 1};
  int64_t sa[4], sb[4];
  Strides(out, out, sa);
  Strides(bshape, out, sb);
  const auto a = RandomVector(Numel(out), 6);
  const auto b = RandomVector(64, 7);
  std::vector<float> want(a.size());
  BinaryReference(BinaryOp::kAdd, 4, out.data(), a.data(), sa, b.data(), sb, want.data());
  ThreadPool two(2), three(3);
  for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), &two, &three}) {
    std::vector<float> inplace = a;
    Binary(BinaryOp::kAdd, 4, out.data(), inplace.data(), sa, b.data(), sb, inplace.data(), pool);
    EXPECT_EQ(0, std::memcmp(inplace.data(), want.data(), want.size() * sizeof(float)));
  }
}

struct UnaryCase {
  UnaryOp op;
  UnaryParams params;
  float abs_tol, rel_tol;
  float lo, hi;
};

const std::vector<UnaryCase>& UnaryCases() {
  static const std::vector<UnaryCase> cases = {
      {UnaryOp::kRelu, {}, 0, 0, -10, 10},
      {UnaryOp::kLeakyRelu, {0.01f, 0}, 0, 0, -10, 10},
      {UnaryOp::kSigmoid, {}, 1e-30f, 1e-6f, -30, 30},
      {UnaryOp::kTanh, {}, 0, 1e-6f, -10, 10},
      {UnaryOp::kClip, {-0.5f, 2.0f}, 0, 0, -10, 10},
      {UnaryOp::kHardSigmoid, {0.2f, 0.5f}, 1e-7f, 2.5e-7f, -10, 10},  // fma: 1 ulp
      {UnaryOp::kHardSwish, {}, 1e-7f, 2.5e-7f, -10, 10},
      {UnaryOp::kErf, {}, 4e-7f, 4e-7f, -5, 5},
      {UnaryOp::kGelu, {}, 2e-6f, 1e-6f, -10, 10},
      {UnaryOp::kGeluTanh, {}, 2e-6f, 1e-6f, -10, 10},
      {UnaryOp::kExp, {}, 0, 3e-7f, -80, 80},
      {UnaryOp::kLog, {}, 1e-7f, 1e-6f, -60, 60},  // x = exp(uniform)
      {UnaryOp::kSqrt, {}, 0, 0, 0, 100},
      {UnaryOp::kNeg, {}, 0, 0, -10, 10},
      {UnaryOp::kAbs, {}, 0, 0, -10, 10},
      {UnaryOp::kReciprocal, {}, 0, 0, 0.01f, 10},
  };
  return cases;
}

TEST(Unary, MatchesReferenceWithinDocumentedErrorOnEveryTarget) {
  for (const UnaryCase& c : UnaryCases()) {
    SCOPED_TRACE(::testing::Message() << "op " << static_cast<int>(c.op));
    for (int64_t n : {1, 3, 8, 15, 16, 17, 1001}) {
      auto x = RandomVector(n, static_cast<uint32_t>(n), c.lo, c.hi);
      if (c.op == UnaryOp::kLog) {  // cover many binades
        for (float& v : x) v = std::exp(v);
      }
      std::vector<float> want(n);
      UnaryReference(c.op, c.params, n, x.data(), want.data());
      ForEachTarget([&] {
        std::vector<float> got(n, 9.0f);
        Unary(c.op, c.params, n, x.data(), got.data());
        ExpectNear(got, want, c.abs_tol, c.rel_tol);
      });
    }
  }
}

TEST(Unary, SpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> x = {0.0f, -0.0f, 1e-40f, -1.0f, inf, -inf, 100.0f, -100.0f, 88.0f};
  const int64_t n = static_cast<int64_t>(x.size());
  for (UnaryOp op : {UnaryOp::kLog, UnaryOp::kExp, UnaryOp::kSigmoid, UnaryOp::kTanh, UnaryOp::kErf,
                     UnaryOp::kRelu, UnaryOp::kSqrt}) {
    SCOPED_TRACE(::testing::Message() << "op " << static_cast<int>(op));
    std::vector<float> want(n);
    UnaryReference(op, {}, n, x.data(), want.data());
    ForEachTarget([&] {
      std::vector<float> got(n);
      Unary(op, {}, n, x.data(), got.data());
      ExpectNear(got, want, 1e-38f, 4e-6f);
    });
  }
}

TEST(UnaryReference, HandComputed) {
  const std::vector<float> x = {-3, -1, 0, 1, 3, 4};
  std::vector<float> y(6);
  UnaryReference(UnaryOp::kHardSwish, {}, 6, x.data(), y.data());
  ExpectNear(y, {0, -1.0f / 3.0f, 0, 2.0f / 3.0f, 3, 4}, 0, 1e-7f);
  UnaryReference(UnaryOp::kClip, {-1.5f, 2.0f}, 6, x.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{-1.5f, -1, 0, 1, 2, 2}));
  UnaryReference(UnaryOp::kLeakyRelu, {0.5f, 0}, 6, x.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{-1.5f, -0.5f, 0, 1, 3, 4}));
  UnaryReference(UnaryOp::kGelu, {}, 6, x.data(), y.data());
  EXPECT_NEAR(y[3], 0.8413447f, 1e-6f);  // Phi(1)
  EXPECT_EQ(y[2], 0.0f);
  UnaryReference(UnaryOp::kSigmoid, {}, 6, x.data(), y.data());
  EXPECT_EQ(y[2], 0.5f);
}

TEST(Unary, InPlaceAndThreadCountInvariant) {
  const auto x = RandomVector(100003, 8, -6, 6);
  ThreadPool two(2);
  for (UnaryOp op : {UnaryOp::kGelu, UnaryOp::kSigmoid, UnaryOp::kTanh}) {
    std::vector<float> serial(x.size()), threaded = x;
    Unary(op, {}, static_cast<int64_t>(x.size()), x.data(), serial.data());
    Unary(op, {}, static_cast<int64_t>(x.size()), threaded.data(), threaded.data(), &two);
    EXPECT_EQ(0, std::memcmp(serial.data(), threaded.data(), x.size() * sizeof(float)));
  }
}

}  // namespace
}  // namespace mp::kernels
