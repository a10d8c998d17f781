// ir::Model -> ModelProto bytes.
#include <limits>

#include "common/file_util.h"
#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/ir/verify.h"
#include "workers/engine/onnx/onnx.h"
#include "workers/engine/onnx/tensor_proto.h"

namespace mp::onnx {
namespace {

using ::onnx::AttributeProto;

void AttributeToProto(const ir::Attribute& a, AttributeProto* p) {
  p->set_name(a.name());
  switch (a.type()) {
    case ir::AttrType::kFloat:
      p->set_type(AttributeProto::FLOAT);
      p->set_f(a.f());
      break;
    case ir::AttrType::kInt:
      p->set_type(AttributeProto::INT);
      p->set_i(a.i());
      break;
    case ir::AttrType::kString:
      p->set_type(AttributeProto::STRING);
      p->set_s(a.s());
      break;
    case ir::AttrType::kTensor:
      p->set_type(AttributeProto::TENSOR);
      TensorToProto(a.t(), "", p->mutable_t());
      break;
    case ir::AttrType::kFloats:
      p->set_type(AttributeProto::FLOATS);
      for (float f : a.floats()) p->add_floats(f);
      break;
    case ir::AttrType::kInts:
      p->set_type(AttributeProto::INTS);
      for (int64_t i : a.ints()) p->add_ints(i);
      break;
    case ir::AttrType::kStrings:
      p->set_type(AttributeProto::STRINGS);
      for (const std::string& s : a.strings()) p->add_strings(s);
      break;
  }
}

absl::Status GraphToProto(const ir::Graph& g, ::onnx::GraphProto* gp) {
  RETURN_IF_ERROR(ir::Verify(g));
  ASSIGN_OR_RETURN(std::vector<ir::NodeId> order, ir::TopologicalOrder(g));
  gp->set_name(g.name());
  if (!g.doc_string().empty()) gp->set_doc_string(g.doc_string());
  for (ir::ValueId v : g.inputs()) TypeToValueInfo(g.value(v), gp->add_input());
  for (ir::ValueId v : g.outputs()) TypeToValueInfo(g.value(v), gp->add_output());
  for (const ir::Value& v : g.values()) {
    if (v.is_constant()) {
      TensorToProto(v.initializer(), v.name(), gp->add_initializer());
    } else if (!g.IsGraphInput(v.id()) && !g.IsGraphOutput(v.id()) &&
               (v.dtype() != ir::DType::kUndefined || v.shape().has_rank())) {
      TypeToValueInfo(v, gp->add_value_info());
    }
  }
  for (ir::NodeId id : order) {
    const ir::Node& n = g.node(id);
    ::onnx::NodeProto* np = gp->add_node();
    if (!n.name().empty()) np->set_name(n.name());
    np->set_op_type(n.op_type());
    if (!n.domain().empty()) np->set_domain(n.domain());
    if (!n.doc_string().empty()) np->set_doc_string(n.doc_string());
    // Omitted optionals are written as "" (slot count preserved, as ONNX allows).
    for (int i = 0; i < n.num_inputs(); ++i) {
      np->add_input(n.input(i).valid() ? g.value(n.input(i)).name() : "");
    }
    for (int i = 0; i < n.num_outputs(); ++i) {
      np->add_output(n.output(i).valid() ? g.value(n.output(i)).name() : "");
    }
    for (const ir::Attribute& a : n.attributes()) AttributeToProto(a, np->add_attribute());
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> ExportModel(const ir::Model& model) {
  ::onnx::ModelProto m;
  m.set_ir_version(model.ir_version);
  for (const ir::OpsetImport& op : model.opset_imports) {
    ::onnx::OperatorSetIdProto* p = m.add_opset_import();
    p->set_domain(op.domain);
    p->set_version(op.version);
  }
  if (!model.producer_name.empty()) m.set_producer_name(model.producer_name);
  if (!model.producer_version.empty()) m.set_producer_version(model.producer_version);
  if (!model.domain.empty()) m.set_domain(model.domain);
  if (model.model_version != 0) m.set_model_version(model.model_version);
  if (!model.doc_string.empty()) m.set_doc_string(model.doc_string);
  for (const auto& [k, v] : model.metadata_props) {
    ::onnx::StringStringEntryProto* e = m.add_metadata_props();
    e->set_key(k);
    e->set_value(v);
  }
  absl::Status s = GraphToProto(model.graph, m.mutable_graph());
  if (!s.ok()) return Annotate(s, "export");
  if (m.ByteSizeLong() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    return absl::ResourceExhaustedError(
        StrCat("export: model of ", m.ByteSizeLong(), " bytes exceeds protobuf's 2 GiB limit"));
  }
  std::string out;
  if (!m.SerializeToString(&out)) return absl::InternalError("export: serialization failed");
  return out;
}

absl::Status ExportModelFile(const ir::Model& model, const std::string& path) {
  ASSIGN_OR_RETURN(std::string bytes, ExportModel(model));
  return AtomicWriteFile(path, bytes);
}

absl::StatusOr<std::string> SerializeTensor(const tensor::Tensor& t, std::string_view name) {
  if (!t.defined()) return absl::InvalidArgumentError("serialize tensor: undefined tensor");
  ::onnx::TensorProto p;
  TensorToProto(t, name, &p);
  std::string out;
  if (!p.SerializeToString(&out)) return absl::InternalError("serialize tensor failed");
  return out;
}

}  // namespace mp::onnx
