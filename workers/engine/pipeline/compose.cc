#include "workers/engine/pipeline/compose.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "common/file_util.h"
#include "common/status.h"
#include "common/str_cat.h"
#include "nlohmann/json.hpp"
#include "workers/engine/data/npy.h"
#include "workers/engine/eval/eval.h"
#include "workers/engine/exec/session.h"
#include "workers/engine/onnx/onnx.h"
#include "workers/engine/pipeline/compose_internal.h"
#include "workers/engine/pipeline/recipe_data.h"
#include "workers/engine/quant/quant.h"

namespace mp::pipeline {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The parent's context seen by one part of the job: fractions mapped into [lo, hi), steps
// prefixed with the part's name, artifacts in a subdirectory.
class PartContext final : public JobContext {
 public:
  PartContext(JobContext& parent, std::string part, fs::path dir, double lo, double hi)
      : parent_(parent), part_(std::move(part)), dir_(std::move(dir)), lo_(lo), hi_(hi) {}
  absl::Status Report(const ProgressUpdate& u) override {
    ProgressUpdate v = u;
    v.fraction = lo_ + (hi_ - lo_) * std::clamp(u.fraction, 0.0, 1.0);
    v.eta_seconds = -1;  // the part's ETA is not the job's
    v.step = StrCat(part_, ": ", u.step);
    return parent_.Report(v);
  }
  bool cancelled() const override { return parent_.cancelled(); }
  const fs::path& work_dir() const override { return dir_; }
  int num_threads() const override { return parent_.num_threads(); }
  Clock* clock() const override { return parent_.clock(); }

 private:
  JobContext& parent_;
  std::string part_;
  fs::path dir_;
  double lo_, hi_;
};

absl::Status Validate(const ComposeJobOptions& o) {
  auto bad = [](auto&&... parts) { return absl::InvalidArgumentError(StrCat(parts...)); };
  if (o.model.empty()) return bad("model: a model file is required");
  if (o.data.empty() != o.labels.empty()) return bad("data and labels go together");
  if (!o.eval_labels.empty() && o.eval_data.empty()) {
    return bad("eval_labels: given without eval_data");
  }
  if (o.limit < 0) return bad("limit: ", o.limit, " must be >= 0");
  if (!(o.holdout >= 0 && o.holdout < 1)) return bad("holdout: ", o.holdout, " is outside [0, 1)");
  if (absl::Status s = ValidatePruneRecipeOptions(o.prune); !s.ok()) {
    return bad("prune.", std::string(s.message()));
  }
  if (o.prune.recover != "none" && o.data.empty()) {
    return bad("prune.recover '", o.prune.recover, "' needs training data: data and labels");
  }
  if (o.calibration.empty() && o.data.empty()) {
    return bad("calibration: needed when no training data is given");
  }
  const PtqOptions& p = o.ptq;
  if (p.mode != "static" && p.mode != "dynamic") {
    return bad("ptq.mode '", p.mode, "': compose produces an int8 model (static or dynamic)");
  }
  auto ptq = [&](absl::Status s) { return s.ok() ? s : bad("ptq.", std::string(s.message())); };
  RETURN_IF_ERROR(ptq(quant::ParseCalibrationMethod(p.calibrator).status()));
  RETURN_IF_ERROR(ptq(quant::ParseActivationScheme(p.activation_scheme).status()));
  RETURN_IF_ERROR(ptq(quant::ResolveTarget(p.target).status()));
  if (p.calibration_samples < 0) {
    return bad("ptq.calibration_samples: ", p.calibration_samples, " must be >= 0");
  }
  for (int64_t b : p.latency_batches) {
    if (b < 1 || b > 65536) return bad("ptq.latency_batches: ", b, " is outside [1, 65536]");
  }
  if (o.qat_epochs < 0 || o.qat_epochs > 10000) {
    return bad("qat_epochs: ", o.qat_epochs, " is outside [0, 10000]");
  }
  if (!std::isfinite(o.qat_lr) || o.qat_lr < 0) {
    return bad("qat_lr: ", o.qat_lr, " must be finite and >= 0");
  }
  if (o.qat_epochs > 0 && o.data.empty()) {
    return bad("qat_epochs: quantization-aware training needs training data: data and labels");
  }
  if (o.qat_epochs > 0 && p.mode != "static") {
    return bad("qat_epochs: quantization-aware training needs ptq.mode 'static', not '", p.mode,
               "'");
  }
  return absl::OkStatus();
}

std::map<std::string, double> MetricMap(const JobResult& r) {
  std::map<std::string, double> out;
  for (const Metric& m : r.metrics) out[m.name] = m.value;
  return out;
}

fs::path ArtifactPath(const JobResult& r, const std::string& name) {
  for (const Artifact& a : r.artifacts) {
    if (a.name == name) return a.path;
  }
  return {};
}

absl::StatusOr<json> ReadJson(const fs::path& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path.string()));
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InternalError(StrCat("'", path.string(), "' is not JSON"));
  return j;
}

// Mean latency (ms) of `model_path` on the engine at a batch of `b` rows of `ds` (repeated
// when it has fewer).
absl::StatusOr<double> LatencyMs(const fs::path& model_path, bool fuse_qdq, const data::Dataset& ds,
                                 int64_t b, JobContext& ctx) {
  ASSIGN_OR_RETURN(ir::Model model, onnx::ImportModelFile(model_path.string()));
  ASSIGN_OR_RETURN(std::unique_ptr<exec::Session> session,
                   exec::Session::Create(std::move(model),
                                         {.num_threads = ctx.num_threads(), .fuse_qdq = fuse_qdq}));
  std::vector<int64_t> rows(static_cast<size_t>(b));
  for (int64_t i = 0; i < b; ++i) rows[static_cast<size_t>(i)] = i % ds.size();
  ASSIGN_OR_RETURN(data::Batch batch, ds.Gather(rows));
  ASSIGN_OR_RETURN(
      eval::LatencyStats st,
      eval::MeasureLatency(*session, batch.inputs, {.warmup = 3, .iterations = 20}, ctx.clock()));
  return st.mean_ms;
}

absl::StatusOr<JobResult> Compose(const ComposeJobOptions& o, JobContext& ctx,
                                  const fs::path& prune_dir, const fs::path& ptq_dir,
                                  const fs::path& scratch) {
  const fs::path work = ctx.work_dir();
  for (const fs::path& d : {prune_dir, ptq_dir, scratch}) {
    std::error_code ec;
    fs::create_directories(d, ec);
    if (ec) return absl::InternalError(StrCat("cannot create '", d.string(), "': ", ec.message()));
  }
  // The data, loaded once: training rows (after the held-out split), the evaluation set every
  // part uses, calibration rows for QAT, and rows for the latency comparison.
  RETURN_IF_ERROR(ctx.Report({.fraction = 0, .step = "load"}));
  ASSIGN_OR_RETURN(std::string original_bytes, ReadFile(o.model.string()));
  absl::StatusOr<ir::Model> original = onnx::ImportModel(original_bytes);
  if (!original.ok()) return Annotate(original.status(), StrCat("model '", o.model.string(), "'"));
  fs::path eval_path = o.eval_data, eval_labels = o.eval_labels;
  std::optional<data::Dataset> train, eval, calibration, latency_rows;
  std::string input;
  {
    absl::StatusOr<std::unique_ptr<exec::Session>> session =
        exec::Session::Create(*original, {.num_threads = ctx.num_threads()});
    if (!session.ok()) return Annotate(session.status(), StrCat("model '", o.model.string(), "'"));
    if ((*session)->inputs().size() != 1) {
      return absl::InvalidArgumentError(StrCat("model '", o.model.string(), "': has ",
                                               (*session)->inputs().size(),
                                               " inputs; compose feeds exactly one"));
    }
    input = (*session)->inputs()[0].name;
    ASSIGN_OR_RETURN(TrainEval sets, LoadTrainEval(**session, o.data, o.labels, o.limit,
                                                   o.eval_data, o.eval_labels, o.holdout));
    train = std::move(sets.train);
    eval = std::move(sets.eval);
    if (o.eval_data.empty() && eval.has_value()) {
      // The held-out rows: RunPtq reads them from scratch files.
      eval_path = scratch / "eval_samples.npy";
      eval_labels = scratch / "eval_labels.npy";
      RETURN_IF_ERROR(data::WriteNpy(eval_path.string(), eval->samples()));
      RETURN_IF_ERROR(data::WriteNpy(eval_labels.string(), eval->labels()));
    }
    // Calibration rows: for QAT, and for latency when there is no other data.
    const int64_t calib_rows = o.ptq.calibration_samples;
    if (!o.calibration.empty() && (o.qat_epochs > 0 || !train.has_value())) {
      ASSIGN_OR_RETURN(calibration,
                       LoadSamples(o.calibration, "", calib_rows, **session,
                                   StrCat("calibration data '", o.calibration.string(), "'")));
    } else if (o.qat_epochs > 0) {
      ASSIGN_OR_RETURN(calibration, train->Take(calib_rows > 0 ? std::min(calib_rows, train->size())
                                                               : train->size()));
    }
    int64_t max_batch = 1;
    for (int64_t b : o.ptq.latency_batches) max_batch = std::max(max_batch, b);
    const data::Dataset& rows_from = eval.has_value() && !o.eval_data.empty() ? *eval
                                     : train.has_value()                      ? *train
                                                                              : *calibration;
    ASSIGN_OR_RETURN(latency_rows, rows_from.Take(std::min(max_batch, rows_from.size())));
  }
  const data::Dataset* eval_ptr = eval.has_value() ? &*eval : nullptr;

  const bool qat = o.qat_epochs > 0;
  PartContext prune_ctx(ctx, "prune", prune_dir, 0.0, qat ? 0.6 : 0.7);
  ASSIGN_OR_RETURN(JobResult pruned,
                   RunPruneJobOnData(*original,
                                     {.model = o.model,
                                      .data = o.data,
                                      .labels = o.labels,
                                      .eval_data = o.eval_data,
                                      .eval_labels = o.eval_labels,
                                      .limit = o.limit,
                                      .holdout = o.holdout,
                                      .recipe = o.prune},
                                     train ? &*train : nullptr, eval_ptr, prune_ctx));
  const fs::path pruned_model = ArtifactPath(pruned, "model");

  PtqOptions ptq = o.ptq;
  ptq.model = pruned_model;
  ptq.calibration = o.calibration.empty() ? o.data : o.calibration;
  ptq.eval = eval_path;
  ptq.eval_labels = eval_path.empty() ? fs::path() : eval_labels;
  std::optional<compose_internal::ComposeQat> qat_part;
  if (qat) {
    ASSIGN_OR_RETURN(ir::Model recovered, onnx::ImportModelFile(pruned_model.string()));
    PartContext qat_ctx(ctx, "qat", scratch, 0.6, 0.75);
    ASSIGN_OR_RETURN(qat_part,
                     compose_internal::RunComposeQat(o, *original, recovered, *train, eval_ptr,
                                                     *calibration, input, scratch, qat_ctx));
    ptq.model = qat_part->model;
    ptq.fixed_ranges = qat_part->ranges;
  }
  PartContext ptq_ctx(ctx, "ptq", ptq_dir, qat ? 0.75 : 0.7, 0.95);
  ASSIGN_OR_RETURN(JobResult quantized, RunPtq(ptq, ptq_ctx));
  const fs::path int8_model = ArtifactPath(quantized, "model");

  RETURN_IF_ERROR(ctx.Report({.fraction = 0.95, .step = "compare"}));
  const std::map<std::string, double> pm = MetricMap(pruned), qm = MetricMap(quantized);
  JobResult result;
  auto add = [&](std::string name, double v) { result.metrics.push_back({std::move(name), v}); };
  json models = {
      {"original", json::object()}, {"pruned", json::object()}, {"int8", json::object()}};
  auto both = [&](const char* model, const std::string& key, const std::string& metric, double v) {
    models[model][key] = v;
    add(metric, v);
  };
  if (pm.count("accuracy_before"))
    both("original", "accuracy", "accuracy_fp32", pm.at("accuracy_before"));
  if (pm.count("accuracy_after"))
    both("pruned", "accuracy", "accuracy_pruned", pm.at("accuracy_after"));
  if (qm.count("accuracy_quantized")) {
    both("int8", "accuracy", "accuracy_int8", qm.at("accuracy_quantized"));
  }
  if (qat_part.has_value() && qat_part->ptq_accuracy.has_value()) {
    both("int8", "accuracy_ptq", "accuracy_int8_ptq", *qat_part->ptq_accuracy);
  }
  std::error_code size_error;
  const uintmax_t int8_bytes = fs::file_size(int8_model, size_error);
  if (size_error) {
    return absl::InternalError(
        StrCat("size of '", int8_model.string(), "': ", size_error.message()));
  }
  both("original", "model_bytes", "model_bytes_fp32", double(original_bytes.size()));
  both("pruned", "model_bytes", "model_bytes_pruned", pm.at("model_bytes"));
  both("int8", "model_bytes", "model_bytes_int8", double(int8_bytes));
  both("original", "macs", "macs_fp32", pm.at("macs_before"));
  both("pruned", "macs", "macs_pruned", pm.at("macs_after"));
  models["int8"]["macs"] = pm.at("macs_after");  // the same products, in int8
  models["original"]["parameter_bytes"] = pm.at("parameter_bytes_before");
  models["pruned"]["parameter_bytes"] = pm.at("parameter_bytes_after");
  add("sparsity", pm.at("sparsity"));
  if (qm.count("agreement_top1"))
    models["int8"]["agreement_top1_vs_pruned"] = qm.at("agreement_top1");
  for (int64_t b : o.ptq.latency_batches) {
    struct Row {
      const char* model;
      const char* suffix;
      fs::path path;
      bool fuse;
    };
    for (const Row& row :
         {Row{"original", "_fp32", o.model, false}, Row{"pruned", "_pruned", pruned_model, false},
          Row{"int8", "_int8", int8_model, true}}) {
      ASSIGN_OR_RETURN(double ms, LatencyMs(row.path, row.fuse, *latency_rows, b, ctx));
      both(row.model, StrCat("latency_ms_batch", b), StrCat("latency_ms_batch", b, row.suffix), ms);
      RETURN_IF_ERROR(ctx.Report({.fraction = 0.96, .step = "compare"}));
    }
  }

  // Artifacts at the top of work_dir.
  ASSIGN_OR_RETURN(json prune_report, ReadJson(ArtifactPath(pruned, "report")));
  ASSIGN_OR_RETURN(json ptq_report, ReadJson(ArtifactPath(quantized, "report")));
  json metrics = json::object();
  for (const Metric& m : result.metrics) metrics[m.name] = m.value;
  json report = {{"options",
                  {{"model", o.model.filename().string()},
                   {"data", o.data.filename().string()},
                   {"eval_data", o.eval_data.filename().string()},
                   {"calibration", ptq.calibration.filename().string()},
                   {"limit", o.limit},
                   {"qat_epochs", o.qat_epochs},
                   {"qat_lr", o.qat_lr},
                   {"holdout", o.holdout},
                   {"eval_source", !o.eval_data.empty() ? "eval_data"
                                   : !eval_path.empty() ? "holdout"
                                                        : "none"}}},
                 {"original", models["original"]},
                 {"pruned", models["pruned"]},
                 {"int8", models["int8"]},
                 {"metrics", metrics},
                 {"prune", prune_report},
                 {"ptq", ptq_report}};
  if (qat_part.has_value()) report["qat"] = qat_part->report;
  const fs::path model_path = work / "model.int8.onnx", pruned_path = work / "pruned.onnx",
                 report_path = work / "report.json", ranges_path = work / "ranges.json";
  std::error_code ec;
  fs::rename(int8_model, model_path, ec);
  if (!ec) fs::rename(pruned_model, pruned_path, ec);
  if (!ec && qat_part.has_value()) fs::rename(qat_part->ranges, ranges_path, ec);
  if (ec)
    return absl::InternalError(
        StrCat("moving the artifacts into '", work.string(), "': ", ec.message()));
  RETURN_IF_ERROR(AtomicWriteFile(report_path.string(), report.dump(2) + "\n"));
  result.artifacts = {
      {"model", model_path}, {"pruned_model", pruned_path}, {"report", report_path}};
  if (qat_part.has_value()) result.artifacts.push_back({"ranges", ranges_path});
  return result;
}

}  // namespace

absl::StatusOr<JobResult> RunComposeJob(const ComposeJobOptions& o, JobContext& ctx) {
  RETURN_IF_ERROR(Validate(o));
  const fs::path work = ctx.work_dir();
  const fs::path prune_dir = work / "prune", ptq_dir = work / "ptq", scratch = work / "scratch";
  absl::StatusOr<JobResult> result = Compose(o, ctx, prune_dir, ptq_dir, scratch);
  // The parts' files are scratch: only the returned artifacts stay.
  for (const fs::path& d : {prune_dir, ptq_dir, scratch}) (void)RemoveAll(d.string());
  if (!result.ok()) return result.status();
  RETURN_IF_ERROR(ctx.Report({.fraction = 1.0, .step = "done"}));
  return result;
}

}  // namespace mp::pipeline
