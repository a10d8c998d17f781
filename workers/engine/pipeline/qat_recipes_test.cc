// Quantization-aware training in the distill and compose recipes (distill.h / compose.h
// "QAT", qat_step.h) on the LeNet fixture with small Fashion-MNIST slices: the artifacts (the
// int8 model run by our engine and by ONNX Runtime, ranges.json), the metrics and report,
// that the final int8 model uses the learned ranges, bad options, cancellation during QAT,
// and that QAT quantizes at least as well as plain PTQ.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "workers/engine/onnx/onnx.h"
#include "workers/engine/pipeline/compose.h"
#include "workers/engine/pipeline/distill.h"
#include "workers/engine/pipeline/recipe_test_context.h"
#include "workers/engine/quant/quant.h"
#include "workers/engine/train/fashion_test_util.h"

namespace mp::pipeline {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;
using testing::RecordingContext;
using train::testing::SourceDir;

const std::string kFashion = "/usr/share/datasets/fashion-mnist/";

// LeNet teacher, its 50%-channel pruned copy as student; 400 rows of which 100 held out.
DistillJobOptions SmallDistill() {
  DistillJobOptions o;
  o.teacher = SourceDir() + "/tests/fixtures/models/lenet.onnx";
  o.data = kFashion + "train-images-idx3-ubyte.gz";
  o.labels = kFashion + "train-labels-idx1-ubyte.gz";
  o.limit = 400;
  o.holdout = 0.25;
  o.recipe.student = "pruned";
  o.recipe.width = 0.5;
  o.recipe.epochs = 1;
  o.recipe.batch_size = 32;
  o.recipe.lr = 1e-3f;
  o.recipe.latency_iterations = 2;
  o.recipe.seed = 3;
  o.recipe.qat_epochs = 1;
  return o;
}

ComposeJobOptions SmallCompose() {
  ComposeJobOptions o;
  o.model = SourceDir() + "/tests/fixtures/models/lenet.onnx";
  o.data = kFashion + "train-images-idx3-ubyte.gz";
  o.labels = kFashion + "train-labels-idx1-ubyte.gz";
  o.limit = 400;
  o.holdout = 0.25;
  o.prune.sparsity = 0.5;
  o.prune.epochs = 1;
  o.prune.latency_iterations = 2;
  o.ptq.calibration_samples = 128;
  o.ptq.sensitivity = false;
  o.ptq.latency_batches = {1};
  o.qat_epochs = 1;
  return o;
}

std::map<std::string, double> Metrics(const JobResult& r) {
  std::map<std::string, double> out;
  for (const Metric& m : r.metrics) out[m.name] = m.value;
  return out;
}

std::map<std::string, fs::path> Artifacts(const JobResult& r) {
  std::map<std::string, fs::path> out;
  for (const Artifact& a : r.artifacts) out[a.name] = a.path;
  return out;
}

json ReadJson(const fs::path& path) {
  auto text = ReadFile(path.string());
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? json::parse(*text, nullptr, false) : json();
}

// Every range of ranges.json is finite with lo <= 0 <= hi; returns them.
quant::RangeMap ExpectValidRanges(const fs::path& path) {
  const json j = ReadJson(path);
  EXPECT_TRUE(j.is_object());
  EXPECT_FALSE(j.empty());
  quant::RangeMap out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const float lo = it.value()[0].get<float>(), hi = it.value()[1].get<float>();
    EXPECT_TRUE(std::isfinite(lo) && std::isfinite(hi)) << it.key();
    EXPECT_LE(lo, 0.0f) << it.key();
    EXPECT_GE(hi, 0.0f) << it.key();
    out[it.key()] = {lo, hi};
  }
  return out;
}

// Every activation QuantizeLinear of the model at `path` uses the (uint8 asymmetric)
// parameters of one of `ranges` (a fused Relu's input and carried tensors use the Relu
// output's / the carried input's); calibrated ranges would give others. Returns how many
// QuantizeLinear nodes were checked.
int ExpectQdqUsesRanges(const fs::path& path, const quant::RangeMap& ranges) {
  std::vector<std::pair<float, int>> allowed;
  for (const auto& [name, range] : ranges) {
    const quant::QParams p =
        quant::ActivationQParams(range, quant::ActivationScheme::kUint8Asymmetric);
    allowed.emplace_back(p.scale, p.zero_point);
  }
  auto model = onnx::ImportModelFile(path.string());
  EXPECT_TRUE(model.ok()) << model.status();
  if (!model.ok()) return 0;
  const ir::Graph& g = model->graph;
  int checked = 0, dequantize = 0;
  for (const ir::Node& n : g.nodes()) {
    dequantize += n.op_type() == "DequantizeLinear";
    if (n.op_type() != "QuantizeLinear" || g.value(n.input(0)).initializer().defined()) continue;
    const std::pair<float, int> used{g.value(n.input(1)).initializer().data<float>()[0],
                                     int(g.value(n.input(2)).initializer().data<uint8_t>()[0])};
    EXPECT_NE(std::find(allowed.begin(), allowed.end(), used), allowed.end())
        << g.value(n.input(0)).name() << ": scale " << used.first << " zero point " << used.second;
    ++checked;
  }
  EXPECT_GT(dequantize, 0);
  return checked;
}

TEST(QatRecipesTest, DistillWritesAnInt8ModelTrainedForItsRanges) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create("mp-qat-").ok());
  RecordingContext ctx(dir.path());
  auto r = RunDistillJob(SmallDistill(), ctx);
  ASSERT_TRUE(r.ok()) << r.status();
  std::map<std::string, fs::path> artifacts = Artifacts(*r);
  for (const char* name : {"model", "report", "int8_model", "ranges"}) {
    ASSERT_TRUE(artifacts.count(name) && fs::exists(artifacts[name])) << name;
  }
  EXPECT_EQ(artifacts["int8_model"].filename(), "student.int8.onnx");
  EXPECT_EQ(artifacts["ranges"].filename(), "ranges.json");
  std::map<std::string, double> m = Metrics(*r);
  for (const char* name : {"student_accuracy_after", "student_accuracy_int8",
                           "student_accuracy_int8_ptq", "int8_model_bytes"}) {
    EXPECT_TRUE(m.count(name)) << name;
  }
  EXPECT_EQ(double(fs::file_size(artifacts["int8_model"])), m["int8_model_bytes"]);
  EXPECT_LT(m["int8_model_bytes"], m["model_bytes"]);
  EXPECT_GE(m["student_accuracy_int8"], 0.0);
  EXPECT_LE(m["student_accuracy_int8"], 1.0);
  const json report = ReadJson(artifacts["report"]);
  ASSERT_TRUE(report.contains("qat") && report.contains("student_int8"));
  EXPECT_EQ(report["qat"]["curve"].size(), 1u);
  EXPECT_FLOAT_EQ(report["qat"]["options"]["lr"].get<float>(), 1e-4f);  // qat_lr 0 = lr / 10
  EXPECT_EQ(report["student_int8"]["accuracy"].get<double>(), m["student_accuracy_int8"]);
  EXPECT_EQ(report["options"]["qat_epochs"], 1);
  EXPECT_EQ(report["options"]["teacher"], "lenet.onnx");
  // The int8 model quantizes with the learned ranges of ranges.json.
  EXPECT_GT(ExpectQdqUsesRanges(artifacts["int8_model"], ExpectValidRanges(artifacts["ranges"])),
            0);
  // Progress went through QAT and ends at 1.
  bool qat_step = false;
  for (const ProgressUpdate& u : ctx.updates) qat_step |= u.step == "qat";
  EXPECT_TRUE(qat_step);
  EXPECT_DOUBLE_EQ(ctx.last_fraction(), 1.0);
  if (!testing::ExpectEngineAndOrtAgree(artifacts["int8_model"], dir.path())) {
    GTEST_SKIP() << "node / onnxruntime-node not available";
  }
}

TEST(QatRecipesTest, ComposeQuantizesWithTheLearnedRanges) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create("mp-qat-").ok());
  RecordingContext ctx(dir.path());
  auto r = RunComposeJob(SmallCompose(), ctx);
  ASSERT_TRUE(r.ok()) << r.status();
  std::map<std::string, fs::path> artifacts = Artifacts(*r);
  for (const char* name : {"model", "pruned_model", "report", "ranges"}) {
    ASSERT_TRUE(artifacts.count(name) && fs::exists(artifacts[name])) << name;
  }
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) files += e.is_regular_file();
  EXPECT_EQ(files, 4);  // the scratch directories are gone
  std::map<std::string, double> m = Metrics(*r);
  for (const char* name :
       {"accuracy_fp32", "accuracy_pruned", "accuracy_int8", "accuracy_int8_ptq"}) {
    EXPECT_TRUE(m.count(name)) << name;
  }
  const json report = ReadJson(artifacts["report"]);
  ASSERT_TRUE(report.contains("qat"));
  EXPECT_EQ(report["qat"]["options"]["loss"], "distill");
  EXPECT_EQ(report["qat"]["curve"].size(), 1u);
  EXPECT_EQ(report["qat"]["ptq_accuracy"].get<double>(), m["accuracy_int8_ptq"]);
  EXPECT_EQ(report["options"]["model"], "lenet.onnx");
  EXPECT_EQ(report["prune"]["model"], "lenet.onnx");
  EXPECT_EQ(report["ptq"]["options"]["fixed_ranges"], "ranges.json");
  // PTQ with fixed_ranges: the int8 model quantizes with the learned ranges.
  const quant::RangeMap learned = ExpectValidRanges(artifacts["ranges"]);
  EXPECT_GE(ExpectQdqUsesRanges(artifacts["model"], learned), 3);
  bool qat_part = false;
  for (const ProgressUpdate& u : ctx.updates) qat_part |= u.step.rfind("qat: ", 0) == 0;
  EXPECT_TRUE(qat_part);
  EXPECT_DOUBLE_EQ(ctx.last_fraction(), 1.0);
  if (!testing::ExpectEngineAndOrtAgree(artifacts["model"], dir.path())) {
    GTEST_SKIP() << "node / onnxruntime-node not available";
  }
}

template <typename Options, typename Run>
void ExpectInvalid(const Options& o, Run run, const std::string& needle) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create("mp-qat-").ok());
  RecordingContext ctx(dir.path());
  auto r = run(o, ctx);
  ASSERT_FALSE(r.ok()) << needle;
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(needle));
  EXPECT_TRUE(fs::is_empty(dir.path())) << needle;
}

TEST(QatRecipesTest, BadQatOptionsNameTheOption) {
  DistillJobOptions d = SmallDistill();
  d.recipe.qat_lr = -1;
  ExpectInvalid(d, RunDistillJob, "qat_lr: -1");
  d.recipe.qat_lr = std::nanf("");
  ExpectInvalid(d, RunDistillJob, "qat_lr");
  d = SmallDistill();
  d.recipe.qat_epochs = -2;
  ExpectInvalid(d, RunDistillJob, "qat_epochs: -2");
  d = SmallDistill();
  d.recipe.qat_target = "sparc";
  ExpectInvalid(d, RunDistillJob, "qat_target");
  ComposeJobOptions c = SmallCompose();
  c.qat_lr = -1;
  ExpectInvalid(c, RunComposeJob, "qat_lr: -1");
  c = SmallCompose();
  c.qat_epochs = -1;
  ExpectInvalid(c, RunComposeJob, "qat_epochs: -1");
  c = SmallCompose();
  c.ptq.mode = "dynamic";
  ExpectInvalid(c, RunComposeJob, "qat_epochs");
  c = SmallCompose();
  c.prune.recover = "none";
  c.data = c.labels = "";
  c.calibration = SourceDir() + "/tests/fixtures/data/images_64.npy";
  ExpectInvalid(c, RunComposeJob, "qat_epochs");
}

TEST(QatRecipesTest, CancelledDuringQatWritesNothing) {
  {
    ScopedTempDir dir;
    ASSERT_TRUE(dir.Create("mp-qat-").ok());
    RecordingContext ctx(dir.path(), -1, "qat", 2);  // the phase's start passes
    DistillJobOptions o = SmallDistill();
    o.recipe.qat_epochs = 2;
    auto r = RunDistillJob(o, ctx);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled) << r.status();
    EXPECT_EQ(ctx.updates.back().step, "qat");
    EXPECT_TRUE(fs::is_empty(dir.path()));
  }
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create("mp-qat-").ok());
  RecordingContext ctx(dir.path(), -1, "qat: train", 2);
  ComposeJobOptions o = SmallCompose();
  o.qat_epochs = 2;
  auto r = RunComposeJob(o, ctx);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled) << r.status();
  EXPECT_EQ(ctx.updates.back().step, "qat: train");
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST(QatRecipesTest, ComposeCancelledAfterQatLeavesNothing) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create("mp-qat-").ok());
  RecordingContext ctx(dir.path(), -1, "ptq: load");
  auto r = RunComposeJob(SmallCompose(), ctx);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled) << r.status();
  EXPECT_TRUE(fs::is_empty(dir.path()));  // not even ranges.json
}

// The point of QAT: on 2000 training images the QAT int8 student is at least as accurate as
// plain PTQ of the same distilled student (within half a point on the 10000 test images).
TEST(QatRecipesTest, QatQuantizesAtLeastAsWellAsPtq) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create("mp-qat-").ok());
  RecordingContext ctx(dir.path());
  DistillJobOptions o = SmallDistill();
  o.limit = 2000;
  o.holdout = 0;
  o.eval_data = kFashion + "t10k-images-idx3-ubyte.gz";
  o.eval_labels = kFashion + "t10k-labels-idx1-ubyte.gz";
  o.recipe.epochs = 2;
  o.recipe.latency_iterations = 0;
  auto r = RunDistillJob(o, ctx);
  ASSERT_TRUE(r.ok()) << r.status();
  std::map<std::string, double> m = Metrics(*r);
  std::printf("distilled student fp32 %.4f, PTQ int8 %.4f, QAT int8 %.4f\n",
              m["student_accuracy_after"], m["student_accuracy_int8_ptq"],
              m["student_accuracy_int8"]);
  EXPECT_GE(m["student_accuracy_int8"], m["student_accuracy_int8_ptq"] - 0.005);
  EXPECT_GT(m["student_accuracy_int8"], 0.6);
}

}  // namespace
}  // namespace mp::pipeline
