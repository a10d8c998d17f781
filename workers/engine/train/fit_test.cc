#include "workers/engine/train/fit.h"

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "workers/engine/train/fashion_test_util.h"
#include "workers/engine/train/init.h"

namespace mp::train {
namespace {

using testing::FashionMnist;
using ::testing::HasSubstr;

std::unique_ptr<GradGraph> FreshGraph(const std::string& fixture, uint64_t seed, int threads = 1) {
  ir::Model model = testing::FixtureModel(fixture);
  auto names = InitializeParameters(model, seed);
  MP_CHECK(names.ok()) << names.status();
  auto graph = GradGraph::Create(model, {.num_threads = threads});
  MP_CHECK(graph.ok()) << graph.status();
  return *std::move(graph);
}

std::vector<float> AllParams(GradGraph& g) {
  std::vector<float> out;
  for (const Parameter& p : g.parameters()) {
    out.insert(out.end(), p.value.span<float>().begin(), p.value.span<float>().end());
  }
  return out;
}

FitOptions SmallRun() {
  return {.epochs = 2,
          .batch_size = 32,
          .seed = 3,
          .optimizer = {.kind = OptimizerKind::kSgd, .lr = 0.05f, .momentum = 0.9f},
          .schedule = {.kind = ScheduleKind::kCosine, .warmup_steps = 4}};
}

TEST(FitTest, LearnsAndReportsProgress) {
  const data::Dataset train = FashionMnist("train", 512);
  const data::Dataset val = FashionMnist("t10k", 256);
  auto graph = FreshGraph("mlp.onnx", 1);
  auto before = Evaluate(*graph, val, SmallRun());
  ASSERT_TRUE(before.ok()) << before.status();
  std::vector<FitProgress> steps, epochs;
  auto result = Fit(*graph, train, &val, SmallRun(), [&](const FitProgress& p) {
    (p.event == FitProgress::Event::kStep ? steps : epochs).push_back(p);
    return absl::OkStatus();
  });
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->steps, 32);  // 2 epochs x 16 batches
  ASSERT_EQ(steps.size(), 32u);
  ASSERT_EQ(epochs.size(), 2u);
  EXPECT_EQ(steps.front().step, 1);
  EXPECT_EQ(steps.back().total_steps, 32);
  EXPECT_FLOAT_EQ(steps[0].lr, 0.05f / 4);  // warm-up
  EXPECT_FLOAT_EQ(steps[3].lr, 0.05f);
  EXPECT_LT(steps.back().lr, 0.001f);  // cosine to 0 at the end
  ASSERT_TRUE(epochs[1].val.has_value());
  EXPECT_EQ(epochs[1].val->samples, 256);
  EXPECT_GT(epochs[0].samples_per_second, 0);
  // 512 samples are enough to learn a lot: loss down, validation accuracy well above chance.
  EXPECT_LT(result->epochs[1].train.loss, result->epochs[0].train.loss);
  EXPECT_LT(result->epochs[1].val->loss, before->loss);
  EXPECT_GT(result->epochs[1].val->accuracy, 0.6);
}

TEST(FitTest, SameSeedSameBytesAnyThreadCount) {
  const data::Dataset train = FashionMnist("train", 128);
  std::vector<std::vector<float>> runs;
  for (int threads : {1, 2, 1}) {
    auto graph = FreshGraph("lenet.onnx", 5, threads);
    FitOptions o = SmallRun();
    o.optimizer = {.kind = OptimizerKind::kAdamW, .lr = 1e-3f, .weight_decay = 0.01f};
    o.optimizer_threads = threads;
    ASSERT_TRUE(Fit(*graph, train, nullptr, o).ok());
    runs.push_back(AllParams(*graph));
  }
  ASSERT_EQ(runs[0].size(), runs[1].size());
  EXPECT_EQ(std::memcmp(runs[0].data(), runs[1].data(), runs[0].size() * sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(runs[0].data(), runs[2].data(), runs[0].size() * sizeof(float)), 0);
  // Another data-order seed trains to different weights.
  auto graph = FreshGraph("lenet.onnx", 5);
  FitOptions o = SmallRun();
  o.optimizer = {.kind = OptimizerKind::kAdamW, .lr = 1e-3f, .weight_decay = 0.01f};
  o.seed = 4;
  ASSERT_TRUE(Fit(*graph, train, nullptr, o).ok());
  EXPECT_NE(std::memcmp(runs[0].data(), AllParams(*graph).data(), runs[0].size() * 4), 0);
}

TEST(FitTest, CallbackCancels) {
  const data::Dataset train = FashionMnist("train", 128);
  auto graph = FreshGraph("mlp.onnx", 1);
  int calls = 0;
  auto result = Fit(*graph, train, nullptr, SmallRun(), [&](const FitProgress& p) {
    return ++calls == 3 ? absl::AbortedError("user asked") : absl::OkStatus();
  });
  EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("at step 3: user asked"));
  EXPECT_EQ(calls, 3);
}

TEST(FitTest, MseOnOneHotLabelsTrains) {
  const data::Dataset train = FashionMnist("train", 256);
  auto graph = FreshGraph("mlp.onnx", 2);
  FitOptions o = SmallRun();
  o.loss = LossKind::kMseOneHot;
  auto result = Fit(*graph, train, nullptr, o);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_LT(result->epochs[1].train.loss, result->epochs[0].train.loss);
}

TEST(FitTest, RejectsBadOptionsAndData) {
  const data::Dataset train = FashionMnist("train", 64);
  auto graph = FreshGraph("mlp.onnx", 1);
  struct Case {
    FitOptions options;
    std::string message;
  };
  std::vector<Case> cases;
  cases.push_back({{.epochs = 0}, "fit.epochs: 0 must be >= 1"});
  cases.push_back({{.batch_size = 0}, "fit.batch_size: 0 must be >= 1"});
  cases.push_back({{.label_smoothing = 1.5f}, "fit.label_smoothing"});
  cases.push_back({{.optimizer = {.lr = -1.0f}}, "optimizer.lr"});
  cases.push_back({{.optimizer = {.momentum = 2.0f}}, "optimizer.momentum"});
  cases.push_back({{.schedule = {.kind = ScheduleKind::kStep, .gamma = 0.0f}}, "schedule.gamma"});
  cases.push_back({{.batch_size = 100, .drop_last = true}, "leaves no batch"});
  cases.push_back({{.input_name = "nope"}, "nope"});
  cases.push_back({{.output_index = 3}, "fit.output_index: 3"});
  for (const Case& c : cases) {
    auto r = Fit(*graph, train, nullptr, c.options);
    EXPECT_FALSE(r.ok()) << c.message;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(c.message));
  }
  auto unlabelled = data::Dataset::Make(train.samples());
  ASSERT_TRUE(unlabelled.ok());
  EXPECT_THAT(std::string(Fit(*graph, *unlabelled, nullptr, {}).status().message()),
              HasSubstr("training dataset: needs at least one sample and int64 labels"));
  // A learning rate far too high diverges: reported, not returned as a model.
  FitOptions wild = SmallRun();
  wild.optimizer = {.kind = OptimizerKind::kSgd, .lr = 1e6f};
  wild.schedule = {};
  EXPECT_THAT(std::string(Fit(*graph, train, nullptr, wild).status().message()),
              HasSubstr("lower optimizer.lr?"));
}

}  // namespace
}  // namespace mp::train
