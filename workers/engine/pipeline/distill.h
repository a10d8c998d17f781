// The distill recipe: knowledge distillation of a student model from a teacher model
// (distill/distill.h), with an optional plain cross-entropy baseline trained at the same
// budget, evaluation of every model and a report.
//
// Student source (`student`):
//   "model"   a user-supplied ONNX student (DistillJobOptions::student), trained as it is.
//   "width"   a narrower copy of the teacher: structured channel surgery (prune/structured.h)
//             keeps round(width * channels) of each prunable channel group, and every
//             parameter is then re-initialised (train::InitializeParameters, seeded by
//             `seed`): a student from scratch with the teacher's architecture at `width`.
//   "pruned"  the same surgery keeping the teacher's surviving weights (L1 channel ranking).
// The student's loss output must be float32 [B, C] with the teacher's C; every student op
// needs a backward rule (train/rules.h), else UNIMPLEMENTED naming the node.
//
// Steps (JobContext progress, fraction never decreasing): load -> build student -> evaluate
// teacher and student (before) -> distill (one report per epoch: loss parts, accuracy, lr,
// samples/s; cancellation checked between batches) -> [baseline: the same student
// (identical initial parameters) trained with cross-entropy, same epochs/batches/optimizer/
// schedule/seed] -> evaluate -> latency -> export.
//
// Training: batches of `batch_size` in the order of `seed`, `optimizer` (sgd uses momentum
// 0.9) at `lr` with a cosine schedule over the whole run, `weight_decay`. Loss
//   alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * CE(s, y) [+ features].
//
// Evaluation: top-1 on eval_data/eval_labels, else on the `holdout` fraction of the training
// data (the last rows, not trained on), else none (accuracies are null). Always: parameters,
// parameter bytes, MACs at batch 1 (prune::ComputeStats), serialized ONNX bytes, and median
// batch-1 latency over `latency_iterations` runs (0 skips it).
//
// Artifacts: "model" (student.onnx, the distilled student, fp32, before QAT), with QAT also
// "int8_model" (student.int8.onnx, the int8 QDQ model, ONNX Runtime ready) and "ranges"
// (ranges.json: {"value": [lo, hi]} the learned activation ranges, the PtqOptions::fixed_ranges
// format), and "report" (report.json):
//   options   the options as run (file names without directories, student source,
//             hyperparameters)
//   teacher, student_before, student_after, baseline_after (baseline only):
//             {accuracy, eval_samples, parameters, parameter_bytes, model_bytes, macs,
//              latency_ms_batch1}
//   student   {source, width, layers: [{layer, channels, kept}] for width/pruned}
//   curve     [{epoch, loss, kl, ce, feature, train_accuracy, eval_loss, eval_accuracy, lr,
//              seconds, samples_per_second}] for distillation; baseline_curve likewise
//             (loss = ce, kl/feature 0) when baseline
//   qat, student_int8 (QAT only): qat = qat_step.h QatReportJson (options, target,
//             learned_ranges, quantized_layers, curve as above with the evaluation of the
//             fake-quantized student) + ptq_accuracy;
//             student_int8 = {accuracy, eval_samples, model_bytes, latency_ms_batch1} of the
//             int8 model on the integer kernels
//   metrics   the JobResult metrics as an object
// JobResult metrics: teacher_accuracy, student_accuracy_before, student_accuracy_after,
// baseline_accuracy (baseline), distill_gain (after - baseline, baseline), model_bytes,
// teacher_model_bytes, student_parameters, teacher_parameters, student_macs, teacher_macs,
// latency_ms_batch1, teacher_latency_ms_batch1, train_samples, eval_samples, epochs,
// samples_per_second; with QAT also student_accuracy_int8, student_accuracy_int8_ptq (plain
// PTQ, no QAT), int8_model_bytes, latency_ms_batch1_int8 (when measured). Accuracy metrics
// are present only when evaluation data exists.
// Deterministic for a seed apart from timings (any thread count).
#ifndef MP_WORKERS_ENGINE_PIPELINE_DISTILL_H_
#define MP_WORKERS_ENGINE_PIPELINE_DISTILL_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "workers/engine/pipeline/job.h"

namespace mp::pipeline {

// An intermediate-feature MSE term (distill::FeaturePair): the teacher value name, the
// student value name (must have the same shape), and its weight (finite, >= 0).
struct DistillFeaturePair {
  std::string teacher_value;
  std::string student_value;
  float weight = 1.0f;
};

struct DistillRecipeOptions {
  std::string student = "width";             // model | width | pruned
  double width = 0.5;                        // width/pruned: fraction of channels kept, (0, 1]
  float alpha = 0.7f;                        // KL weight, [0, 1]; CE gets 1 - alpha
  float temperature = 4.0f;                  // softmax temperature, finite and > 0
  int epochs = 2;                            // >= 1
  int64_t batch_size = 64;                   // >= 1
  float lr = 1e-3f;                          // finite, > 0
  std::string optimizer = "adam";            // sgd | adam | adamw
  float weight_decay = 0.0f;                 // finite, >= 0
  uint64_t seed = 0;                         // data order, student initialisation, dropout
  std::vector<DistillFeaturePair> features;  // optional intermediate-feature terms
  bool baseline = false;        // also train the same student with plain CE at the same budget
  int latency_iterations = 20;  // batch-1 latency runs; 0 = skip
  // Quantization-aware distillation (train/qat.h): > 0 runs this many more epochs distilling
  // the fake-quantized student after `epochs`, then writes the int8 model it was trained for
  // (artifacts "int8_model" and "ranges"). 0 = none.
  int qat_epochs = 0;
  float qat_lr = 0.0f;     // QAT learning rate, finite and >= 0; 0 = lr / 10
  std::string qat_target;  // int8 target as PtqOptions::target ("" = this CPU)
};

// OK or INVALID_ARGUMENT naming the option ("alpha: 1.5 is outside [0, 1]").
absl::Status ValidateDistillRecipeOptions(const DistillRecipeOptions& options);

struct DistillJobOptions {
  std::filesystem::path teacher;                 // fp32 ONNX (required)
  std::filesystem::path student;                 // ONNX; required iff recipe.student == "model"
  std::filesystem::path data, labels;            // labelled training data (required)
  std::filesystem::path eval_data, eval_labels;  // optional labelled evaluation data
  int64_t limit = 0;                             // training samples used; 0 = all
  double holdout = 0;  // no eval_data: fraction of data held out for evaluation, [0, 1)
  DistillRecipeOptions recipe;
};

// Validates the options (INVALID_ARGUMENT naming the option or file) and runs the recipe
// with context.num_threads() threads. Artifacts "model" and "report", with QAT also
// "int8_model" and "ranges" (see above).
absl::StatusOr<JobResult> RunDistillJob(const DistillJobOptions& options, JobContext& context);

}  // namespace mp::pipeline

#endif  // MP_WORKERS_ENGINE_PIPELINE_DISTILL_H_
