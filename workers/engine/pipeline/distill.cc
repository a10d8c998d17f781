#include "workers/engine/pipeline/distill.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/file_util.h"
#include "common/status.h"
#include "common/str_cat.h"
#include "nlohmann/json.hpp"
#include "workers/engine/distill/distill.h"
#include "workers/engine/exec/session.h"
#include "workers/engine/onnx/onnx.h"
#include "workers/engine/pipeline/distill_internal.h"
#include "workers/engine/pipeline/recipe_data.h"
#include "workers/engine/pipeline/recipe_fit.h"
#include "workers/engine/train/train.h"

namespace mp::pipeline {
namespace {

using distill_internal::Measure;
using distill_internal::MeasureJson;
using distill_internal::ModelMeasure;
using nlohmann::json;

std::string Fixed(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.4f", v);
  return buf;
}

// Reports progress as fractions of the phase [lo, hi) of the whole job; per-step updates
// are rate-limited to two a second, epoch updates always go out.
class Reporter {
 public:
  explicit Reporter(JobContext& ctx) : ctx_(ctx), eta_(ctx.clock()) { eta_.Start(); }
  absl::Status Phase(std::string step, double lo, double hi) {
    step_ = std::move(step);
    lo_ = lo;
    hi_ = hi;
    return At(0.0, {}, "");
  }
  absl::Status At(double f, std::vector<Metric> metrics, std::string log) {
    fraction_ = std::max(fraction_, lo_ + (hi_ - lo_) * std::clamp(f, 0.0, 1.0));
    last_nanos_ = ctx_.clock()->MonotonicNanos();
    return ctx_.Report({.fraction = fraction_,
                        .eta_seconds = eta_.Update(fraction_),
                        .step = step_,
                        .metrics = std::move(metrics),
                        .log = std::move(log)});
  }
  // A training step: CANCELLED once the job is cancelled; a progress update at most every
  // half second.
  absl::Status Step(double f) {
    if (ctx_.cancelled()) return absl::CancelledError("job cancelled");
    if (ctx_.clock()->MonotonicNanos() - last_nanos_ < 500'000'000) return absl::OkStatus();
    return At(f, {}, "");
  }

 private:
  JobContext& ctx_;
  EtaEstimator eta_;
  std::string step_;
  double lo_ = 0, hi_ = 0, fraction_ = 0;
  int64_t last_nanos_ = 0;
};

// One epoch of a training curve.
struct Epoch {
  distill::LossParts loss;  // baseline: total = ce
  double train_accuracy = 0;
  std::optional<train::EvalMetrics> val;
  float lr = 0;
  double seconds = 0;
  double samples_per_second = 0;
};

json CurveJson(const std::vector<Epoch>& curve) {
  json out = json::array();
  for (size_t i = 0; i < curve.size(); ++i) {
    const Epoch& e = curve[i];
    json j = {{"epoch", i},
              {"loss", e.loss.total},
              {"kl", e.loss.kl},
              {"ce", e.loss.ce},
              {"feature", e.loss.feature},
              {"train_accuracy", e.train_accuracy},
              {"lr", e.lr},
              {"seconds", e.seconds},
              {"samples_per_second", e.samples_per_second}};
    j["eval_loss"] = e.val.has_value() ? json(e.val->loss) : json(nullptr);
    j["eval_accuracy"] = e.val.has_value() ? json(e.val->accuracy) : json(nullptr);
    out.push_back(j);
  }
  return out;
}

// The progress update of a finished epoch.
absl::Status ReportEpoch(Reporter& rep, const std::string& what, int epoch, int epochs,
                         double fraction, const Epoch& e) {
  std::vector<Metric> metrics = {{"epoch", double(epoch + 1)},
                                 {"loss", e.loss.total},
                                 {"kl", e.loss.kl},
                                 {"ce", e.loss.ce},
                                 {"train_accuracy", e.train_accuracy},
                                 {"lr", e.lr},
                                 {"samples_per_second", e.samples_per_second}};
  std::string line =
      StrCat(what, " epoch ", epoch + 1, "/", epochs, ": loss ", Fixed(e.loss.total), " (kl ",
             Fixed(e.loss.kl), ", ce ", Fixed(e.loss.ce), ") acc ", Fixed(e.train_accuracy));
  if (e.val.has_value()) {
    metrics.push_back({"eval_accuracy", e.val->accuracy});
    line += StrCat(" eval_acc ", Fixed(e.val->accuracy));
  }
  line += StrCat(" lr ", e.lr, " ", std::llround(e.samples_per_second), " samples/s");
  return rep.At(fraction, std::move(metrics), std::move(line));
}

train::FitOptions FitOptionsOf(const DistillRecipeOptions& o, const std::string& input, int threads,
                               Clock* clock) {
  train::FitOptions fit = RecipeFitOptions({.epochs = o.epochs,
                                            .batch_size = o.batch_size,
                                            .seed = o.seed,
                                            .optimizer = o.optimizer,
                                            .lr = o.lr,
                                            .weight_decay = o.weight_decay,
                                            .threads = threads});
  fit.input_name = input;
  fit.clock = clock;
  return fit;
}

json OptionsJson(const DistillJobOptions& o, int threads) {
  const DistillRecipeOptions& r = o.recipe;
  json features = json::array();
  for (const DistillFeaturePair& f : r.features) {
    features.push_back(
        {{"teacher", f.teacher_value}, {"student", f.student_value}, {"weight", f.weight}});
  }
  return {{"teacher", o.teacher.filename().string()},
          {"student_model", o.student.filename().string()},
          {"data", o.data.filename().string()},
          {"labels", o.labels.filename().string()},
          {"eval_data", o.eval_data.filename().string()},
          {"eval_labels", o.eval_labels.filename().string()},
          {"limit", o.limit},
          {"holdout", o.holdout},
          {"student", r.student},
          {"width", r.width},
          {"alpha", r.alpha},
          {"temperature", r.temperature},
          {"epochs", r.epochs},
          {"batch_size", r.batch_size},
          {"lr", r.lr},
          {"optimizer", r.optimizer},
          {"weight_decay", r.weight_decay},
          {"seed", r.seed},
          {"features", features},
          {"baseline", r.baseline},
          {"latency_iterations", r.latency_iterations},
          {"threads", threads},
          {"schedule", "cosine"}};
}

absl::Status ValidateJob(const DistillJobOptions& o) {
  auto bad = [](auto&&... parts) { return absl::InvalidArgumentError(StrCat(parts...)); };
  RETURN_IF_ERROR(ValidateDistillRecipeOptions(o.recipe));
  if (o.teacher.empty()) return bad("teacher: a teacher model file is required");
  if (o.recipe.student == "model" && o.student.empty()) {
    return bad("student: source 'model' needs a student model file");
  }
  if (o.recipe.student != "model" && !o.student.empty()) {
    return bad("student: a student file is given but the student source is '", o.recipe.student,
               "' (use source 'model')");
  }
  if (o.data.empty() || o.labels.empty()) {
    return bad("data/labels: distillation needs labelled training data");
  }
  if (o.eval_data.empty() != o.eval_labels.empty()) {
    return bad("eval_data/eval_labels: give both or neither");
  }
  if (o.limit < 0) return bad("limit: ", o.limit, " must be >= 0");
  if (!(o.holdout >= 0 && o.holdout < 1)) return bad("holdout: ", o.holdout, " is outside [0, 1)");
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateDistillRecipeOptions(const DistillRecipeOptions& o) {
  auto bad = [](auto&&... parts) { return absl::InvalidArgumentError(StrCat(parts...)); };
  if (o.student != "model" && o.student != "width" && o.student != "pruned") {
    return bad("student '", o.student, "': expected model, width or pruned");
  }
  if (o.student != "model" && !(o.width > 0 && o.width <= 1)) {
    return bad("width: ", o.width, " is outside (0, 1]");
  }
  if (!(o.alpha >= 0 && o.alpha <= 1)) return bad("alpha: ", o.alpha, " is outside [0, 1]");
  if (!std::isfinite(o.temperature) || o.temperature <= 0) {
    return bad("temperature: ", o.temperature, " must be finite and > 0");
  }
  if (o.epochs < 1 || o.epochs > 10000) return bad("epochs: ", o.epochs, " is outside [1, 10000]");
  if (o.batch_size < 1 || o.batch_size > 65536) {
    return bad("batch_size: ", o.batch_size, " is outside [1, 65536]");
  }
  if (!std::isfinite(o.lr) || o.lr <= 0) return bad("lr: ", o.lr, " must be finite and > 0");
  RETURN_IF_ERROR(ValidateRecipeOptimizer(o.optimizer));
  if (!std::isfinite(o.weight_decay) || o.weight_decay < 0) {
    return bad("weight_decay: ", o.weight_decay, " must be finite and >= 0");
  }
  for (size_t i = 0; i < o.features.size(); ++i) {
    const DistillFeaturePair& f = o.features[i];
    if (f.teacher_value.empty() || f.student_value.empty()) {
      return bad("features[", i, "]: teacher and student value names are required");
    }
    if (!std::isfinite(f.weight) || f.weight < 0) {
      return bad("features[", i, "].weight: ", f.weight, " must be finite and >= 0");
    }
  }
  if (o.latency_iterations < 0 || o.latency_iterations > 100000) {
    return bad("latency_iterations: ", o.latency_iterations, " is outside [0, 100000]");
  }
  return absl::OkStatus();
}

absl::StatusOr<JobResult> RunDistillJob(const DistillJobOptions& o, JobContext& ctx) {
  RETURN_IF_ERROR(ValidateJob(o));
  const DistillRecipeOptions& r = o.recipe;
  const int threads = std::max(1, ctx.num_threads());
  Reporter rep(ctx);

  // Load the teacher and the data (checked against the teacher's input).
  RETURN_IF_ERROR(rep.Phase("load", 0.0, 0.03));
  const std::string teacher_name = StrCat("teacher '", o.teacher.string(), "'");
  auto imported = onnx::ImportModelFile(o.teacher.string());
  if (!imported.ok()) return Annotate(imported.status(), teacher_name);
  const ir::Model teacher = *std::move(imported);
  auto created = exec::Session::Create(teacher, {.num_threads = threads});
  if (!created.ok()) return Annotate(created.status(), teacher_name);
  const std::unique_ptr<exec::Session> teacher_session = *std::move(created);
  if (teacher_session->inputs().size() != 1) {
    return absl::InvalidArgumentError(StrCat(teacher_name, ": has ",
                                             teacher_session->inputs().size(),
                                             " inputs; distillation feeds exactly one"));
  }
  const std::string input = teacher_session->inputs()[0].name;
  ASSIGN_OR_RETURN(data::Dataset train,
                   LoadSamples(o.data, o.labels, o.limit, *teacher_session,
                               StrCat("training data '", o.data.string(), "'")));
  std::optional<data::Dataset> eval;
  if (!o.eval_data.empty()) {
    ASSIGN_OR_RETURN(eval, LoadSamples(o.eval_data, o.eval_labels, 0, *teacher_session,
                                       StrCat("evaluation data '", o.eval_data.string(), "'")));
  } else if (o.holdout > 0) {
    ASSIGN_OR_RETURN(auto split, SplitHoldout(train, o.holdout));
    train = std::move(split.first);
    if (split.second.size() > 0) eval = std::move(split.second);
  }
  RETURN_IF_ERROR(train::CheckLabelled(train, "training data"));
  const data::Dataset* eval_ptr = eval.has_value() ? &*eval : nullptr;

  // The student, and its trainers (created now so that an op without a backward rule fails
  // before any training).
  RETURN_IF_ERROR(rep.Phase("build student", 0.03, 0.05));
  ASSIGN_OR_RETURN(distill_internal::Student student, distill_internal::BuildStudent(o, teacher));
  train::GradGraphOptions graph_options{.num_threads = threads, .seed = r.seed};
  for (const DistillFeaturePair& f : r.features) {
    graph_options.extra_outputs.push_back(f.student_value);
  }
  auto graph = train::GradGraph::Create(student.model, graph_options);
  if (!graph.ok()) return Annotate(graph.status(), "student");
  std::unique_ptr<train::GradGraph> baseline_graph;
  if (r.baseline) {
    ASSIGN_OR_RETURN(baseline_graph, train::GradGraph::Create(
                                         student.model, {.num_threads = threads, .seed = r.seed}));
  }

  RETURN_IF_ERROR(rep.Phase("evaluate before", 0.05, 0.1));
  ASSIGN_OR_RETURN(ModelMeasure teacher_m,
                   Measure(teacher, eval_ptr, train, threads, r.latency_iterations));
  RETURN_IF_ERROR(rep.At(0.5, {}, ""));
  ASSIGN_OR_RETURN(ModelMeasure before_m, Measure(student.model, eval_ptr, train, threads, 0));
  if (teacher_m.accuracy.has_value()) {
    RETURN_IF_ERROR(rep.At(1.0,
                           {{"teacher_accuracy", *teacher_m.accuracy},
                            {"student_accuracy_before", *before_m.accuracy}},
                           StrCat("teacher accuracy ", Fixed(*teacher_m.accuracy),
                                  ", student before ", Fixed(*before_m.accuracy))));
  }

  // Distillation.
  const double train_end = r.baseline ? 0.5 : 0.9;
  RETURN_IF_ERROR(rep.Phase("distill", 0.1, train_end));
  const train::FitOptions fit = FitOptionsOf(r, input, threads, ctx.clock());
  distill::DistillOptions dopt{.alpha = r.alpha,
                               .temperature = r.temperature,
                               .fit = fit,
                               .teacher_output_index = 0,
                               .teacher_threads = threads};
  for (const DistillFeaturePair& f : r.features) {
    dopt.features.push_back({f.teacher_value, f.student_value, f.weight});
  }
  absl::Status stopped;  // the callback's own error, returned instead of Distill's CANCELLED
  auto keep = [&stopped](absl::Status s) {
    if (!s.ok() && stopped.ok()) stopped = s;
    return s;
  };
  auto distilled = distill::Distill(
      **graph, teacher, train, eval_ptr, dopt,
      [&](const distill::DistillProgress& p) -> absl::Status {
        const double f = double(p.step) / double(std::max<int64_t>(1, p.total_steps));
        if (p.event == train::FitProgress::Event::kStep) return keep(rep.Step(f));
        const Epoch e{.loss = p.loss,
                      .train_accuracy = p.accuracy,
                      .val = p.val,
                      .lr = p.lr,
                      .samples_per_second = p.samples_per_second};
        return keep(ReportEpoch(rep, "distill", p.epoch, r.epochs, f, e));
      });
  if (!stopped.ok()) return stopped;
  if (!distilled.ok()) return Annotate(distilled.status(), "distill");
  std::vector<Epoch> curve;
  for (const distill::DistillEpochRecord& e : distilled->epochs) {
    curve.push_back({.loss = e.train,
                     .train_accuracy = e.accuracy,
                     .val = e.val,
                     .lr = e.last_lr,
                     .seconds = e.seconds,
                     .samples_per_second = e.samples_per_second});
  }
  ASSIGN_OR_RETURN(ir::Model result, (*graph)->ExportModel());

  // Baseline: the same initial student trained with cross-entropy alone.
  std::vector<Epoch> baseline_curve;
  std::optional<ir::Model> baseline_model;
  if (r.baseline) {
    RETURN_IF_ERROR(rep.Phase("baseline", 0.5, 0.9));
    auto fitted = train::Fit(
        *baseline_graph, train, eval_ptr, fit, [&](const train::FitProgress& p) -> absl::Status {
          const double f = double(p.step) / double(std::max<int64_t>(1, p.total_steps));
          if (p.event == train::FitProgress::Event::kStep) return keep(rep.Step(f));
          const Epoch e{.loss = {.total = p.loss, .ce = p.loss},
                        .train_accuracy = p.accuracy,
                        .val = p.val,
                        .lr = p.lr,
                        .samples_per_second = p.samples_per_second};
          return keep(ReportEpoch(rep, "baseline", p.epoch, r.epochs, f, e));
        });
    if (!stopped.ok()) return stopped;
    if (!fitted.ok()) return Annotate(fitted.status(), "baseline");
    for (const train::EpochRecord& e : fitted->epochs) {
      baseline_curve.push_back(
          {.loss = {.total = e.train.loss, .ce = e.train.loss},
           .train_accuracy = e.train.accuracy,
           .val = e.val,
           .lr = e.last_lr,
           .seconds = e.seconds,
           .samples_per_second = e.seconds > 0 ? double(e.train.samples) / e.seconds : 0.0});
    }
    ASSIGN_OR_RETURN(baseline_model, baseline_graph->ExportModel());
  }

  RETURN_IF_ERROR(rep.Phase("evaluate after", 0.9, 0.98));
  ASSIGN_OR_RETURN(ModelMeasure after_m,
                   Measure(result, eval_ptr, train, threads, r.latency_iterations));
  std::optional<ModelMeasure> baseline_m;
  if (baseline_model.has_value()) {
    ASSIGN_OR_RETURN(baseline_m, Measure(*baseline_model, eval_ptr, train, threads, 0));
  }

  // Metrics and report.
  std::vector<Metric> metrics;
  if (teacher_m.accuracy.has_value()) {
    metrics.push_back({"teacher_accuracy", *teacher_m.accuracy});
    metrics.push_back({"student_accuracy_before", *before_m.accuracy});
    metrics.push_back({"student_accuracy_after", *after_m.accuracy});
    if (baseline_m.has_value()) {
      metrics.push_back({"baseline_accuracy", *baseline_m->accuracy});
      metrics.push_back({"distill_gain", *after_m.accuracy - *baseline_m->accuracy});
    }
  }
  metrics.push_back({"model_bytes", double(after_m.model_bytes)});
  metrics.push_back({"teacher_model_bytes", double(teacher_m.model_bytes)});
  metrics.push_back({"student_parameters", double(after_m.parameters)});
  metrics.push_back({"teacher_parameters", double(teacher_m.parameters)});
  metrics.push_back({"student_macs", double(after_m.macs)});
  metrics.push_back({"teacher_macs", double(teacher_m.macs)});
  if (after_m.latency_ms.has_value()) {
    metrics.push_back({"latency_ms_batch1", *after_m.latency_ms});
    metrics.push_back({"teacher_latency_ms_batch1", *teacher_m.latency_ms});
  }
  metrics.push_back({"train_samples", double(train.size())});
  metrics.push_back({"eval_samples", double(eval_ptr != nullptr ? eval_ptr->size() : 0)});
  metrics.push_back({"epochs", double(r.epochs)});
  metrics.push_back({"samples_per_second", distilled->samples_per_second});
  json metrics_json = json::object();
  for (const Metric& m : metrics) metrics_json[m.name] = m.value;

  json report = {{"options", OptionsJson(o, threads)},
                 {"teacher", MeasureJson(teacher_m)},
                 {"student_before", MeasureJson(before_m)},
                 {"student_after", MeasureJson(after_m)},
                 {"student", {{"source", r.student}, {"layers", student.layers}}},
                 {"curve", CurveJson(curve)},
                 {"metrics", metrics_json}};
  if (r.student != "model") report["student"]["width"] = r.width;
  if (baseline_m.has_value()) {
    report["baseline_after"] = MeasureJson(*baseline_m);
    report["baseline_curve"] = CurveJson(baseline_curve);
  }

  RETURN_IF_ERROR(rep.Phase("export", 0.98, 1.0));
  ASSIGN_OR_RETURN(std::string model_bytes, onnx::ExportModel(result));
  const std::filesystem::path model_path = ctx.work_dir() / "student.onnx";
  const std::filesystem::path report_path = ctx.work_dir() / "report.json";
  RETURN_IF_ERROR(AtomicWriteFile(model_path.string(), model_bytes));
  RETURN_IF_ERROR(AtomicWriteFile(report_path.string(), report.dump(2) + "\n"));
  return JobResult{.metrics = std::move(metrics),
                   .artifacts = {{"model", model_path}, {"report", report_path}}};
}

}  // namespace mp::pipeline
