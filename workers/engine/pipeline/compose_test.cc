// Tests of the compose recipe (compose.h): prune + recover + int8 PTQ on lenet, the int8
// artifact run by our engine and by ONNX Runtime (tests/ort/run_ort.js; that part skips
// itself without node / onnxruntime-node), progress and cancellation, and bad input.
#include "workers/engine/pipeline/compose.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "workers/engine/data/npy.h"
#include "workers/engine/exec/session.h"
#include "workers/engine/onnx/onnx.h"
#include "workers/engine/pipeline/recipe_test_context.h"
#include "workers/engine/train/fashion_test_util.h"

namespace mp::pipeline {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::RecordingContext;
using train::testing::SourceDir;

const char kFashion[] = "/usr/share/datasets/fashion-mnist/";

ComposeJobOptions SmallCompose() {
  ComposeJobOptions o;
  o.model = SourceDir() + "/tests/fixtures/models/lenet.onnx";
  o.data = std::string(kFashion) + "train-images-idx3-ubyte.gz";
  o.labels = std::string(kFashion) + "train-labels-idx1-ubyte.gz";
  o.limit = 512;
  o.holdout = 0.25;
  o.prune.method = "structured";
  o.prune.sparsity = 0.5;
  o.prune.epochs = 1;
  o.prune.latency_iterations = 3;
  o.ptq.calibration_samples = 128;
  o.ptq.sensitivity = false;
  o.ptq.latency_batches = {1, 8};
  return o;
}

bool EmptyDir(const fs::path& dir) { return fs::is_empty(dir); }

TEST(ComposeTest, LenetInt8ModelRunsHereAndInOnnxRuntime) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create("mp-compose-").ok());
  RecordingContext ctx(dir.path());
  auto r = RunComposeJob(SmallCompose(), ctx);
  ASSERT_TRUE(r.ok()) << r.status();
  std::map<std::string, fs::path> artifacts;
  for (const Artifact& a : r->artifacts) artifacts[a.name] = a.path;
  ASSERT_TRUE(artifacts.count("model") && artifacts.count("pruned_model") &&
              artifacts.count("report"));
  // Only the artifacts are left in work_dir.
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) {
    ++files;
    EXPECT_TRUE(e.path() == artifacts["model"] || e.path() == artifacts["pruned_model"] ||
                e.path() == artifacts["report"])
        << e.path();
  }
  EXPECT_EQ(files, 3);
  std::map<std::string, double> m;
  for (const Metric& x : r->metrics) m[x.name] = x.value;
  for (const char* name :
       {"accuracy_fp32", "accuracy_pruned", "accuracy_int8", "model_bytes_fp32",
        "model_bytes_pruned", "model_bytes_int8", "macs_fp32", "macs_pruned", "sparsity",
        "latency_ms_batch1_fp32", "latency_ms_batch1_pruned", "latency_ms_batch1_int8",
        "latency_ms_batch8_fp32", "latency_ms_batch8_pruned", "latency_ms_batch8_int8"}) {
    EXPECT_TRUE(m.count(name)) << name;
  }
  EXPECT_LT(m["macs_pruned"], m["macs_fp32"]);
  EXPECT_LT(m["model_bytes_pruned"], m["model_bytes_fp32"]);
  EXPECT_LT(m["model_bytes_int8"], m["model_bytes_pruned"]);
  EXPECT_EQ(double(fs::file_size(artifacts["model"])), m["model_bytes_int8"]);
  // The int8 model keeps most of the pruned model's accuracy on the 128 held-out samples.
  EXPECT_GT(m["accuracy_int8"], m["accuracy_pruned"] - 0.05);
  auto report = nlohmann::json::parse(*ReadFile(artifacts["report"].string()));
  EXPECT_EQ(report["options"]["eval_source"], "holdout");
  EXPECT_EQ(report["int8"]["accuracy"], m["accuracy_int8"]);
  EXPECT_EQ(int64_t(report["prune"]["after"]["eval_samples"]), 128);
  EXPECT_EQ(int64_t(report["ptq"]["evaluation"]["samples"]), 128);
  // Progress covers both parts and ends at 1.
  bool prune_part = false, ptq_part = false;
  for (const ProgressUpdate& u : ctx.updates) {
    prune_part |= u.step.rfind("prune: ", 0) == 0;
    ptq_part |= u.step.rfind("ptq: ", 0) == 0;
  }
  EXPECT_TRUE(prune_part && ptq_part);
  EXPECT_DOUBLE_EQ(ctx.last_fraction(), 1.0);

  // Our engine (fused integer path, as the PTQ report measures it) and ONNX Runtime run the
  // int8 artifact on the same images and agree.
  if (!testing::ExpectEngineAndOrtAgree(artifacts["model"], dir.path())) {
    GTEST_SKIP() << "node / onnxruntime-node not available";
  }
}

TEST(ComposeTest, CancelledInThePtqPartLeavesNothing) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create("mp-compose-").ok());
  RecordingContext ctx(dir.path(), -1, "ptq: load");
  ComposeJobOptions o = SmallCompose();
  o.limit = 128;
  auto r = RunComposeJob(o, ctx);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled) << r.status();
  EXPECT_TRUE(EmptyDir(dir.path()));
  // The prune part ran before: its fractions stay below the PTQ part's.
  for (const ProgressUpdate& u : ctx.updates) {
    if (u.step.rfind("prune: ", 0) == 0) {
      EXPECT_LE(u.fraction, 0.7) << u.step;
    }
  }
}

TEST(ComposeTest, BadInputIsAClearErrorWithoutArtifacts) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create("mp-compose-").ok());
  RecordingContext ctx(dir.path());
  auto message = [&](const ComposeJobOptions& o) {
    auto r = RunComposeJob(o, ctx);
    EXPECT_FALSE(r.ok());
    EXPECT_TRUE(EmptyDir(dir.path()));
    return std::string(r.status().message());
  };
  ComposeJobOptions o = SmallCompose();
  o.model = "/nonexistent/model.onnx";
  EXPECT_THAT(message(o), HasSubstr("/nonexistent/model.onnx"));
  o = SmallCompose();
  o.data = o.labels = "";
  o.calibration = SourceDir() + "/tests/fixtures/data/images_64.npy";
  EXPECT_THAT(message(o), HasSubstr("prune.recover 'distill' needs training data"));
  o = SmallCompose();
  o.prune.sparsity = 1.5;
  EXPECT_THAT(message(o), HasSubstr("prune.sparsity: 1.5"));
  o = SmallCompose();
  o.ptq.calibrator = "median";
  EXPECT_THAT(message(o), HasSubstr("median"));
  o = SmallCompose();
  o.ptq.mode = "fp16";
  EXPECT_THAT(message(o), HasSubstr("ptq.mode 'fp16'"));
  o = SmallCompose();
  o.data = "/nonexistent/images.gz";
  EXPECT_THAT(message(o), HasSubstr("/nonexistent/images.gz"));
  o = SmallCompose();
  o.labels = SourceDir() + "/tests/fixtures/data/labels_64.npy";  // 64 labels, 512 images
  EXPECT_FALSE(message(o).empty());
}

}  // namespace
}  // namespace mp::pipeline
