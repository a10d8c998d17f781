#include "workers/engine/kernels/activation_grad.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "workers/engine/kernels/elementwise.h"
#include "workers/engine/kernels/nn_test_util.h"

namespace mp::kernels {
namespace {

using testing::ExpectNear;
using testing::ForEachTarget;
using testing::RandomVector;
using testing::SameBits;

struct Case {
  ActivationGradOp grad_op;
  UnaryOp forward_op;
  UnaryParams forward_params;
  ActivationGradParams params;
  bool uses_output;
};

std::vector<Case> Cases() {
  ActivationGradParams clip;
  clip.lo = -0.5f;
  clip.hi = 0.75f;
  ActivationGradParams leaky;
  leaky.alpha = 0.2f;
  return {
      {ActivationGradOp::kRelu, UnaryOp::kRelu, {}, {}, false},
      {ActivationGradOp::kLeakyRelu, UnaryOp::kLeakyRelu, {0.2f, 0.0f}, leaky, false},
      {ActivationGradOp::kSigmoid, UnaryOp::kSigmoid, {}, {}, true},
      {ActivationGradOp::kTanh, UnaryOp::kTanh, {}, {}, true},
      {ActivationGradOp::kHardSwish, UnaryOp::kHardSwish, {}, {}, false},
      {ActivationGradOp::kClip, UnaryOp::kClip, {-0.5f, 0.75f}, clip, false},
  };
}

// The reference is the derivative of the forward activation: central differences of
// UnaryReference (double-step on inputs away from the kinks).
TEST(ActivationGradTest, ReferenceMatchesFiniteDifferences) {
  for (const Case& c : Cases()) {
    SCOPED_TRACE(static_cast<int>(c.grad_op));
    std::vector<float> x = RandomVector(257, 11, -5.0f, 5.0f);
    for (float& v : x) {  // keep 0.01 away from the kinks at 0, +-3, -0.5, 0.75
      for (float kink : {0.0f, 3.0f, -3.0f, -0.5f, 0.75f}) {
        if (std::fabs(v - kink) < 0.01f) v = kink + 0.02f;
      }
    }
    const std::vector<float> dy = RandomVector(257, 12);
    std::vector<float> y(x.size()), in(x.size()), dx(x.size());
    UnaryReference(c.forward_op, c.forward_params, static_cast<int64_t>(x.size()), x.data(),
                   y.data());
    in = c.uses_output ? y : x;
    ActivationGradReference(c.grad_op, c.params, static_cast<int64_t>(x.size()), in.data(),
                            dy.data(), dx.data());
    const float h = 1e-3f;
    for (size_t i = 0; i < x.size(); ++i) {
      float xp = x[i] + h, xm = x[i] - h, yp, ym;
      UnaryReference(c.forward_op, c.forward_params, 1, &xp, &yp);
      UnaryReference(c.forward_op, c.forward_params, 1, &xm, &ym);
      const double fd = (static_cast<double>(yp) - ym) / (2.0 * h) * dy[i];
      EXPECT_NEAR(dx[i], fd, 2e-3 + 2e-3 * std::fabs(fd)) << "x=" << x[i];
    }
  }
}

TEST(ActivationGradTest, EveryTargetMatchesReferenceAndThreadCountsAgree) {
  ThreadPool pool(3);
  for (const Case& c : Cases()) {
    SCOPED_TRACE(static_cast<int>(c.grad_op));
    for (int64_t n : {int64_t{1}, int64_t{7}, int64_t{33}, int64_t{40001}}) {
      std::vector<float> in = RandomVector(n, 21, -4.0f, 4.0f);
      if (c.uses_output) {
        for (float& v : in) v = c.grad_op == ActivationGradOp::kSigmoid ? std::fabs(v) / 4 : v / 4;
      }
      const std::vector<float> dy = RandomVector(n, 22);
      std::vector<float> want(static_cast<size_t>(n));
      ActivationGradReference(c.grad_op, c.params, n, in.data(), dy.data(), want.data());
      ForEachTarget([&] {
        std::vector<float> one(static_cast<size_t>(n)), many(static_cast<size_t>(n));
        ActivationGrad(c.grad_op, c.params, n, in.data(), dy.data(), one.data());
        ActivationGrad(c.grad_op, c.params, n, in.data(), dy.data(), many.data(), &pool);
        ExpectNear(one, want, 1e-6f, 1e-6f);
        EXPECT_TRUE(SameBits(one, many));
      });
    }
  }
}

}  // namespace
}  // namespace mp::kernels
