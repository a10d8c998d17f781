#include "workers/engine/distill/distill.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/check.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "workers/engine/distill/distill_loss.h"
#include "workers/engine/exec/session.h"
#include "workers/engine/train/fashion_test_util.h"
#include "workers/engine/train/grad_test_util.h"
#include "workers/engine/train/init.h"
#include "workers/engine/train/loss.h"

namespace mp::distill {
namespace {

using tensor::Tensor;
using ::testing::HasSubstr;
using train::GradGraph;
using train::testing::FashionMnist;

ir::Model LeNet() { return train::testing::FixtureModel("lenet.onnx"); }

// LeNet with re-initialised weights (the student of a self-distillation).
ir::Model FreshLeNet(uint64_t seed) {
  ir::Model model = LeNet();
  auto names = train::InitializeParameters(model, seed);
  MP_CHECK(names.ok()) << names.status();
  return model;
}

// A two-layer linear net on Fashion-MNIST images: input [N, 1, 28, 28] -> Flatten ->
// Gemm -> 'hidden' [N, hidden] -> Gemm -> 'logits' [N, classes]; weights U(-0.1, 0.1).
ir::Model TinyModel(int64_t hidden, int64_t classes, uint32_t seed) {
  ir::Model model;
  model.opset_imports = {{"", 13}};
  ir::Graph& g = model.graph;
  const ir::ValueId x = g.AddValue(
      "input", tensor::DType::kFloat32,
      ir::PartialShape({ir::Dim{-1, "N"}, ir::Dim{1, ""}, ir::Dim{28, ""}, ir::Dim{28, ""}}));
  g.AddGraphInput(x);
  const ir::ValueId flat = g.AddValue("flat", tensor::DType::kFloat32);
  const ir::ValueId h = g.AddValue("hidden", tensor::DType::kFloat32);
  const ir::ValueId y = g.AddValue("logits", tensor::DType::kFloat32);
  const ir::ValueId w1 =
      g.AddInitializer("w1", train::testing::Random({784, hidden}, seed, -0.1f, 0.1f));
  const ir::ValueId b1 =
      g.AddInitializer("b1", train::testing::Random({hidden}, seed + 1, -0.1f, 0.1f));
  const ir::ValueId w2 =
      g.AddInitializer("w2", train::testing::Random({hidden, classes}, seed + 2, -0.1f, 0.1f));
  const ir::ValueId b2 =
      g.AddInitializer("b2", train::testing::Random({classes}, seed + 3, -0.1f, 0.1f));
  g.AddNode({.name = "flatten", .op_type = "Flatten", .inputs = {x}, .outputs = {flat}});
  g.AddNode({.name = "fc1", .op_type = "Gemm", .inputs = {flat, w1, b1}, .outputs = {h}});
  g.AddNode({.name = "fc2", .op_type = "Gemm", .inputs = {h, w2, b2}, .outputs = {y}});
  g.AddGraphOutput(y);
  return model;
}

std::unique_ptr<GradGraph> MakeGraph(const ir::Model& model,
                                     std::vector<std::string> extra_outputs = {}) {
  auto graph = GradGraph::Create(model, {.extra_outputs = std::move(extra_outputs)});
  MP_CHECK(graph.ok()) << graph.status();
  return *std::move(graph);
}

std::vector<float> AllParams(GradGraph& g) {
  std::vector<float> out;
  for (const train::Parameter& p : g.parameters()) {
    out.insert(out.end(), p.value.span<float>().begin(), p.value.span<float>().end());
  }
  return out;
}

train::FitOptions SmallRun() {
  return {.epochs = 2,
          .batch_size = 32,
          .seed = 3,
          .optimizer = {.kind = train::OptimizerKind::kSgd, .lr = 0.05f, .momentum = 0.9f},
          .schedule = {.kind = train::ScheduleKind::kCosine, .warmup_steps = 4}};
}

// (a) The combined loss (KL + CE + feature MSE) differentiated through a tiny model by
// GradGraph::Backward with ComputeCombinedLoss's output gradients, against central finite
// differences of the loss in every parameter.
TEST(DistillLossTest, GradientMatchesFiniteDifferences) {
  const data::Dataset ds = FashionMnist("train", 6);
  const Tensor x = ds.samples();
  const Tensor labels = ds.labels();
  auto teacher = exec::Session::Create(TinyModel(8, 10, 100));
  ASSERT_TRUE(teacher.ok()) << teacher.status();
  auto t_outs = (*teacher)->Run({{"input", x}}, {.extra_outputs = {"hidden"}});
  ASSERT_TRUE(t_outs.ok()) << t_outs.status();
  const Tensor t_logits = (*t_outs)[0].second;
  const Tensor t_hidden = (*t_outs)[1].second;
  auto student = MakeGraph(TinyModel(8, 10, 7), {"hidden"});
  const float alpha = 0.3f, temperature = 2.0f;

  auto loss_at = [&](bool backward) -> double {
    auto outs = student->Forward({{"input", x}}, train::Mode::kTrain);
    MP_CHECK(outs.ok()) << outs.status();
    std::vector<FeatureTerm> features = {
        {.student = (*outs)[1].second, .teacher = t_hidden, .weight = 0.5f}};
    auto loss = ComputeCombinedLoss((*outs)[0].second, t_logits, labels, alpha, temperature, 0.1f,
                                    features);
    MP_CHECK(loss.ok()) << loss.status();
    const LossParts& p = loss->parts;
    EXPECT_NEAR(p.total, alpha * p.kl + (1 - alpha) * p.ce + p.feature, 1e-6 * std::fabs(p.total));
    EXPECT_GT(p.kl, 0);
    EXPECT_GT(p.feature, 0);
    if (backward) {
      std::vector<Tensor> grads = {loss->logits_grad, loss->feature_grads[0]};
      MP_CHECK(student->Backward(grads).ok());
    }
    return p.total;
  };
  student->ZeroGrad();
  loss_at(true);
  int checked = 0;
  for (train::Parameter& p : student->parameters()) {
    float* v = p.value.mutable_data<float>();
    const float* g = p.grad.data<float>();
    const int64_t n = p.value.num_elements();
    const int64_t stride = std::max<int64_t>(1, n / 24);
    for (int64_t i = 0; i < n; i += stride) {
      const float saved = v[i];
      const float h = 1e-2f;
      v[i] = saved + h;
      const double up = loss_at(false);
      v[i] = saved - h;
      const double down = loss_at(false);
      v[i] = saved;
      const double fd = (up - down) / (2.0 * h);
      EXPECT_NEAR(g[i], fd, 2e-3 + 2e-2 * std::fabs(fd)) << "element " << i;
      ++checked;
    }
  }
  EXPECT_GT(checked, 60);
}

TEST(DistillLossTest, ZeroWeightsGiveExactlyTheOtherTerm) {
  const Tensor s = train::testing::Random({4, 6}, 1, -3.0f, 3.0f);
  const Tensor t = train::testing::Random({4, 6}, 2, -3.0f, 3.0f);
  const Tensor y = Tensor::FromVector<int64_t>(tensor::Shape{4}, {0, 5, 2, 3});
  auto ce = train::SoftmaxCrossEntropy(s, y);
  auto kl = train::KlDivergence(s, t, 3.0f);
  auto only_ce = ComputeCombinedLoss(s, t, y, 0.0f, 3.0f, 0.0f, {});
  auto only_kl = ComputeCombinedLoss(s, t, y, 1.0f, 3.0f, 0.0f, {});
  ASSERT_TRUE(ce.ok() && kl.ok() && only_ce.ok() && only_kl.ok());
  EXPECT_EQ(only_ce->parts.total, ce->loss);
  EXPECT_EQ(only_kl->parts.total, kl->loss);
  EXPECT_EQ(only_ce->parts.kl, kl->loss);  // reported even when not weighted
  EXPECT_EQ(0, std::memcmp(only_ce->logits_grad.raw_data(), ce->grad.raw_data(), 24 * 4));
  EXPECT_EQ(0, std::memcmp(only_kl->logits_grad.raw_data(), kl->grad.raw_data(), 24 * 4));
}

// (b) A re-initialised LeNet learns from the PyTorch-trained LeNet on a few thousand images.
TEST(DistillTest, ReinitialisedStudentLearnsFromTeacher) {
  const data::Dataset train = FashionMnist("train", 6000);
  const data::Dataset val = FashionMnist("t10k", 1000);
  auto student = MakeGraph(FreshLeNet(11));
  DistillOptions options{.alpha = 0.7f,
                         .temperature = 4.0f,
                         .fit = {.epochs = 1,
                                 .batch_size = 32,
                                 .seed = 5,
                                 .optimizer = {.kind = train::OptimizerKind::kAdam, .lr = 2e-3f}}};
  auto before = train::Evaluate(*student, val, options.fit);
  ASSERT_TRUE(before.ok()) << before.status();
  std::vector<double> step_kl;
  int epochs_seen = 0;
  auto result = Distill(*student, LeNet(), train, &val, options, [&](const DistillProgress& p) {
    if (p.event == train::FitProgress::Event::kStep) {
      step_kl.push_back(p.loss.kl);
    } else {
      ++epochs_seen;
    }
    return absl::OkStatus();
  });
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->epochs.size(), 1u);
  ASSERT_EQ(epochs_seen, 1);
  ASSERT_EQ(step_kl.size(), 188u);  // ceil(6000 / 32)
  const DistillEpochRecord& e = result->epochs[0];
  ASSERT_TRUE(e.val.has_value());
  std::printf("student accuracy %.4f -> %.4f; KL first steps %.3f, epoch mean %.3f\n",
              before->accuracy, e.val->accuracy, step_kl[0], e.train.kl);
  EXPECT_GT(e.val->accuracy, before->accuracy + 0.5);
  double first = 0, last = 0;
  for (int i = 0; i < 5; ++i) {
    first += step_kl[static_cast<size_t>(i)];
    last += step_kl[step_kl.size() - 1 - static_cast<size_t>(i)];
  }
  EXPECT_LT(last, 0.5 * first);
  EXPECT_NEAR(e.train.total, 0.7 * e.train.kl + 0.3 * e.train.ce, 1e-9 + 1e-6 * e.train.total);
  EXPECT_EQ(e.train.feature, 0.0);
  EXPECT_EQ(e.samples, 6000);
  EXPECT_GT(e.samples_per_second, 0);
}

// (c) alpha = 0 is plain cross-entropy training: the same bytes as train::Fit.
TEST(DistillTest, AlphaZeroMatchesFitBitForBit) {
  const data::Dataset train = FashionMnist("train", 256);
  const data::Dataset val = FashionMnist("t10k", 64);
  const ir::Model init = FreshLeNet(5);
  auto fit_graph = MakeGraph(init);
  auto distill_graph = MakeGraph(init);
  DistillOptions options{.alpha = 0.0f, .temperature = 4.0f, .fit = SmallRun()};
  auto fit = train::Fit(*fit_graph, train, &val, options.fit);
  ASSERT_TRUE(fit.ok()) << fit.status();
  auto distilled = Distill(*distill_graph, LeNet(), train, &val, options);
  ASSERT_TRUE(distilled.ok()) << distilled.status();
  const std::vector<float> a = AllParams(*fit_graph), b = AllParams(*distill_graph);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
  ASSERT_EQ(fit->epochs.size(), distilled->epochs.size());
  EXPECT_EQ(fit->steps, distilled->steps);
  for (size_t i = 0; i < fit->epochs.size(); ++i) {
    EXPECT_EQ(fit->epochs[i].train.loss, distilled->epochs[i].train.total);
    EXPECT_EQ(fit->epochs[i].train.loss, distilled->epochs[i].train.ce);
    EXPECT_EQ(fit->epochs[i].train.accuracy, distilled->epochs[i].accuracy);
    EXPECT_EQ(fit->epochs[i].val->loss, distilled->epochs[i].val->loss);
    EXPECT_GT(distilled->epochs[i].train.kl, 0);
  }
}

// Same seed, same options: the same parameter bytes (with feature pairs and KL).
TEST(DistillTest, DeterministicWithFeaturePairs) {
  const data::Dataset train = FashionMnist("train", 128);
  DistillOptions options{
      .alpha = 0.5f,
      .temperature = 2.0f,
      .fit = {.epochs = 1, .batch_size = 16, .seed = 9},
      .features = {{.teacher_value = "hidden", .student_value = "hidden", .weight = 0.25f}}};
  const ir::Model teacher = TinyModel(8, 10, 50);
  std::vector<std::vector<float>> runs;
  for (int r = 0; r < 2; ++r) {
    auto student = MakeGraph(TinyModel(8, 10, 3), {"hidden"});
    auto result = Distill(*student, teacher, train, nullptr, options);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_GT(result->epochs[0].train.feature, 0);
    runs.push_back(AllParams(*student));
  }
  EXPECT_EQ(0, std::memcmp(runs[0].data(), runs[1].data(), runs[0].size() * sizeof(float)));
}

// (d) Bad input: clear INVALID_ARGUMENT errors before any training.
TEST(DistillTest, RejectsBadInput) {
  const data::Dataset train = FashionMnist("train", 64);
  const ir::Model teacher = LeNet();
  auto check = [&](GradGraph& student, const ir::Model& t, const DistillOptions& o,
                   const std::string& expected) {
    const std::vector<float> before = AllParams(student);
    auto r = Distill(student, t, train, nullptr, o);
    ASSERT_FALSE(r.ok()) << expected;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(expected));
    EXPECT_EQ(before, AllParams(student)) << "trained despite the error";
  };
  auto five = MakeGraph(TinyModel(8, 5, 1));
  check(*five, teacher, {},
        "teacher output 'logits' is [B, 10], student output 'logits' is [B, 5]");
  auto lenet = MakeGraph(FreshLeNet(1));
  check(*lenet, teacher, {.alpha = 1.5f}, "alpha: 1.5 is outside [0, 1]");
  check(*lenet, teacher, {.alpha = -0.1f}, "alpha: -0.1");
  check(*lenet, teacher, {.temperature = 0.0f}, "temperature: 0 must be finite and > 0");
  check(*lenet, teacher, {.temperature = NAN}, "temperature: nan");
  check(*lenet, teacher, {.fit = {.batch_size = 0}}, "fit.batch_size: 0");
  check(*lenet, teacher, {.fit = {.loss = train::LossKind::kMseOneHot}}, "fit.loss");
  check(*lenet, teacher, {.teacher_output_index = 3}, "teacher_output_index: 3");
  check(*lenet, teacher, {.features = {{.teacher_value = "x", .student_value = "y", .weight = -1}}},
        "features[0].weight: -1");

  const ir::Model tiny_teacher = TinyModel(8, 10, 2);
  auto tiny = MakeGraph(TinyModel(8, 10, 1), {"hidden"});
  check(*tiny, tiny_teacher,
        {.features = {{.teacher_value = "hidden", .student_value = "missing"}}},
        "feature pair 0: student value 'missing' is not an output of the student GradGraph");
  check(*tiny, tiny_teacher,
        {.features = {{.teacher_value = "missing", .student_value = "hidden"}}},
        "feature pair 0: teacher value 'missing' is not in the teacher model");
  auto narrow = MakeGraph(TinyModel(4, 10, 1), {"hidden"});
  check(*narrow, tiny_teacher,
        {.features = {{.teacher_value = "hidden", .student_value = "hidden"}}},
        "feature pair 0: teacher value 'hidden' is [B, 8], student value 'hidden' is [B, 4]");

  auto unlabelled = data::Dataset::Make(train.samples());
  ASSERT_TRUE(unlabelled.ok());
  auto r = Distill(*lenet, teacher, *unlabelled, nullptr, {});
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("training dataset"));
}

}  // namespace
}  // namespace mp::distill
