#include "workers/engine/prune/stats.h"

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/exec/session.h"
#include "workers/engine/prune/prune_internal.h"

namespace mp::prune {

absl::StatusOr<absl::flat_hash_map<std::string, tensor::Shape>> InferValueShapes(
    const ir::Model& model, std::vector<tensor::Shape> input_shapes) {
  const ir::Graph& g = model.graph;
  if (input_shapes.empty()) {
    for (ir::ValueId id : g.inputs()) {
      if (g.value(id).is_constant()) continue;
      const ir::PartialShape& ps = g.value(id).shape();
      if (!ps.has_rank()) {
        return absl::InvalidArgumentError(
            StrCat("input '", g.value(id).name(), "' has no declared shape; pass input shapes"));
      }
      std::vector<int64_t> dims;
      for (const ir::Dim& d : ps.dims()) dims.push_back(d.known() ? d.size : 1);
      input_shapes.push_back(tensor::Shape(dims));
    }
  }
  // No Create-time rewrites, so every value of `model` keeps its name and gets a shape.
  ASSIGN_OR_RETURN(auto session, exec::Session::Create(model, {.fold_constants = false}));
  ASSIGN_OR_RETURN(std::vector<exec::ValueType> types, session->InferTypes(input_shapes));
  absl::flat_hash_map<std::string, tensor::Shape> shapes;
  for (exec::ValueType& t : types) shapes.emplace(t.name, std::move(t.shape));
  return shapes;
}

absl::StatusOr<ModelStats> ComputeStats(const ir::Model& model,
                                        const std::vector<tensor::Shape>& input_shapes) {
  ASSIGN_OR_RETURN(auto shapes, InferValueShapes(model, input_shapes));
  const ir::Graph& g = model.graph;
  ModelStats stats;
  for (const ir::Value& v : g.values()) {
    if (!v.is_constant()) continue;
    const tensor::Tensor& t = v.initializer();
    stats.parameters += t.num_elements();
    stats.parameter_bytes += static_cast<int64_t>(t.byte_size());
    if (t.dtype() == tensor::DType::kFloat32) {
      for (float x : t.span<float>()) stats.zero_parameters += x == 0.0f ? 1 : 0;
    }
  }
  for (const ir::Node& node : g.nodes()) {
    const std::string& op = node.op_type();
    if (!node.domain().empty() || (op != "Conv" && op != "Gemm" && op != "MatMul")) continue;
    LayerStats ls{.layer = node.name(), .op_type = op};
    const ir::ValueId w = node.input(1);
    const ir::ValueId y = node.output(0);
    if (ls.layer.empty()) ls.layer = g.value(w.valid() && g.value(w).is_constant() ? w : y).name();
    auto ws = shapes.find(w.valid() ? g.value(w).name() : "");
    auto ys = shapes.find(y.valid() ? g.value(y).name() : "");
    if (ws == shapes.end() || ys == shapes.end()) {
      return absl::InternalError(StrCat(node.Describe(), ": no inferred shape"));
    }
    const tensor::Shape& wsh = ws->second;
    int64_t per_output = 1;  // MACs per output element
    if (op == "Conv") {
      for (int d = 1; d < wsh.rank(); ++d) per_output *= wsh.dim(d);
    } else if (op == "Gemm") {
      const bool trans_b = node.GetInt("transB", 0).value_or(0) != 0;
      per_output = wsh.rank() == 2 ? wsh.dim(trans_b ? 1 : 0) : 0;
    } else {
      per_output = wsh.rank() >= 2 ? wsh.dim(wsh.rank() - 2) : (wsh.rank() == 1 ? wsh.dim(0) : 1);
    }
    ls.macs = ys->second.num_elements() * per_output;
    if (w.valid() && g.value(w).is_constant()) {
      const tensor::Tensor& t = g.value(w).initializer();
      ls.weights = t.num_elements();
      if (t.dtype() == tensor::DType::kFloat32) {
        for (float x : t.span<float>()) ls.zeros += x == 0.0f ? 1 : 0;
      }
    }
    stats.macs += ls.macs;
    stats.layers.push_back(std::move(ls));
  }
  return stats;
}

}  // namespace mp::prune
