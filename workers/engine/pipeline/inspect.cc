#include "workers/engine/pipeline/inspect.h"

#include <set>

#include "common/file_util.h"
#include "common/status.h"
#include "workers/engine/exec/op_registry.h"
#include "workers/engine/ir/graph.h"
#include "workers/engine/onnx/onnx.h"

namespace mp::pipeline {
namespace {

TensorDescription Describe(const ir::Value& value) {
  TensorDescription d;
  d.name = value.name();
  d.dtype = value.dtype();
  d.rank_known = value.shape().has_rank();
  if (d.rank_known) {
    for (const ir::Dim& dim : value.shape().dims()) {
      d.dims.push_back(dim.known() ? dim.size : -1);
      d.dim_params.push_back(dim.known() ? std::string() : dim.param);
    }
  }
  return d;
}

}  // namespace

absl::StatusOr<Inspection> RunInspect(const std::filesystem::path& model, JobContext& context,
                                      std::string_view name) {
  const std::string label =
      mp::StrCat("model '", name.empty() ? model.filename().string() : std::string(name), "'");
  RETURN_IF_ERROR(context.Report({.fraction = 0, .step = "load"}));

  const onnx::ImportLimits limits;
  auto bytes = ReadFile(model.string(), static_cast<uint64_t>(limits.max_model_bytes));
  if (!bytes.ok()) {
    absl::Status s = bytes.status();
    // An unreadable file is the model's fault, whatever the reader's own classification.
    if (s.code() != absl::StatusCode::kResourceExhausted) {
      s = absl::InvalidArgumentError(std::string(s.message()));
    }
    return mp::Annotate(s, label);
  }
  auto imported = onnx::ImportModel(*bytes, limits);
  if (!imported.ok()) return mp::Annotate(imported.status(), label);
  const ir::Model& m = *imported;
  const ir::Graph& g = m.graph;

  Inspection out;
  out.ir_version = m.ir_version;
  out.opset = m.OpsetVersion("").value_or(0);
  out.model_bytes = static_cast<int64_t>(bytes->size());
  out.node_count = g.num_nodes();
  for (const ir::Value& v : g.values()) {
    if (v.is_constant()) out.parameter_count += v.initializer().num_elements();
  }
  for (ir::ValueId id : g.inputs()) {
    if (!g.value(id).is_constant()) out.inputs.push_back(Describe(g.value(id)));
  }
  for (ir::ValueId id : g.outputs()) out.outputs.push_back(Describe(g.value(id)));

  const exec::OpRegistry& registry = exec::OpRegistry::Default();
  std::set<std::string> unsupported;
  for (const ir::Node& node : g.nodes()) {
    const std::string type =
        node.domain().empty() ? node.op_type() : mp::StrCat(node.domain(), ".", node.op_type());
    ++out.op_counts[type];
    if (registry.Find(node.domain(), node.op_type(), out.opset) == nullptr) {
      unsupported.insert(type);
    }
  }
  out.unsupported_ops.assign(unsupported.begin(), unsupported.end());
  RETURN_IF_ERROR(context.Report({.fraction = 1, .eta_seconds = 0, .step = "done"}));
  return out;
}

std::vector<Metric> InspectionMetrics(const Inspection& inspection) {
  return {{"parameter_count", double(inspection.parameter_count)},
          {"model_bytes", double(inspection.model_bytes)},
          {"node_count", double(inspection.node_count)},
          {"opset", double(inspection.opset)},
          {"ir_version", double(inspection.ir_version)},
          {"unsupported_op_count", double(inspection.unsupported_ops.size())}};
}

}  // namespace mp::pipeline
