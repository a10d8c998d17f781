// The prune recipe: prune a model (unstructured magnitude, N:M, or structured channels),
// optionally recover its accuracy by fine-tuning or by distillation from the unpruned model,
// evaluate the original and the result, and report.
//
// Steps: prune (prune/prune.h; method options as `modelpress-worker prune` takes them) ->
// recovery -> evaluation of both models on `eval` -> report.
//
// Schedule (`schedule`):
//   "oneshot"  prune to `sparsity` once, then recover for `epochs` epochs.
//   "agp"      `prune_steps` (n) rounds of (prune, recover): after step t (0-based) the
//              target is the AGP / polynomial schedule's s_t = s_f (1 - (1 - (t+1)/n)^3), so
//              s_{n-1} = s_f exactly (prune/schedule.h, initial 0, power 3). Recovery epochs
//              are divided over the steps (step t gets floor((t+1)E/n) - floor(tE/n), so the
//              last step always trains). magnitude / nm: masks only grow (each step's mask
//              is ANDed with the previous one); for nm s_f = 1 - N/M, the intermediate steps
//              are per-layer magnitude masks at s_t over the layers N:M prunes and the last
//              step is the N:M mask. structured: each step removes channels of the current
//              (already smaller) model so that the kept fraction of the original is 1 - s_t,
//              and recovery trains a fresh GradGraph each step; distillation's teacher is
//              always the original model. Each step's recovery restarts the cosine schedule.
//              Needs recover != none.
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
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "workers/engine/data/dataset.h"
#include "workers/engine/ir/graph.h"
#include "workers/engine/pipeline/job.h"

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
  // Schedule.
  std::string schedule = "oneshot";  // oneshot | agp
  int prune_steps = 4;               // agp: pruning steps, >= 1
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
  int step = 0;   // agp: the pruning step this epoch recovered from (0 for oneshot)
  int epoch = 0;  // 0-based over the whole run
  double train_loss = 0;
  double train_accuracy = 0;
  std::optional<double> eval_loss;
  std::optional<double> eval_accuracy;
  float lr = 0;
  double seconds = 0;
};

// One pruning step (one entry for oneshot).
struct PruneStep {
  int step = 0;
  double target = 0;                         // scheduled sparsity of this step
  double sparsity = 0;                       // achieved: weight zeros (magnitude/nm) or
                                             // 1 - parameters / original parameters (structured)
  std::optional<double> pruned_accuracy;     // right after this step's pruning
  std::optional<double> recovered_accuracy;  // after this step's recovery epochs
  int epochs = 0;                            // recovery epochs of this step
};

struct PruneRecipeResult {
  ir::Model model;  // the pruned (and recovered) model
  PruneModelMetrics before, after;
  // Top-1 on the eval set right after pruning, before recovery (recover != "none" only;
  // agp: right after the last pruning step).
  std::optional<double> pruned_accuracy;
  std::vector<PruneEpoch> curve;
  std::vector<PruneStep> steps;
  nlohmann::json report;
};

// Progress of RunPrune: `fraction` (0..1 of this run, never decreasing, weighted by the
// expected cost of evaluation, pruning and each recovery epoch), `step` ("evaluate original",
// "prune", "recover", "evaluate pruned"; agp: "prune 2/4", "recover 2/4"), per-epoch metrics
// (loss, accuracy, lr, samples_per_second, eval_accuracy, sparsity) and a log line. A non-OK
// return stops the run: RunPrune returns it (CANCELLED stays CANCELLED). May be empty.
using PruneProgress = std::function<absl::Status(const ProgressUpdate&)>;

// Runs the recipe on `model`. `train` is required (labelled) when recover != "none"; `eval`
// may be null (no accuracy). Errors: INVALID_ARGUMENT for options and data, errors of the
// pruning/training modules as they come, and whatever `progress` returns.
absl::StatusOr<PruneRecipeResult> RunPrune(const ir::Model& model,
                                           const PruneRecipeOptions& options,
                                           const data::Dataset* train, const data::Dataset* eval,
                                           const PruneProgress& progress = {});

// The recipe in job form (job.h). Loads `model` and the data files (recipe_data.h
// LoadSamples: .npy / IDX(.gz) / .pb; evaluation data = eval_data, else the last `holdout`
// fraction of data, else none), runs RunPrune with recipe.threads = context.num_threads(),
// and writes the artifacts "model" (model.onnx, the pruned model) and "report"
// (report.json: RunPrune's report + "model", "metrics"). Metrics: accuracy_before,
// accuracy_after, pruned_accuracy (those three only with labelled eval data), macs_before,
// macs_after, parameter_bytes_before, parameter_bytes_after, model_bytes (of model.onnx),
// sparsity (achieved: the fraction of channels removed for structured, of prunable weights
// zeroed for magnitude / nm), weight_sparsity (zero fraction of the prunable weights),
// latency_ms_batch1_before/after (when measured). Progress goes to
// context.Report with an ETA; CANCELLED from it stops the job without artifacts.
struct PruneJobOptions {
  std::filesystem::path model;                   // fp32 ONNX (required)
  std::filesystem::path data, labels;            // training data; required when recovering
  std::filesystem::path eval_data, eval_labels;  // optional evaluation data
  int64_t limit = 0;                             // training samples used; 0 = all
  double holdout = 0;                            // no eval_data: fraction of data held out, [0, 1)
  PruneRecipeOptions recipe;
};
absl::StatusOr<JobResult> RunPruneJob(const PruneJobOptions& options, JobContext& context);

// RunPruneJob after loading: `model` is options.model imported, `train` / `eval` (may be
// null) the datasets RunPruneJob would load from options' files (compose loads them once).
// The report's "model" is options.model's file name.
absl::StatusOr<JobResult> RunPruneJobOnData(const ir::Model& model, const PruneJobOptions& options,
                                            const data::Dataset* train, const data::Dataset* eval,
                                            JobContext& context);

}  // namespace mp::pipeline

#endif  // MP_WORKERS_ENGINE_PIPELINE_PRUNE_H_
