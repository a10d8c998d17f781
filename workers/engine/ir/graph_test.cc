#include "workers/engine/ir/graph.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "workers/engine/ir/test_util.h"
#include "workers/engine/ir/verify.h"

namespace mp::ir {
namespace {

using ::mp::ir::testing::Add;
using ::mp::ir::testing::Input;
using ::mp::ir::testing::NodeNames;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(PartialShapeTest, Basics) {
  PartialShape unknown;
  EXPECT_FALSE(unknown.has_rank());
  EXPECT_EQ(unknown.ToString(), "[*]");
  EXPECT_FALSE(unknown.ToShape().ok());
  PartialShape p({Dim{-1, "N"}, Dim{3, ""}, Dim{-1, ""}});
  EXPECT_EQ(p.ToString(), "[N, 3, ?]");
  EXPECT_EQ(p.rank(), 3);
  EXPECT_FALSE(p.is_static());
  auto bad = p.ToShape();
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("dim 0 is unknown"));
  PartialShape s = PartialShape::Of(tensor::Shape{2, 5});
  EXPECT_TRUE(s.is_static());
  EXPECT_EQ(*s.ToShape(), tensor::Shape({2, 5}));
  EXPECT_EQ(PartialShape::FromSizes(std::vector<int64_t>{-1, 4}).ToString(), "[?, 4]");
}

TEST(AttributeTest, TypedGetters) {
  Graph g;
  Input(g, "x");
  const NodeId id = Add(g, "conv3", "Conv", {"x"}, {"y"},
                        {Attribute("group", int64_t{2}), Attribute("pads", std::vector<float>{1}),
                         Attribute("auto_pad", std::string("NOTSET"))});
  const Node& n = g.node(id);
  EXPECT_EQ(*n.GetInt("group"), 2);
  EXPECT_EQ(*n.GetInt("missing", 7), 7);
  EXPECT_EQ(*n.GetString("auto_pad", "VALID"), "NOTSET");
  EXPECT_EQ(*n.GetFloats("missing", {0.5f}), std::vector<float>{0.5f});
  auto wrong = n.GetInts("pads");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(wrong.status().message()),
            "node 'conv3' (Conv): attribute 'pads' is floats, expected ints");
  // A default does not excuse a mistyped attribute.
  EXPECT_FALSE(n.GetInts("pads", {0, 0}).ok());
  auto missing = n.GetFloat("alpha");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()),
              HasSubstr("required float attribute 'alpha' is missing"));
  EXPECT_FALSE(n.GetTensor("value").ok());
}

TEST(AttributeTest, SetRemoveEqualityDebug) {
  Graph g;
  Input(g, "x");
  Node& n = g.mutable_node(Add(g, "", "Gemm", {"x"}, {"y"}));
  EXPECT_EQ(n.Describe(), "node #0 (Gemm)");
  n.SetAttribute(Attribute("alpha", 1.0f));
  n.SetAttribute(Attribute("alpha", 2.0f));
  ASSERT_EQ(n.attributes().size(), 1u);
  EXPECT_EQ(*n.GetFloat("alpha"), 2.0f);
  EXPECT_TRUE(n.RemoveAttribute("alpha"));
  EXPECT_FALSE(n.RemoveAttribute("alpha"));

  tensor::Tensor t1 = tensor::Tensor::FromVector<float>(tensor::Shape{2}, {1, 2});
  tensor::Tensor t2 = t1.Clone();
  EXPECT_TRUE(Attribute("v", t1) == Attribute("v", t2));
  t2.mutable_data<float>()[1] = 3;
  EXPECT_FALSE(Attribute("v", t1) == Attribute("v", t2));
  EXPECT_FALSE(Attribute("a", int64_t{1}) == Attribute("a", 1.0f));
  EXPECT_TRUE(Attribute("a", std::vector<int64_t>{1, 2}) ==
              Attribute("a", std::vector<int64_t>{1, 2}));
  EXPECT_EQ(Attribute("pads", std::vector<int64_t>{0, 1}).DebugString(), "pads=[0, 1]");
  EXPECT_EQ(Attribute("v", t1).DebugString(), "v=float32[2]");
  EXPECT_EQ(Attribute("s", std::vector<std::string>{"a"}).DebugString(), "s=[\"a\"]");
}

TEST(GraphTest, BuildTracksProducersAndUses) {
  Graph g;
  const ValueId x = Input(g, "x");
  const NodeId a = Add(g, "a", "Relu", {"x"}, {"r"});
  const NodeId b = Add(g, "b", "Add", {"r", "r"}, {"s"});
  g.AddGraphOutput(g.FindValue("s"));
  const ValueId r = g.FindValue("r");
  EXPECT_EQ(g.value(r).producer(), a);
  EXPECT_EQ(g.value(r).producer_output_index(), 0);
  EXPECT_THAT(g.value(r).uses(), ElementsAre(Use{b, 0}, Use{b, 1}));
  EXPECT_EQ(g.value(x).uses().size(), 1u);
  EXPECT_TRUE(g.IsGraphInput(x));
  EXPECT_TRUE(g.IsGraphOutput(g.FindValue("s")));
  EXPECT_FALSE(g.FindValue("nope").valid());
  EXPECT_EQ(g.UniqueValueName("r"), "r_1");
  EXPECT_EQ(g.UniqueValueName("q"), "q");
  EXPECT_EQ(g.node(b).input(5), kNoValue);
  EXPECT_TRUE(Verify(g).ok());
}

TEST(GraphTest, SetNodeInputAndReplaceAllUses) {
  Graph g;
  Input(g, "x");
  Input(g, "y");
  const NodeId a = Add(g, "a", "Relu", {"x"}, {"r"});
  const NodeId b = Add(g, "b", "Add", {"r", "x"}, {"s"});
  g.AddGraphOutput(g.FindValue("s"));
  const ValueId x = g.FindValue("x"), y = g.FindValue("y");
  g.SetNodeInput(b, 1, y);
  EXPECT_THAT(g.value(x).uses(), ElementsAre(Use{a, 0}));
  EXPECT_THAT(g.value(y).uses(), ElementsAre(Use{b, 1}));
  g.SetNodeInput(b, 3, x);  // grows with an omitted slot 2
  EXPECT_EQ(g.node(b).num_inputs(), 4);
  EXPECT_EQ(g.node(b).input(2), kNoValue);
  g.SetNodeInput(b, 3, kNoValue);
  g.ReplaceAllUsesWith(x, y);
  EXPECT_TRUE(g.value(x).uses().empty());
  EXPECT_EQ(g.node(a).input(0), y);
  EXPECT_TRUE(Verify(g).ok()) << Verify(g);
  // Graph outputs change only when asked.
  const ValueId s = g.FindValue("s");
  g.ReplaceAllUsesWith(s, y);
  EXPECT_TRUE(g.IsGraphOutput(s));
  g.ReplaceAllUsesWith(s, y, /*include_graph_outputs=*/true);
  EXPECT_TRUE(g.IsGraphOutput(y));
}

TEST(GraphTest, SetConstantDetachesProducerAndDeadNodeRemovalCleansUp) {
  Graph g;
  Input(g, "x");
  const ValueId c = g.AddInitializer("c", tensor::Tensor::FromVector<float>(tensor::Shape{1}, {2}));
  Add(g, "shape_of_c", "Neg", {"c"}, {"k"});
  Add(g, "mul", "Mul", {"x", "k"}, {"y"});
  g.AddGraphOutput(g.FindValue("y"));
  // Exec folded "shape_of_c": its output becomes a constant.
  const ValueId k = g.FindValue("k");
  g.SetConstant(k, tensor::Tensor::FromVector<float>(tensor::Shape{1}, {-2}));
  EXPECT_FALSE(g.value(k).producer().valid());
  EXPECT_EQ(g.node(NodeId{0}).output(0), kNoValue);
  EXPECT_TRUE(Verify(g).ok()) << Verify(g);
  EXPECT_EQ(g.RemoveDeadNodes(), 1);
  EXPECT_THAT(NodeNames(g), ElementsAre("mul"));
  EXPECT_FALSE(g.FindValue("c").valid());  // unused initializer dropped
  (void)c;
  const ValueId k2 = g.FindValue("k");
  ASSERT_TRUE(k2.valid());
  EXPECT_EQ(g.value(k2).initializer().data<float>()[0], -2);
  EXPECT_EQ(g.node(NodeId{0}).input(1), k2);
  EXPECT_TRUE(Verify(g).ok()) << Verify(g);
}

TEST(GraphTest, RemoveDeadNodesKeepsInitializersOnRequest) {
  Graph g;
  Input(g, "x");
  g.AddInitializer("unused", tensor::Tensor::FromVector<float>(tensor::Shape{1}, {1}));
  Add(g, "dead", "Relu", {"x"}, {"d"});
  Add(g, "live", "Neg", {"x"}, {"y"});
  g.AddGraphOutput(g.FindValue("y"));
  EXPECT_EQ(g.RemoveDeadNodes(/*keep_unused_initializers=*/true), 1);
  EXPECT_TRUE(g.FindValue("unused").valid());
  EXPECT_FALSE(g.FindValue("d").valid());
  EXPECT_TRUE(g.FindValue("x").valid());  // graph inputs always stay
  EXPECT_EQ(g.RemoveDeadNodes(), 0);
  EXPECT_FALSE(g.FindValue("unused").valid());
  EXPECT_TRUE(Verify(g).ok()) << Verify(g);
}

TEST(GraphTest, RemoveNodesRenumbersConsistently) {
  Graph g;
  Input(g, "x");
  Add(g, "n0", "Relu", {"x"}, {"a"});
  Add(g, "n1", "Relu", {"a"}, {"b"});
  Add(g, "n2", "Relu", {"b"}, {"c"});
  g.AddGraphOutput(g.FindValue("c"));
  const NodeId victim{1};
  g.RemoveNodes(std::vector<NodeId>{victim});
  EXPECT_THAT(NodeNames(g), ElementsAre("n0", "n2"));
  EXPECT_EQ(g.node(NodeId{1}).id(), NodeId{1});
  // n2 now reads a dangling 'b'.
  absl::Status s = Verify(g);
  EXPECT_THAT(std::string(s.message()), HasSubstr("node 'n2' (Relu): input 0 'b' is dangling"));
  g.SetNodeInput(NodeId{1}, 0, g.FindValue("a"));
  g.RemoveValues(std::vector<ValueId>{g.FindValue("b")});
  EXPECT_FALSE(g.FindValue("b").valid());
  EXPECT_EQ(g.value(g.FindValue("c")).producer(), NodeId{1});
  EXPECT_TRUE(Verify(g).ok()) << Verify(g);
}

TEST(GraphTest, SortNodesTopologicallyIsStable) {
  Graph g;
  Input(g, "x");
  Add(g, "late", "Relu", {"mid"}, {"y"});
  Add(g, "side", "Neg", {"x"}, {"z"});
  Add(g, "early", "Relu", {"x"}, {"mid"});
  g.AddGraphOutput(g.FindValue("y"));
  g.AddGraphOutput(g.FindValue("z"));
  ASSERT_TRUE(g.SortNodesTopologically().ok());
  EXPECT_THAT(NodeNames(g), ElementsAre("side", "early", "late"));
  EXPECT_TRUE(Verify(g).ok()) << Verify(g);
  EXPECT_EQ(g.value(g.FindValue("mid")).producer(), NodeId{1});
  EXPECT_EQ(g.value(g.FindValue("mid")).uses()[0].node, NodeId{2});
}

TEST(GraphTest, SetNodeOutputMovesProducer) {
  Graph g;
  Input(g, "x");
  const NodeId a = Add(g, "a", "Relu", {"x"}, {"r"});
  const ValueId fresh = g.AddValue("fresh", DType::kFloat32);
  g.SetNodeOutput(a, 0, fresh);
  EXPECT_EQ(g.value(fresh).producer(), a);
  EXPECT_FALSE(g.value(g.FindValue("r")).producer().valid());
  EXPECT_DEATH(g.SetNodeOutput(a, 1, fresh), "already has a producer");
}

TEST(ModelTest, OpsetVersion) {
  Model m;
  m.opset_imports = {{"", 13}, {"com.microsoft", 1}};
  EXPECT_EQ(m.OpsetVersion("ai.onnx"), 13);
  EXPECT_EQ(m.OpsetVersion(""), 13);
  EXPECT_EQ(m.OpsetVersion("com.microsoft"), 1);
  EXPECT_FALSE(m.OpsetVersion("ai.onnx.ml").has_value());
}

}  // namespace
}  // namespace mp::ir
