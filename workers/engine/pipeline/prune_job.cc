// RunPruneJob (prune.h): the prune recipe in job form.
#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "common/file_util.h"
#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/exec/session.h"
#include "workers/engine/onnx/onnx.h"
#include "workers/engine/pipeline/prune.h"
#include "workers/engine/pipeline/recipe_data.h"

namespace mp::pipeline {

absl::StatusOr<JobResult> RunPruneJob(const PruneJobOptions& options, JobContext& context) {
  if (options.model.empty()) return absl::InvalidArgumentError("model: a model file is required");
  if (options.data.empty() != options.labels.empty()) {
    return absl::InvalidArgumentError("data and labels go together");
  }
  if (!options.eval_labels.empty() && options.eval_data.empty()) {
    return absl::InvalidArgumentError("eval_labels: given without eval_data");
  }
  if (options.limit < 0) {
    return absl::InvalidArgumentError(StrCat("limit: ", options.limit, " must be >= 0"));
  }
  if (!(options.holdout >= 0 && options.holdout < 1)) {
    return absl::InvalidArgumentError(StrCat("holdout: ", options.holdout, " is outside [0, 1)"));
  }
  PruneRecipeOptions recipe = options.recipe;
  recipe.threads = std::max(1, context.num_threads());
  RETURN_IF_ERROR(ValidatePruneRecipeOptions(recipe));
  if (recipe.recover != "none" && options.data.empty()) {
    return absl::InvalidArgumentError(
        StrCat("recover '", recipe.recover, "' needs training data: data and labels"));
  }
  RETURN_IF_ERROR(context.Report({.fraction = 0, .step = "load"}));
  ASSIGN_OR_RETURN(std::string bytes, ReadFile(options.model.string()));
  absl::StatusOr<ir::Model> model = onnx::ImportModel(bytes);
  if (!model.ok()) {
    return Annotate(model.status(), StrCat("model '", options.model.string(), "'"));
  }
  std::optional<data::Dataset> train, eval;
  {
    absl::StatusOr<std::unique_ptr<exec::Session>> session =
        exec::Session::Create(*model, {.num_threads = recipe.threads});
    if (!session.ok()) {
      return Annotate(session.status(), StrCat("model '", options.model.string(), "'"));
    }
    ASSIGN_OR_RETURN(TrainEval sets,
                     LoadTrainEval(**session, options.data, options.labels, options.limit,
                                   options.eval_data, options.eval_labels, options.holdout));
    train = std::move(sets.train);
    eval = std::move(sets.eval);
  }
  return RunPruneJobOnData(*model, options, train ? &*train : nullptr, eval ? &*eval : nullptr,
                           context);
}

absl::StatusOr<JobResult> RunPruneJobOnData(const ir::Model& model, const PruneJobOptions& options,
                                            const data::Dataset* train, const data::Dataset* eval,
                                            JobContext& context) {
  PruneRecipeOptions recipe = options.recipe;
  recipe.threads = std::max(1, context.num_threads());
  RETURN_IF_ERROR(ValidatePruneRecipeOptions(recipe));
  EtaEstimator eta(context.clock());
  eta.Start();
  ASSIGN_OR_RETURN(PruneRecipeResult result,
                   RunPrune(model, recipe, train, eval, [&](const ProgressUpdate& u) {
                     ProgressUpdate v = u;
                     v.eta_seconds = eta.Update(u.fraction);
                     return context.Report(v);
                   }));
  ASSIGN_OR_RETURN(std::string model_bytes, onnx::ExportModel(result.model));
  JobResult job;
  auto add = [&](std::string name, double value) {
    job.metrics.push_back({std::move(name), value});
  };
  if (result.before.accuracy.has_value()) add("accuracy_before", *result.before.accuracy);
  if (result.after.accuracy.has_value()) add("accuracy_after", *result.after.accuracy);
  if (result.pruned_accuracy.has_value()) add("pruned_accuracy", *result.pruned_accuracy);
  add("macs_before", double(result.before.macs));
  add("macs_after", double(result.after.macs));
  add("parameter_bytes_before", double(result.before.parameter_bytes));
  add("parameter_bytes_after", double(result.after.parameter_bytes));
  add("model_bytes", double(model_bytes.size()));
  add("sparsity", result.steps.empty() ? result.after.sparsity : result.steps.back().sparsity);
  add("weight_sparsity", result.after.sparsity);
  if (result.before.latency_ms.has_value()) {
    add("latency_ms_batch1_before", *result.before.latency_ms);
  }
  if (result.after.latency_ms.has_value()) {
    add("latency_ms_batch1_after", *result.after.latency_ms);
  }
  nlohmann::json report = result.report;
  report["model"] = options.model.filename().string();
  nlohmann::json metrics = nlohmann::json::object();
  for (const Metric& m : job.metrics) metrics[m.name] = m.value;
  report["metrics"] = metrics;
  const std::filesystem::path model_path = context.work_dir() / "model.onnx";
  const std::filesystem::path report_path = context.work_dir() / "report.json";
  RETURN_IF_ERROR(AtomicWriteFile(model_path.string(), model_bytes));
  RETURN_IF_ERROR(AtomicWriteFile(report_path.string(), report.dump(2) + "\n"));
  job.artifacts = {{"model", model_path}, {"report", report_path}};
  return job;
}

}  // namespace mp::pipeline
