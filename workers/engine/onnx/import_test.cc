#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onnx/defs/parser.h"
#include "workers/engine/ir/verify.h"
#include "workers/engine/onnx/onnx.h"
#include "workers/engine/onnx/onnx_test_util.h"
#include "workers/engine/onnx/tensor_proto.h"

namespace mp::onnx {
namespace {

using tensor::Shape;
using tensor::Tensor;
using ::testing::HasSubstr;

std::string Message(const absl::Status& s) { return std::string(s.message()); }

using testing::Bytes;
using testing::Parse;

void AddInit(::onnx::ModelProto& m, const std::string& name, const Tensor& t) {
  TensorToProto(t, name, m.mutable_graph()->add_initializer());
}

constexpr const char* kConvModel = R"(
<
  ir_version: 8,
  opset_import: ["" : 13, "ai.onnx.ml" : 3],
  producer_name: "mp-test",
  producer_version: "1.0",
  doc_string: "a tiny conv net"
>
net (float[N, 2, 4, 4] x, float[3, 2, 3, 3] w, float[3] b) => (float[N, 3] probs)
{
  c = Conv <kernel_shape = [3, 3], pads = [1, 1, 1, 1], group = 1, auto_pad = "NOTSET"> (x, w, b)
  r = LeakyRelu <alpha = 0.25> (c)
  p = GlobalAveragePool (r)
  f = Flatten <axis = 1> (p)
  probs = Softmax <axis = -1> (f)
}
)";

::onnx::ModelProto ConvModel() {
  ::onnx::ModelProto m = Parse(kConvModel);
  std::vector<float> w(54);
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.01f * static_cast<float>(i) - 0.2f;
  AddInit(m, "w", Tensor::FromVector<float>(Shape{3, 2, 3, 3}, w));
  AddInit(m, "b", Tensor::FromVector<float>(Shape{3}, {0.1f, -0.2f, 0.3f}));
  auto* kv = m.add_metadata_props();
  kv->set_key("author");
  kv->set_value("tests");
  return m;
}

TEST(ImportTest, ImportsConvModel) {
  auto model = ImportModel(Bytes(ConvModel()));
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->ir_version, 8);
  EXPECT_EQ(model->OpsetVersion(""), 13);
  EXPECT_EQ(model->OpsetVersion("ai.onnx.ml"), 3);
  EXPECT_EQ(model->producer_name, "mp-test");
  ASSERT_EQ(model->metadata_props.size(), 1u);
  const ir::Graph& g = model->graph;
  ASSERT_EQ(g.num_nodes(), 5);
  const ir::Node& conv = g.node(ir::NodeId{0});
  EXPECT_EQ(conv.op_type(), "Conv");
  EXPECT_EQ(*conv.GetInts("pads"), (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_EQ(*conv.GetString("auto_pad"), "NOTSET");
  EXPECT_EQ(*g.node(ir::NodeId{1}).GetFloat("alpha"), 0.25f);
  const ir::Value& x = g.value(g.FindValue("x"));
  EXPECT_EQ(x.shape().ToString(), "[N, 2, 4, 4]");
  EXPECT_EQ(x.dtype(), ir::DType::kFloat32);
  // w and b are graph inputs with initializers (overridable defaults).
  const ir::ValueId w = g.FindValue("w");
  EXPECT_TRUE(g.IsGraphInput(w));
  EXPECT_TRUE(g.value(w).is_constant());
  EXPECT_NEAR(g.value(w).initializer().data<float>()[53], 0.33f, 1e-6);
  EXPECT_EQ(g.value(g.FindValue("probs")).shape().ToString(), "[N, 3]");
}

// Structural equality of two models, ids included (import order is deterministic).
void ExpectSameModel(const ir::Model& a, const ir::Model& b) {
  EXPECT_EQ(a.ir_version, b.ir_version);
  EXPECT_EQ(a.opset_imports, b.opset_imports);
  EXPECT_EQ(a.producer_name, b.producer_name);
  EXPECT_EQ(a.producer_version, b.producer_version);
  EXPECT_EQ(a.doc_string, b.doc_string);
  EXPECT_EQ(a.metadata_props, b.metadata_props);
  const ir::Graph &ga = a.graph, &gb = b.graph;
  EXPECT_EQ(ga.name(), gb.name());
  ASSERT_EQ(ga.num_nodes(), gb.num_nodes());
  for (int i = 0; i < ga.num_nodes(); ++i) {
    const ir::Node &na = ga.node(ir::NodeId{i}), &nb = gb.node(ir::NodeId{i});
    EXPECT_EQ(na.name(), nb.name());
    EXPECT_EQ(na.op_type(), nb.op_type());
    EXPECT_TRUE(na.attributes() == nb.attributes()) << na.Describe();
    ASSERT_EQ(na.num_inputs(), nb.num_inputs());
    for (int k = 0; k < na.num_inputs(); ++k) {
      EXPECT_EQ(na.input(k).valid() ? ga.value(na.input(k)).name() : "",
                nb.input(k).valid() ? gb.value(nb.input(k)).name() : "");
    }
  }
  for (const ir::Value& va : ga.values()) {
    const ir::ValueId idb = gb.FindValue(va.name());
    ASSERT_TRUE(idb.valid()) << va.name();
    const ir::Value& vb = gb.value(idb);
    EXPECT_EQ(va.dtype(), vb.dtype()) << va.name();
    EXPECT_EQ(va.shape(), vb.shape()) << va.name();
    EXPECT_EQ(va.is_constant(), vb.is_constant()) << va.name();
    if (va.is_constant()) {
      EXPECT_TRUE(ir::Attribute("t", va.initializer()) == ir::Attribute("t", vb.initializer()))
          << va.name();
    }
  }
  EXPECT_EQ(ga.inputs().size(), gb.inputs().size());
  EXPECT_EQ(ga.outputs().size(), gb.outputs().size());
}

TEST(RoundTripTest, ConvModelSurvivesExportImport) {
  auto first = ImportModel(Bytes(ConvModel()));
  ASSERT_TRUE(first.ok()) << first.status();
  auto bytes = ExportModel(*first);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  auto second = ImportModel(*bytes);
  ASSERT_TRUE(second.ok()) << second.status();
  ExpectSameModel(*first, *second);
  auto bytes2 = ExportModel(*second);
  ASSERT_TRUE(bytes2.ok());
  EXPECT_EQ(*bytes, *bytes2);  // export is a fixed point
}

TEST(RoundTripTest, AttributesOfEveryKindAndOptionalSlots) {
  ::onnx::ModelProto m = Parse(R"(
<ir_version: 9, opset_import: ["" : 17]>
g (float[2] x) => (float[2] y, float[2] z)
{
  k = Constant <value = float[2] {1.5, -2.5}> ()
  s = Add (x, k)
  y, mask = Dropout (s, , )
  z = Clip (s, , k1)
  k1 = Constant <value_float = 3.0> ()
}
)");
  auto* n = m.mutable_graph()->mutable_node(3);
  auto* a = n->add_attribute();
  a->set_name("strs");
  a->set_type(::onnx::AttributeProto::STRINGS);
  a->add_strings("p");
  a->add_strings("q");
  auto* f = n->add_attribute();
  f->set_name("fl");
  f->set_type(::onnx::AttributeProto::FLOATS);
  f->add_floats(0.5f);
  auto model = ImportModel(Bytes(m));
  ASSERT_TRUE(model.ok()) << model.status();
  // The importer sorted k1's Constant before Clip.
  const ir::Graph& g = model->graph;
  EXPECT_EQ(g.node(ir::NodeId{3}).op_type(), "Constant");
  const ir::Node& dropout = g.node(ir::NodeId{2});
  EXPECT_EQ(dropout.num_inputs(), 3);
  EXPECT_FALSE(dropout.input(1).valid());
  EXPECT_TRUE(dropout.output(1).valid());
  const ir::Node& clip = g.node(ir::NodeId{4});
  EXPECT_FALSE(clip.input(1).valid());
  EXPECT_EQ(*clip.GetStrings("strs"), (std::vector<std::string>{"p", "q"}));
  auto value = g.node(ir::NodeId{0}).GetTensor("value");
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(value->data<float>()[1], -2.5f);

  auto bytes = ExportModel(*model);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  auto again = ImportModel(*bytes);
  ASSERT_TRUE(again.ok()) << again.status();
  ExpectSameModel(*model, *again);
}

TEST(RoundTripTest, EditedModelExportsAndReimports) {
  auto model = ImportModel(Bytes(ConvModel()));
  ASSERT_TRUE(model.ok());
  model->graph.mutable_node(ir::NodeId{1}).SetAttribute(ir::Attribute("alpha", 0.5f));
  model->graph.SetConstant(model->graph.FindValue("b"),
                           Tensor::FromVector<float>(Shape{3}, {7, 8, 9}));
  auto again = ImportModel(*ExportModel(*model));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again->graph.node(ir::NodeId{1}).GetFloat("alpha"), 0.5f);
  EXPECT_EQ(again->graph.value(again->graph.FindValue("b")).initializer().data<float>()[2], 9);
}

TEST(ExportTest, RejectsInvalidGraph) {
  ir::Model model;
  model.opset_imports = {{"", 13}};
  const ir::ValueId x = model.graph.AddValue("x", ir::DType::kFloat32);
  const ir::ValueId y = model.graph.AddValue("y", ir::DType::kFloat32);
  model.graph.AddNode(ir::NodeSpec{"n", "Relu", "", {x}, {y}, {}, ""});
  model.graph.AddGraphOutput(y);
  auto bytes = ExportModel(model);
  ASSERT_FALSE(bytes.ok());
  EXPECT_THAT(Message(bytes.status()),
              HasSubstr("export: node 'n' (Relu): input 0 'x' is dangling"));
}

// Every model of the ONNX backend node suite either imports (and then round-trips to a
// fixed point) or is refused with a clean error; nothing crashes.
TEST(RoundTripTest, OnnxBackendNodeSuite) {
  const std::filesystem::path root = "/usr/share/libonnx-testdata/data/node";
  if (!std::filesystem::exists(root)) GTEST_SKIP() << "libonnx-testdata not installed";
  int imported = 0, refused = 0;
  for (const auto& dir : std::filesystem::directory_iterator(root)) {
    const std::string path = (dir.path() / "model.onnx").string();
    if (!std::filesystem::exists(path)) continue;
    auto model = ImportModelFile(path);
    if (!model.ok()) {
      ++refused;
      EXPECT_THAT(model.status().code(), ::testing::AnyOf(absl::StatusCode::kUnimplemented,
                                                          absl::StatusCode::kInvalidArgument))
          << model.status();
      continue;
    }
    ++imported;
    auto bytes = ExportModel(*model);
    ASSERT_TRUE(bytes.ok()) << path << ": " << bytes.status();
    auto again = ImportModel(*bytes);
    ASSERT_TRUE(again.ok()) << path << ": " << again.status();
    ExpectSameModel(*model, *again);
    EXPECT_EQ(*ExportModel(*again), *bytes) << path;
  }
  EXPECT_GT(imported, 500);
  RecordProperty("imported", imported);
  RecordProperty("refused", refused);
}

}  // namespace
}  // namespace mp::onnx
