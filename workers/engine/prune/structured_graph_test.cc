// Structured pruning on hand-built graphs: Concat offsets, MatMul consumers, and the cases
// the surgery must refuse (Reshape, misaligned Add).
#include <cstdint>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "workers/engine/ir/verify.h"
#include "workers/engine/prune/prune.h"
#include "workers/engine/prune/test_util.h"

namespace mp::prune {
namespace {

using ir::Attribute;
using ir::ValueId;
using tensor::DType;
using tensor::Shape;
using tensor::Tensor;
using testing::ExpectClose;
using testing::RunModel;

// Deterministic pseudo-random values in [-1, 1).
Tensor Random(Shape shape, uint32_t seed) {
  std::vector<float> v(static_cast<size_t>(shape.num_elements()));
  uint32_t s = seed * 2654435761u + 1;
  for (float& x : v) {
    s = s * 1664525u + 1013904223u;
    x = float(s >> 8) / float(1 << 23) - 1.0f;
  }
  return Tensor::FromVector<float>(std::move(shape), v);
}

class Builder {
 public:
  Builder() { model_.opset_imports.push_back({"", 13}); }
  ir::Graph& g() { return model_.graph; }
  ValueId Input(const std::string& name, std::vector<int64_t> dims) {
    ValueId v = g().AddValue(name, DType::kFloat32, ir::PartialShape::FromSizes(dims));
    g().AddGraphInput(v);
    return v;
  }
  ValueId Node(const std::string& op, std::vector<ValueId> in, std::vector<Attribute> attrs = {}) {
    ValueId out = g().AddValue(StrName(op));
    g().AddNode({.name = StrName(op + "_node"),
                 .op_type = op,
                 .inputs = std::move(in),
                 .outputs = {out},
                 .attributes = std::move(attrs)});
    return out;
  }
  ValueId Const(Tensor t) { return g().AddInitializer(StrName("c"), std::move(t)); }
  ValueId Conv(ValueId x, int64_t out, int64_t in, int64_t k) {
    const int64_t pad = k / 2;
    return Node(
        "Conv",
        {x, Const(Random(Shape{out, in, k, k}, seed_++)), Const(Random(Shape{out}, seed_++))},
        {Attribute("pads", std::vector<int64_t>{pad, pad, pad, pad})});
  }
  ValueId Gemm(ValueId x, int64_t out, int64_t in) {
    return Node("Gemm",
                {x, Const(Random(Shape{out, in}, seed_++)), Const(Random(Shape{out}, seed_++))},
                {Attribute("transB", int64_t{1})});
  }
  ir::Model Finish(ValueId y) {
    g().AddGraphOutput(y);
    EXPECT_TRUE(ir::Verify(g()).ok());
    return model_;
  }

 private:
  std::string StrName(const std::string& base) { return base + "_" + std::to_string(n_++); }
  ir::Model model_;
  int n_ = 0;
  uint32_t seed_ = 1;
};

void CheckRemovedEqualsZeroed(const ir::Model& m, const StructuredPlan& plan, const Tensor& x) {
  ir::Model zeroed = m, removed = m;
  ASSERT_TRUE(ApplyStructured(plan, ApplyMode::kZero, &zeroed).ok());
  ASSERT_TRUE(ApplyStructured(plan, ApplyMode::kRemove, &removed).ok());
  ExpectClose(RunModel(zeroed, x), RunModel(removed, x), "removed vs zeroed");
}

TEST(StructuredGraphTest, ConcatOffsetsFollowEachInput) {
  Builder b;
  ValueId x = b.Input("x", {2, 2, 6, 6});
  ValueId ra = b.Node("Relu", {b.Conv(x, 4, 2, 3)});
  ValueId rb = b.Node("Relu", {b.Conv(x, 3, 2, 1)});
  ValueId cat = b.Node("Concat", {ra, x, rb}, {Attribute("axis", int64_t{1})});
  ValueId rc = b.Node("Relu", {b.Conv(cat, 5, 9, 3)});
  ValueId pooled = b.Node("Flatten", {b.Node("GlobalAveragePool", {rc})});
  ir::Model m = b.Finish(b.Gemm(pooled, 3, 5));
  auto plan = PlanStructured(m, {.ratio = 0.5});
  ASSERT_TRUE(plan.ok()) << plan.status();
  const auto reports = SummarizePlan(*plan);
  ASSERT_EQ(reports.size(), 4u);
  EXPECT_EQ(reports[0].kept, 2);  // 4 - round(2)
  EXPECT_EQ(reports[1].kept, 1);  // 3 - round(1.5)
  EXPECT_EQ(reports[2].kept, 2);  // 5 - round(2.5)
  CheckRemovedEqualsZeroed(m, *plan, Random(Shape{2, 2, 6, 6}, 99));
  ir::Model removed = m;
  ASSERT_TRUE(ApplyStructured(*plan, ApplyMode::kRemove, &removed).ok());
  // The consumer of the Concat sees 2 + 2 (graph input, never pruned) + 1 channels.
  const ir::Node& conv_c = removed.graph.node(
      removed.graph
          .value(removed.graph.FindValue(
              m.graph.value(m.graph.node(m.graph.value(rc).producer()).input(0)).name()))
          .producer());
  EXPECT_EQ(removed.graph.value(conv_c.input(1)).initializer().shape(), (Shape{2, 5, 3, 3}));
}

TEST(StructuredGraphTest, FlattenedChannelsAndMatMulConsumers) {
  Builder b;
  ValueId x = b.Input("x", {3, 1, 4, 4});
  ValueId h = b.Node("MaxPool", {b.Node("Relu", {b.Conv(x, 6, 1, 3)})},
                     {Attribute("kernel_shape", std::vector<int64_t>{2, 2}),
                      Attribute("strides", std::vector<int64_t>{2, 2})});
  ValueId f = b.Node("Relu", {b.Gemm(b.Node("Flatten", {h}), 8, 24)});
  ir::Model m = b.Finish(b.Node("MatMul", {f, b.Const(Random(Shape{8, 2}, 7))}));
  auto plan = PlanStructured(m, {.ratio = 0.5, .norm = Norm::kL2});
  ASSERT_TRUE(plan.ok()) << plan.status();
  const auto reports = SummarizePlan(*plan);
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[0].kept, 3);
  EXPECT_EQ(reports[1].kept, 4);
  CheckRemovedEqualsZeroed(m, *plan, Random(Shape{3, 1, 4, 4}, 5));
  ir::Model removed = m;
  ASSERT_TRUE(ApplyStructured(*plan, ApplyMode::kRemove, &removed).ok());
  bool saw_matmul = false;
  for (const ir::Node& n : removed.graph.nodes()) {
    if (n.op_type() == "Gemm") {
      EXPECT_EQ(removed.graph.value(n.input(1)).initializer().shape(), (Shape{4, 12}));
    }
    if (n.op_type() == "MatMul") {
      saw_matmul = true;
      EXPECT_EQ(removed.graph.value(n.input(1)).initializer().shape(), (Shape{4, 2}));
    }
  }
  EXPECT_TRUE(saw_matmul);
}

TEST(StructuredGraphTest, UnfollowableConsumersSkipTheLayerWithAReason) {
  Builder b;
  ValueId x = b.Input("x", {1, 2, 4, 4});
  ValueId a = b.Node("Relu", {b.Conv(x, 4, 2, 3)});
  // Reshape to another channel split: cannot be followed.
  ValueId shape = b.Const(Tensor::FromVector<int64_t>(Shape{4}, {1, 2, 2, 16}));
  ValueId r = b.Node("Reshape", {a, shape});
  // An Add with a per-channel constant that is not broadcast along channels.
  ValueId c2 = b.Conv(x, 3, 2, 1);
  ValueId added = b.Node("Add", {c2, b.Const(Random(Shape{3, 1, 1}, 3))});
  ValueId pooled = b.Node("ReduceMean", {b.Node("Concat", {r, r}, {Attribute("axis", int64_t{1})})},
                          {Attribute("axes", std::vector<int64_t>{1, 2, 3})});
  ValueId pooled2 =
      b.Node("ReduceMean", {added}, {Attribute("axes", std::vector<int64_t>{1, 2, 3})});
  ir::Model m = b.Finish(b.Node("Add", {pooled, pooled2}));
  auto plan = PlanStructured(m, {.ratio = 0.5});
  ASSERT_TRUE(plan.ok()) << plan.status();
  const auto reports = SummarizePlan(*plan);
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[0].kept, 4);
  EXPECT_NE(reports[0].skipped.find("(Reshape)"), std::string::npos) << reports[0].skipped;
  EXPECT_EQ(reports[1].kept, 3);
  EXPECT_NE(reports[1].skipped.find("not channel-aligned"), std::string::npos)
      << reports[1].skipped;
  // Nothing to remove: the model is unchanged but still valid.
  ir::Model removed = m;
  ASSERT_TRUE(ApplyStructured(*plan, ApplyMode::kRemove, &removed).ok());
  ExpectClose(RunModel(m, Random(Shape{1, 2, 4, 4}, 1)),
              RunModel(removed, Random(Shape{1, 2, 4, 4}, 1)), "unchanged");
}

}  // namespace
}  // namespace mp::prune
