#include "workers/engine/prune/layers.h"

#include "workers/engine/prune/prune_internal.h"

#include <cmath>

#include "common/status.h"
#include "common/str_cat.h"

namespace mp::prune {

absl::StatusOr<std::vector<PrunableLayer>> FindPrunableLayers(const ir::Graph& graph) {
  std::vector<PrunableLayer> layers;
  for (const ir::Node& node : graph.nodes()) {
    const std::string& op = node.op_type();
    if (!node.domain().empty() || (op != "Conv" && op != "Gemm" && op != "MatMul")) continue;
    const ir::ValueId w = node.input(1);
    if (!w.valid() || !graph.value(w).is_constant()) continue;
    const tensor::Tensor& t = graph.value(w).initializer();
    const std::string& wname = graph.value(w).name();
    if (t.dtype() != tensor::DType::kFloat32) {
      return absl::UnimplementedError(StrCat(node.Describe(), ": weight '", wname, "' is ",
                                             tensor::DTypeName(t.dtype()),
                                             "; pruning supports float32 weights"));
    }
    const bool conv = op == "Conv";
    if (conv ? (t.rank() < 3 || t.rank() > 5) : t.rank() != 2) {
      return absl::UnimplementedError(StrCat(node.Describe(), ": weight '", wname, "' has ",
                                             t.rank(), " dims, expected ", conv ? "3 to 5" : "2"));
    }
    layers.push_back({node.name().empty() ? wname : node.name(), op, node.id(), w});
  }
  if (layers.empty()) {
    return absl::InvalidArgumentError(
        "model has no prunable layer (Conv, Gemm or MatMul with a constant weight)");
  }
  return layers;
}

absl::StatusOr<const PrunableLayer*> FindLayer(const std::vector<PrunableLayer>& layers,
                                               std::string_view name) {
  for (const PrunableLayer& l : layers) {
    if (l.name == name) return &l;
  }
  std::string known;
  for (const PrunableLayer& l : layers)
    known += StrCat(known.empty() ? "" : ", ", "'", l.name, "'");
  return absl::InvalidArgumentError(
      StrCat("no prunable layer named '", name, "' (layers: ", known, ")"));
}

absl::Status CheckSparsity(double s, std::string_view what) {
  if (!(s >= 0.0 && s < 1.0)) {
    return absl::InvalidArgumentError(StrCat(what, ": sparsity ", s, " is outside [0, 1)"));
  }
  return absl::OkStatus();
}

absl::Status CheckLayerTargets(const std::vector<PrunableLayer>& layers,
                               const LayerTargets& targets) {
  for (const auto& [name, s] : targets) {
    RETURN_IF_ERROR(FindLayer(layers, name).status());
    RETURN_IF_ERROR(CheckSparsity(s, StrCat("layer '", name, "'")));
  }
  return absl::OkStatus();
}

absl::Status CheckLayerNames(const std::vector<PrunableLayer>& layers,
                             const std::vector<std::string>& names) {
  for (const std::string& name : names) RETURN_IF_ERROR(FindLayer(layers, name).status());
  return absl::OkStatus();
}

}  // namespace mp::prune
