// Per-layer sensitivity: accuracy against sparsity with only one layer pruned (prune.h).
#ifndef MP_WORKERS_ENGINE_PRUNE_SENSITIVITY_H_
#define MP_WORKERS_ENGINE_PRUNE_SENSITIVITY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "workers/engine/data/dataset.h"
#include "workers/engine/ir/graph.h"
#include "workers/engine/prune/layers.h"
#include "workers/engine/prune/structured.h"

namespace mp::prune {

struct SensitivityOptions {
  enum class Method { kMagnitude, kStructured };
  Method method = Method::kMagnitude;
  Norm norm = Norm::kL1;                               // kStructured
  std::vector<double> sparsities = {0.25, 0.5, 0.75};  // each in [0, 1)
  std::vector<std::string> layers;                     // empty = every prunable layer
  int64_t batch_size = 64;
};

struct SensitivityRow {
  std::string layer;
  std::vector<double> accuracy;  // top-1, one per sparsity (empty when skipped)
  std::string skipped;           // structured: why the layer cannot be pruned
};

struct SensitivityTable {
  double baseline = 0;  // top-1 of the unpruned model
  std::vector<double> sparsities;
  std::vector<SensitivityRow> rows;  // layer order
};

// For each layer and sparsity: copy the model, prune only that layer (magnitude per layer,
// or structured with that producer's ratio — its coupled group is pruned with it), and
// measure top-1 accuracy on `dataset` (labels required) with eval::EvaluateTop1.
absl::StatusOr<SensitivityTable> AnalyzeSensitivity(const ir::Model& model,
                                                    const data::Dataset& dataset,
                                                    const SensitivityOptions& options);

// Per-layer targets from a table: for each analysed layer, the largest sparsity whose
// accuracy is at least baseline - max_drop (0 if none); skipped layers are left out.
LayerTargets TargetsWithinDrop(const SensitivityTable& table, double max_drop);

}  // namespace mp::prune

#endif  // MP_WORKERS_ENGINE_PRUNE_SENSITIVITY_H_
