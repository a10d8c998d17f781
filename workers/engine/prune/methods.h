// Unstructured magnitude pruning and N:M semi-structured pruning (rules in prune.h). Both
// zero weights in place of the model (new tensors) and return the masks.
#ifndef MP_WORKERS_ENGINE_PRUNE_METHODS_H_
#define MP_WORKERS_ENGINE_PRUNE_METHODS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "workers/engine/ir/graph.h"
#include "workers/engine/prune/layers.h"
#include "workers/engine/prune/masks.h"

namespace mp::prune {

// What happened to one layer.
struct LayerSparsity {
  std::string layer;
  int64_t weights = 0;  // elements of the weight
  int64_t pruned = 0;   // zeros in its mask
  std::string skipped;  // non-empty: why the layer was left unpruned
  double sparsity() const { return weights == 0 ? 0.0 : double(pruned) / double(weights); }
};

struct MaskResult {
  Masks masks;                        // one per pruned layer, model order
  std::vector<LayerSparsity> layers;  // one per prunable layer, model order
  int64_t weights = 0;                // over all prunable layers
  int64_t pruned = 0;
  double sparsity() const { return weights == 0 ? 0.0 : double(pruned) / double(weights); }
};

enum class Scope { kPerLayer, kGlobal };

struct MagnitudeOptions {
  Scope scope = Scope::kPerLayer;
  // Target fraction of zeros: of every layer (kPerLayer) or of the pooled weights of the
  // layers without an override (kGlobal). In [0, 1).
  double sparsity = 0.5;
  // Overrides by layer name; in kGlobal mode these layers leave the pool.
  LayerTargets per_layer;
  // Layers left untouched (by name).
  std::vector<std::string> exclude;
  // kGlobal: no pooled layer is pruned beyond this fraction, in (0, 1].
  double max_layer_sparsity = 0.95;
};

absl::StatusOr<MaskResult> MagnitudePrune(const MagnitudeOptions& options, ir::Model* model);

enum class NmTail { kSkipLayer, kError, kPartialGroup };

struct NmOptions {
  int n = 2;  // kept per group, 0 <= n < m
  int m = 4;  // group size along K, >= 1
  NmTail tail = NmTail::kSkipLayer;
  std::vector<std::string> exclude;  // layers left dense
  // Only these layers (empty = every prunable layer not excluded).
  std::vector<std::string> only;
};

absl::StatusOr<MaskResult> NmPrune(const NmOptions& options, ir::Model* model);

// True if every group of m consecutive weights along K of `weight` (laid out as for
// `op_type`/`trans_b`, see prune.h) has at most n non-zeros (tail group included).
bool SatisfiesNm(const tensor::Tensor& weight, std::string_view op_type, bool trans_b, int n,
                 int m);

}  // namespace mp::prune

#endif  // MP_WORKERS_ENGINE_PRUNE_METHODS_H_
