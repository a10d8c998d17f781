#include "workers/engine/train/optimizer.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "workers/engine/kernels/nn_test_util.h"
#include "workers/engine/train/optimizer_kernels.h"

namespace mp::train {
namespace {

using tensor::Shape;
using tensor::Tensor;
using ::testing::HasSubstr;

Parameter MakeParam(std::string name, std::vector<float> v, bool decay) {
  const int64_t n = static_cast<int64_t>(v.size());
  return {.name = std::move(name),
          .value = Tensor::FromVector<float>(Shape({n}), v),
          .grad = Tensor::Zeros(tensor::DType::kFloat32, Shape({n})),
          .decay = decay};
}

void SetGrad(Parameter& p, const std::vector<float>& g) {
  std::copy(g.begin(), g.end(), p.grad.mutable_data<float>());
}

void ExpectValues(const Parameter& p, const std::vector<float>& want) {
  ASSERT_EQ(p.value.num_elements(), static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(p.value.data<float>()[i], want[i], 2e-6f) << p.name << "[" << i << "]";
  }
}

// Three steps on two parameters (the second without decay) with fixed gradients. The
// expected values were produced once with PyTorch 1.13 (/usr/bin/python3, torch.optim.SGD /
// Adam / AdamW, the second parameter in a param group with weight_decay=0) and pasted here.
void RunThreeSteps(const OptimizerOptions& options, const std::vector<float>& want0,
                   const std::vector<float>& want1) {
  std::vector<Parameter> params = {MakeParam("w", {0.5f, -1.0f, 2.0f, 0.1f, -0.3f}, true),
                                   MakeParam("b", {0.2f, -0.4f}, false)};
  const std::vector<std::vector<float>> g0 = {{0.1f, 0.3f, -0.5f, 1.0f, -0.7f},
                                              {-0.2f, 0.25f, 0.4f, -1.5f, 0.05f},
                                              {0.3f, -0.1f, 0.2f, 0.6f, -0.9f}};
  const std::vector<std::vector<float>> g1 = {{0.05f, -0.3f}, {0.2f, 0.1f}, {-0.4f, 0.7f}};
  auto opt = Optimizer::Create(options, params);
  ASSERT_TRUE(opt.ok()) << opt.status();
  for (size_t t = 0; t < 3; ++t) {
    SetGrad(params[0], g0[t]);
    SetGrad(params[1], g1[t]);
    (*opt)->Step();
  }
  EXPECT_EQ((*opt)->step_count(), 3);
  ExpectValues(params[0], want0);
  ExpectValues(params[1], want1);
}

TEST(OptimizerTest, SgdMatchesTorch) {
  RunThreeSteps({.kind = OptimizerKind::kSgd, .lr = 0.1f, .weight_decay = 0.01f},
                {0.478501469f, -1.04191804f, 1.9839462f, 0.0897501931f, -0.144235834f},
                {0.215000018f, -0.449999988f});
}

TEST(OptimizerTest, SgdMomentumMatchesTorch) {
  RunThreeSteps({.kind = OptimizerKind::kSgd, .lr = 0.1f, .weight_decay = 0.01f, .momentum = 0.9f},
                {0.47811535f, -1.11305583f, 2.02813983f, 0.0536693633f, -0.0283793882f},
                {0.188450009f, -0.407700002f});
}

TEST(OptimizerTest, SgdNesterovMatchesTorch) {
  RunThreeSteps({.kind = OptimizerKind::kSgd,
                 .lr = 0.1f,
                 .weight_decay = 0.01f,
                 .momentum = 0.9f,
                 .nesterov = true},
                {0.458823144f, -1.1434859f, 2.00910974f, 0.0482840911f, 0.0998881832f},
                {0.204604998f, -0.456929982f});
}

TEST(OptimizerTest, AdamMatchesTorch) {
  RunThreeSteps({.kind = OptimizerKind::kAdam, .lr = 0.1f, .weight_decay = 0.1f},
                {0.358298659f, -1.21085012f, 2.00529623f, 0.0219582841f, -0.0553709865f},
                {0.0370467789f, -0.3054775f});
}

TEST(OptimizerTest, AdamWMatchesTorch) {
  RunThreeSteps({.kind = OptimizerKind::kAdamW,
                 .lr = 0.1f,
                 .weight_decay = 0.1f,
                 .beta1 = 0.8f,
                 .beta2 = 0.99f,
                 .eps = 1e-6f},
                {0.390228063f, -1.21749699f, 2.01739454f, 0.0276969243f, -0.0551583618f},
                {0.041422233f, -0.319302678f});
}

TEST(OptimizerTest, RejectsOutOfRangeOptions) {
  struct Case {
    OptimizerOptions options;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{.lr = 0.0f}, "optimizer.lr: 0 is outside (0, inf)"},
      {{.lr = NAN}, "optimizer.lr"},
      {{.weight_decay = -1.0f}, "optimizer.weight_decay: -1 is outside [0, inf)"},
      {{.momentum = 1.0f}, "optimizer.momentum: 1 is outside [0, 1)"},
      {{.nesterov = true}, "optimizer.nesterov: requires momentum > 0"},
      {{.kind = OptimizerKind::kAdam, .beta1 = 1.0f}, "optimizer.beta1"},
      {{.kind = OptimizerKind::kAdamW, .beta2 = -0.1f}, "optimizer.beta2"},
      {{.kind = OptimizerKind::kAdam, .eps = 0.0f}, "optimizer.eps: 0 is outside (0, inf)"},
  };
  for (const Case& c : cases) {
    absl::Status s = ValidateOptimizerOptions(c.options);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.message;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.message));
    EXPECT_FALSE(Optimizer::Create(c.options, {}).ok());
  }
  auto opt = Optimizer::Create({}, {});
  ASSERT_TRUE(opt.ok());
  EXPECT_FALSE((*opt)->SetLearningRate(-1.0f).ok());
  EXPECT_TRUE((*opt)->SetLearningRate(0.5f).ok());
  EXPECT_EQ((*opt)->learning_rate(), 0.5f);
  EXPECT_TRUE(ParseOptimizerKind("adamw").ok());
  EXPECT_THAT(std::string(ParseOptimizerKind("rmsprop").status().message()),
              HasSubstr("unknown kind 'rmsprop'"));
}

TEST(OptimizerTest, RejectsMismatchedGrad) {
  std::vector<Parameter> params = {MakeParam("w", {1, 2}, true)};
  params[0].grad = Tensor::Zeros(tensor::DType::kFloat32, Shape({3}));
  EXPECT_THAT(std::string(Optimizer::Create({}, params).status().message()),
              HasSubstr("parameter 'w'"));
}

// The SIMD kernels equal the scalar references (to rounding: FMA vs separate ops) on every
// compiled target, over sizes with awkward tails.
TEST(OptimizerKernelsTest, SimdMatchesReferenceOnEveryTarget) {
  kernels::testing::ForEachTarget([] {
    for (size_t n : {size_t{1}, size_t{7}, size_t{16}, size_t{37}, size_t{1000}}) {
      const auto g = kernels::testing::RandomVector(static_cast<int64_t>(n), 1);
      for (bool nesterov : {false, true}) {
        auto v0 = kernels::testing::RandomVector(static_cast<int64_t>(n), 2);
        auto b0 = kernels::testing::RandomVector(static_cast<int64_t>(n), 3);
        auto v1 = v0, b1 = b0;
        const SgdStepParams p{
            .lr = 0.05f, .weight_decay = 0.01f, .momentum = 0.9f, .nesterov = nesterov};
        SgdUpdate(p, n, v0.data(), g.data(), b0.data());
        SgdUpdateReference(p, n, v1.data(), g.data(), b1.data());
        kernels::testing::ExpectNear(v0, v1, 1e-6f, 1e-6f);
        kernels::testing::ExpectNear(b0, b1, 1e-6f, 1e-6f);
      }
      auto v0 = kernels::testing::RandomVector(static_cast<int64_t>(n), 4);
      auto m0 = kernels::testing::RandomVector(static_cast<int64_t>(n), 5);
      auto s0 = kernels::testing::RandomVector(static_cast<int64_t>(n), 6, 0.0f, 1.0f);
      auto v1 = v0, m1 = m0, s1 = s0;
      const AdamStepParams p{
          .step_size = 0.01f, .bias_correction2_sqrt = 0.3f, .l2 = 0.1f, .decay_factor = 0.999f};
      AdamUpdate(p, n, v0.data(), g.data(), m0.data(), s0.data());
      AdamUpdateReference(p, n, v1.data(), g.data(), m1.data(), s1.data());
      kernels::testing::ExpectNear(v0, v1, 1e-6f, 1e-5f);
      kernels::testing::ExpectNear(m0, m1, 1e-6f, 1e-5f);
      kernels::testing::ExpectNear(s0, s1, 1e-6f, 1e-5f);
    }
  });
}

// A pool splitting a large parameter gives the same bytes as one thread.
TEST(OptimizerTest, ThreadCountDoesNotChangeBytes) {
  const int64_t n = 100'003;
  std::vector<std::vector<float>> results;
  for (int threads : {1, 3}) {
    kernels::ThreadPool pool(threads);
    std::vector<Parameter> params = {MakeParam("w", kernels::testing::RandomVector(n, 7), true)};
    auto opt =
        Optimizer::Create({.kind = OptimizerKind::kAdamW, .weight_decay = 0.1f}, params, &pool);
    ASSERT_TRUE(opt.ok());
    for (int t = 0; t < 3; ++t) {
      SetGrad(params[0], kernels::testing::RandomVector(n, 8 + t));
      (*opt)->Step();
    }
    results.emplace_back(params[0].value.span<float>().begin(),
                         params[0].value.span<float>().end());
  }
  EXPECT_TRUE(kernels::testing::SameBits(results[0], results[1]));
}

}  // namespace
}  // namespace mp::train
