#include "workers/engine/train/init.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "workers/engine/ir/test_util.h"
#include "workers/engine/onnx/onnx.h"

namespace mp::train {
namespace {

using tensor::Shape;
using tensor::Tensor;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string FixturePath(const std::string& name) {
  const char* root = std::getenv("MP_SOURCE_DIR");
  return std::string(root != nullptr ? root : ".") + "/tests/fixtures/models/" + name;
}

const Tensor& Init(const ir::Model& m, const std::string& name) {
  return m.graph.value(m.graph.FindValue(name)).initializer();
}

bool SameBytes(const Tensor& a, const Tensor& b) {
  return a.byte_size() == b.byte_size() &&
         std::memcmp(a.raw_data(), b.raw_data(), a.byte_size()) == 0;
}

// Every element within +-bound, and the sample variance near bound^2 / 3 (uniform).
void ExpectUniform(const Tensor& t, double bound) {
  double sum = 0, sq = 0;
  for (float v : t.span<float>()) {
    ASSERT_LE(std::fabs(v), bound);
    sum += v;
    sq += double(v) * v;
  }
  const double n = double(t.num_elements());
  const double mean = sum / n, var = sq / n - mean * mean;
  const double want_var = bound * bound / 3;
  EXPECT_NEAR(mean, 0.0, 6 * std::sqrt(want_var / n));
  EXPECT_NEAR(var, want_var, want_var * 8 / std::sqrt(n));
}

TEST(InitTest, LeNetLikePyTorchDefaults) {
  auto model = onnx::ImportModelFile(FixturePath("lenet.onnx"));
  ASSERT_TRUE(model.ok()) << model.status();
  const Tensor original = Init(*model, "fc1.weight");
  auto names = InitializeParameters(*model, 7);
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_THAT(*names,
              ElementsAre("conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight",
                          "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"));
  EXPECT_FALSE(SameBytes(original, Init(*model, "fc1.weight")));
  ExpectUniform(Init(*model, "conv1.weight"), 1.0 / 5);                 // fan_in 1*5*5
  ExpectUniform(Init(*model, "conv2.weight"), 1.0 / std::sqrt(150.0));  // 6*5*5
  ExpectUniform(Init(*model, "fc1.weight"), 1.0 / 20);                  // [120, 400], transB
  ExpectUniform(Init(*model, "fc1.bias"), 1.0 / 20);
  ExpectUniform(Init(*model, "fc3.weight"), 1.0 / std::sqrt(84.0));

  // Deterministic for a seed, different for another.
  auto again = onnx::ImportModelFile(FixturePath("lenet.onnx"));
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(InitializeParameters(*again, 7).ok());
  auto other = onnx::ImportModelFile(FixturePath("lenet.onnx"));
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(InitializeParameters(*other, 8).ok());
  for (const std::string& n : *names) {
    EXPECT_TRUE(SameBytes(Init(*model, n), Init(*again, n))) << n;
    EXPECT_FALSE(SameBytes(Init(*model, n), Init(*other, n))) << n;
  }
}

ir::Model SmallModel() {
  using ir::testing::Add;
  ir::Model m;
  m.opset_imports = {{"", 17}};
  ir::Graph& g = m.graph;
  ir::testing::Input(g, "x");
  auto c = [&](const std::string& name, Shape s, float v) {
    g.AddInitializer(name, Tensor::FromVector<float>(
                               s, std::vector<float>(static_cast<size_t>(s.num_elements()), v)));
  };
  c("w", Shape({4, 2, 3, 3}), 9.0f);
  c("b", Shape({4}), 9.0f);
  for (const char* n : {"s", "bb", "mean", "var"}) c(n, Shape({4}), 9.0f);
  c("w2", Shape({64, 5}), 9.0f);  // MatMul weight [K, N]
  c("b2", Shape({5}), 9.0f);
  c("g", Shape({3, 5}), 9.0f);  // Gemm B without transB: [K, N]
  c("other", Shape({5}), 9.0f);
  Add(g, "conv", "Conv", {"x", "w", "b"}, {"y"});
  Add(g, "bn", "BatchNormalization", {"y", "s", "bb", "mean", "var"}, {"z"});
  Add(g, "flat", "Flatten", {"z"}, {"f"});
  Add(g, "mm", "MatMul", {"f", "w2"}, {"h"});
  Add(g, "add", "Add", {"h", "b2"}, {"o"});
  Add(g, "gemm", "Gemm", {"x", "g"}, {"q"});
  Add(g, "mul", "Mul", {"o", "other"}, {"out"});
  g.AddGraphOutput(g.FindValue("out"));
  return m;
}

TEST(InitTest, RolesFromConsumers) {
  ir::Model m = SmallModel();
  auto names = InitializeParameters(m, 1);
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_THAT(*names, ElementsAre("w", "b", "s", "bb", "mean", "var", "w2", "b2", "g"));
  ExpectUniform(Init(m, "w"), 1.0 / std::sqrt(18.0));
  for (float v : Init(m, "b").span<float>()) EXPECT_LE(std::fabs(v), 1.0 / std::sqrt(18.0));
  for (float v : Init(m, "s").span<float>()) EXPECT_EQ(v, 1.0f);
  for (float v : Init(m, "bb").span<float>()) EXPECT_EQ(v, 0.0f);
  for (float v : Init(m, "mean").span<float>()) EXPECT_EQ(v, 0.0f);
  for (float v : Init(m, "var").span<float>()) EXPECT_EQ(v, 1.0f);
  ExpectUniform(Init(m, "w2"), 1.0 / 8);  // K = 64
  for (float v : Init(m, "b2").span<float>()) EXPECT_LE(std::fabs(v), 1.0 / 8);
  for (float v : Init(m, "g").span<float>()) EXPECT_LE(std::fabs(v), 1.0 / std::sqrt(3.0));
  for (float v : Init(m, "other").span<float>()) EXPECT_EQ(v, 9.0f);  // untouched
}

TEST(InitTest, ConflictingRolesAreAnError) {
  ir::Model m = SmallModel();
  // "w" is also read as a BN scale: a weight and a constant at once.
  ir::testing::Add(m.graph, "bn2", "BatchNormalization", {"y", "w", "bb", "mean", "var"}, {"z2"});
  auto names = InitializeParameters(m, 1);
  EXPECT_EQ(names.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(names.status().message()),
              HasSubstr("initializer 'w': conflicting roles from node 'conv' (Conv) and node "
                        "'bn2' (BatchNormalization)"));
}

}  // namespace
}  // namespace mp::train
