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
// The data files are parsed once for the prune and QAT parts (RunPruneJobOnData); RunPtq
// still reads its calibration and evaluation files itself (the held-out rows through .npy
// files in a scratch directory).
//
// QAT (qat_epochs > 0; pipeline/qat_step.h): after recovery, the recovered model is
// calibrated (ptq's calibrator on the calibration rows: `calibration`, else the first
// ptq.calibration_samples training rows), fake-quantized for ptq's activation scheme,
// per-channel setting and reduce_range (or ptq.target's), and trained qat_epochs epochs with
// the recovery's loss (distillation from the original for prune.recover "distill", else
// cross-entropy; prune's optimizer, batch size, seed, alpha, T) at qat_lr (0 = prune.lr / 10);
// unstructured / N:M zeros stay zero. RunPtq then quantizes the QAT-trained fp32 model with
// PtqOptions::fixed_ranges = the learned ranges (ranges.json). Needs training data and
// ptq.mode "static".
//
// Progress (job.h): the prune part maps to fractions [0, 0.7) ([0, 0.6) with QAT, the QAT
// part then [0.6, 0.75) with steps "qat: train", "qat: evaluate ptq"), the PTQ part to
// [0.7 | 0.75, 0.95), the final comparison to [0.95, 1]; CANCELLED from context.Report
// stops the job (also between QAT batches).
//
// Artifacts: "model" (model.int8.onnx: the int8 QDQ model, ONNX Runtime ready), "pruned_model"
// (pruned.onnx: fp32 after recovery, before QAT), with QAT "ranges" (ranges.json: the learned
// activation ranges {"value": [lo, hi]}, as PtqOptions::fixed_ranges reads them), "report"
// (report.json: "options" (file names without directories), "original" / "pruned" / "int8"
// each with accuracy, model_bytes, macs, parameter_bytes and latency_ms_batch<B> (int8 with
// QAT also accuracy_ptq); "prune" (RunPruneJob's report), "ptq" (RunPtq's report) and with
// QAT "qat" (qat_step.h QatReportJson + ranges, ptq_accuracy)).
// Metrics: accuracy_fp32 / accuracy_pruned / accuracy_int8 (with labelled eval data; with
// QAT also accuracy_int8_ptq: plain PTQ of the recovered model, calibrated, no QAT),
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
  // > 0: after recovery, this many epochs of quantization-aware training (train/qat.h; the
  // recovery's loss, distillation from the original by default) for ptq's target, and PTQ
  // then uses the learned activation ranges. 0 = plain PTQ of the recovered model.
  int qat_epochs = 0;
  float qat_lr = 0.0f;  // finite and >= 0; 0 = prune.lr / 10
};

// Validates (INVALID_ARGUMENT naming the field: "prune.sparsity: ...", "ptq.calibrator: ...",
// "calibration: needed when ...", "qat_lr: ...", "qat_epochs: ...") and runs the recipe.
absl::StatusOr<JobResult> RunComposeJob(const ComposeJobOptions& options, JobContext& context);

}  // namespace mp::pipeline

#endif  // MP_WORKERS_ENGINE_PIPELINE_COMPOSE_H_
