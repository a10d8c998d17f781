// mp::distill — knowledge-distillation fine-tuning: a student GradGraph learns from a
// teacher model's outputs (and optionally its intermediate features) on a labelled dataset.
//
//   ASSIGN_OR_RETURN(auto student, train::GradGraph::Create(student_model));
//   ASSIGN_OR_RETURN(DistillResult r, Distill(*student, teacher_model, train, &val,
//                                             {.alpha = 0.7f, .temperature = 4.0f,
//                                              .fit = {.epochs = 3, .seed = 1}}));
//   ASSIGN_OR_RETURN(ir::Model distilled, student->ExportModel());
//
// Teacher: any fp32 ir::Model the engine runs (the uploaded model or another); it runs in an
// exec::Session (inference semantics, BN folded), never trains. Student: a GradGraph the
// caller created (a pruned or narrower copy of the teacher, a re-initialised copy, or a
// user-supplied ONNX), trained in place.
//
// Loss per batch (s = student logits [B, C], t = teacher logits [B, C], y = int64 labels [B]):
//   L = alpha * T^2 * KL(softmax(t/T) || softmax(s/T))      (train::KlDivergence)
//     + (1 - alpha) * CE(s, y)                               (train::SoftmaxCrossEntropy,
//                                                             fit.label_smoothing applies)
//     + sum_k weight_k * MSE(student feature_k, teacher feature_k)   (train::MeanSquaredError)
// dL/ds = alpha * dKL/ds + (1 - alpha) * dCE/ds and dL/d(student feature_k) =
// weight_k * dMSE_k, handed to GradGraph::Backward (graph outputs, then the student's
// GradGraphOptions::extra_outputs). A term whose weight is exactly 0 is left out of the loss
// and the gradients (KL and CE are still reported), so alpha = 0 without feature pairs
// reproduces train::Fit with cross-entropy bit for bit (tested).
//
// The loop is train::Fit's (train::FitWithStep with a distillation step): the same Batcher
// order (fit.seed), schedule, optimizer, per-epoch evaluation of `val` (train::Evaluate with
// fit's options: cross-entropy and top-1 accuracy of the student alone) and callback
// protocol. Determinism: same graph, teacher,
// data, options -> same parameter bytes; timings are the only non-reproducible outputs.
//
// Validation, before any training step (all INVALID_ARGUMENT, naming the culprit):
//   - options: "alpha: 1.5 is outside [0, 1]", "temperature: 0 must be finite and > 0",
//     fit options (train::ValidateFitOptions; fit.loss must be kCrossEntropy), feature
//     pair fields;
//   - a probe batch (the first min(N, fit.batch_size) training rows) through both models:
//     the teacher's and the student's loss outputs must be float32 [B, C] with equal C
//     ("teacher output 'logits' is [B, 10], student output 'logits' is [B, 5]");
//   - feature pairs: the teacher value must be a value of the teacher model (returned with
//     exec::RunOptions::extra_outputs; one the Session folded away fails as "teacher: ..."),
//     the student value must be one of the student GradGraph's extra outputs (create it
//     with GradGraphOptions::extra_outputs), and both must have the same shape
//     ("feature pair 0: teacher value 'a' is [B, 16], student value 'b' is [B, 8]").
#ifndef MP_WORKERS_ENGINE_DISTILL_DISTILL_H_
#define MP_WORKERS_ENGINE_DISTILL_DISTILL_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "workers/engine/data/dataset.h"
#include "workers/engine/ir/graph.h"
#include "workers/engine/train/fit.h"
#include "workers/engine/train/grad_graph.h"

namespace mp::distill {

// An intermediate-feature MSE term: weight * MSE(student value, teacher value).
struct FeaturePair {
  std::string teacher_value;
  std::string student_value;  // must be in the student's GradGraphOptions::extra_outputs
  float weight = 1.0f;        // finite, >= 0
};

struct DistillOptions {
  float alpha = 0.5f;        // weight of the KL term, in [0, 1]; CE gets 1 - alpha
  float temperature = 4.0f;  // softmax temperature T, finite and > 0
  // Epochs, batches, optimizer, schedule, seed, input name (fed to both models), the
  // student's loss output (fit.output_index), label smoothing of the CE term, evaluation.
  train::FitOptions fit = {};
  int teacher_output_index = 0;  // the teacher output holding its logits
  int teacher_threads = 1;       // exec::Session threads for the teacher (>= 1)
  std::vector<FeaturePair> features = {};
};

// OK or INVALID_ARGUMENT naming the field (see the header comment).
absl::Status ValidateDistillOptions(const DistillOptions& options);

// Losses of a batch (kStep) or means over an epoch's training samples (kEpoch / records).
struct LossParts {
  double total = 0;    // alpha * kl + (1 - alpha) * ce + feature
  double kl = 0;       // T^2 * KL, unweighted
  double ce = 0;       // cross-entropy, unweighted
  double feature = 0;  // sum of weight_k * MSE_k (already weighted)
};

struct DistillProgress {
  train::FitProgress::Event event = train::FitProgress::Event::kStep;
  int epoch = 0;  // 0-based
  int64_t step = 0;
  int64_t total_steps = 0;
  LossParts loss;
  double accuracy = 0;  // of the student against the labels
  float lr = 0;
  double samples_per_second = 0;
  std::optional<train::EvalMetrics> val;  // kEpoch with a validation set
};

// Returning a non-OK status stops distillation: Distill returns CANCELLED with its message.
using DistillCallback = std::function<absl::Status(const DistillProgress&)>;

struct DistillEpochRecord {
  int64_t samples = 0;
  LossParts train;      // means over the epoch's training samples
  double accuracy = 0;  // running top-1 of the student over the epoch's batches
  std::optional<train::EvalMetrics> val;
  float last_lr = 0;
  double seconds = 0;  // training wall time (teacher + student; evaluation excluded)
  double samples_per_second = 0;
};

struct DistillResult {
  int64_t steps = 0;
  std::vector<DistillEpochRecord> epochs;  // one per completed epoch
  double samples_per_second = 0;           // over all training steps
};

// Trains `student` in place against `teacher`. `train` (and `val`, may be null) need int64
// labels. Errors: INVALID_ARGUMENT (see the header comment; also a non-finite loss,
// "step 12: loss is nan; lower fit.optimizer.lr?"), CANCELLED from the callback, errors of
// either model as they come (annotated "teacher: ..." for the teacher).
absl::StatusOr<DistillResult> Distill(train::GradGraph& student, const ir::Model& teacher,
                                      const data::Dataset& train, const data::Dataset* val,
                                      const DistillOptions& options,
                                      const DistillCallback& callback = {});

}  // namespace mp::distill

#endif  // MP_WORKERS_ENGINE_DISTILL_DISTILL_H_
