// FuseQdq (qdq_fusion.h) through Session (SessionOptions::fuse_qdq): which patterns fuse,
// which do not, and that the fused integer graph computes what the QDQ graph means.
#include "workers/engine/exec/qdq_fusion.h"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>

#include "gtest/gtest.h"
#include "workers/engine/exec/qdq_test_model.h"
#include "workers/engine/exec/session.h"

namespace mp::exec {
namespace {

using testing::BuildQdqTestModel;
using testing::QdqModelOptions;
using testing::QdqTestInput;

std::map<std::string, int> OpCounts(const ir::Model& model) {
  std::map<std::string, int> counts;
  for (const ir::Node& n : model.graph.nodes()) ++counts[n.op_type()];
  return counts;
}

struct Outputs {
  Tensor yq;
  std::map<std::string, int> ops;
};

Outputs RunModel(const QdqModelOptions& o, bool fuse, const Tensor& x, int threads = 1) {
  auto session = Session::Create(BuildQdqTestModel(o), {.num_threads = threads, .fuse_qdq = fuse});
  EXPECT_TRUE(session.ok()) << session.status();
  if (!session.ok()) return {};
  auto out = (*session)->Run({{"x", x}});
  EXPECT_TRUE(out.ok()) << out.status();
  if (!out.ok()) return {};
  return {(*out)[0].second, OpCounts((*session)->model())};
}

TEST(QdqFusionTest, FusesConvGemmMatMulAndMovement) {
  const Tensor x = QdqTestInput(2, 3);
  const Outputs fused = RunModel({}, true, x);
  EXPECT_EQ(fused.ops.count("Conv"), 0u);
  EXPECT_EQ(fused.ops.count("Gemm"), 0u);
  EXPECT_EQ(fused.ops.count("MatMul"), 0u);
  EXPECT_EQ(fused.ops.count("Relu"), 0u);  // dropped: its Q has zero point 0
  EXPECT_EQ(fused.ops.at("QLinearConv"), 2);
  EXPECT_EQ(fused.ops.at("QLinearGemm"), 2);  // Gemm + bias, MatMul + Add(bias)
  EXPECT_EQ(fused.ops.at("Flatten"), 1);      // now on uint8
  EXPECT_EQ(fused.ops.at("MaxPool"), 1);      // float MaxPool keeps its DQ/Q (exact)
  // The weights stay int8: no weight DequantizeLinear survives.
  EXPECT_EQ(fused.ops.at("DequantizeLinear"), 2);  // before MaxPool, and the output y
}

// Power-of-two scales: the float QDQ path is exact, so both must agree bit for bit.
TEST(QdqFusionTest, FusedEqualsUnfusedWithExactScales) {
  for (uint32_t seed : {1u, 2u, 3u}) {
    for (bool int8_act : {false, true}) {
      QdqModelOptions o{.seed = seed, .pow2_scales = true, .int8_activations = int8_act};
      const Tensor x = QdqTestInput(3, seed + 10);
      const Outputs fused = RunModel(o, true, x), plain = RunModel(o, false, x);
      ASSERT_TRUE(fused.yq.defined() && plain.yq.defined());
      EXPECT_EQ(fused.ops.count("Conv"), 0u);
      EXPECT_EQ(plain.ops.count("QLinearConv"), 0u);
      const auto got = testing::Values<uint8_t>(fused.yq);
      EXPECT_EQ(got, testing::Values<uint8_t>(plain.yq))
          << "seed " << seed << " int8 activations " << int8_act;
      EXPECT_GE(std::set<uint8_t>(got.begin(), got.end()).size(), 5u);
    }
  }
}

// Arbitrary scales: the two roundings may differ by one step where a value is near a tie.
TEST(QdqFusionTest, FusedWithinOneStepOfUnfused) {
  int equal = 0, total = 0;
  std::set<uint8_t> distinct;  // the outputs must not be saturated into a few values
  for (uint32_t seed : {4u, 5u, 6u, 7u}) {
    const QdqModelOptions o{.seed = seed};
    const Tensor x = QdqTestInput(8, seed);
    const Outputs fused = RunModel(o, true, x, 3), plain = RunModel(o, false, x);
    const auto a = testing::Values<uint8_t>(fused.yq), b = testing::Values<uint8_t>(plain.yq);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_LE(std::abs(int(a[i]) - int(b[i])), 1) << "seed " << seed << " index " << i;
      equal += a[i] == b[i];
      ++total;
      distinct.insert(a[i]);
    }
  }
  EXPECT_GE(distinct.size(), 20u);
  std::printf("fused == unfused for %d of %d outputs, %zu distinct values\n", equal, total,
              distinct.size());
  EXPECT_GE(equal * 10, total * 9) << equal << " of " << total << " equal";
}

TEST(QdqFusionTest, ThreadCountDoesNotChangeFusedBytes) {
  const Tensor x = QdqTestInput(4, 9);
  const Outputs one = RunModel({.seed = 9}, true, x, 1), four = RunModel({.seed = 9}, true, x, 4);
  EXPECT_EQ(testing::Values<uint8_t>(one.yq), testing::Values<uint8_t>(four.yq));
}

TEST(QdqFusionTest, MismatchedBiasScaleKeepsFloatConv) {
  const Tensor x = QdqTestInput(1, 2);
  const Outputs fused = RunModel({.bad_bias_scale = true}, true, x);
  EXPECT_EQ(fused.ops.at("Conv"), 1);         // conv1 stays float
  EXPECT_EQ(fused.ops.at("QLinearConv"), 1);  // conv2 still fuses
  EXPECT_EQ(fused.ops.at("Relu"), 1);
}

TEST(QdqFusionTest, ReluWithNonMinimumZeroPointIsNotDropped) {
  // Relu -> Q with zero point 10: the clamp is not implied by saturation; no fusion.
  testing::ModelBuilder b(17);
  b.Input("x", DType::kUint8, {1, 2, 3, 3});
  b.Const("s", Tensor::FromVector(Shape(), std::vector<float>{0.5f}))
      .Const("z", Tensor::FromVector(Shape(), std::vector<uint8_t>{10}))
      .Const("wq", Tensor::FromVector(Shape({2, 2, 1, 1}), std::vector<int8_t>{1, -2, 3, -4}))
      .Const("ws", Tensor::FromVector(Shape(), std::vector<float>{0.25f}));
  b.Node("DequantizeLinear", {"x", "s", "z"}, {"xd"});
  b.Node("DequantizeLinear", {"wq", "ws"}, {"w"});
  b.Node("Conv", {"xd", "w"}, {"c"});
  b.Node("Relu", {"c"}, {"r"});
  b.Node("QuantizeLinear", {"r", "s", "z"}, {"y"});
  b.Output("y");
  ir::Model model = b.Build();
  auto stats = FuseQdq(&model);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->convs, 0);
  EXPECT_EQ(OpCounts(model).at("Conv"), 1);
}

}  // namespace
}  // namespace mp::exec
