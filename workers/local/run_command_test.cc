#include "workers/local/run_command.h"

#include <sstream>

#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "workers/engine/data/npy.h"
#include "workers/engine/onnx/onnx.h"

namespace mp::local {
namespace {

using tensor::DType;
using tensor::Shape;
using tensor::Tensor;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// x[N, 3] -> Transpose -> "y";  x -> Identity -> "a/b:0".
ir::Model TinyModel() {
  ir::Model model;
  model.opset_imports.push_back({"", 13});
  ir::Graph& g = model.graph;
  ir::ValueId x =
      g.AddValue("x", DType::kFloat32, ir::PartialShape({ir::Dim{-1, "N"}, ir::Dim{3, ""}}));
  ir::ValueId y = g.AddValue("y", DType::kFloat32);
  ir::ValueId z = g.AddValue("a/b:0", DType::kFloat32);
  g.AddGraphInput(x);
  ir::NodeSpec t;
  t.name = "t";
  t.op_type = "Transpose";
  t.inputs = {x};
  t.outputs = {y};
  g.AddNode(t);
  t.name = "i";
  t.op_type = "Identity";
  t.outputs = {z};
  g.AddNode(t);
  g.AddGraphOutput(y);
  g.AddGraphOutput(z);
  return model;
}

class RunCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = MakeTempDir("run_command_test");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = *dir;
    ASSERT_TRUE(onnx::ExportModelFile(TinyModel(), dir_ + "/m.onnx").ok());
  }
  void TearDown() override { (void)RemoveAll(dir_); }
  std::string dir_;
};

TEST_F(RunCommandTest, NpyInPositionalNpyOut) {
  auto x = Tensor::FromVector<float>(Shape({2, 3}), {1, 2, 3, 4, 5, 6});
  ASSERT_TRUE(data::WriteNpy(dir_ + "/x.npy", x).ok());
  std::ostringstream log;
  absl::Status status = RunModelCommand({.model_path = dir_ + "/m.onnx",
                                         .inputs = {dir_ + "/x.npy"},
                                         .output_dir = dir_ + "/out",
                                         .threads = 2},
                                        log);
  ASSERT_TRUE(status.ok()) << status;
  auto y = data::ReadNpy(dir_ + "/out/y.npy");
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_EQ(y->shape(), Shape({3, 2}));
  auto v = y->span<float>();
  EXPECT_THAT(std::vector<float>(v.begin(), v.end()), ElementsAre(1, 4, 2, 5, 3, 6));
  EXPECT_TRUE(data::ReadNpy(dir_ + "/out/a_b_0.npy").ok());
  EXPECT_THAT(log.str(), HasSubstr("y.npy float32[3, 2]"));
}

TEST_F(RunCommandTest, NamedPbInputAndFloat64Npy) {
  auto x = Tensor::FromVector<double>(Shape({1, 3}), {1, 2, 3});
  ASSERT_TRUE(data::WriteNpy(dir_ + "/x64.npy", x).ok());
  std::ostringstream log;
  ASSERT_TRUE(RunModelCommand({.model_path = dir_ + "/m.onnx",
                               .inputs = {"x=" + dir_ + "/x64.npy"},
                               .output_dir = dir_ + "/o"},
                              log)
                  .ok());
  auto pb = onnx::SerializeTensor(Tensor::FromVector<float>(Shape({1, 3}), {7, 8, 9}), "x");
  ASSERT_TRUE(pb.ok());
  ASSERT_TRUE(AtomicWriteFile(dir_ + "/x.pb", *pb).ok());
  absl::Status status = RunModelCommand({.model_path = dir_ + "/m.onnx",
                                         .inputs = {"x=" + dir_ + "/x.pb"},
                                         .output_dir = dir_ + "/o"},
                                        log);
  ASSERT_TRUE(status.ok()) << status;
  auto y = data::ReadNpy(dir_ + "/o/y.npy");
  ASSERT_TRUE(y.ok());
  EXPECT_EQ(y->span<float>()[2], 9.0f);
}

TEST_F(RunCommandTest, ErrorsNameTheCulprit) {
  std::ostringstream log;
  auto bad = Tensor::FromVector<float>(Shape({2, 4}), std::vector<float>(8, 0.0f));
  ASSERT_TRUE(data::WriteNpy(dir_ + "/bad.npy", bad).ok());
  absl::Status st = RunModelCommand(
      {.model_path = dir_ + "/m.onnx", .inputs = {dir_ + "/bad.npy"}, .output_dir = dir_ + "/o"},
      log);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("input 'x' (" + dir_ + "/bad.npy): dim 1 is 4"));
  st = RunModelCommand({.model_path = dir_ + "/m.onnx", .inputs = {}, .output_dir = dir_ + "/o"},
                       log);
  EXPECT_THAT(std::string(st.message()), HasSubstr("missing input 'x'"));
  st = RunModelCommand(
      {.model_path = dir_ + "/m.onnx", .inputs = {dir_ + "/x.txt"}, .output_dir = dir_ + "/o"},
      log);
  EXPECT_THAT(std::string(st.message()), HasSubstr("unknown file type"));
  st = RunModelCommand({.model_path = dir_ + "/nope.onnx", .inputs = {}, .output_dir = dir_}, log);
  EXPECT_FALSE(st.ok());
  EXPECT_THAT(std::string(st.message()), HasSubstr("nope.onnx"));
}

TEST(SanitizeFileName, KeepsSafeCharacters) {
  EXPECT_EQ(SanitizeFileName("output_0"), "output_0");
  EXPECT_EQ(SanitizeFileName("a/b:0"), "a_b_0");
  EXPECT_EQ(SanitizeFileName(".."), "_..");
  EXPECT_EQ(SanitizeFileName(""), "_");
}

}  // namespace
}  // namespace mp::local
