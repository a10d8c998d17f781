#include "workers/engine/onnx/validate.h"

#include <exception>

#include "absl/container/flat_hash_set.h"
#include "common/status.h"
#include "common/str_cat.h"
#include "onnx/defs/schema.h"

namespace mp::onnx {
namespace {

using ::onnx::AttributeProto;
using ::onnx::GraphProto;
using ::onnx::ModelProto;
using ::onnx::NodeProto;
using ::onnx::TensorProto;

// Opset domains accepted when no node uses them: standard ONNX domains that exporters
// (PyTorch, skl2onnx, tf2onnx) declare routinely.
constexpr const char* kHarmlessDomains[] = {"ai.onnx.ml", "ai.onnx.training",
                                            "ai.onnx.preview.training"};

bool IsDefaultDomain(const std::string& d) { return d.empty() || d == "ai.onnx"; }

std::string NodeLabel(const NodeProto& n, int index) {
  const std::string name = n.name().substr(0, 200);
  const std::string op = n.op_type().substr(0, 200);
  return name.empty() ? StrCat("node #", index, " (", op, ")")
                      : StrCat("node '", name, "' (", op, ")");
}

class Validator {
 public:
  explicit Validator(const ImportLimits& limits) : limits_(limits) {}

  absl::Status Name(const std::string& s, std::string_view what) const {
    if (static_cast<int64_t>(s.size()) > limits_.max_name_bytes) {
      return absl::ResourceExhaustedError(
          StrCat(what, ": name of ", s.size(), " bytes exceeds ", limits_.max_name_bytes));
    }
    return absl::OkStatus();
  }
  absl::Status Text(const std::string& s, std::string_view what) const {
    if (static_cast<int64_t>(s.size()) > limits_.max_string_bytes) {
      return absl::ResourceExhaustedError(
          StrCat(what, ": string of ", s.size(), " bytes exceeds ", limits_.max_string_bytes));
    }
    return absl::OkStatus();
  }

  absl::Status Tensor(const TensorProto& t, std::string_view what) const {
    RETURN_IF_ERROR(Name(t.name(), what));
    if (t.data_location() == TensorProto::EXTERNAL || t.external_data_size() > 0) {
      std::string location;
      for (const auto& kv : t.external_data()) {
        if (kv.key() == "location") location = kv.value().substr(0, 256);
      }
      return absl::InvalidArgumentError(
          StrCat(what, ": external data ('", location, "') is not supported; embed the weights"));
    }
    return absl::OkStatus();
  }

  absl::Status Attribute(const AttributeProto& a, const std::string& node) const {
    const std::string what = StrCat(node, ": attribute '", a.name().substr(0, 200), "'");
    RETURN_IF_ERROR(Name(a.name(), what));
    if (a.has_g() || a.graphs_size() > 0 || a.type() == AttributeProto::GRAPH ||
        a.type() == AttributeProto::GRAPHS) {
      return absl::UnimplementedError(
          StrCat(what, ": subgraph attributes (If/Loop/Scan bodies) are not supported"));
    }
    if (!a.ref_attr_name().empty()) {
      return absl::InvalidArgumentError(
          StrCat(what, ": ref_attr_name is only valid inside functions"));
    }
    switch (a.type()) {
      case AttributeProto::FLOAT:
      case AttributeProto::INT:
        break;
      case AttributeProto::STRING:
        RETURN_IF_ERROR(Text(a.s(), what));
        break;
      case AttributeProto::TENSOR:
        RETURN_IF_ERROR(Tensor(a.t(), what));
        break;
      case AttributeProto::FLOATS:
      case AttributeProto::INTS:
      case AttributeProto::STRINGS: {
        const int64_t n = a.floats_size() + a.ints_size() + a.strings_size();
        if (n > limits_.max_attribute_elements) {
          return absl::ResourceExhaustedError(
              StrCat(what, ": ", n, " elements exceed ", limits_.max_attribute_elements));
        }
        for (const std::string& s : a.strings()) RETURN_IF_ERROR(Text(s, what));
        break;
      }
      case AttributeProto::UNDEFINED:
        return absl::InvalidArgumentError(StrCat(what, ": type is not set"));
      default:
        return absl::UnimplementedError(StrCat(what, ": attribute type ",
                                               AttributeProto::AttributeType_Name(a.type()),
                                               " is not supported"));
    }
    return absl::OkStatus();
  }

  absl::Status Node(const NodeProto& n, int index) const {
    const std::string label = NodeLabel(n, index);
    RETURN_IF_ERROR(Name(n.name(), label));
    RETURN_IF_ERROR(Name(n.op_type(), label));
    RETURN_IF_ERROR(Name(n.domain(), label));
    RETURN_IF_ERROR(Text(n.doc_string(), label));
    if (n.op_type().empty()) return absl::InvalidArgumentError(StrCat(label, ": empty op_type"));
    if (!IsDefaultDomain(n.domain())) {
      return absl::UnimplementedError(StrCat(label, ": domain '", n.domain().substr(0, 200),
                                             "' is not supported (only the default ONNX "
                                             "domain)"));
    }
    for (const std::string& s : n.input()) RETURN_IF_ERROR(Name(s, label));
    for (const std::string& s : n.output()) RETURN_IF_ERROR(Name(s, label));
    if (n.attribute_size() > limits_.max_attributes_per_node) {
      return absl::ResourceExhaustedError(StrCat(
          label, ": ", n.attribute_size(), " attributes exceed ", limits_.max_attributes_per_node));
    }
    absl::flat_hash_set<std::string> names;
    for (const AttributeProto& a : n.attribute()) {
      RETURN_IF_ERROR(Attribute(a, label));
      if (!names.insert(a.name()).second) {
        return absl::InvalidArgumentError(
            StrCat(label, ": attribute '", a.name(), "' is given twice"));
      }
    }
    return absl::OkStatus();
  }

  absl::Status Graph(const GraphProto& g) const {
    RETURN_IF_ERROR(Name(g.name(), "graph"));
    RETURN_IF_ERROR(Text(g.doc_string(), "graph doc_string"));
    if (g.node_size() > limits_.max_nodes) {
      return absl::ResourceExhaustedError(StrCat(
          "graph has ", g.node_size(), " nodes, more than the limit of ", limits_.max_nodes));
    }
    const int64_t values =
        int64_t{g.input_size()} + g.output_size() + g.value_info_size() + g.initializer_size();
    if (values > limits_.max_values) {
      return absl::ResourceExhaustedError(StrCat(
          "graph declares ", values, " values, more than the limit of ", limits_.max_values));
    }
    if (g.sparse_initializer_size() > 0) {
      return absl::UnimplementedError(StrCat(
          "sparse initializer '", g.sparse_initializer(0).values().name(), "' is not supported"));
    }
    for (const auto* list : {&g.input(), &g.output(), &g.value_info()}) {
      for (const auto& vi : *list) {
        RETURN_IF_ERROR(Name(vi.name(), "value info"));
        RETURN_IF_ERROR(Text(vi.doc_string(), StrCat("value '", vi.name(), "'")));
      }
    }
    for (const TensorProto& t : g.initializer()) {
      RETURN_IF_ERROR(Tensor(t, StrCat("initializer '", t.name().substr(0, 200), "'")));
    }
    for (int i = 0; i < g.node_size(); ++i) RETURN_IF_ERROR(Node(g.node(i), i));
    return absl::OkStatus();
  }

 private:
  const ImportLimits& limits_;
};

}  // namespace

absl::Status ValidateModelProto(const ModelProto& m, const ImportLimits& limits) {
  if (!m.has_ir_version()) return absl::InvalidArgumentError("model: ir_version is not set");
  if (m.ir_version() < kMinIrVersion || m.ir_version() > kMaxIrVersion) {
    return absl::UnimplementedError(StrCat("model: ir_version ", m.ir_version(),
                                           " is outside the supported range ", kMinIrVersion, "-",
                                           kMaxIrVersion));
  }
  Validator v(limits);
  RETURN_IF_ERROR(v.Text(m.producer_name(), "model producer_name"));
  RETURN_IF_ERROR(v.Text(m.producer_version(), "model producer_version"));
  RETURN_IF_ERROR(v.Text(m.domain(), "model domain"));
  RETURN_IF_ERROR(v.Text(m.doc_string(), "model doc_string"));
  if (m.metadata_props_size() > limits.max_metadata_entries) {
    return absl::ResourceExhaustedError(StrCat("model: ", m.metadata_props_size(),
                                               " metadata entries exceed ",
                                               limits.max_metadata_entries));
  }
  for (const auto& kv : m.metadata_props()) {
    RETURN_IF_ERROR(v.Text(kv.key(), "metadata key"));
    RETURN_IF_ERROR(v.Text(kv.value(), StrCat("metadata '", kv.key().substr(0, 200), "'")));
  }
  if (m.functions_size() > 0) {
    return absl::UnimplementedError(
        StrCat("model-local function '", m.functions(0).name(), "' is not supported"));
  }
  if (m.training_info_size() > 0) {
    return absl::UnimplementedError("model: training_info is not supported");
  }

  bool has_default = false;
  absl::flat_hash_set<std::string> domains;
  for (const auto& op : m.opset_import()) {
    RETURN_IF_ERROR(v.Name(op.domain(), "opset import"));
    const std::string norm = IsDefaultDomain(op.domain()) ? "" : op.domain();
    if (!domains.insert(norm).second) {
      return absl::InvalidArgumentError(
          StrCat("model: opset for domain '", op.domain(), "' is imported twice"));
    }
    if (norm.empty()) {
      has_default = true;
      if (op.version() < kMinOpset || op.version() > kMaxOpset) {
        return absl::UnimplementedError(StrCat("model: default-domain opset ", op.version(),
                                               " is outside the supported range ", kMinOpset, "-",
                                               kMaxOpset));
      }
      continue;
    }
    bool harmless = false;
    for (const char* d : kHarmlessDomains) harmless = harmless || op.domain() == d;
    if (!harmless) {
      return absl::UnimplementedError(
          StrCat("model: opset domain '", op.domain(),
                 "' is not supported (accepted: the default "
                 "domain; ai.onnx.ml, ai.onnx.training and ai.onnx.preview.training when unused)"));
    }
  }
  if (!has_default && m.opset_import_size() > 0) {
    // Only auxiliary domains (e.g. a training-only model): well-formed, but nothing we run.
    return absl::UnimplementedError(StrCat("model: imports only opset domain '",
                                           m.opset_import(0).domain(),
                                           "'; the default ONNX domain is required"));
  }
  if (!has_default) return absl::InvalidArgumentError("model: no default-domain opset import");
  if (!m.has_graph()) return absl::InvalidArgumentError("model: graph is missing");
  return v.Graph(m.graph());  // nodes outside the default domain are rejected there
}

absl::Status CheckOperatorsKnown(const ModelProto& m) {
  int64_t opset = 0;
  for (const auto& op : m.opset_import()) {
    if (IsDefaultDomain(op.domain())) opset = op.version();
  }
  for (int i = 0; i < m.graph().node_size(); ++i) {
    const NodeProto& n = m.graph().node(i);
    const ::onnx::OpSchema* schema = nullptr;
    try {
      schema = ::onnx::OpSchemaRegistry::Schema(n.op_type(), static_cast<int>(opset), "");
    } catch (const std::exception& e) {
      return absl::InternalError(StrCat(NodeLabel(n, i), ": schema lookup failed: ", e.what()));
    }
    if (schema == nullptr) {
      return absl::UnimplementedError(StrCat(NodeLabel(n, i), ": ONNX defines no operator '",
                                             n.op_type().substr(0, 200), "' at opset ", opset,
                                             " (as known to ONNX 1.12)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace mp::onnx
