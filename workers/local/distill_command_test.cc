// `modelpress-worker distill`: flags, a short run end to end, and errors that leave no file.
#include "workers/local/distill_command.h"

#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace mp::local {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string Root() {
  const char* root = std::getenv("MP_SOURCE_DIR");
  return root != nullptr ? root : ".";
}
std::string Model(const std::string& name) { return Root() + "/tests/fixtures/models/" + name; }
const std::string kFashion = "/usr/share/datasets/fashion-mnist/";

// Parses `args` (after "distill") into options.
DistillCommandOptions Parse(std::vector<std::string> args) {
  CLI::App app;
  DistillCommandOptions o;
  AddDistillSubcommand(app, o);
  args.insert(args.begin(), "distill");
  std::vector<const char*> argv = {"modelpress-worker"};
  for (const std::string& a : args) argv.push_back(a.c_str());
  app.parse(static_cast<int>(argv.size()), argv.data());
  return o;
}

std::vector<std::string> Base(const std::string& out) {
  return {"--teacher", Model("lenet.onnx"),
          "--data",    kFashion + "train-images-idx3-ubyte.gz",
          "--labels",  kFashion + "train-labels-idx1-ubyte.gz",
          "--limit",   "1000",
          "--holdout", "0.2",
          "--epochs",  "1",
          "--lr",      "0.003",
          "-o",        out};
}

TEST(DistillCommandTest, FlagsSelectTheStudentSource) {
  DistillCommandOptions o = Parse(Base("/tmp/x.onnx"));
  ASSERT_TRUE(ResolveDistillFlags(o).ok());
  EXPECT_EQ(o.job.recipe.student, "width");
  EXPECT_EQ(o.job.recipe.width, 0.5);
  EXPECT_EQ(o.job.limit, 1000);

  std::vector<std::string> args = Base("/tmp/x.onnx");
  for (const char* a : {"--student-width", "0.25", "--keep-weights", "--alpha", "0.9",
                        "--temperature", "2", "--feature", "t1=s1@0.5", "--feature", "t2=s2"}) {
    args.push_back(a);
  }
  o = Parse(args);
  ASSERT_TRUE(ResolveDistillFlags(o).ok());
  EXPECT_EQ(o.job.recipe.student, "pruned");
  EXPECT_EQ(o.job.recipe.width, 0.25);
  EXPECT_FLOAT_EQ(o.job.recipe.alpha, 0.9f);
  EXPECT_FLOAT_EQ(o.job.recipe.temperature, 2.0f);
  ASSERT_EQ(o.job.recipe.features.size(), 2u);
  EXPECT_EQ(o.job.recipe.features[0].teacher_value, "t1");
  EXPECT_EQ(o.job.recipe.features[0].student_value, "s1");
  EXPECT_FLOAT_EQ(o.job.recipe.features[0].weight, 0.5f);
  EXPECT_FLOAT_EQ(o.job.recipe.features[1].weight, 1.0f);

  args = Base("/tmp/x.onnx");
  args.push_back("--student");
  args.push_back(Model("mlp.onnx"));
  o = Parse(args);
  ASSERT_TRUE(ResolveDistillFlags(o).ok());
  EXPECT_EQ(o.job.recipe.student, "model");
}

TEST(DistillCommandTest, BadFlagsNameTheFlagAndWriteNothing) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create("mp-distill-cmd-").ok());
  const std::string out_path = dir.path() + "/out.onnx";
  auto expect = [&](std::vector<std::string> extra, const std::string& needle) {
    std::vector<std::string> args = Base(out_path);
    // A flag already in Base() gets the new value instead of a second occurrence.
    for (size_t i = 0; i + 1 < args.size(); ++i) {
      if (extra.size() == 2 && args[i] == extra[0]) {
        args[i + 1] = extra[1];
        extra.clear();
      }
    }
    args.insert(args.end(), extra.begin(), extra.end());
    DistillCommandOptions o = Parse(args);
    std::ostringstream out, log;
    const absl::Status s = DistillCommand(o, out, log);
    EXPECT_FALSE(s.ok()) << needle;
    EXPECT_THAT(std::string(s.message()), HasSubstr(needle));
    EXPECT_FALSE(fs::exists(out_path)) << needle;
  };
  expect({"--alpha", "1.5"}, "--alpha: 1.5 is outside [0, 1]");
  expect({"--temperature", "-1"}, "--temperature: -1");
  expect({"--batch-size", "0"}, "--batch-size: 0");
  expect({"--student-width", "0"}, "--width: 0 is outside (0, 1]");
  expect({"--optimizer", "lbfgs"}, "--optimizer 'lbfgs'");
  expect({"--latency-iterations", "-3"}, "--latency-iterations: -3");
  expect({"--threads", "0"}, "--threads: 0");
  expect({"--holdout", "1.5"}, "--holdout: 1.5");
  expect({"--limit", "-4"}, "--limit: -4");
  expect({"--feature", "nothing"}, "--feature 'nothing'");
  expect({"--feature", "a=b@x"}, "weight 'x' is not a number");
  expect({"--feature", "a=b@-1"}, "--feature 1");
  expect({"--from-scratch", "--keep-weights"}, "exclude each other");
  expect({"--student", Model("mlp.onnx"), "--student-width", "0.5"}, "drop --student-width");
  expect({"--qat-lr", "-1"}, "--qat-lr: -1");
  expect({"--qat-epochs", "-1"}, "--qat-epochs: -1");
  expect({"--qat-epochs", "1", "--qat-target", "sparc"}, "--qat-target");
  expect({"--int8-output", dir.path() + "/int8.onnx"}, "give --qat-epochs");
  expect({"--eval-data", kFashion + "t10k-images-idx3-ubyte.gz"}, "--eval-labels");
  // A student that is not an ONNX model.
  expect({"--student", kFashion + "train-labels-idx1-ubyte.gz"}, "student '");
}

TEST(DistillCommandTest, WidthStudentWithBaselineWritesModelAndReport) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create("mp-distill-cmd-").ok());
  std::vector<std::string> args = Base(dir.path() + "/student.onnx");
  for (const char* a : {"--baseline", "--threads", "2", "--latency-iterations", "2"}) {
    args.push_back(a);
  }
  args.push_back("--report");
  args.push_back(dir.path() + "/report.json");
  DistillCommandOptions o = Parse(args);
  std::ostringstream out, log;
  const absl::Status s = DistillCommand(o, out, log);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_THAT(out.str(), HasSubstr("wrote " + dir.path() + "/student.onnx"));
  EXPECT_THAT(out.str(), HasSubstr("baseline_accuracy = "));
  EXPECT_THAT(out.str(), HasSubstr("student_accuracy_after = "));
  EXPECT_THAT(log.str(), HasSubstr("[distill] distill epoch 1/1"));
  EXPECT_THAT(log.str(), HasSubstr("[distill] baseline epoch 1/1"));
  ASSERT_TRUE(fs::exists(dir.path() + "/student.onnx"));
  auto text = ReadFile(dir.path() + "/report.json");
  ASSERT_TRUE(text.ok()) << text.status();
  const nlohmann::json report = nlohmann::json::parse(*text);
  EXPECT_EQ(report["options"]["student"], "width");
  EXPECT_TRUE(report["baseline_after"]["accuracy"].is_number());
  EXPECT_EQ(report["student_after"]["eval_samples"], 200);
  EXPECT_LT(report["student_after"]["parameters"].get<double>(),
            report["teacher"]["parameters"].get<double>());
}

TEST(DistillCommandTest, QatWritesTheInt8Student) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create("mp-distill-cmd-").ok());
  std::vector<std::string> args = Base(dir.path() + "/student.onnx");
  for (const std::string& a :
       {std::string("--keep-weights"), std::string("--qat-epochs"), std::string("1"),
        std::string("--qat-lr"), std::string("0.0002"), std::string("--qat-target"),
        std::string("x86_vnni"), std::string("--int8-output"), dir.path() + "/student.int8.onnx",
        std::string("--latency-iterations"), std::string("0")}) {
    args.push_back(a);
  }
  DistillCommandOptions o = Parse(args);
  EXPECT_EQ(o.job.recipe.qat_epochs, 1);
  EXPECT_FLOAT_EQ(o.job.recipe.qat_lr, 2e-4f);
  EXPECT_EQ(o.job.recipe.qat_target, "x86_vnni");
  std::ostringstream out, log;
  const absl::Status s = DistillCommand(o, out, log);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_THAT(out.str(), HasSubstr("wrote " + dir.path() + "/student.int8.onnx"));
  EXPECT_THAT(out.str(), HasSubstr("student_accuracy_int8 = "));
  EXPECT_THAT(out.str(), HasSubstr("student_accuracy_int8_ptq = "));
  EXPECT_THAT(log.str(), HasSubstr("[distill] qat epoch 1/1"));
  auto text = ReadFile(dir.path() + "/student.int8.onnx");
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_NE(text->find("QuantizeLinear"), std::string::npos);
  EXPECT_NE(text->find("DequantizeLinear"), std::string::npos);
  EXPECT_TRUE(fs::exists(dir.path() + "/student.onnx"));
}

}  // namespace
}  // namespace mp::local
