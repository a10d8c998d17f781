// The compose recipe: prune -> recover -> post-training int8 quantization, in one job, with a
// report comparing the original fp32, the pruned fp32 and the int8 model.
//
// Steps: RunPrune (prune.h; recipe options `prune`, recovery defaulting to "distill" from
// the original) -> the pruned fp32 model written into work_dir -> RunPtq (ptq.h) on it, with
// calibration = `calibration` if given, else the training data (ptq.calibration_samples
// default 512, the first rows) and evaluation on the same eval set as the prune step (eval_data,
// else the held-out part of data; written to work_dir as .npy when held out) -> latency of the
// three models at each of ptq.latency_batches (default 1 and 64) on the engine.
//
// Progress (job.h): the prune part maps to fractions [0, 0.7), the PTQ part to [0.7, 0.95),
// the final comparison to [0.95, 1]; CANCELLED from context.Report stops the job.
//
// Artifacts: "model" (model.int8.onnx: the int8 QDQ model, ONNX Runtime ready), "pruned_model"
// (pruned.onnx: fp32 after recovery), "report" (report.json: "options", "original" /
// "pruned" / "int8" each with accuracy, model_bytes, macs, parameter_bytes and
// latency_ms_batch<B>; "prune" (RunPrune's report) and "ptq" (RunPtq's report)).
// Metrics: accuracy_fp32 / accuracy_pruned / accuracy_int8 (with labelled eval data),
// model_bytes_fp32 / _pruned / _int8, macs_fp32 / macs_pruned, sparsity (as RunPruneJob's),
// latency_ms_batch<B>_fp32 / _pruned / _int8.
#ifndef MP_WORKERS_ENGINE_PIPELINE_COMPOSE_H_
#define MP_WORKERS_ENGINE_PIPELINE_COMPOSE_H_

#include <cstdint>
#include <filesystem>

#include "absl/status/statusor.h"
#include "workers/engine/pipeline/job.h"
#include "workers/engine/pipeline/prune.h"
#include "workers/engine/pipeline/ptq.h"

namespace mp::pipeline {

// Default options of the compose recipe: prune.recover = "distill", ptq.calibration_samples
// = 512 (the other fields as their structs' defaults).
struct ComposeJobOptions {
  std::filesystem::path model, data, labels, eval_data, eval_labels;
  std::filesystem::path calibration;  // optional; default: the training data
  int64_t limit = 0;                  // training samples used; 0 = all
  double holdout = 0;                 // no eval_data: fraction of data held out, [0, 1)
  PruneRecipeOptions prune = [] {
    PruneRecipeOptions o;
    o.recover = "distill";
    return o;
  }();
  PtqOptions ptq = [] {
    PtqOptions o;
    o.calibration_samples = 512;
    return o;
  }();  // its model/calibration/eval paths are filled by the recipe
};

// Validates (INVALID_ARGUMENT naming the field: "prune.sparsity: ...", "ptq.calibrator: ...",
// "calibration: needed when ...") and runs the recipe.
absl::StatusOr<JobResult> RunComposeJob(const ComposeJobOptions& options, JobContext& context);

}  // namespace mp::pipeline

#endif  // MP_WORKERS_ENGINE_PIPELINE_COMPOSE_H_
