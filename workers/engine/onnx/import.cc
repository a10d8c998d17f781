// ModelProto -> ir::Model. See onnx.h for the order of checks.
#include <limits>

#include "common/file_util.h"
#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/ir/verify.h"
#include "workers/engine/onnx/onnx.h"
#include "workers/engine/onnx/tensor_proto.h"
#include "workers/engine/onnx/validate.h"

namespace mp::onnx {
namespace {

using ::onnx::AttributeProto;

absl::StatusOr<ir::Attribute> ConvertAttribute(const AttributeProto& a, const std::string& node,
                                               ByteBudget& budget) {
  const std::string what = StrCat(node, ": attribute '", a.name(), "'");
  switch (a.type()) {
    case AttributeProto::FLOAT:
      return ir::Attribute(a.name(), a.f());
    case AttributeProto::INT:
      return ir::Attribute(a.name(), static_cast<int64_t>(a.i()));
    case AttributeProto::STRING:
      return ir::Attribute(a.name(), a.s());
    case AttributeProto::TENSOR: {
      ASSIGN_OR_RETURN(tensor::Tensor t, TensorFromProto(a.t(), what, budget));
      return ir::Attribute(a.name(), std::move(t));
    }
    case AttributeProto::FLOATS:
      return ir::Attribute(a.name(), std::vector<float>(a.floats().begin(), a.floats().end()));
    case AttributeProto::INTS:
      return ir::Attribute(a.name(), std::vector<int64_t>(a.ints().begin(), a.ints().end()));
    case AttributeProto::STRINGS:
      return ir::Attribute(a.name(),
                           std::vector<std::string>(a.strings().begin(), a.strings().end()));
    default:  // ValidateModelProto rejected every other kind
      return absl::InternalError(StrCat(what, ": unexpected attribute type"));
  }
}

class Importer {
 public:
  explicit Importer(const ImportLimits& limits) : limits_(limits) {
    budget_.remaining = limits.max_initializer_bytes;
  }

  absl::StatusOr<ir::Model> Run(const ::onnx::ModelProto& m) {
    ir::Model model;
    model.ir_version = m.ir_version();
    for (const auto& op : m.opset_import()) {
      model.opset_imports.push_back(
          ir::OpsetImport{op.domain() == "ai.onnx" ? "" : op.domain(), op.version()});
    }
    model.producer_name = m.producer_name();
    model.producer_version = m.producer_version();
    model.domain = m.domain();
    model.model_version = m.model_version();
    model.doc_string = m.doc_string();
    for (const auto& kv : m.metadata_props())
      model.metadata_props.emplace_back(kv.key(), kv.value());
    RETURN_IF_ERROR(ConvertGraph(m.graph(), model.graph));
    return model;
  }

 private:
  // The value named `name`, created (undeclared) if new.
  ir::ValueId Get(ir::Graph& g, const std::string& name) {
    const ir::ValueId v = g.FindValue(name);
    return v.valid() ? v : g.AddValue(name);
  }

  absl::Status Declare(ir::Graph& g, ir::ValueId v, const ::onnx::ValueInfoProto& info) {
    ASSIGN_OR_RETURN(DeclaredType t, TypeFromValueInfo(info, limits_));
    ir::Value& value = g.mutable_value(v);
    value.set_dtype(t.dtype);
    value.set_shape(std::move(t.shape));
    if (!info.doc_string().empty()) value.set_doc_string(info.doc_string());
    return absl::OkStatus();
  }

  absl::Status ConvertGraph(const ::onnx::GraphProto& gp, ir::Graph& g) {
    g.set_name(gp.name());
    g.set_doc_string(gp.doc_string());
    for (const auto& in : gp.input()) {
      if (g.FindValue(in.name()).valid()) {
        return absl::InvalidArgumentError(
            StrCat("graph input '", in.name(), "' is declared twice"));
      }
      const ir::ValueId v = g.AddValue(in.name());
      RETURN_IF_ERROR(Declare(g, v, in));
      g.AddGraphInput(v);
    }
    for (const auto& init : gp.initializer()) {
      const std::string what = StrCat("initializer '", init.name(), "'");
      if (init.name().empty()) return absl::InvalidArgumentError("initializer with empty name");
      ASSIGN_OR_RETURN(tensor::Tensor t, TensorFromProto(init, what, budget_));
      ir::ValueId v = g.FindValue(init.name());
      if (v.valid() && (!g.IsGraphInput(v) || g.value(v).is_constant())) {
        return absl::InvalidArgumentError(StrCat(what, " is declared twice"));
      }
      if (!v.valid()) {
        g.AddInitializer(init.name(), std::move(t));
      } else {  // also a graph input (an overridable default): keep the declared type
        const ir::DType declared = g.value(v).dtype();
        const ir::PartialShape shape = g.value(v).shape();
        g.SetConstant(v, std::move(t));
        if (declared != ir::DType::kUndefined) g.mutable_value(v).set_dtype(declared);
        if (shape.has_rank()) g.mutable_value(v).set_shape(shape);
      }
    }
    for (int i = 0; i < gp.node_size(); ++i) {
      const ::onnx::NodeProto& np = gp.node(i);
      ir::NodeSpec spec;
      spec.name = np.name();
      spec.op_type = np.op_type();
      spec.domain = np.domain() == "ai.onnx" ? "" : np.domain();
      spec.doc_string = np.doc_string();
      const std::string label = np.name().empty()
                                    ? StrCat("node #", i, " (", np.op_type(), ")")
                                    : StrCat("node '", np.name(), "' (", np.op_type(), ")");
      for (const std::string& in : np.input()) {
        spec.inputs.push_back(in.empty() ? ir::kNoValue : Get(g, in));
      }
      for (const std::string& out : np.output()) {
        spec.outputs.push_back(out.empty() ? ir::kNoValue : Get(g, out));
      }
      for (const AttributeProto& a : np.attribute()) {
        ASSIGN_OR_RETURN(ir::Attribute attr, ConvertAttribute(a, label, budget_));
        spec.attributes.push_back(std::move(attr));
      }
      g.AddNode(std::move(spec));
    }
    for (const auto& out : gp.output()) {
      const ir::ValueId v = Get(g, out.name());
      RETURN_IF_ERROR(Declare(g, v, out));
      g.AddGraphOutput(v);
    }
    for (const auto& vi : gp.value_info()) {
      const ir::ValueId v = g.FindValue(vi.name());
      if (v.valid()) RETURN_IF_ERROR(Declare(g, v, vi));  // unreferenced entries are dropped
    }
    RETURN_IF_ERROR(ir::Verify(g));
    return g.SortNodesTopologically();
  }

  const ImportLimits& limits_;
  ByteBudget budget_;
};

}  // namespace

absl::StatusOr<ir::Model> ImportModel(std::string_view bytes, const ImportLimits& limits) {
  if (static_cast<int64_t>(bytes.size()) > limits.max_model_bytes ||
      bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return absl::ResourceExhaustedError(
        StrCat("model: ", bytes.size(), " bytes exceed the limit of ", limits.max_model_bytes));
  }
  ::onnx::ModelProto proto;
  if (!proto.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError(
        StrCat("model: ", bytes.size(),
               " bytes are not a valid ONNX ModelProto (not protobuf, "
               "truncated or corrupt)"));
  }
  RETURN_IF_ERROR(ValidateModelProto(proto, limits));
  RETURN_IF_ERROR(CheckOperatorsKnown(proto));
  return Importer(limits).Run(proto);
}

absl::StatusOr<ir::Model> ImportModelFile(const std::string& path, const ImportLimits& limits) {
  absl::StatusOr<std::string> bytes = ReadFile(path, static_cast<uint64_t>(limits.max_model_bytes));
  if (!bytes.ok()) return bytes.status();
  absl::StatusOr<ir::Model> model = ImportModel(*bytes, limits);
  if (!model.ok()) return Annotate(model.status(), StrCat("import '", path, "'"));
  return model;
}

absl::StatusOr<NamedTensor> ParseTensor(std::string_view bytes, const ImportLimits& limits) {
  if (static_cast<int64_t>(bytes.size()) > limits.max_model_bytes ||
      bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return absl::ResourceExhaustedError(
        StrCat("tensor: ", bytes.size(), " bytes exceed the limit of ", limits.max_model_bytes));
  }
  ::onnx::TensorProto proto;
  if (!proto.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError(
        StrCat("tensor: ", bytes.size(),
               " bytes are not a valid ONNX TensorProto (not protobuf, "
               "truncated or corrupt)"));
  }
  if (static_cast<int64_t>(proto.name().size()) > limits.max_name_bytes) {
    return absl::ResourceExhaustedError("tensor: name too long");
  }
  ByteBudget budget{limits.max_initializer_bytes};
  NamedTensor out;
  out.name = proto.name();
  ASSIGN_OR_RETURN(out.tensor,
                   TensorFromProto(proto, StrCat("tensor '", proto.name(), "'"), budget));
  return out;
}

absl::StatusOr<NamedTensor> ReadTensorFile(const std::string& path, const ImportLimits& limits) {
  absl::StatusOr<std::string> bytes = ReadFile(path, static_cast<uint64_t>(limits.max_model_bytes));
  if (!bytes.ok()) return bytes.status();
  absl::StatusOr<NamedTensor> t = ParseTensor(*bytes, limits);
  if (!t.ok()) return Annotate(t.status(), StrCat("read tensor '", path, "'"));
  return t;
}

}  // namespace mp::onnx
