// Helpers shared by the pruning methods (not part of the public API).
#ifndef MP_WORKERS_ENGINE_PRUNE_PRUNE_INTERNAL_H_
#define MP_WORKERS_ENGINE_PRUNE_PRUNE_INTERNAL_H_

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "workers/engine/prune/layers.h"
#include "workers/engine/prune/methods.h"
#include "workers/engine/tensor/tensor.h"

namespace mp::prune {

inline bool Contains(const std::vector<std::string>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// The override for `name`, or nullptr.
inline const double* FindTarget(const LayerTargets& targets, std::string_view name) {
  for (const auto& [n, s] : targets) {
    if (n == name) return &s;
  }
  return nullptr;
}

// The constant behind `v`, looking through Identity nodes (PyTorch's exporter writes
// `b = Identity(shared_initializer)` for equal initializers); nullptr if not constant.
inline const tensor::Tensor* ResolveConstant(const ir::Graph& g, ir::ValueId v) {
  for (int hops = 0; v.valid() && hops < 16; ++hops) {
    const ir::Value& val = g.value(v);
    if (val.is_constant()) return &val.initializer();
    if (!val.producer().valid()) return nullptr;
    const ir::Node& p = g.node(val.producer());
    if (p.op_type() != "Identity" || !p.domain().empty()) return nullptr;
    v = p.input(0);
  }
  return nullptr;
}

// INVALID_ARGUMENT naming the first name that is not a layer.
absl::Status CheckLayerNames(const std::vector<PrunableLayer>& layers,
                             const std::vector<std::string>& names);

// Applies `masks[i]` (undefined = layer skipped, with `skipped[i]` as the reason) to the
// model's weights and builds the result.
absl::StatusOr<MaskResult> FinishMasks(const std::vector<PrunableLayer>& layers,
                                       std::vector<tensor::Tensor> masks,
                                       std::vector<std::string> skipped, ir::Model* model);

// Concrete shape of every value of `model` by name (stats.cc); empty `input_shapes` = the
// declared input shapes with unknown dims set to 1.
absl::StatusOr<absl::flat_hash_map<std::string, tensor::Shape>> InferValueShapes(
    const ir::Model& model, std::vector<tensor::Shape> input_shapes);

}  // namespace mp::prune

#endif  // MP_WORKERS_ENGINE_PRUNE_PRUNE_INTERNAL_H_
