// Prunable layers of a model and shared validation (see prune.h for the rules).
#ifndef MP_WORKERS_ENGINE_PRUNE_LAYERS_H_
#define MP_WORKERS_ENGINE_PRUNE_LAYERS_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "workers/engine/ir/graph.h"

namespace mp::prune {

struct PrunableLayer {
  std::string name;     // node name, or the weight initializer's name if the node has none
  std::string op_type;  // "Conv", "Gemm" or "MatMul"
  ir::NodeId node;
  ir::ValueId weight;  // input 1, a constant float32 tensor
};

// Every prunable layer in node order. UNIMPLEMENTED naming the node for a Conv/Gemm/MatMul
// with a constant weight that is not float32 or has an unsupported rank; INVALID_ARGUMENT if
// there is none at all.
absl::StatusOr<std::vector<PrunableLayer>> FindPrunableLayers(const ir::Graph& graph);

// The layer called `name`; INVALID_ARGUMENT listing the known names if absent.
absl::StatusOr<const PrunableLayer*> FindLayer(const std::vector<PrunableLayer>& layers,
                                               std::string_view name);

// OK if 0 <= s < 1; INVALID_ARGUMENT "<what>: sparsity 1.5 is outside [0, 1)" otherwise.
absl::Status CheckSparsity(double s, std::string_view what);

// Per-layer sparsity overrides: each name must be a layer, each value a valid sparsity.
using LayerTargets = std::vector<std::pair<std::string, double>>;
absl::Status CheckLayerTargets(const std::vector<PrunableLayer>& layers,
                               const LayerTargets& targets);

}  // namespace mp::prune

#endif  // MP_WORKERS_ENGINE_PRUNE_LAYERS_H_
