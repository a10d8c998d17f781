// Internal to the prune recipe (prune.h): option parsing, measurements, JSON, and the glue
// between pruning masks and the trainer.
#ifndef MP_WORKERS_ENGINE_PIPELINE_PRUNE_INTERNAL_H_
#define MP_WORKERS_ENGINE_PIPELINE_PRUNE_INTERNAL_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "workers/engine/data/dataset.h"
#include "workers/engine/ir/graph.h"
#include "workers/engine/pipeline/prune.h"
#include "workers/engine/prune/prune.h"
#include "workers/engine/train/train.h"

namespace mp::pipeline::internal {

// "NAME=SPARSITY" items -> targets; INVALID_ARGUMENT naming the item.
absl::StatusOr<prune::LayerTargets> ParsePerLayer(const std::vector<std::string>& items);
// "N:M" -> {N, M}.
absl::StatusOr<std::pair<int, int>> ParseNm(const std::string& text);

nlohmann::json MaskJson(const prune::MaskResult& r);
nlohmann::json StatsJson(const prune::ModelStats& s);
nlohmann::json MetricsJson(const PruneModelMetrics& m);
nlohmann::json CurveJson(const std::vector<PruneEpoch>& curve);
nlohmann::json StepsJson(const std::vector<PruneStep>& steps);
// "%.4f".
std::string Fixed(double v);

// Statistics of `model` (+ accuracy on labelled `eval`, + batch-1 latency on the first
// sample of `eval`, else of `any`); `stats_json` receives StatsJson.
absl::StatusOr<PruneModelMetrics> Measure(const ir::Model& model, const PruneRecipeOptions& o,
                                          const data::Dataset* eval, const data::Dataset* any,
                                          nlohmann::json* stats_json);

// Top-1 accuracy of `model` on labelled `eval`.
absl::StatusOr<double> Accuracy(const ir::Model& model, const data::Dataset& eval, int threads);

// Pointers {mask, trainer's weight} for each mask (by weight name); FAILED_PRECONDITION if
// a masked weight is not a trainable parameter.
using BoundMasks = std::vector<std::pair<const tensor::Tensor*, tensor::Tensor*>>;
absl::StatusOr<BoundMasks> BindMasks(const prune::Masks& masks, train::GradGraph& graph);
absl::Status ApplyBound(const BoundMasks& bound);

// train::FitOptions of the recovery (`epochs` of them, cosine schedule).
train::FitOptions FitOptionsOf(const PruneRecipeOptions& o, int epochs);

// The pruning steps of a run (prune.h "Schedule"): one for oneshot, prune_steps for agp.
class Pruner {
 public:
  // Validates the schedule; for nm with agp, finds the layers N:M leaves unpruned.
  static absl::StatusOr<Pruner> Create(const PruneRecipeOptions& o, const ir::Model& original);
  int steps() const { return schedule_.steps; }
  // The scheduled sparsity after step `step` (0-based).
  absl::StatusOr<double> Target(int step) const;
  // Prunes `model` (the original after steps 0..step-1 and their recovery) to step `step`'s
  // target. Returns the step's record (target, achieved sparsity); masks() then holds the
  // cumulative masks (magnitude / nm; empty for structured), already applied to `model`.
  absl::StatusOr<PruneStep> Apply(int step, ir::Model* model);
  const prune::Masks& masks() const { return masks_; }
  // Per-layer table of the last step (the report's "pruning").
  const nlohmann::json& layers() const { return layers_; }

 private:
  Pruner() = default;
  absl::StatusOr<PruneStep> ApplyStructured(int step, double target, ir::Model* model);
  absl::StatusOr<PruneStep> ApplyMasked(int step, double target, ir::Model* model);

  PruneRecipeOptions o_;
  prune::Schedule schedule_;
  prune::LayerTargets per_layer_;
  std::pair<int, int> nm_{2, 4};
  std::vector<std::string> nm_exclude_;  // nm intermediate steps: o.exclude + N:M-skipped
  std::vector<std::pair<std::string, int64_t>> channels_;  // structured: original channels
  prune::Masks masks_;
  nlohmann::json layers_;
};

}  // namespace mp::pipeline::internal

#endif  // MP_WORKERS_ENGINE_PIPELINE_PRUNE_INTERNAL_H_
