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
#include "workers/engine/pipeline/recipe_progress.h"
#include "workers/engine/quant/target.h"
#include "workers/engine/train/train.h"

namespace mp::pipeline {
namespace {

using distill_internal::Measure;
using distill_internal::MeasureJson;
using distill_internal::ModelMeasure;
using nlohmann::json;

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
          {"schedule", "cosine"},
          {"qat_epochs", r.qat_epochs},
          {"qat_lr", r.qat_lr},
          {"qat_target", r.qat_target}};
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
  if (o.qat_epochs < 0 || o.qat_epochs > 10000) {
    return bad("qat_epochs: ", o.qat_epochs, " is outside [0, 10000]");
  }
  if (!std::isfinite(o.qat_lr) || o.qat_lr < 0) {
    return bad("qat_lr: ", o.qat_lr, " must be finite and >= 0");
  }
  if (absl::Status s = quant::ResolveTarget(o.qat_target).status(); !s.ok()) {
    return bad("qat_target: ", std::string(s.message()));
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
  absl::StatusOr<TrainEval> sets = LoadTrainEval(*teacher_session, o.data, o.labels, o.limit,
                                                 o.eval_data, o.eval_labels, o.holdout);
  if (!sets.ok()) return sets.status();
  data::Dataset train;
  if (sets->train.has_value()) train = std::move(*sets->train);
  const std::optional<data::Dataset> eval = std::move(sets->eval);
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
                           StrCat("teacher accuracy ", Fixed4(*teacher_m.accuracy),
                                  ", student before ", Fixed4(*before_m.accuracy))));
  }

  // Training phases share [0.1, 0.88) by expected cost: an epoch each for distillation and
  // the baseline, 1.5 for a QAT epoch (fake quantization + the teacher).
  const double costs[3] = {double(r.epochs), r.baseline ? double(r.epochs) : 0.0,
                           1.5 * r.qat_epochs};
  const double per_cost = 0.78 / (costs[0] + costs[1] + costs[2]);
  const double distill_end = 0.1 + per_cost * costs[0];
  const double baseline_end = distill_end + per_cost * costs[1];

  // Distillation.
  RETURN_IF_ERROR(rep.Phase("distill", 0.1, distill_end));
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
  auto distilled = distill::Distill(**graph, teacher, train, eval_ptr, dopt,
                                    EpochReporter(rep, "distill", r.epochs, &stopped));
  if (!stopped.ok()) return stopped;
  if (!distilled.ok()) return Annotate(distilled.status(), "distill");
  const std::vector<Epoch> curve = CurveOf(*distilled);
  ASSIGN_OR_RETURN(ir::Model result, (*graph)->ExportModel());

  // Baseline: the same initial student trained with cross-entropy alone.
  std::vector<Epoch> baseline_curve;
  std::optional<ir::Model> baseline_model;
  if (r.baseline) {
    RETURN_IF_ERROR(rep.Phase("baseline", distill_end, baseline_end));
    const distill::DistillCallback report = EpochReporter(rep, "baseline", r.epochs, &stopped);
    auto fitted =
        train::Fit(*baseline_graph, train, eval_ptr, fit,
                   [&](const train::FitProgress& p) { return report(AsDistillProgress(p)); });
    if (!stopped.ok()) return stopped;
    if (!fitted.ok()) return Annotate(fitted.status(), "baseline");
    baseline_curve = CurveOf(*fitted);
    ASSIGN_OR_RETURN(baseline_model, baseline_graph->ExportModel());
  }

  // Quantization-aware distillation of the distilled student, and its int8 model.
  std::optional<distill_internal::QatOutcome> qat;
  if (r.qat_epochs > 0) {
    RETURN_IF_ERROR(rep.Phase("qat", baseline_end, 0.88));
    auto done = distill_internal::DistillQat(o, teacher, result, train, eval_ptr, input, threads,
                                             ctx.clock(),
                                             EpochReporter(rep, "qat", r.qat_epochs, &stopped));
    if (!stopped.ok()) return stopped;
    if (!done.ok()) return done.status();
    qat = *std::move(done);
  }

  RETURN_IF_ERROR(rep.Phase("evaluate after", 0.88, 0.97));
  ASSIGN_OR_RETURN(ModelMeasure after_m,
                   Measure(result, eval_ptr, train, threads, r.latency_iterations));
  std::optional<ModelMeasure> baseline_m;
  if (baseline_model.has_value()) {
    ASSIGN_OR_RETURN(baseline_m, Measure(*baseline_model, eval_ptr, train, threads, 0));
  }
  if (qat.has_value()) {
    RETURN_IF_ERROR(
        distill_internal::MeasureQat(eval_ptr, train, threads, r.latency_iterations, &*qat));
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
  if (qat.has_value()) metrics.insert(metrics.end(), qat->metrics.begin(), qat->metrics.end());
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
  if (qat.has_value()) {
    report["qat"] = qat->report;
    report["student_int8"] = qat->student_int8;
  }

  RETURN_IF_ERROR(rep.Phase("export", 0.97, 1.0));
  ASSIGN_OR_RETURN(std::string model_bytes, onnx::ExportModel(result));
  const std::filesystem::path model_path = ctx.work_dir() / "student.onnx";
  const std::filesystem::path report_path = ctx.work_dir() / "report.json";
  RETURN_IF_ERROR(AtomicWriteFile(model_path.string(), model_bytes));
  JobResult job{.metrics = std::move(metrics),
                .artifacts = {{"model", model_path}, {"report", report_path}}};
  if (qat.has_value()) {
    const std::filesystem::path int8_path = ctx.work_dir() / "student.int8.onnx";
    const std::filesystem::path ranges_path = ctx.work_dir() / "ranges.json";
    RETURN_IF_ERROR(AtomicWriteFile(int8_path.string(), qat->int8_bytes));
    RETURN_IF_ERROR(AtomicWriteFile(ranges_path.string(), qat->ranges_json.dump(2) + "\n"));
    job.artifacts.push_back({"int8_model", int8_path});
    job.artifacts.push_back({"ranges", ranges_path});
  }
  RETURN_IF_ERROR(AtomicWriteFile(report_path.string(), report.dump(2) + "\n"));
  RETURN_IF_ERROR(rep.Phase("done", 1.0, 1.0));
  return job;
}

}  // namespace mp::pipeline
