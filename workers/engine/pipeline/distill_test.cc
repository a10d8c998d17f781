// The distill recipe on the LeNet fixture with small Fashion-MNIST slices: every student
// source, the report, the baseline, determinism, cancellation and bad input.
#include "workers/engine/pipeline/distill.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "workers/engine/exec/session.h"
#include "workers/engine/ir/test_util.h"
#include "workers/engine/onnx/onnx.h"

namespace mp::pipeline {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

std::string Root() {
  const char* root = std::getenv("MP_SOURCE_DIR");
  return root != nullptr ? root : ".";
}
std::string Model(const std::string& name) { return Root() + "/tests/fixtures/models/" + name; }
const char kFashion[] = "/usr/share/datasets/fashion-mnist/";

class TestContext final : public JobContext {
 public:
  // Cancelled once `cancel_after` updates of step `cancel_step` have been reported.
  TestContext(fs::path dir, int threads, std::string cancel_step = "", int cancel_after = 0)
      : dir_(std::move(dir)),
        threads_(threads),
        cancel_step_(std::move(cancel_step)),
        cancel_after_(cancel_after) {}
  absl::Status Report(const ProgressUpdate& u) override {
    EXPECT_GE(u.fraction, last_fraction_) << u.step;
    EXPECT_LE(u.fraction, 1.0);
    last_fraction_ = u.fraction;
    updates.push_back(u);
    if (!cancel_step_.empty() && u.step == cancel_step_ && ++seen_ >= cancel_after_) {
      cancelled_ = true;
    }
    return cancelled_ ? absl::CancelledError("cancelled by the test") : absl::OkStatus();
  }
  bool cancelled() const override { return cancelled_; }
  const fs::path& work_dir() const override { return dir_; }
  int num_threads() const override { return threads_; }
  Clock* clock() const override { return SystemClock::Get(); }

  std::vector<ProgressUpdate> updates;

 private:
  fs::path dir_;
  int threads_;
  std::string cancel_step_;
  int cancel_after_;
  int seen_ = 0;
  bool cancelled_ = false;
  double last_fraction_ = 0;
};

// LeNet teacher, 400 training rows of which 100 are held out, one epoch.
DistillJobOptions Small(const std::string& source) {
  DistillJobOptions o;
  o.teacher = Model("lenet.onnx");
  o.data = std::string(kFashion) + "train-images-idx3-ubyte.gz";
  o.labels = std::string(kFashion) + "train-labels-idx1-ubyte.gz";
  o.limit = 400;
  o.holdout = 0.25;
  o.recipe.student = source;
  o.recipe.width = 0.5;
  o.recipe.epochs = 1;
  o.recipe.batch_size = 32;
  o.recipe.lr = 3e-3f;
  o.recipe.latency_iterations = 2;
  o.recipe.seed = 7;
  return o;
}

std::map<std::string, double> Metrics(const JobResult& r) {
  std::map<std::string, double> out;
  for (const Metric& m : r.metrics) out[m.name] = m.value;
  return out;
}

fs::path ArtifactPath(const JobResult& r, const std::string& name) {
  for (const pipeline::Artifact& a : r.artifacts) {
    if (a.name == name) return a.path;
  }
  ADD_FAILURE() << "no artifact " << name;
  return {};
}

json ReadReport(const JobResult& r) {
  auto text = ReadFile(ArtifactPath(r, "report").string());
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? json::parse(*text) : json();
}

// The exported student runs and gives [B, 10] logits.
void ExpectRunnable(const fs::path& path) {
  auto model = onnx::ImportModelFile(path.string());
  ASSERT_TRUE(model.ok()) << model.status();
  auto session = exec::Session::Create(*model);
  ASSERT_TRUE(session.ok()) << session.status();
  tensor::Tensor x = tensor::Tensor::Zeros(tensor::DType::kFloat32, tensor::Shape({3, 1, 28, 28}));
  std::fill_n(x.mutable_data<float>(), x.num_elements(), 0.5f);
  auto out = (*session)->Run({{"input", x}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].second.shape(), tensor::Shape({3, 10}));
}

TEST(DistillRecipeTest, WidthFromScratchWithBaselineReportsEverything) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create("mp-distill-").ok());
  TestContext ctx(dir.path(), 2);
  DistillJobOptions o = Small("width");
  o.recipe.baseline = true;
  o.recipe.epochs = 2;
  o.limit = 2000;
  o.holdout = 0.1;
  auto r = RunDistillJob(o, ctx);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_DOUBLE_EQ(ctx.updates.back().fraction, 1.0);  // the last update says done
  const auto m = Metrics(*r);
  for (const char* name :
       {"teacher_accuracy", "student_accuracy_before", "student_accuracy_after",
        "baseline_accuracy", "distill_gain", "model_bytes", "teacher_model_bytes",
        "student_parameters", "teacher_parameters", "student_macs", "teacher_macs",
        "latency_ms_batch1", "teacher_latency_ms_batch1", "train_samples", "eval_samples"}) {
    EXPECT_TRUE(m.count(name)) << name;
  }
  EXPECT_EQ(m.at("train_samples"), 1800);
  EXPECT_EQ(m.at("eval_samples"), 200);
  EXPECT_GT(m.at("teacher_accuracy"), 0.7);
  // From scratch: near chance before, clearly learning after two short epochs (112 steps).
  EXPECT_GT(m.at("student_accuracy_after"), m.at("student_accuracy_before") + 0.2);
  EXPECT_GT(m.at("baseline_accuracy"), 0.3);
  EXPECT_LT(m.at("student_parameters"), 0.5 * m.at("teacher_parameters"));
  EXPECT_LT(m.at("student_macs"), 0.5 * m.at("teacher_macs"));
  EXPECT_LT(m.at("model_bytes"), m.at("teacher_model_bytes"));

  const json report = ReadReport(*r);
  for (const char* key : {"options", "teacher", "student_before", "student_after", "baseline_after",
                          "student", "curve", "baseline_curve", "metrics"}) {
    EXPECT_TRUE(report.contains(key)) << key;
  }
  EXPECT_EQ(report["options"]["student"], "width");
  EXPECT_EQ(report["options"]["alpha"], o.recipe.alpha);
  ASSERT_EQ(report["curve"].size(), 2u);
  ASSERT_EQ(report["baseline_curve"].size(), 2u);
  for (const char* key : {"loss", "kl", "ce", "train_accuracy", "eval_accuracy", "lr",
                          "samples_per_second", "seconds"}) {
    EXPECT_TRUE(report["curve"][1].contains(key)) << key;
  }
  EXPECT_GT(report["curve"][0]["kl"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(report["student_after"]["accuracy"].get<double>(),
                   m.at("student_accuracy_after"));
  EXPECT_EQ(report["student_after"]["parameters"], report["baseline_after"]["parameters"]);
  EXPECT_FALSE(report["student"]["layers"].empty());
  EXPECT_TRUE(report["teacher"]["latency_ms_batch1"].is_number());
  ExpectRunnable(ArtifactPath(*r, "model"));

  // Progress: every phase, per-epoch updates with loss parts for both trainings.
  int distill_epochs = 0, baseline_epochs = 0;
  for (const ProgressUpdate& u : ctx.updates) {
    const bool epoch = std::any_of(u.metrics.begin(), u.metrics.end(),
                                   [](const Metric& x) { return x.name == "kl"; });
    if (epoch && u.step == "distill") ++distill_epochs;
    if (epoch && u.step == "baseline") ++baseline_epochs;
  }
  EXPECT_EQ(distill_epochs, 2);
  EXPECT_EQ(baseline_epochs, 2);
}

TEST(DistillRecipeTest, PrunedKeepsTeacherWeightsAndUserModelTrains) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create("mp-distill-").ok());
  TestContext ctx(dir.path(), 1);
  DistillJobOptions pruned = Small("pruned");
  pruned.recipe.latency_iterations = 0;
  auto p = RunDistillJob(pruned, ctx);
  ASSERT_TRUE(p.ok()) << p.status();
  const auto pm = Metrics(*p);
  // Surviving teacher weights: far above chance before any training.
  EXPECT_GT(pm.at("student_accuracy_before"), 0.25);
  EXPECT_FALSE(pm.count("latency_ms_batch1"));
  EXPECT_FALSE(pm.count("baseline_accuracy"));

  // A user-supplied student: the MLP fixture learns from the LeNet teacher.
  TestContext ctx2(dir.path() + "/mlp", 1);
  ASSERT_TRUE(fs::create_directories(dir.path() + "/mlp"));
  DistillJobOptions user = Small("model");
  user.student = Model("mlp.onnx");
  user.recipe.lr = 1e-3f;
  auto u = RunDistillJob(user, ctx2);
  ASSERT_TRUE(u.ok()) << u.status();
  const json report = ReadReport(*u);
  EXPECT_EQ(report["student"]["source"], "model");
  EXPECT_TRUE(report["student"]["layers"].empty());
  EXPECT_GT(Metrics(*u).at("student_accuracy_after"), 0.5);
  ExpectRunnable(ArtifactPath(*u, "model"));
}

TEST(DistillRecipeTest, SameSeedSameBytesAnyThreadCount) {
  std::string bytes[2];
  for (int i = 0; i < 2; ++i) {
    ScopedTempDir dir;
    ASSERT_TRUE(dir.Create("mp-distill-").ok());
    TestContext ctx(dir.path(), i + 1);
    DistillJobOptions o = Small("width");
    o.limit = 200;
    o.recipe.latency_iterations = 0;
    auto r = RunDistillJob(o, ctx);
    ASSERT_TRUE(r.ok()) << r.status();
    auto read = ReadFile(ArtifactPath(*r, "model").string());
    ASSERT_TRUE(read.ok());
    bytes[i] = *read;
  }
  EXPECT_EQ(bytes[0], bytes[1]);
  // A different seed initialises (and orders) differently.
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create("mp-distill-").ok());
  TestContext ctx(dir.path(), 2);
  DistillJobOptions o = Small("width");
  o.limit = 200;
  o.recipe.latency_iterations = 0;
  o.recipe.seed = 8;
  auto r = RunDistillJob(o, ctx);
  ASSERT_TRUE(r.ok()) << r.status();
  auto read = ReadFile(ArtifactPath(*r, "model").string());
  ASSERT_TRUE(read.ok());
  EXPECT_NE(*read, bytes[0]);
}

TEST(DistillRecipeTest, CancelledDuringTrainingWritesNothing) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create("mp-distill-").ok());
  // The phase's first update passes; the next one (a step or the first epoch) cancels.
  TestContext ctx(dir.path(), 1, "distill", 2);
  DistillJobOptions o = Small("width");
  o.recipe.epochs = 3;
  auto r = RunDistillJob(o, ctx);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled) << r.status();
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("cancelled by the test"));
  EXPECT_EQ(ctx.updates.back().step, "distill");
  EXPECT_LT(ctx.updates.back().fraction, 0.9);
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

// Runs a job expected to fail with INVALID_ARGUMENT (or `code`) mentioning `needle`, and
// checks no artifact was written.
void ExpectError(const DistillJobOptions& o, const std::string& needle,
                 absl::StatusCode code = absl::StatusCode::kInvalidArgument) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create("mp-distill-").ok());
  TestContext ctx(dir.path(), 1);
  auto r = RunDistillJob(o, ctx);
  ASSERT_FALSE(r.ok()) << needle;
  EXPECT_EQ(r.status().code(), code) << r.status();
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(needle));
  EXPECT_TRUE(fs::is_empty(dir.path())) << needle;
}

TEST(DistillRecipeTest, BadOptionsNameTheOption) {
  auto with = [](auto edit) {
    DistillJobOptions o = Small("width");
    edit(o);
    return o;
  };
  ExpectError(with([](auto& o) { o.recipe.alpha = 1.5f; }), "alpha: 1.5 is outside [0, 1]");
  ExpectError(with([](auto& o) { o.recipe.temperature = 0; }), "temperature: 0");
  ExpectError(with([](auto& o) { o.recipe.width = 0; }), "width: 0 is outside (0, 1]");
  ExpectError(with([](auto& o) { o.recipe.width = 1.5; }), "width: 1.5");
  ExpectError(with([](auto& o) { o.recipe.epochs = 0; }), "epochs: 0");
  ExpectError(with([](auto& o) { o.recipe.batch_size = 0; }), "batch_size: 0");
  ExpectError(with([](auto& o) { o.recipe.lr = -1; }), "lr: -1");
  ExpectError(with([](auto& o) { o.recipe.optimizer = "rmsprop"; }), "optimizer 'rmsprop'");
  ExpectError(with([](auto& o) { o.recipe.weight_decay = -0.1f; }), "weight_decay");
  ExpectError(with([](auto& o) { o.recipe.student = "big"; }), "student 'big'");
  ExpectError(with([](auto& o) { o.recipe.latency_iterations = -1; }), "latency_iterations");
  ExpectError(with([](auto& o) { o.recipe.features = {{"a", "", 1.0f}}; }), "features[0]");
  ExpectError(with([](auto& o) { o.recipe.student = "model"; }), "student: source 'model'");
  ExpectError(with([](auto& o) { o.student = Model("mlp.onnx"); }), "student: a student file");
  ExpectError(with([](auto& o) { o.labels.clear(); }), "data/labels");
  ExpectError(with([](auto& o) { o.eval_data = o.data; }), "eval_data/eval_labels");
  ExpectError(with([](auto& o) { o.holdout = 1; }), "holdout: 1");
  ExpectError(with([](auto& o) { o.limit = -2; }), "limit: -2");
  ExpectError(with([](auto& o) { o.teacher = "/nonexistent/t.onnx"; }), "/nonexistent/t.onnx",
              absl::StatusCode::kNotFound);
}

// The LeNet fixture edited: `edit` changes its graph; written to `dir`/name.
std::string EditedLenet(const std::string& dir, const std::string& name, void (*edit)(ir::Graph&)) {
  auto model = onnx::ImportModelFile(Model("lenet.onnx"));
  MP_CHECK(model.ok()) << model.status();
  edit(model->graph);
  const std::string path = dir + "/" + name;
  const absl::Status s = onnx::ExportModelFile(*model, path);
  MP_CHECK(s.ok()) << s;
  return path;
}

TEST(DistillRecipeTest, BadStudentsFailClearly) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create("mp-distill-").ok());
  // Output [B, 84] (the penultimate layer) against the teacher's [B, 10].
  const std::string narrow = EditedLenet(dir.path(), "narrow.onnx", [](ir::Graph& g) {
    const ir::ValueId logits = g.outputs()[0];
    for (const ir::Node& n : g.nodes()) {
      if (n.outputs()[0] == logits) {
        const ir::ValueId hidden = n.inputs()[0];
        g.mutable_value(hidden).set_shape(ir::PartialShape());
        g.SetGraphOutputs({hidden});
        break;
      }
    }
    g.RemoveDeadNodes();
  });
  // Abs on the logits: an op with no backward rule.
  const std::string abs = EditedLenet(dir.path(), "abs.onnx", [](ir::Graph& g) {
    const std::string logits = g.value(g.outputs()[0]).name();
    ir::testing::Add(g, "abs_node", "Abs", {logits}, {"abs_logits"});
    g.SetGraphOutputs({g.FindValue("abs_logits")});
  });
  DistillJobOptions o = Small("model");
  o.student = narrow;
  ExpectError(o, "student output");
  o.student = abs;
  ExpectError(o, "Abs", absl::StatusCode::kUnimplemented);
  o.student = dir.path() + "/missing.onnx";
  ExpectError(o, "student '", absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace mp::pipeline
