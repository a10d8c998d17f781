#include "workers/local/compose_command.h"

#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "workers/engine/onnx/onnx.h"

namespace mp::local {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string Root() {
  const char* root = std::getenv("MP_SOURCE_DIR");
  return root != nullptr ? root : ".";
}

ComposeCommandOptions Small(const std::string& dir) {
  ComposeCommandOptions o;
  o.compose.model = Root() + "/tests/fixtures/models/lenet.onnx";
  o.compose.data = Root() + "/tests/fixtures/data/images_u8_64.npy";
  o.compose.labels = Root() + "/tests/fixtures/data/labels_64.npy";
  o.compose.holdout = 0.25;
  o.compose.prune.epochs = 1;
  o.compose.ptq.sensitivity = false;
  o.compose.ptq.latency_batches = {1, 4};
  o.output_path = dir + "/out.int8.onnx";
  o.pruned_output_path = dir + "/pruned.onnx";
  o.report_path = dir + "/report.json";
  o.quiet = true;
  return o;
}

TEST(ComposeCommandTest, WritesInt8AndPrunedModelsAndComparison) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create("mp-compose-cmd-").ok());
  const ComposeCommandOptions o = Small(dir.path());
  std::ostringstream out, log;
  ASSERT_TRUE(ComposeCommand(o, out, log).ok()) << out.str();
  EXPECT_THAT(out.str(), HasSubstr("wrote " + o.output_path));
  EXPECT_THAT(out.str(), HasSubstr("original"));
  EXPECT_THAT(out.str(), HasSubstr("latency_ms_batch4"));
  EXPECT_TRUE(log.str().empty());
  auto int8 = onnx::ImportModelFile(o.output_path);
  ASSERT_TRUE(int8.ok()) << int8.status();
  auto pruned = onnx::ImportModelFile(o.pruned_output_path);
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  auto report = nlohmann::json::parse(*ReadFile(o.report_path));
  EXPECT_EQ(double(report["int8"]["model_bytes"]), double(fs::file_size(o.output_path)));
  EXPECT_EQ(double(report["pruned"]["model_bytes"]), double(fs::file_size(o.pruned_output_path)));
}

TEST(ComposeCommandTest, QatFlagsAddThePtqComparison) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create("mp-compose-cmd-").ok());
  CLI::App app;
  ComposeCommandOptions o = Small(dir.path());
  AddComposeSubcommand(app, o);
  const std::vector<std::string> args = {"modelpress-worker",
                                         "compose",
                                         "--model",
                                         o.compose.model.string(),
                                         "--qat-epochs",
                                         "1",
                                         "--qat-lr",
                                         "0.0001",
                                         "-o",
                                         o.output_path};
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  app.parse(static_cast<int>(argv.size()), argv.data());
  EXPECT_EQ(o.compose.qat_epochs, 1);
  EXPECT_FLOAT_EQ(o.compose.qat_lr, 1e-4f);
  std::ostringstream out, log;
  ASSERT_TRUE(ComposeCommand(o, out, log).ok()) << out.str();
  EXPECT_THAT(out.str(), HasSubstr("accuracy_ptq"));
  auto report = nlohmann::json::parse(*ReadFile(o.report_path));
  EXPECT_EQ(report["qat"]["options"]["epochs"], 1);
  EXPECT_FALSE(fs::exists(dir.path() + "/ranges.json"));  // only the requested outputs
}

TEST(ComposeCommandTest, BadInputIsAClearErrorAndWritesNothing) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create("mp-compose-cmd-").ok());
  std::ostringstream out, log;
  auto run = [&](auto edit) {
    ComposeCommandOptions o = Small(dir.path());
    edit(o);
    return ComposeCommand(o, out, log);
  };
  auto s = run([](ComposeCommandOptions& o) { o.compose.model = "/nonexistent.onnx"; });
  EXPECT_THAT(std::string(s.message()), HasSubstr("/nonexistent.onnx"));
  s = run([](ComposeCommandOptions& o) { o.compose.prune.method = "random"; });
  EXPECT_THAT(std::string(s.message()), HasSubstr("prune.method 'random'"));
  s = run([](ComposeCommandOptions& o) {
    o.compose.data = o.compose.labels = "";
    o.compose.calibration = Root() + "/tests/fixtures/data/images_64.npy";
  });
  EXPECT_THAT(std::string(s.message()), HasSubstr("needs training data"));
  s = run([](ComposeCommandOptions& o) { o.compose.ptq.activation_scheme = "int4"; });
  EXPECT_THAT(std::string(s.message()), HasSubstr("int4"));
  s = run([](ComposeCommandOptions& o) { o.output_path = ""; });
  EXPECT_THAT(std::string(s.message()), HasSubstr("-o"));
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

}  // namespace
}  // namespace mp::local
