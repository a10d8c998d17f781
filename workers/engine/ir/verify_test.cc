#include "workers/engine/ir/verify.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "workers/engine/ir/test_util.h"

namespace mp::ir {
namespace {

using ::mp::ir::testing::Add;
using ::mp::ir::testing::Input;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Message(const absl::Status& s) { return std::string(s.message()); }

TEST(TopologicalOrderTest, OrdersProducersFirst) {
  Graph g;
  Input(g, "x");
  Add(g, "c", "Add", {"a", "b"}, {"y"});
  Add(g, "b", "Relu", {"a"}, {"b"});
  Add(g, "a", "Relu", {"x"}, {"a"});
  auto order = TopologicalOrder(g);
  ASSERT_TRUE(order.ok());
  EXPECT_THAT(*order, ElementsAre(NodeId{2}, NodeId{1}, NodeId{0}));
}

TEST(TopologicalOrderTest, CycleNamesNodesOnTheCycle) {
  Graph g;
  Input(g, "x");
  Add(g, "entry", "Add", {"x", "q"}, {"p"});
  Add(g, "before", "Relu", {"x"}, {"w"});  // not on the cycle
  Add(g, "loop_a", "Relu", {"p"}, {"r"});
  Add(g, "loop_b", "Neg", {"r"}, {"q"});
  Add(g, "after", "Relu", {"q"}, {"z"});  // downstream of the cycle, not on it
  auto order = TopologicalOrder(g);
  ASSERT_FALSE(order.ok());
  EXPECT_EQ(order.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string m = Message(order.status());
  EXPECT_THAT(m, HasSubstr("graph has a cycle"));
  EXPECT_THAT(m, HasSubstr("node 'loop_a' (Relu)"));
  EXPECT_THAT(m, HasSubstr("node 'loop_b' (Neg)"));
  EXPECT_THAT(m, HasSubstr("node 'entry' (Add)"));
  EXPECT_THAT(m, ::testing::Not(HasSubstr("after")));
  EXPECT_THAT(m, ::testing::Not(HasSubstr("before")));
  EXPECT_FALSE(Verify(g).ok());
  EXPECT_FALSE(g.SortNodesTopologically().ok());
  EXPECT_EQ(g.node(NodeId{0}).name(), "entry");  // unchanged on failure
}

TEST(TopologicalOrderTest, SelfLoop) {
  Graph g;
  Add(g, "self", "Relu", {"s"}, {"s"});
  auto order = TopologicalOrder(g);
  ASSERT_FALSE(order.ok());
  EXPECT_THAT(Message(order.status()),
              HasSubstr("cycle: node 'self' (Relu) -> node 'self' (Relu)"));
}

TEST(VerifyTest, AcceptsValidGraph) {
  Graph g;
  Input(g, "x");
  g.AddInitializer("w", tensor::Tensor::FromVector<float>(tensor::Shape{1}, {1}));
  Add(g, "m", "Mul", {"x", "w"}, {"y"});
  Add(g, "d", "Dropout", {"y", "", ""}, {"z", ""});
  g.AddGraphOutput(g.FindValue("z"));
  EXPECT_TRUE(Verify(g).ok()) << Verify(g);
}

TEST(VerifyTest, DanglingInputAndOutput) {
  Graph g;
  Input(g, "x");
  Add(g, "m", "Mul", {"x", "ghost"}, {"y"});
  g.AddGraphOutput(g.FindValue("y"));
  EXPECT_EQ(Message(Verify(g)),
            "node 'm' (Mul): input 1 'ghost' is dangling (not a graph input, initializer or "
            "node output)");
  Graph h;
  h.AddGraphOutput(h.AddValue("out"));
  EXPECT_THAT(Message(Verify(h)), HasSubstr("graph output 'out' is dangling"));
}

TEST(VerifyTest, DuplicateNames) {
  Graph g;
  Input(g, "x");
  const ValueId dup = g.AddValue("x");
  g.AddNode(NodeSpec{"n", "Relu", "", {g.FindValue("x")}, {dup}, {}, ""});
  EXPECT_EQ(Message(Verify(g)), "duplicate value name 'x' (values #0 and #1)");
  Graph h;
  h.AddGraphInput(h.AddValue(""));
  EXPECT_THAT(Message(Verify(h)), HasSubstr("empty name"));
}

TEST(VerifyTest, ProducedTwice) {
  Graph g;
  Input(g, "x");
  Add(g, "first", "Relu", {"x"}, {"y"});
  Add(g, "second", "Neg", {"x"}, {"y"});
  EXPECT_EQ(Message(Verify(g)),
            "value 'y' is produced twice: by node 'first' (Relu) and by node 'second' (Neg)");
}

TEST(VerifyTest, GraphInputOrConstantProduced) {
  Graph g;
  Input(g, "x");
  Add(g, "n", "Relu", {"x"}, {"x"});
  EXPECT_THAT(Message(Verify(g)), HasSubstr("graph input 'x' is also produced by node 'n'"));
  Graph h;
  Input(h, "x");
  h.AddInitializer("c", tensor::Tensor::FromVector<float>(tensor::Shape{1}, {1}));
  Add(h, "n", "Relu", {"x"}, {"c"});
  EXPECT_THAT(Message(Verify(h)), HasSubstr("initializer 'c' is also produced by node 'n'"));
}

TEST(VerifyTest, InitializerDisagreesWithDeclaration) {
  Graph g;
  const ValueId c =
      g.AddInitializer("c", tensor::Tensor::FromVector<float>(tensor::Shape{2}, {1, 2}));
  g.AddGraphOutput(c);
  g.mutable_value(c).set_shape(PartialShape::FromSizes(std::vector<int64_t>{3}));
  EXPECT_EQ(Message(Verify(g)), "initializer 'c' has shape [2] but is declared [3]");
  g.mutable_value(c).set_shape(PartialShape::FromSizes(std::vector<int64_t>{-1}));
  EXPECT_TRUE(Verify(g).ok());
  g.mutable_value(c).set_dtype(DType::kInt64);
  EXPECT_EQ(Message(Verify(g)), "initializer 'c' holds float32 but is declared int64");
}

TEST(VerifyTest, EmptyOpTypeAndDoubleGraphInput) {
  Graph g;
  const ValueId x = Input(g, "x");
  g.AddGraphInput(x);
  EXPECT_THAT(Message(Verify(g)), HasSubstr("listed twice as a graph input"));
  Graph h;
  Input(h, "x");
  Add(h, "n", "", {"x"}, {"y"});
  EXPECT_EQ(Message(Verify(h)), "node 'n' (): empty op_type");
}

}  // namespace
}  // namespace mp::ir
