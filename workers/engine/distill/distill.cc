#include "workers/engine/distill/distill.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>

#include "common/check.h"
#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/distill/distill_loss.h"
#include "workers/engine/eval/eval.h"
#include "workers/engine/exec/session.h"

namespace mp::distill {
namespace {

using tensor::Tensor;
using train::GradGraph;

// "[B, 10]": a tensor's dims with the batch dim written B.
std::string BatchShape(const Tensor& t) {
  if (t.rank() == 0) return "[]";
  std::string s = "[B";
  for (int i = 1; i < t.rank(); ++i) s += StrCat(", ", t.shape().dim(i));
  return s + "]";
}

// Where each piece lives in the two models' output lists (fixed by the probe).
struct Layout {
  size_t teacher_logits = 0;
  size_t student_logits = 0;
  size_t teacher_outputs = 0;           // teacher graph outputs; its extras follow
  std::vector<size_t> student_feature;  // per feature pair, index into student outputs
};

// The teacher session and its run options (extra outputs = the teacher feature values).
struct Teacher {
  std::unique_ptr<exec::Session> session;
  exec::RunOptions run;

  absl::StatusOr<exec::NamedTensors> Run(const std::string& input, const Tensor& x) {
    absl::StatusOr<exec::NamedTensors> outs = session->Run({{input, x}}, run);
    if (!outs.ok()) return Annotate(outs.status(), "teacher");
    return outs;
  }
};

// Runs the probe batch through both models and checks outputs and feature pairs.
absl::StatusOr<Layout> Probe(GradGraph& student, Teacher& teacher, const data::Dataset& train,
                             const DistillOptions& o) {
  const int64_t rows = std::min(train.size(), o.fit.batch_size);
  const data::Batch batch = train.Slice(0, rows);
  ASSIGN_OR_RETURN(exec::NamedTensors t_outs, teacher.Run(o.fit.input_name, batch.inputs));
  absl::StatusOr<exec::NamedTensors> s_outs =
      student.Forward({{o.fit.input_name, batch.inputs}}, train::Mode::kEval);
  if (!s_outs.ok()) return Annotate(s_outs.status(), "student");
  Layout layout;
  layout.teacher_outputs = teacher.session->outputs().size();
  if (o.teacher_output_index >= static_cast<int>(layout.teacher_outputs)) {
    return absl::InvalidArgumentError(StrCat("teacher_output_index: ", o.teacher_output_index,
                                             " but the teacher has ", layout.teacher_outputs,
                                             " outputs"));
  }
  if (o.fit.output_index >= static_cast<int>(s_outs->size())) {
    return absl::InvalidArgumentError(StrCat("fit.output_index: ", o.fit.output_index,
                                             " but the student has ", s_outs->size(), " outputs"));
  }
  layout.teacher_logits = static_cast<size_t>(o.teacher_output_index);
  layout.student_logits = static_cast<size_t>(o.fit.output_index);
  const auto& [t_name, t] = t_outs[layout.teacher_logits];
  const auto& [s_name, s] = (*s_outs)[layout.student_logits];
  const auto is_logits = [rows](const Tensor& x) {
    return x.dtype() == tensor::DType::kFloat32 && x.rank() == 2 && x.shape().dim(0) == rows;
  };
  if (!is_logits(t) || !is_logits(s) || t.shape().dim(1) != s.shape().dim(1)) {
    return absl::InvalidArgumentError(
        StrCat("teacher output '", t_name, "' is ", BatchShape(t), ", student output '", s_name,
               "' is ", BatchShape(s), " (B = ", rows,
               "): distillation needs float32 [B, C] logits with the same C"));
  }
  for (size_t k = 0; k < o.features.size(); ++k) {
    const FeaturePair& f = o.features[k];
    // Extras follow the graph outputs: search from the back so an extra output that is
    // also a graph output resolves to the extra.
    size_t found = s_outs->size();
    for (size_t i = s_outs->size(); i-- > 0;) {
      if ((*s_outs)[i].first == f.student_value) {
        found = i;
        break;
      }
    }
    if (found == s_outs->size()) {
      return absl::InvalidArgumentError(
          StrCat("feature pair ", k, ": student value '", f.student_value,
                 "' is not an output of the student GradGraph (create it with "
                 "GradGraphOptions::extra_outputs = {\"",
                 f.student_value, "\"})"));
    }
    layout.student_feature.push_back(found);
    const Tensor& tf = t_outs[layout.teacher_outputs + k].second;
    const Tensor& sf = (*s_outs)[found].second;
    if (tf.dtype() != tensor::DType::kFloat32 || sf.dtype() != tensor::DType::kFloat32 ||
        tf.shape() != sf.shape()) {
      return absl::InvalidArgumentError(
          StrCat("feature pair ", k, ": teacher value '", f.teacher_value, "' is ", BatchShape(tf),
                 ", student value '", f.student_value, "' is ", BatchShape(sf), " (B = ", rows,
                 "): feature MSE needs equal float32 shapes"));
    }
  }
  return layout;
}

struct StepOutcome {
  CombinedLoss loss;
  int64_t correct = 0;
};

// One training step's forward passes and loss; the caller does Backward and the update.
absl::StatusOr<StepOutcome> ForwardAndLoss(GradGraph& student, Teacher& teacher,
                                           const data::Batch& batch, const Layout& layout,
                                           const DistillOptions& o, std::vector<Tensor>& grads) {
  ASSIGN_OR_RETURN(exec::NamedTensors t_outs, teacher.Run(o.fit.input_name, batch.inputs));
  ASSIGN_OR_RETURN(exec::NamedTensors s_outs,
                   student.Forward({{o.fit.input_name, batch.inputs}}, train::Mode::kTrain));
  std::vector<FeatureTerm> features(o.features.size());
  for (size_t k = 0; k < o.features.size(); ++k) {
    features[k] = {.student = s_outs[layout.student_feature[k]].second,
                   .teacher = t_outs[layout.teacher_outputs + k].second,
                   .weight = o.features[k].weight};
  }
  const Tensor& logits = s_outs[layout.student_logits].second;
  StepOutcome r;
  ASSIGN_OR_RETURN(r.loss,
                   ComputeCombinedLoss(logits, t_outs[layout.teacher_logits].second, batch.labels,
                                       o.alpha, o.temperature, o.fit.label_smoothing, features));
  ASSIGN_OR_RETURN(std::vector<int64_t> pred, eval::ArgmaxLastAxis(logits));
  const int64_t* y = batch.labels.data<int64_t>();
  for (size_t i = 0; i < pred.size(); ++i) r.correct += pred[i] == y[i] ? 1 : 0;
  // Output gradients: logits, then features (summed when pairs share a student value).
  grads.assign(s_outs.size(), Tensor());
  grads[layout.student_logits] = std::move(r.loss.logits_grad);
  for (size_t k = 0; k < o.features.size(); ++k) {
    Tensor& g = r.loss.feature_grads[k];
    if (!g.defined()) continue;
    Tensor& slot = grads[layout.student_feature[k]];
    if (!slot.defined()) {
      slot = std::move(g);
      continue;
    }
    float* dst = slot.mutable_data<float>();
    const float* src = g.data<float>();
    for (int64_t i = 0; i < g.num_elements(); ++i) dst[i] += src[i];
  }
  return r;
}

// LossParts travel through train::FitWithStep as StepLoss::parts = {kl, ce, feature}.
LossParts FromParts(double total, const std::vector<double>& parts) {
  MP_CHECK_EQ(parts.size(), 3u);
  return {.total = total, .kl = parts[0], .ce = parts[1], .feature = parts[2]};
}

}  // namespace

absl::Status ValidateDistillOptions(const DistillOptions& o) {
  if (!(o.alpha >= 0.0f && o.alpha <= 1.0f)) {
    return absl::InvalidArgumentError(StrCat("alpha: ", o.alpha, " is outside [0, 1]"));
  }
  if (!(o.temperature > 0.0f && std::isfinite(o.temperature))) {
    return absl::InvalidArgumentError(
        StrCat("temperature: ", o.temperature, " must be finite and > 0"));
  }
  RETURN_IF_ERROR(train::ValidateFitOptions(o.fit));
  if (o.fit.loss != train::LossKind::kCrossEntropy) {
    return absl::InvalidArgumentError(
        "fit.loss: distillation's label term is cross-entropy (kCrossEntropy)");
  }
  if (o.teacher_output_index < 0) {
    return absl::InvalidArgumentError(
        StrCat("teacher_output_index: ", o.teacher_output_index, " must be >= 0"));
  }
  if (o.teacher_threads < 1) {
    return absl::InvalidArgumentError(
        StrCat("teacher_threads: ", o.teacher_threads, " must be >= 1"));
  }
  for (size_t k = 0; k < o.features.size(); ++k) {
    const FeaturePair& f = o.features[k];
    if (f.teacher_value.empty() || f.student_value.empty()) {
      return absl::InvalidArgumentError(
          StrCat("features[", k, "]: teacher_value and student_value must be non-empty"));
    }
    if (!(f.weight >= 0.0f && std::isfinite(f.weight))) {
      return absl::InvalidArgumentError(
          StrCat("features[", k, "].weight: ", f.weight, " must be finite and >= 0"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<DistillResult> Distill(GradGraph& student, const ir::Model& teacher_model,
                                      const data::Dataset& train, const data::Dataset* val,
                                      const DistillOptions& options,
                                      const DistillCallback& callback) {
  RETURN_IF_ERROR(ValidateDistillOptions(options));
  RETURN_IF_ERROR(train::CheckLabelled(train, "training dataset"));
  if (val != nullptr) RETURN_IF_ERROR(train::CheckLabelled(*val, "validation dataset"));
  Teacher teacher;
  {
    absl::StatusOr<std::unique_ptr<exec::Session>> session =
        exec::Session::Create(teacher_model, {.num_threads = options.teacher_threads});
    if (!session.ok()) return Annotate(session.status(), "teacher");
    teacher.session = *std::move(session);
  }
  for (size_t k = 0; k < options.features.size(); ++k) {
    const FeaturePair& f = options.features[k];
    if (!teacher_model.graph.FindValue(f.teacher_value).valid()) {
      return absl::InvalidArgumentError(StrCat("feature pair ", k, ": teacher value '",
                                               f.teacher_value, "' is not in the teacher model"));
    }
    teacher.run.extra_outputs.push_back(f.teacher_value);
  }
  ASSIGN_OR_RETURN(const Layout layout, Probe(student, teacher, train, options));

  const train::StepFn step = [&](const data::Batch& batch) -> absl::StatusOr<train::StepLoss> {
    train::StepLoss loss;
    ASSIGN_OR_RETURN(StepOutcome r,
                     ForwardAndLoss(student, teacher, batch, layout, options, loss.output_grads));
    const LossParts& p = r.loss.parts;
    loss.loss = p.total;
    loss.correct = r.correct;
    loss.parts = {p.kl, p.ce, p.feature};
    return loss;
  };
  const train::FitCallback fit_callback = [&](const train::FitProgress& p) -> absl::Status {
    if (!callback) return absl::OkStatus();
    return callback(DistillProgress{.event = p.event,
                                    .epoch = p.epoch,
                                    .step = p.step,
                                    .total_steps = p.total_steps,
                                    .loss = FromParts(p.loss, p.loss_parts),
                                    .accuracy = p.accuracy,
                                    .lr = p.lr,
                                    .samples_per_second = p.samples_per_second,
                                    .val = p.val});
  };
  ASSIGN_OR_RETURN(train::FitResult fit,
                   train::FitWithStep(student, train, val, options.fit, step, fit_callback));
  DistillResult result{.steps = fit.steps, .samples_per_second = fit.samples_per_second};
  for (const train::EpochRecord& e : fit.epochs) {
    result.epochs.push_back(DistillEpochRecord{
        .samples = e.train.samples,
        .train = FromParts(e.train.loss, e.loss_parts),
        .accuracy = e.train.accuracy,
        .val = e.val,
        .last_lr = e.last_lr,
        .seconds = e.seconds,
        .samples_per_second = double(e.train.samples) / std::max(e.seconds, 1e-9)});
  }
  return result;
}

}  // namespace mp::distill
