#include "workers/local/prune_command.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "workers/engine/data/npy.h"
#include "workers/engine/exec/session.h"
#include "workers/engine/onnx/onnx.h"

namespace mp::local {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string Root() {
  const char* root = std::getenv("MP_SOURCE_DIR");
  return root != nullptr ? root : ".";
}

// ONNX Runtime's logits for the model on images_64.npy, or an undefined tensor (skip) when
// node / onnxruntime-node are missing.
tensor::Tensor RunOrt(const std::string& model, const std::string& dir) {
  const fs::path harness = fs::path(Root()) / "tests/ort";
  if (!fs::exists(harness / "node_modules/onnxruntime-node") ||
      std::system("node --version > /dev/null 2>&1") != 0) {
    return {};
  }
  const std::string cmd = "node '" + (harness / "run_ort.js").string() + "' --model '" + model +
                          "' --input input='" + Root() + "/tests/fixtures/data/images_64.npy'" +
                          " --output-dir '" + dir + "' 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  auto out = data::ReadNpy(dir + "/logits.npy");
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : tensor::Tensor();
}

TEST(PruneCommandTest, StructuredShrinksAndOnnxRuntimeAgrees) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create("mp-prune-cmd-").ok());
  for (const char* name : {"lenet", "resnet", "mobilenet"}) {
    SCOPED_TRACE(name);
    PruneCommandOptions o;
    o.job.model = Root() + "/tests/fixtures/models/" + name + ".onnx";
    o.output_path = dir.path() + "/" + name + "_pruned.onnx";
    o.report_path = dir.path() + "/" + name + "_report.json";
    std::ostringstream out;
    ASSERT_TRUE(PruneCommand(o, out).ok());
    EXPECT_THAT(out.str(), HasSubstr("wrote "));
    auto report_text = ReadFile(o.report_path);
    ASSERT_TRUE(report_text.ok());
    const nlohmann::json report = nlohmann::json::parse(*report_text);
    const double macs_after = report["after"]["macs"], macs_before = report["before"]["macs"];
    const double bytes_after = report["after"]["parameter_bytes"];
    const double bytes_before = report["before"]["parameter_bytes"];
    EXPECT_LE(macs_after, 0.6 * macs_before);
    EXPECT_LE(bytes_after, 0.6 * bytes_before);
    EXPECT_LT(fs::file_size(o.output_path), fs::file_size(o.job.model));
    // Our engine and ONNX Runtime compute the same on the pruned file.
    auto model = onnx::ImportModelFile(o.output_path);
    ASSERT_TRUE(model.ok()) << model.status();
    auto session = exec::Session::Create(*model);
    ASSERT_TRUE(session.ok()) << session.status();
    auto x = data::ReadNpy(Root() + "/tests/fixtures/data/images_64.npy");
    ASSERT_TRUE(x.ok());
    auto ours = (*session)->Run({{"input", *x}});
    ASSERT_TRUE(ours.ok()) << ours.status();
    const tensor::Tensor ort = RunOrt(o.output_path, dir.path());
    if (!ort.defined()) GTEST_SKIP() << "node / onnxruntime-node not available";
    const tensor::Tensor& y = (*ours)[0].second;
    ASSERT_EQ(y.shape(), ort.shape());
    for (int64_t i = 0; i < y.num_elements(); ++i) {
      ASSERT_NEAR(y.data<float>()[i], ort.data<float>()[i], 1e-4) << i;
    }
  }
}

TEST(PruneCommandTest, MagnitudeAndNm) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create("mp-prune-cmd-").ok());
  for (const char* method : {"magnitude", "nm"}) {
    PruneCommandOptions o;
    o.job.model = Root() + "/tests/fixtures/models/lenet.onnx";
    o.job.recipe.method = method;
    o.job.recipe.scope = "global";
    o.output_path = dir.path() + "/out.onnx";
    o.report_path = dir.path() + "/report.json";
    std::ostringstream out;
    ASSERT_TRUE(PruneCommand(o, out).ok()) << method;
    auto report = nlohmann::json::parse(*ReadFile(o.report_path));
    EXPECT_GT(double(report["pruning"]["sparsity"]), 0.3) << method;
    EXPECT_GT(int64_t(report["after"]["zero_parameters"]),
              int64_t(report["before"]["zero_parameters"]));
    // ONNX Runtime loads and runs the sparse model.
    const tensor::Tensor ort = RunOrt(o.output_path, dir.path());
    if (ort.defined()) {
      EXPECT_EQ(ort.shape(), (tensor::Shape{64, 10})) << method;
    }
  }
}

TEST(PruneCommandTest, BadOptionsAreClearErrors) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create("mp-prune-cmd-").ok());
  PruneCommandOptions base;
  base.job.model = Root() + "/tests/fixtures/models/lenet.onnx";
  base.output_path = dir.path() + "/out.onnx";
  std::ostringstream out;
  auto run = [&](auto edit) {
    PruneCommandOptions o = base;
    edit(o);
    return PruneCommand(o, out);
  };
  auto s = run([](PruneCommandOptions& o) { o.job.recipe.method = "random"; });
  EXPECT_THAT(std::string(s.message()), HasSubstr("--method 'random'"));
  s = run([](PruneCommandOptions& o) { o.job.recipe.per_layer = {"conv1"}; });
  EXPECT_THAT(std::string(s.message()), HasSubstr("--per-layer 'conv1'"));
  s = run([](PruneCommandOptions& o) { o.job.recipe.per_layer = {"conv9=0.5"}; });
  EXPECT_THAT(std::string(s.message()), HasSubstr("'conv9'"));
  s = run([](PruneCommandOptions& o) { o.job.recipe.sparsity = 1.0; });
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  s = run([](PruneCommandOptions& o) {
    o.job.recipe.method = "nm";
    o.job.recipe.nm = "4:2";
  });
  EXPECT_THAT(std::string(s.message()), HasSubstr("4:2"));
  s = run([](PruneCommandOptions& o) { o.job.recipe.norm = "l3"; });
  EXPECT_THAT(std::string(s.message()), HasSubstr("--norm 'l3'"));
  s = run([](PruneCommandOptions& o) { o.job.model = "/nonexistent.onnx"; });
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(fs::exists(base.output_path));
}

TEST(PruneCommandTest, RecoveryFlagsAreValidatedNamingTheFlag) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create("mp-prune-cmd-").ok());
  PruneCommandOptions base;
  base.job.model = Root() + "/tests/fixtures/models/lenet.onnx";
  base.output_path = dir.path() + "/out.onnx";
  base.job.data = Root() + "/tests/fixtures/data/images_u8_64.npy";
  base.job.labels = Root() + "/tests/fixtures/data/labels_64.npy";
  base.job.recipe.recover = "finetune";
  std::ostringstream out;
  auto run = [&](auto edit) {
    PruneCommandOptions o = base;
    edit(o);
    return PruneCommand(o, out);
  };
  auto s = run([](PruneCommandOptions& o) { o.job.data = o.job.labels = ""; });
  EXPECT_THAT(std::string(s.message()), HasSubstr("--recover finetune needs training data"));
  s = run([](PruneCommandOptions& o) { o.job.recipe.epochs = 0; });
  EXPECT_THAT(std::string(s.message()), HasSubstr("--epochs: 0"));
  s = run([](PruneCommandOptions& o) { o.job.recipe.lr = -1; });
  EXPECT_THAT(std::string(s.message()), HasSubstr("--lr: -1"));
  s = run([](PruneCommandOptions& o) { o.job.recipe.recover = "retrain"; });
  EXPECT_THAT(std::string(s.message()), HasSubstr("--recover 'retrain'"));
  s = run([](PruneCommandOptions& o) { o.job.recipe.optimizer = "lbfgs"; });
  EXPECT_THAT(std::string(s.message()), HasSubstr("--optimizer 'lbfgs'"));
  s = run([](PruneCommandOptions& o) { o.job.labels = ""; });
  EXPECT_THAT(std::string(s.message()), HasSubstr("--data and --labels"));
  s = run([](PruneCommandOptions& o) { o.job.holdout = 1.5; });
  EXPECT_THAT(std::string(s.message()), HasSubstr("--holdout"));
  s = run([](PruneCommandOptions& o) { o.job.data = "/nonexistent.npy"; });
  EXPECT_THAT(std::string(s.message()), HasSubstr("--data '/nonexistent.npy'"));
  EXPECT_FALSE(fs::exists(base.output_path));
}

TEST(PruneCommandTest, FinetuneWithHeldOutEvaluation) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create("mp-prune-cmd-").ok());
  PruneCommandOptions o;
  o.job.model = Root() + "/tests/fixtures/models/lenet.onnx";
  o.output_path = dir.path() + "/out.onnx";
  o.report_path = dir.path() + "/report.json";
  o.job.data = Root() + "/tests/fixtures/data/images_u8_64.npy";
  o.job.labels = Root() + "/tests/fixtures/data/labels_64.npy";
  o.job.recipe.method = "magnitude";
  o.job.recipe.recover = "finetune";
  o.job.recipe.epochs = 2;
  o.job.holdout = 0.25;
  std::ostringstream out;
  ASSERT_TRUE(PruneCommand(o, out).ok()) << out.str();
  EXPECT_THAT(out.str(), HasSubstr("accuracy "));
  EXPECT_THAT(out.str(), HasSubstr("(16 samples)"));
  auto report = nlohmann::json::parse(*ReadFile(o.report_path));
  EXPECT_EQ(report["curve"].size(), 2u);
  EXPECT_EQ(int64_t(report["after"]["eval_samples"]), 16);
  EXPECT_NEAR(double(report["after"]["sparsity"]), 0.5, 0.01);
  auto model = onnx::ImportModelFile(o.output_path);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_TRUE(exec::Session::Create(*model).ok());
}

}  // namespace
}  // namespace mp::local
