// The prune recipe: prune a model (unstructured magnitude, N:M, or structured channels),
// optionally recover its accuracy by fine-tuning or by distillation from the unpruned model,
// evaluate the original and the result, and report.
//
// Steps: prune (prune/prune.h; method options as `modelpress-worker prune` takes them) ->
// recovery -> evaluation of both models on `eval` -> report.
//
// Recovery (`recover`):
//   "none"      the pruned model as is.
//   "finetune"  train::Fit with cross-entropy on `train` for `epochs` epochs.
//   "distill"   distill::Distill: teacher = the original unpruned model, student = the pruned
//               one; loss alpha * T^2 * KL + (1 - alpha) * CE (distill/distill.h).
// Both use `optimizer` (sgd with momentum 0.9 | adam | adamw) at `lr` with a cosine schedule
// over the whole run, batches of `batch_size`, data order from `seed`. For unstructured and
// N:M pruning the masks are re-applied to the trained weights after every optimizer step
// (so every forward pass sees them; the optimizer's moments may be non-zero there but the
// weights are reset to exactly +0) and the exported model has exactly the pruned zeros.
// Structured pruning yields a smaller dense model, trained without masks.
//
// Evaluation (when `eval` is given, labelled): top-1 accuracy of the original, of the pruned
// model before recovery (pruned_accuracy) and of the result; always: MACs for a batch of 1,
// parameters and bytes (prune::ComputeStats), sparsity of the prunable layers' weights, and
// the median batch-1 latency (eval::MeasureLatency, `latency_iterations` timed runs; 0 skips
// it) on the first eval (else train) sample, when data is given.
//
// Report (JSON): "options", "before"/"after" metrics, "pruned_accuracy", "pruning" (per-layer
// table: channels kept, or weights/pruned/sparsity, and why a layer was skipped),
// "stats_before"/"stats_after" (per-layer MACs/weights/sparsity), and "curve" (one entry per
// epoch: train loss/accuracy, eval loss/accuracy, lr, seconds). Deterministic for a seed apart
// from timings.
#ifndef MP_WORKERS_ENGINE_PIPELINE_PRUNE_H_
#define MP_WORKERS_ENGINE_PIPELINE_PRUNE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "workers/engine/data/dataset.h"
#include "workers/engine/ir/graph.h"

namespace mp::pipeline {

struct PruneRecipeOptions {
  // Pruning (as the flags of `modelpress-worker prune`).
  std::string method = "structured";   // structured | magnitude | nm
  double sparsity = 0.5;               // fraction of channels / weights removed, [0, 1)
  std::string norm = "l1";             // structured: l1 | l2
  std::string scope = "layer";         // magnitude: layer | global
  std::vector<std::string> per_layer;  // "NAME=SPARSITY" overrides
  std::vector<std::string> exclude;    // layers left unpruned
  std::string nm = "2:4";              // nm: N:M
  int64_t round_to = 1;                // structured: kept channels rounded up to a multiple
  // Recovery.
  std::string recover = "none";    // none | finetune | distill
  int epochs = 3;                  // >= 1 when recovering
  int64_t batch_size = 64;         // >= 1
  float lr = 1e-3f;                // finite, > 0
  std::string optimizer = "adam";  // sgd | adam | adamw
  float weight_decay = 0.0f;       // >= 0
  float alpha = 0.7f;              // distill: KL weight, [0, 1]
  float temperature = 4.0f;        // distill: > 0
  uint64_t seed = 0;               // data order, dropout
  int threads = 1;                 // >= 1
  bool eval_each_epoch = true;     // evaluate `eval` after every epoch (the curve)
  int latency_iterations = 20;     // batch-1 latency runs; 0 = skip
};

// OK or INVALID_ARGUMENT naming the option ("epochs: 0 must be >= 1").
absl::Status ValidatePruneRecipeOptions(const PruneRecipeOptions& options);

// Metrics of one model.
struct PruneModelMetrics {
  std::optional<double> accuracy;  // top-1 on the eval set, if labelled data was given
  int64_t eval_samples = 0;
  int64_t macs = 0;  // batch 1
  int64_t parameters = 0;
  int64_t parameter_bytes = 0;
  int64_t zero_parameters = 0;
  double sparsity = 0;               // zeros / weights over the Conv/Gemm/MatMul constant weights
  std::optional<double> latency_ms;  // batch-1 median (p50)
};

struct PruneEpoch {
  int epoch = 0;
  double train_loss = 0;
  double train_accuracy = 0;
  std::optional<double> eval_loss;
  std::optional<double> eval_accuracy;
  float lr = 0;
  double seconds = 0;
};

struct PruneRecipeResult {
  ir::Model model;  // the pruned (and recovered) model
  PruneModelMetrics before, after;
  // Top-1 on the eval set right after pruning, before recovery (recover != "none" only).
  std::optional<double> pruned_accuracy;
  std::vector<PruneEpoch> curve;
  nlohmann::json report;
};

// Progress: a line of text per stage / epoch (may be empty).
using PruneProgress = std::function<void(const std::string&)>;

// Runs the recipe on `model`. `train` is required (labelled) when recover != "none"; `eval`
// may be null (no accuracy). Errors: INVALID_ARGUMENT for options and data, errors of the
// pruning/training modules as they come.
absl::StatusOr<PruneRecipeResult> RunPrune(const ir::Model& model,
                                           const PruneRecipeOptions& options,
                                           const data::Dataset* train, const data::Dataset* eval,
                                           const PruneProgress& progress = {});

}  // namespace mp::pipeline

#endif  // MP_WORKERS_ENGINE_PIPELINE_PRUNE_H_
