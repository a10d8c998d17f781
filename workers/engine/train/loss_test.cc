#include "workers/engine/train/loss.h"

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mp::train {
namespace {

using tensor::Shape;
using tensor::Tensor;
using ::testing::HasSubstr;

Tensor F(Shape shape, std::vector<float> v) { return Tensor::FromVector<float>(shape, v); }
Tensor L(std::vector<int64_t> v) {
  return Tensor::FromVector<int64_t>(Shape({static_cast<int64_t>(v.size())}), v);
}

// Central differences of `loss` w.r.t. every element of `x`, compared with `grad`.
void ExpectGradMatchesFiniteDifferences(Tensor x, const Tensor& grad,
                                        const std::function<double(const Tensor&)>& loss) {
  const float h = 1e-2f;
  for (int64_t k = 0; k < x.num_elements(); ++k) {
    Tensor xp = x.Clone(), xm = x.Clone();
    xp.mutable_data<float>()[k] += h;
    xm.mutable_data<float>()[k] -= h;
    const double fd = (loss(xp) - loss(xm)) / (2.0 * h);
    EXPECT_NEAR(grad.data<float>()[k], fd, 2e-4 + 1e-3 * std::fabs(fd)) << "element " << k;
  }
}

TEST(SoftmaxCrossEntropyTest, ValueByHand) {
  // Row 0: logits (0, ln 3) -> p = (1/4, 3/4), label 1 -> -ln(3/4).
  // Row 1: logits (2, 2) -> p = (1/2, 1/2), label 0 -> ln 2.
  Tensor logits = F(Shape({2, 2}), {0.0f, std::log(3.0f), 2.0f, 2.0f});
  auto r = SoftmaxCrossEntropy(logits, L({1, 0}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NEAR(r->loss, (-std::log(0.75) + std::log(2.0)) / 2, 1e-6);
  // grad = (p - onehot) / N
  EXPECT_NEAR(r->grad.data<float>()[0], 0.25 / 2, 1e-6);
  EXPECT_NEAR(r->grad.data<float>()[1], -0.25 / 2, 1e-6);
  EXPECT_NEAR(r->grad.data<float>()[2], -0.5 / 2, 1e-6);
  EXPECT_NEAR(r->grad.data<float>()[3], 0.5 / 2, 1e-6);
}

TEST(SoftmaxCrossEntropyTest, LabelSmoothingByHand) {
  // p = (1/4, 3/4), label 1, e = 0.2: q = (0.1, 0.9); loss = -0.1 ln(1/4) - 0.9 ln(3/4).
  Tensor logits = F(Shape({1, 2}), {0.0f, std::log(3.0f)});
  auto r = SoftmaxCrossEntropy(logits, L({1}), 0.2f);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NEAR(r->loss, -0.1 * std::log(0.25) - 0.9 * std::log(0.75), 1e-6);
  EXPECT_NEAR(r->grad.data<float>()[0], 0.25 - 0.1, 1e-6);
}

TEST(SoftmaxCrossEntropyTest, StableForHugeLogits) {
  Tensor logits = F(Shape({1, 3}), {1000.0f, 0.0f, -1000.0f});
  auto r = SoftmaxCrossEntropy(logits, L({2}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NEAR(r->loss, 2000.0, 1e-3);
  EXPECT_NEAR(r->grad.data<float>()[0], 1.0, 1e-6);
  EXPECT_NEAR(r->grad.data<float>()[2], -1.0, 1e-6);
}

TEST(SoftmaxCrossEntropyTest, GradientMatchesFiniteDifferences) {
  Tensor logits =
      F(Shape({3, 4}), {0.3f, -1.2f, 2.0f, 0.1f, 1.5f, 0.2f, -0.7f, 0.9f, -2.0f, 0.4f, 0.0f, 1.1f});
  Tensor labels = L({2, 0, 3});
  auto r = SoftmaxCrossEntropy(logits, labels, 0.1f);
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectGradMatchesFiniteDifferences(
      logits, r->grad, [&](const Tensor& x) { return SoftmaxCrossEntropy(x, labels, 0.1f)->loss; });
}

TEST(SoftmaxCrossEntropyTest, RejectsBadArguments) {
  Tensor logits = F(Shape({2, 3}), {0, 0, 0, 0, 0, 0});
  EXPECT_THAT(std::string(SoftmaxCrossEntropy(logits, L({0, 3})).status().message()),
              HasSubstr("labels: element 1 is 3, expected [0, 3)"));
  EXPECT_THAT(std::string(SoftmaxCrossEntropy(logits, L({0})).status().message()),
              HasSubstr("labels: expected shape [2]"));
  EXPECT_THAT(
      std::string(
          SoftmaxCrossEntropy(F(Shape({6}), {0, 0, 0, 0, 0, 0}), L({0})).status().message()),
      HasSubstr("logits: expected shape [N, C]"));
  EXPECT_THAT(std::string(SoftmaxCrossEntropy(logits, L({0, 1}), 1.0f).status().message()),
              HasSubstr("label_smoothing"));
  EXPECT_EQ(SoftmaxCrossEntropy(logits, F(Shape({2}), {0, 1})).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(KlDivergenceTest, ValueByHand) {
  // T = 2: teacher (0, 2 ln 3) / 2 -> pt = (1/4, 3/4); student (0, 0) -> ps = (1/2, 1/2).
  // KL = 1/4 ln(1/2) + 3/4 ln(3/2); times T^2 = 4.
  Tensor s = F(Shape({1, 2}), {0.0f, 0.0f});
  Tensor t = F(Shape({1, 2}), {0.0f, 2.0f * std::log(3.0f)});
  auto r = KlDivergence(s, t, 2.0f);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NEAR(r->loss, 4.0 * (0.25 * std::log(0.5) + 0.75 * std::log(1.5)), 1e-6);
  // grad = T / N (ps - pt) = 2 * (0.25, -0.25)
  EXPECT_NEAR(r->grad.data<float>()[0], 0.5, 1e-6);
  EXPECT_NEAR(r->grad.data<float>()[1], -0.5, 1e-6);
  // Identical distributions: zero loss, zero gradient.
  auto same = KlDivergence(t, t, 3.0f);
  ASSERT_TRUE(same.ok());
  EXPECT_NEAR(same->loss, 0.0, 1e-9);
  EXPECT_NEAR(same->grad.data<float>()[0], 0.0, 1e-7);
}

TEST(KlDivergenceTest, GradientMatchesFiniteDifferences) {
  Tensor s = F(Shape({2, 3}), {0.5f, -1.0f, 2.0f, 0.0f, 0.3f, -0.4f});
  Tensor t = F(Shape({2, 3}), {1.5f, 0.2f, -1.0f, 0.7f, 0.7f, 2.0f});
  auto r = KlDivergence(s, t, 1.5f);
  ASSERT_TRUE(r.ok()) << r.status();
  ExpectGradMatchesFiniteDifferences(
      s, r->grad, [&](const Tensor& x) { return KlDivergence(x, t, 1.5f)->loss; });
}

TEST(KlDivergenceTest, RejectsBadArguments) {
  Tensor s = F(Shape({1, 2}), {0, 0});
  EXPECT_THAT(std::string(KlDivergence(s, s, 0.0f).status().message()), HasSubstr("temperature"));
  EXPECT_THAT(std::string(KlDivergence(s, s, INFINITY).status().message()),
              HasSubstr("temperature"));
  EXPECT_THAT(std::string(KlDivergence(s, F(Shape({2, 1}), {0, 0}), 1.0f).status().message()),
              HasSubstr("teacher_logits: shape [2, 1] differs"));
}

TEST(MeanSquaredErrorTest, ValueAndGradient) {
  Tensor x = F(Shape({2, 2}), {1.0f, 2.0f, 3.0f, 4.0f});
  Tensor y = F(Shape({2, 2}), {0.0f, 2.0f, 5.0f, 4.5f});
  auto r = MeanSquaredError(x, y);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NEAR(r->loss, (1.0 + 0.0 + 4.0 + 0.25) / 4, 1e-7);
  EXPECT_NEAR(r->grad.data<float>()[0], 2.0 * 1.0 / 4, 1e-7);
  EXPECT_NEAR(r->grad.data<float>()[2], 2.0 * -2.0 / 4, 1e-7);
  ExpectGradMatchesFiniteDifferences(x, r->grad,
                                     [&](const Tensor& p) { return MeanSquaredError(p, y)->loss; });
  EXPECT_THAT(std::string(MeanSquaredError(x, F(Shape({4}), {0, 0, 0, 0})).status().message()),
              HasSubstr("targets: shape [4] differs"));
}

TEST(OneHotTest, EncodesAndValidates) {
  auto r = OneHot(L({2, 0}), 3);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->shape(), Shape({2, 3}));
  EXPECT_EQ(std::vector<float>(r->span<float>().begin(), r->span<float>().end()),
            (std::vector<float>{0, 0, 1, 1, 0, 0}));
  EXPECT_FALSE(OneHot(L({3}), 3).ok());
  EXPECT_FALSE(OneHot(L({0}), 0).ok());
}

}  // namespace
}  // namespace mp::train
