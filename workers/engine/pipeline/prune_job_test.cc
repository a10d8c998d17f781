// Tests of the prune recipe's AGP schedule, its progress/cancellation, and RunPruneJob.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "workers/engine/exec/session.h"
#include "workers/engine/onnx/onnx.h"
#include "workers/engine/pipeline/prune.h"
#include "workers/engine/pipeline/recipe_test_context.h"
#include "workers/engine/prune/prune.h"
#include "workers/engine/train/fashion_test_util.h"

namespace mp::pipeline {
namespace {

namespace fs = std::filesystem;
using ::testing::Contains;
using ::testing::HasSubstr;
using testing::RecordingContext;
using train::testing::FashionMnist;
using train::testing::FixtureModel;
using train::testing::SourceDir;

// Zeros per prunable layer.
std::map<std::string, int64_t> LayerZeros(const ir::Model& model) {
  auto stats = prune::ComputeStats(model);
  EXPECT_TRUE(stats.ok()) << stats.status();
  std::map<std::string, int64_t> out;
  for (const prune::LayerStats& l : stats->layers) out[l.layer] = l.zeros;
  return out;
}

TEST(PruneAgpTest, MagnitudeReachesTheOneShotSparsityWithMasksHeld) {
  const ir::Model lenet = FixtureModel("lenet.onnx");
  const data::Dataset train = FashionMnist("train", 600);
  const data::Dataset test = FashionMnist("t10k", 200);
  PruneRecipeOptions o{.method = "magnitude",
                       .sparsity = 0.8,
                       .schedule = "agp",
                       .prune_steps = 3,
                       .recover = "finetune",
                       .epochs = 3,
                       .batch_size = 32,
                       .lr = 2e-3f,
                       .latency_iterations = 0};
  std::vector<ProgressUpdate> updates;
  auto r = RunPrune(lenet, o, &train, &test, [&](const ProgressUpdate& u) {
    if (!updates.empty()) {
      EXPECT_GE(u.fraction, updates.back().fraction) << u.step;
    }
    updates.push_back(u);
    return absl::OkStatus();
  });
  ASSERT_TRUE(r.ok()) << r.status();
  // Steps: increasing targets along the AGP curve, the last exactly the final sparsity.
  ASSERT_EQ(r->steps.size(), 3u);
  for (int t = 0; t < 3; ++t) {
    SCOPED_TRACE(t);
    EXPECT_EQ(r->steps[t].epochs, 1);
    ASSERT_TRUE(r->steps[t].pruned_accuracy.has_value());
    ASSERT_TRUE(r->steps[t].recovered_accuracy.has_value());
    if (t > 0) {
      EXPECT_GT(r->steps[t].target, r->steps[t - 1].target);
      EXPECT_GT(r->steps[t].sparsity, r->steps[t - 1].sparsity);
    }
  }
  EXPECT_NEAR(r->steps[0].target, 0.8 * (1.0 - 1.0 / 27.0 * 8.0), 1e-12);  // 1 - (2/3)^3
  EXPECT_DOUBLE_EQ(r->steps[2].target, 0.8);
  // The final masks prune exactly what one-shot pruning prunes per layer, and training kept
  // them (every pruned weight is still exactly zero after the last recovery).
  PruneRecipeOptions oneshot{.method = "magnitude", .sparsity = 0.8, .latency_iterations = 0};
  auto one = RunPrune(lenet, oneshot, nullptr, nullptr);
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(LayerZeros(r->model), LayerZeros(one->model));
  EXPECT_NEAR(r->after.sparsity, one->after.sparsity, 1e-12);
  EXPECT_NEAR(r->steps[2].sparsity, 0.8, 0.01);
  // Accuracy after AGP is reported, and recovery did something on this small run.
  ASSERT_TRUE(r->after.accuracy.has_value());
  ASSERT_TRUE(r->before.accuracy.has_value());
  EXPECT_GT(*r->after.accuracy, 0.5);
  ASSERT_EQ(r->curve.size(), 3u);
  for (int e = 0; e < 3; ++e) {
    EXPECT_EQ(r->curve[e].step, e);
    EXPECT_EQ(r->curve[e].epoch, e);
  }
  EXPECT_EQ(r->report["steps"].size(), 3u);
  EXPECT_EQ(r->report["options"]["schedule"], "agp");
  // Progress: every phase reported, ending at 1.
  std::vector<std::string> steps;
  for (const ProgressUpdate& u : updates) steps.push_back(u.step);
  EXPECT_THAT(steps, Contains("prune 1/3"));
  EXPECT_THAT(steps, Contains("recover 3/3"));
  EXPECT_THAT(steps, Contains("evaluate pruned"));
  ASSERT_FALSE(updates.empty());
  EXPECT_DOUBLE_EQ(updates.back().fraction, 1.0);
}

TEST(PruneAgpTest, NmGrowsMagnitudeMasksIntoNm) {
  const ir::Model lenet = FixtureModel("lenet.onnx");
  const data::Dataset train = FashionMnist("train", 256);
  PruneRecipeOptions o{.method = "nm",
                       .schedule = "agp",
                       .prune_steps = 2,
                       .recover = "finetune",
                       .epochs = 2,
                       .latency_iterations = 0};
  auto r = RunPrune(lenet, o, &train, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->steps.size(), 2u);
  EXPECT_LT(r->steps[0].sparsity, r->steps[1].sparsity);
  EXPECT_GE(r->steps[1].sparsity, 0.5);
  auto layers = prune::FindPrunableLayers(r->model.graph);
  ASSERT_TRUE(layers.ok()) << layers.status();
  int checked = 0;
  for (const nlohmann::json& l : r->report["pruning"]["layers"]) {
    if (!l["skipped"].get<std::string>().empty()) continue;
    auto layer = prune::FindLayer(*layers, l["layer"].get<std::string>());
    ASSERT_TRUE(layer.ok()) << layer.status();
    const ir::Node& node = r->model.graph.node((*layer)->node);
    const int64_t trans_b = node.GetInt("transB", 0).value_or(0);
    const tensor::Tensor& w = r->model.graph.value((*layer)->weight).initializer();
    EXPECT_TRUE(prune::SatisfiesNm(w, (*layer)->op_type, trans_b != 0, 2, 4)) << l["layer"];
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

TEST(PruneAgpTest, StructuredShrinksStepByStepWithDistillation) {
  const ir::Model lenet = FixtureModel("lenet.onnx");
  const data::Dataset train = FashionMnist("train", 256);
  const data::Dataset test = FashionMnist("t10k", 100);
  PruneRecipeOptions o{.method = "structured",
                       .sparsity = 0.5,
                       .schedule = "agp",
                       .prune_steps = 2,
                       .recover = "distill",
                       .epochs = 2,
                       .latency_iterations = 0};
  auto r = RunPrune(lenet, o, &train, &test);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->steps.size(), 2u);
  EXPECT_GT(r->steps[0].sparsity, 0.0);
  EXPECT_LT(r->steps[0].sparsity, r->steps[1].sparsity);
  EXPECT_NEAR(r->steps[1].sparsity, 0.5, 0.1);
  EXPECT_LT(r->after.macs, r->before.macs);
  EXPECT_LT(r->after.parameters, r->before.parameters);
  ASSERT_TRUE(r->after.accuracy.has_value());
  auto session = exec::Session::Create(r->model);
  ASSERT_TRUE(session.ok()) << session.status();
}

TEST(PruneAgpTest, ProgressStatusStopsTheRun) {
  const ir::Model lenet = FixtureModel("lenet.onnx");
  const data::Dataset train = FashionMnist("train", 128);
  PruneRecipeOptions o{.method = "magnitude", .recover = "finetune", .epochs = 2};
  auto cancel = RunPrune(lenet, o, &train, nullptr, [](const ProgressUpdate& u) {
    return u.step == "recover" ? absl::CancelledError("stop") : absl::OkStatus();
  });
  EXPECT_EQ(cancel.status().code(), absl::StatusCode::kCancelled);
  // Inside training (after the phase started), the callback's own status comes back.
  int calls = 0;
  auto failed = RunPrune(lenet, o, &train, nullptr, [&](const ProgressUpdate& u) {
    if (u.step == "recover" && ++calls == 2) return absl::InternalError("runner gone");
    return absl::OkStatus();
  });
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kInternal) << failed.status();
  EXPECT_THAT(std::string(failed.status().message()), HasSubstr("runner gone"));
}

TEST(PruneAgpTest, ScheduleOptionsAreValidated) {
  PruneRecipeOptions o{.schedule = "cyclic"};
  EXPECT_THAT(std::string(ValidatePruneRecipeOptions(o).message()), HasSubstr("schedule 'cyclic'"));
  o = {.schedule = "agp", .prune_steps = 0, .recover = "finetune"};
  EXPECT_THAT(std::string(ValidatePruneRecipeOptions(o).message()), HasSubstr("prune-steps: 0"));
  o = {.schedule = "agp"};
  EXPECT_THAT(std::string(ValidatePruneRecipeOptions(o).message()),
              HasSubstr("needs recovery between its steps"));
}

PruneJobOptions SmallJob() {
  const std::string data = SourceDir() + "/tests/fixtures/data/";
  return {.model = SourceDir() + "/tests/fixtures/models/lenet.onnx",
          .data = data + "images_u8_64.npy",
          .labels = data + "labels_64.npy",
          .holdout = 0.25,
          .recipe = {.method = "magnitude", .recover = "finetune", .epochs = 1}};
}

TEST(PruneJobTest, WritesArtifactsAndMetrics) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create("mp-prune-job-").ok());
  RecordingContext ctx(dir.path());
  auto r = RunPruneJob(SmallJob(), ctx);
  ASSERT_TRUE(r.ok()) << r.status();
  std::map<std::string, double> metrics;
  for (const Metric& m : r->metrics) metrics[m.name] = m.value;
  for (const char* name :
       {"accuracy_before", "accuracy_after", "pruned_accuracy", "macs_before", "macs_after",
        "parameter_bytes_before", "parameter_bytes_after", "model_bytes", "sparsity",
        "latency_ms_batch1_before", "latency_ms_batch1_after"}) {
    EXPECT_TRUE(metrics.count(name)) << name;
  }
  EXPECT_NEAR(metrics["sparsity"], 0.5, 0.01);
  std::map<std::string, fs::path> artifacts;
  for (const Artifact& a : r->artifacts) artifacts[a.name] = a.path;
  ASSERT_TRUE(artifacts.count("model") && artifacts.count("report"));
  EXPECT_EQ(double(fs::file_size(artifacts["model"])), metrics["model_bytes"]);
  auto model = onnx::ImportModelFile(artifacts["model"].string());
  ASSERT_TRUE(model.ok()) << model.status();
  auto report = nlohmann::json::parse(*ReadFile(artifacts["report"].string()));
  EXPECT_EQ(report["metrics"]["sparsity"], metrics["sparsity"]);
  EXPECT_EQ(int64_t(report["after"]["eval_samples"]), 16);
  // File names only: the service runs the job on temporary copies.
  EXPECT_EQ(report["model"].get<std::string>().find('/'), std::string::npos);
  // Progress: loss/accuracy per epoch, ending at 1.
  bool epoch_metrics = false;
  for (const ProgressUpdate& u : ctx.updates) {
    for (const Metric& m : u.metrics) epoch_metrics |= m.name == "samples_per_second";
  }
  EXPECT_TRUE(epoch_metrics);
  EXPECT_DOUBLE_EQ(ctx.last_fraction(), 1.0);
}

TEST(PruneJobTest, CancelledJobWritesNothing) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create("mp-prune-job-").ok());
  RecordingContext ctx(dir.path(), -1, "recover");
  auto r = RunPruneJob(SmallJob(), ctx);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled) << r.status();
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST(PruneJobTest, BadInputIsAClearError) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create("mp-prune-job-").ok());
  RecordingContext ctx(dir.path());
  PruneJobOptions o = SmallJob();
  o.model = "/nonexistent/m.onnx";
  EXPECT_THAT(std::string(RunPruneJob(o, ctx).status().message()),
              HasSubstr("/nonexistent/m.onnx"));
  o = SmallJob();
  o.data = o.labels = "";
  auto s = RunPruneJob(o, ctx).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("needs training data"));
  o = SmallJob();
  o.recipe.sparsity = 2;
  EXPECT_THAT(std::string(RunPruneJob(o, ctx).status().message()), HasSubstr("sparsity: 2"));
  o = SmallJob();
  o.labels = SourceDir() + "/tests/fixtures/data/images_u8_64.npy";
  EXPECT_FALSE(RunPruneJob(o, ctx).ok());
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

}  // namespace
}  // namespace mp::pipeline
