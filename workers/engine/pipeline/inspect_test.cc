#include "workers/engine/pipeline/inspect.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "common/file_util.h"
#include "workers/engine/ir/graph.h"
#include "workers/engine/onnx/onnx.h"

namespace mp::pipeline {
namespace {

class TestContext : public JobContext {
 public:
  explicit TestContext(std::filesystem::path dir) : dir_(std::move(dir)) {}
  absl::Status Report(const ProgressUpdate& update) override {
    steps.push_back(update.step);
    if (cancel) return absl::CancelledError("cancelled");
    return absl::OkStatus();
  }
  bool cancelled() const override { return cancel; }
  const std::filesystem::path& work_dir() const override { return dir_; }
  int num_threads() const override { return 1; }
  Clock* clock() const override { return &clock_; }

  std::vector<std::string> steps;
  bool cancel = false;

 private:
  std::filesystem::path dir_;
  mutable FakeClock clock_;
};

std::string Fixture(const std::string& name) {
  const char* root = std::getenv("MP_SOURCE_DIR");
  return std::string(root ? root : ".") + "/tests/fixtures/models/" + name;
}

class InspectTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(dir_.Create("inspect-test-").ok()); }
  std::filesystem::path Path(const std::string& name) const {
    return std::filesystem::path(dir_.path()) / name;
  }
  ScopedTempDir dir_;
};

TEST_F(InspectTest, DescribesLenet) {
  TestContext context(dir_.path());
  auto result = RunInspect(Fixture("lenet.onnx"), context);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_GE(result->ir_version, 3);
  EXPECT_GE(result->opset, 7);
  EXPECT_EQ(result->model_bytes,
            static_cast<int64_t>(std::filesystem::file_size(Fixture("lenet.onnx"))));
  ASSERT_EQ(result->inputs.size(), 1u);
  EXPECT_EQ(result->inputs[0].name, "input");
  EXPECT_EQ(result->inputs[0].dtype, tensor::DType::kFloat32);
  ASSERT_EQ(result->inputs[0].dims.size(), 4u);
  EXPECT_EQ(result->inputs[0].dims[0], -1);  // symbolic batch
  EXPECT_FALSE(result->inputs[0].dim_params[0].empty());
  EXPECT_EQ(result->inputs[0].dims[1], 1);
  EXPECT_EQ(result->inputs[0].dims[2], 28);
  ASSERT_EQ(result->outputs.size(), 1u);
  EXPECT_EQ(result->outputs[0].name, "logits");
  EXPECT_EQ(result->outputs[0].dims.back(), 10);
  EXPECT_GT(result->op_counts["Conv"], 0);
  EXPECT_TRUE(result->unsupported_ops.empty());
  int64_t nodes = 0;
  for (const auto& [op, n] : result->op_counts) nodes += n;
  EXPECT_EQ(nodes, result->node_count);
  // Parameters: a LeNet has tens of thousands of weights; the file stores them as float32.
  EXPECT_GT(result->parameter_count, 10'000);
  EXPECT_LT(result->parameter_count * 4, result->model_bytes + 1);
  EXPECT_EQ(context.steps.front(), "load");
  EXPECT_EQ(context.steps.back(), "done");
}

TEST_F(InspectTest, EveryFixtureIsSupported) {
  for (const char* name : {"mlp.onnx", "resnet.onnx", "mobilenet.onnx", "transformer.onnx"}) {
    TestContext context(dir_.path());
    auto result = RunInspect(Fixture(name), context);
    ASSERT_TRUE(result.ok()) << name << ": " << result.status();
    EXPECT_TRUE(result->unsupported_ops.empty()) << name << ": " << result->unsupported_ops[0];
    EXPECT_GT(result->parameter_count, 0) << name;
  }
}

TEST_F(InspectTest, ListsOpsTheEngineCannotRun) {
  ir::Model model;
  model.ir_version = 8;
  model.opset_imports = {{"", 13}};
  ir::Graph& g = model.graph;
  ir::ValueId x = g.AddValue("x", tensor::DType::kFloat32,
                             ir::PartialShape({ir::Dim{-1, "batch"}, ir::Dim{4, ""}}));
  ir::ValueId h = g.AddValue("h", tensor::DType::kFloat32);
  ir::ValueId y = g.AddValue("y", tensor::DType::kFloat32);
  ir::ValueId z = g.AddValue("z", tensor::DType::kFloat32);
  g.AddGraphInput(x);
  g.AddNode({.name = "hm", .op_type = "Hardmax", .inputs = {x}, .outputs = {h}});
  g.AddNode({.name = "r", .op_type = "Relu", .inputs = {h}, .outputs = {y}});
  g.AddNode({.name = "hm2", .op_type = "Hardmax", .inputs = {y}, .outputs = {z}});
  g.AddGraphOutput(z);
  ASSERT_TRUE(onnx::ExportModelFile(model, Path("hardmax.onnx").string()).ok());

  TestContext context(dir_.path());
  auto result = RunInspect(Path("hardmax.onnx"), context);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->opset, 13);
  EXPECT_EQ(result->op_counts["Hardmax"], 2);
  EXPECT_EQ(result->op_counts["Relu"], 1);
  EXPECT_EQ(result->unsupported_ops, std::vector<std::string>{"Hardmax"});
  ASSERT_EQ(result->inputs.size(), 1u);
  EXPECT_EQ(result->inputs[0].dims, (std::vector<int64_t>{-1, 4}));
  EXPECT_EQ(result->inputs[0].dim_params, (std::vector<std::string>{"batch", ""}));
  EXPECT_EQ(result->parameter_count, 0);
  const auto metrics = InspectionMetrics(*result);
  ASSERT_FALSE(metrics.empty());
  EXPECT_EQ(metrics.back().name, "unsupported_op_count");
  EXPECT_EQ(metrics.back().value, 1);
}

TEST_F(InspectTest, MalformedModelIsInvalidArgumentNamingTheFile) {
  ASSERT_TRUE(AtomicWriteFile(Path("junk.onnx").string(), "this is not a protobuf \xff\xff").ok());
  TestContext context(dir_.path());
  auto result = RunInspect(Path("junk.onnx"), context);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
  EXPECT_NE(std::string(result.status().message()).find("junk.onnx"), std::string::npos)
      << result.status();
}

TEST_F(InspectTest, ErrorsUseTheGivenName) {
  ASSERT_TRUE(AtomicWriteFile(Path("junk.onnx").string(), "garbage").ok());
  TestContext context(dir_.path());
  auto result = RunInspect(Path("junk.onnx"), context, "model_0123456789abcdef");
  ASSERT_FALSE(result.ok());
  const std::string message(result.status().message());
  EXPECT_EQ(message.rfind("model 'model_0123456789abcdef': ", 0), 0u) << message;
  EXPECT_EQ(message.find(dir_.path()), std::string::npos) << message;  // no worker paths
}

TEST_F(InspectTest, TruncatedFixtureIsRejected) {
  auto bytes = ReadFile(Fixture("lenet.onnx"));
  ASSERT_TRUE(bytes.ok());
  ASSERT_TRUE(AtomicWriteFile(Path("cut.onnx").string(), bytes->substr(0, bytes->size() / 2)).ok());
  TestContext context(dir_.path());
  auto result = RunInspect(Path("cut.onnx"), context);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
}

TEST_F(InspectTest, MissingFileIsInvalidArgument) {
  TestContext context(dir_.path());
  auto result = RunInspect(Path("absent.onnx"), context);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(result.status().message()).find("absent.onnx"), std::string::npos);
}

TEST_F(InspectTest, CancelledBeforeStartReturnsCancelled) {
  TestContext context(dir_.path());
  context.cancel = true;
  auto result = RunInspect(Fixture("lenet.onnx"), context);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled);
}

}  // namespace
}  // namespace mp::pipeline
