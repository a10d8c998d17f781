#include "workers/engine/pipeline/prune.h"

#include <cstdint>
#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "workers/engine/exec/session.h"
#include "workers/engine/onnx/onnx.h"
#include "workers/engine/prune/prune.h"
#include "workers/engine/train/fashion_test_util.h"

namespace mp::pipeline {
namespace {

using ::testing::HasSubstr;
using train::testing::FashionMnist;
using train::testing::FixtureModel;

// Float32 initializers by name.
std::map<std::string, tensor::Tensor> Weights(const ir::Model& model) {
  std::map<std::string, tensor::Tensor> out;
  for (const ir::Value& v : model.graph.values()) {
    if (v.is_constant() && v.initializer().dtype() == tensor::DType::kFloat32) {
      out[v.name()] = v.initializer();
    }
  }
  return out;
}

TEST(PruneRecipeTest, MasksStayExactlyZeroAfterFinetuneAndDistill) {
  const ir::Model lenet = FixtureModel("lenet.onnx");
  const data::Dataset train = FashionMnist("train", 1000);
  for (const char* method : {"magnitude", "nm"}) {
    for (const char* recover : {"finetune", "distill"}) {
      SCOPED_TRACE(std::string(method) + " " + recover);
      PruneRecipeOptions o{.method = method, .sparsity = 0.5, .epochs = 1, .lr = 1e-2f};
      auto pruned_only = RunPrune(lenet, o, nullptr, nullptr);
      ASSERT_TRUE(pruned_only.ok()) << pruned_only.status();
      o.recover = recover;
      auto r = RunPrune(lenet, o, &train, nullptr);
      ASSERT_TRUE(r.ok()) << r.status();
      const auto before = Weights(pruned_only->model);
      const auto after = Weights(r->model);
      int64_t zeros = 0, changed = 0;
      for (const auto& [name, w0] : before) {
        ASSERT_TRUE(after.count(name)) << name;
        const tensor::Tensor& w1 = after.at(name);
        ASSERT_EQ(w0.shape(), w1.shape()) << name;
        for (int64_t i = 0; i < w0.num_elements(); ++i) {
          const float a = w0.data<float>()[i], b = w1.data<float>()[i];
          if (a == 0.0f) {
            ++zeros;
            ASSERT_EQ(b, 0.0f) << name << "[" << i << "]";
          } else if (a != b) {
            ++changed;
          }
        }
      }
      EXPECT_GT(zeros, 20000);   // half of lenet's ~61k weights
      EXPECT_GT(changed, 1000);  // training did move the kept weights
      EXPECT_NEAR(r->after.sparsity, pruned_only->after.sparsity, 1e-12);
      EXPECT_EQ(r->curve.size(), 1u);
    }
  }
}

TEST(PruneRecipeTest, FinetuneRecoversAccuracyAfterMagnitudePruning) {
  const ir::Model lenet = FixtureModel("lenet.onnx");
  const data::Dataset train = FashionMnist("train", 4000);
  const data::Dataset test = FashionMnist("t10k", 2000);
  PruneRecipeOptions o{.method = "magnitude",
                       .sparsity = 0.5,
                       .recover = "finetune",
                       .epochs = 2,
                       .lr = 2e-3f,
                       .seed = 3,
                       .threads = 2,
                       .latency_iterations = 2};
  auto r = RunPrune(lenet, o, &train, &test);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->before.accuracy.has_value() && r->after.accuracy.has_value());
  ASSERT_TRUE(r->pruned_accuracy.has_value());
  EXPECT_NEAR(r->after.sparsity, 0.5, 0.01);
  EXPECT_EQ(r->before.sparsity, 0.0);
  // Recovery makes up what pruning lost, to within a point of the dense model.
  EXPECT_GE(*r->after.accuracy, *r->pruned_accuracy);
  EXPECT_GE(*r->after.accuracy, *r->before.accuracy - 0.01);
  EXPECT_EQ(r->after.eval_samples, 2000);
  EXPECT_TRUE(r->after.latency_ms.has_value());
  ASSERT_EQ(r->curve.size(), 2u);
  EXPECT_TRUE(r->curve[1].eval_accuracy.has_value());
  EXPECT_EQ(r->report["curve"].size(), 2u);
  EXPECT_EQ(r->report["options"]["recover"], "finetune");
  EXPECT_TRUE(r->report["before"]["accuracy"].is_number());
  // Deterministic for a seed (timings aside).
  auto again = RunPrune(lenet, o, &train, &test);
  ASSERT_TRUE(again.ok());
  const auto w1 = Weights(r->model), w2 = Weights(again->model);
  for (const auto& [name, t] : w1) {
    const tensor::Tensor& u = w2.at(name);
    for (int64_t i = 0; i < t.num_elements(); ++i) {
      ASSERT_EQ(t.data<float>()[i], u.data<float>()[i]) << name << "[" << i << "]";
    }
  }
}

TEST(PruneRecipeTest, StructuredDistillShrinksAndExportedModelRuns) {
  const ir::Model lenet = FixtureModel("lenet.onnx");
  const data::Dataset train = FashionMnist("train", 2000);
  const data::Dataset test = FashionMnist("t10k", 1000);
  PruneRecipeOptions o{.method = "structured",
                       .sparsity = 0.5,
                       .recover = "distill",
                       .epochs = 1,
                       .lr = 2e-3f,
                       .alpha = 0.7f,
                       .temperature = 4.0f,
                       .latency_iterations = 0};
  auto r = RunPrune(lenet, o, &train, &test);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_LT(r->after.macs, r->before.macs * 6 / 10);
  EXPECT_LT(r->after.parameter_bytes, r->before.parameter_bytes * 6 / 10);
  EXPECT_FALSE(r->after.latency_ms.has_value());
  ASSERT_TRUE(r->after.accuracy.has_value());
  EXPECT_GT(*r->after.accuracy, 0.7);
  // The exported ONNX round-trips and runs.
  auto bytes = onnx::ExportModel(r->model);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  auto model = onnx::ImportModel(*bytes);
  ASSERT_TRUE(model.ok()) << model.status();
  auto session = exec::Session::Create(*model);
  ASSERT_TRUE(session.ok()) << session.status();
  auto out = (*session)->Run({{"input", test.Slice(0, 8).inputs}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].second.shape(), (tensor::Shape{8, 10}));
}

TEST(PruneRecipeTest, BadOptionsAndDataAreClearErrors) {
  const ir::Model lenet = FixtureModel("lenet.onnx");
  const data::Dataset train = FashionMnist("train", 16);
  auto run = [&](PruneRecipeOptions o, const data::Dataset* t) {
    return RunPrune(lenet, o, t, nullptr).status();
  };
  auto s = run({.recover = "finetune"}, nullptr);
  EXPECT_THAT(std::string(s.message()), HasSubstr("needs labelled training data"));
  s = run({.recover = "finetune", .epochs = 0}, &train);
  EXPECT_THAT(std::string(s.message()), HasSubstr("epochs: 0"));
  s = run({.recover = "distill", .lr = -1}, &train);
  EXPECT_THAT(std::string(s.message()), HasSubstr("lr: -1"));
  s = run({.recover = "retrain"}, &train);
  EXPECT_THAT(std::string(s.message()), HasSubstr("recover 'retrain'"));
  s = run({.recover = "finetune", .optimizer = "rmsprop"}, &train);
  EXPECT_THAT(std::string(s.message()), HasSubstr("optimizer 'rmsprop'"));
  s = run({.recover = "distill", .alpha = 2}, &train);
  EXPECT_THAT(std::string(s.message()), HasSubstr("alpha: 2"));
  s = run({.recover = "distill", .temperature = 0}, &train);
  EXPECT_THAT(std::string(s.message()), HasSubstr("temperature: 0"));
  s = run({.method = "magnitude", .sparsity = 1.0}, nullptr);
  EXPECT_THAT(std::string(s.message()), HasSubstr("sparsity: 1"));
  // Epochs etc. do not matter without recovery.
  EXPECT_TRUE(run({.method = "magnitude", .epochs = 0}, nullptr).ok());
}

}  // namespace
}  // namespace mp::pipeline
