// The ptq recipe (ptq.h). Report (report.json), one JSON object:
//   options      the PtqOptions as run (file names, calibrator, scheme, target, mode, seed ...)
//   target       {name, detected, reduce_range, highway_target}: the deployment target the
//                scheme was chosen for and the Highway target our kernels ran on
//   model        {bytes_fp32, bytes_quantized, nodes_fp32, nodes_quantized, artifact}
//   calibration  {samples, method, percentile, fixed_ranges, tensors: [{name, min, max,
//                range_min, range_max, fixed}]}  (static mode; fixed: the range came from
//                PtqOptions::fixed_ranges)
//   layers       [{name, op_type, precision: "int8"|"fp32", fallback}] every quantizable layer
//   fused_activations, weights [{name, layer, axis, channels, sqnr_db, mse}],
//   activations  [{name, dtype, scale, zero_point, sqnr_db, mse}]  (end-to-end error)
//   sensitivity  [{rank, layer, op_type, accuracy_top1?, agreement_top1, output_sqnr_db,
//                metric_drop}] most sensitive first (only that layer quantized)
//   accuracy_aware {max_drop, target_met, fp32_layers, steps: [{layer, reason, ...score}]}
//   evaluation   {samples, source, labels, fp32: score, quantized: score}
//   latency      [{model: "fp32"|"quantized", batch, mean_ms, p50_ms, p99_ms, samples_per_second}]
//   metrics      the JobResult metrics as an object; notes: decisions worth knowing
// SQNR values are dB; null means exact (no error). Accuracies are fractions.
#include "workers/engine/pipeline/ptq.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <utility>

#include "common/file_util.h"
#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/eval/eval.h"
#include "workers/engine/onnx/onnx.h"
#include "workers/engine/pipeline/ptq_internal.h"
#include "workers/engine/pipeline/recipe_data.h"

namespace mp::pipeline {
namespace {

using nlohmann::json;

// Reports progress as fractions of the step [lo, hi) of the whole job.
class Reporter {
 public:
  explicit Reporter(JobContext& ctx) : ctx_(ctx), eta_(ctx.clock()) {}
  absl::Status Step(std::string step, double lo, double hi) {
    step_ = std::move(step);
    lo_ = lo;
    hi_ = hi;
    return At(0.0);
  }
  absl::Status At(double f) {
    const double fraction = lo_ + (hi_ - lo_) * std::clamp(f, 0.0, 1.0);
    return ctx_.Report({.fraction = fraction, .eta_seconds = eta_.Update(fraction), .step = step_});
  }
  std::function<absl::Status(double)> Callback() {
    return [this](double f) { return At(f); };
  }

 private:
  JobContext& ctx_;
  EtaEstimator eta_;
  std::string step_;
  double lo_ = 0, hi_ = 0;
};

absl::Status Validate(const PtqOptions& o) {
  if (o.model.empty()) return absl::InvalidArgumentError("model: a model file is required");
  if (o.mode != "static" && o.mode != "dynamic" && o.mode != "fp16" && o.mode != "bf16") {
    return absl::InvalidArgumentError(
        StrCat("mode '", o.mode, "' is not one of static, dynamic, fp16, bf16"));
  }
  if (o.mode == "static" && o.calibration.empty()) {
    return absl::InvalidArgumentError("calibration: static PTQ needs calibration samples");
  }
  if (o.mode != "static" && o.calibration.empty() && o.eval.empty()) {
    return absl::InvalidArgumentError("eval: give evaluation (or calibration) samples");
  }
  if (!o.fixed_ranges.empty() && o.mode != "static") {
    return absl::InvalidArgumentError(
        StrCat("fixed_ranges: activation ranges apply to static PTQ only, mode is '", o.mode, "'"));
  }
  if (!o.eval_labels.empty() && o.eval.empty()) {
    return absl::InvalidArgumentError("eval_labels: labels given without eval samples");
  }
  RETURN_IF_ERROR(quant::ParseCalibrationMethod(o.calibrator).status());
  RETURN_IF_ERROR(quant::ParseActivationScheme(o.activation_scheme).status());
  RETURN_IF_ERROR(quant::ValidateCalibratorOptions({.percentile = o.percentile}));
  RETURN_IF_ERROR(quant::ResolveTarget(o.target).status());
  if (!(o.max_accuracy_drop >= 0 && o.max_accuracy_drop < 1)) {
    return absl::InvalidArgumentError(
        StrCat("max_accuracy_drop must be in [0, 1) (0.01 = 1 point), got ", o.max_accuracy_drop));
  }
  if (o.calibration_samples < 0 || o.eval_samples < 0) {
    return absl::InvalidArgumentError("calibration_samples / eval_samples must be >= 0");
  }
  for (int64_t b : o.latency_batches) {
    if (b < 1 || b > 65536) {
      return absl::InvalidArgumentError(StrCat("latency batch ", b, " is outside [1, 65536]"));
    }
  }
  return absl::OkStatus();
}

// PtqOptions::fixed_ranges: {"value": [lo, hi], ...}, finite lo <= hi, every name a value
// in `calibrated` (the float32 activations calibration observed).
absl::StatusOr<quant::RangeMap> LoadFixedRanges(const std::filesystem::path& path,
                                                const quant::RangeMap& calibrated) {
  const std::string what = StrCat("fixed_ranges '", path.string(), "'");
  auto text = ReadFile(path.string());
  if (!text.ok()) return Annotate(text.status(), what);
  const json j = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(
        StrCat(what, ": expected a JSON object {\"value\": [lo, hi], ...}"));
  }
  quant::RangeMap out;
  std::vector<std::string> unknown;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const json& v = it.value();
    if (!v.is_array() || v.size() != 2 || !v[0].is_number() || !v[1].is_number()) {
      return absl::InvalidArgumentError(
          StrCat(what, ": value '", it.key(), "': expected [lo, hi], got ", v.dump()));
    }
    const float lo = static_cast<float>(v[0].get<double>());
    const float hi = static_cast<float>(v[1].get<double>());
    if (!std::isfinite(lo) || !std::isfinite(hi) || lo > hi) {
      return absl::InvalidArgumentError(StrCat(what, ": value '", it.key(), "': range ", v.dump(),
                                               " must be finite with lo <= hi"));
    }
    if (!calibrated.contains(it.key())) {
      unknown.push_back(StrCat("'", it.key(), "'"));
      continue;
    }
    out[it.key()] = {lo, hi};
  }
  if (!unknown.empty()) {
    std::string names;
    for (size_t i = 0; i < unknown.size() && i < 10; ++i) names += (i ? ", " : "") + unknown[i];
    if (unknown.size() > 10) names += StrCat(" and ", unknown.size() - 10, " more");
    return absl::InvalidArgumentError(
        StrCat(what, ": not float32 activations of the model: ", names));
  }
  return out;
}

// A batch of exactly `b` rows: the first b, cycling when the data is shorter.
absl::StatusOr<tensor::Tensor> LatencyBatch(const data::Dataset& ds, int64_t b) {
  std::vector<int64_t> rows(static_cast<size_t>(b));
  for (int64_t i = 0; i < b; ++i) rows[static_cast<size_t>(i)] = i % ds.size();
  ASSIGN_OR_RETURN(data::Batch batch, ds.Gather(rows));
  return batch.inputs;
}

double Fp32Metric(const quant::Reference& ref, const data::Dataset& ds) {
  if (!ds.has_labels()) return 1.0;
  int64_t correct = 0;
  for (int64_t i = 0; i < ref.rows(); ++i) {
    correct += ref.predictions[size_t(i)] == ds.labels().data<int64_t>()[i];
  }
  return double(correct) / double(std::max<int64_t>(1, ref.rows()));
}

}  // namespace

absl::StatusOr<JobResult> RunPtq(const PtqOptions& o, JobContext& ctx) {
  RETURN_IF_ERROR(Validate(o));
  Reporter rep(ctx);
  RETURN_IF_ERROR(rep.Step("load", 0.0, 0.05));
  const int threads = std::max(1, ctx.num_threads());
  ASSIGN_OR_RETURN(std::string bytes, ReadFile(o.model.string()));
  auto imported = onnx::ImportModel(bytes);
  if (!imported.ok()) return Annotate(imported.status(), StrCat("model '", o.model.string(), "'"));
  const int nodes_fp32 = imported->graph.num_nodes();
  auto created = exec::Session::Create(*std::move(imported), {.num_threads = threads});
  if (!created.ok()) return Annotate(created.status(), StrCat("model '", o.model.string(), "'"));
  // The fp32 session runs the folded graph; naming its nodes (layer names for the quantizer)
  // changes no value, so the same session serves calibration, reference and latency.
  std::unique_ptr<exec::Session> fp32 = *std::move(created);
  ir::Model folded = fp32->model();
  quant::NameNodes(folded.graph);

  ASSIGN_OR_RETURN(quant::Target target, quant::ResolveTarget(o.target));
  const bool reduce_range = o.reduce_range || target.needs_reduce_range;
  ASSIGN_OR_RETURN(quant::CalibrationMethod method, quant::ParseCalibrationMethod(o.calibrator));
  ASSIGN_OR_RETURN(quant::ActivationScheme scheme,
                   quant::ParseActivationScheme(o.activation_scheme));
  data::Dataset calib, eval_ds;
  if (!o.calibration.empty()) {
    ASSIGN_OR_RETURN(calib, LoadSamples(o.calibration, "", o.calibration_samples, *fp32,
                                        StrCat("calibration data '", o.calibration.string(), "'")));
  }
  const bool has_eval = !o.eval.empty();
  if (has_eval) {
    ASSIGN_OR_RETURN(eval_ds, LoadSamples(o.eval, o.eval_labels, o.eval_samples, *fp32,
                                          StrCat("eval data '", o.eval.string(), "'")));
  } else {
    eval_ds = calib;
  }

  json report;
  json notes = json::array();
  quant::QuantizerOptions qopts{
      .activations = scheme, .per_channel = o.per_channel_weights, .reduce_range = reduce_range};
  quant::QuantizeResult q;
  quant::CalibrationResult cal;
  quant::RangeMap fixed;  // PtqOptions::fixed_ranges
  std::vector<quant::Layer> layers;
  std::vector<std::string> fallback_layers;
  const int64_t kBatch = 100;
  if (o.mode == "static") {
    RETURN_IF_ERROR(rep.Step("calibrate", 0.05, 0.3));
    ASSIGN_OR_RETURN(
        cal, quant::Calibrate(
                 *fp32, calib,
                 {.calibrator = {.method = method, .percentile = o.percentile, .scheme = scheme},
                  .batch_size = kBatch,
                  .progress = rep.Callback()}));
    if (!o.fixed_ranges.empty()) {
      ASSIGN_OR_RETURN(fixed, LoadFixedRanges(o.fixed_ranges, cal.ranges));
      for (const auto& [name, r] : fixed) cal.ranges[name] = r;
      notes.push_back(StrCat(fixed.size(), " activation ranges fixed by '",
                             o.fixed_ranges.filename().string(), "' instead of calibrated"));
    }
    layers = quant::FindLayers(folded, cal.ranges);
    if (layers.empty()) {
      return absl::UnimplementedError(
          "model has no layer PTQ can quantize (Conv/ConvTranspose with constant weights, Gemm, "
          "MatMul, Add, Concat, pooling on float32 activations)");
    }
    RETURN_IF_ERROR(rep.Step("quantize", 0.3, 0.35));
    ASSIGN_OR_RETURN(q, quant::QuantizeStatic(folded, cal.ranges, qopts));
  } else if (o.mode == "dynamic") {
    RETURN_IF_ERROR(rep.Step("quantize", 0.05, 0.35));
    ASSIGN_OR_RETURN(q, quant::QuantizeDynamic(folded, {.per_channel = o.per_channel_weights,
                                                        .reduce_range = reduce_range}));
    if (q.layers.empty()) {
      return absl::UnimplementedError(
          "model has no MatMul / Gemm with constant 2-D weights to "
          "quantize dynamically");
    }
  } else {
    RETURN_IF_ERROR(rep.Step("convert", 0.05, 0.35));
    ASSIGN_OR_RETURN(q, quant::ConvertWeights(folded, o.mode == "fp16" ? tensor::DType::kFloat16
                                                                       : tensor::DType::kBFloat16));
    if (q.layers.empty()) {
      return absl::UnimplementedError("model has no Conv / Gemm / MatMul float32 weights");
    }
  }

  RETURN_IF_ERROR(rep.Step("diagnose", 0.35, 0.6));
  ASSIGN_OR_RETURN(quant::Reference reference, quant::ComputeReference(*fp32, eval_ds, kBatch));
  const double fp32_metric = Fp32Metric(reference, eval_ds);
  json activations = json::array();
  json sensitivity = json::array();
  json accuracy_aware;
  std::optional<quant::Score> fallback_score;  // of q on eval_ds, when the fallback chose q
  if (o.mode == "static") {
    ASSIGN_OR_RETURN(data::Dataset small, eval_ds.Take(256));
    ASSIGN_OR_RETURN(std::vector<quant::TensorError> errors,
                     quant::ActivationErrors(folded, q, small, 64, threads));
    size_t e = 0;
    for (const quant::QuantizedTensor& t : q.tensors) {
      if (t.kind != quant::QuantizedTensor::Kind::kActivation) continue;
      json j = internal::TensorJson(t);
      j["sqnr_db"] = internal::Db(errors[e].sqnr_db);
      j["mse"] = errors[e].mse;
      activations.push_back(j);
      ++e;
    }
    std::vector<quant::LayerSensitivity> ranking;
    if (o.sensitivity || o.max_accuracy_drop > 0) {
      ASSIGN_OR_RETURN(data::Dataset subset, eval_ds.Take(1000));
      const quant::Reference sub_ref = reference.Head(subset.size());
      ASSIGN_OR_RETURN(ranking, quant::LayerSensitivities(folded, cal.ranges, subset, sub_ref,
                                                          Fp32Metric(sub_ref, subset),
                                                          {.quantizer = qopts,
                                                           .batch_size = kBatch,
                                                           .num_threads = threads,
                                                           .progress = rep.Callback()}));
      for (size_t r = 0; r < ranking.size(); ++r) {
        json j = internal::ScoreJson(ranking[r].score);
        j["rank"] = r + 1;
        j["layer"] = ranking[r].layer;
        j["op_type"] = ranking[r].op_type;
        j["metric_drop"] = ranking[r].metric_drop;
        sensitivity.push_back(j);
      }
    }
    if (o.max_accuracy_drop > 0) {
      RETURN_IF_ERROR(rep.Step("accuracy-aware fallback", 0.6, 0.75));
      ASSIGN_OR_RETURN(
          quant::FallbackResult fb,
          quant::AccuracyAwareFallback(folded, cal.ranges, eval_ds, reference, fp32_metric, ranking,
                                       {.quantizer = qopts,
                                        .max_drop = o.max_accuracy_drop,
                                        .batch_size = kBatch,
                                        .num_threads = threads,
                                        .progress = rep.Callback()}));
      json steps = json::array();
      for (const quant::FallbackStep& s : fb.steps) {
        json j = internal::ScoreJson(s.score);
        j["layer"] = s.layer;
        j["reason"] = s.reason;
        steps.push_back(j);
      }
      accuracy_aware = {{"max_drop", o.max_accuracy_drop},
                        {"target_met", fb.target_met},
                        {"fp32_layers", fb.fp32_layers},
                        {"steps", steps}};
      if (!fb.target_met) {
        notes.push_back(StrCat("accuracy target not met: best reachable drop ",
                               fp32_metric - fb.score.metric()));
      }
      fallback_layers = fb.fp32_layers;
      q = std::move(fb.quantized);
      fallback_score = std::move(fb.score);
    }
  }

  RETURN_IF_ERROR(rep.Step("evaluate", 0.75, 0.85));
  // Integer execution (fuse_qdq): the accuracy and latency reported are those of exact int8
  // kernels computing what the QDQ graph means, as ONNX Runtime's integer kernels do.
  ASSIGN_OR_RETURN(auto quantized,
                   exec::Session::Create(q.model, {.num_threads = threads, .fuse_qdq = true}));
  quant::Score score;
  if (fallback_score) {
    score = *std::move(fallback_score);  // the same session options, data and batches
  } else {
    ASSIGN_OR_RETURN(score, quant::ScoreAgainst(*quantized, eval_ds, reference, kBatch));
  }

  RETURN_IF_ERROR(rep.Step("latency", 0.85, 0.95));
  json latency = json::array();
  JobResult result;
  for (int64_t b : o.latency_batches) {
    ASSIGN_OR_RETURN(tensor::Tensor batch, LatencyBatch(eval_ds, b));
    for (int m = 0; m < 2; ++m) {
      exec::Session& s = m == 0 ? *fp32 : *quantized;
      ASSIGN_OR_RETURN(
          eval::LatencyStats st,
          eval::MeasureLatency(s, batch, {.warmup = 3, .iterations = 20}, ctx.clock()));
      latency.push_back({{"model", m == 0 ? "fp32" : "quantized"},
                         {"batch", b},
                         {"mean_ms", st.mean_ms},
                         {"p50_ms", st.p50_ms},
                         {"p99_ms", st.p99_ms},
                         {"samples_per_second", st.samples_per_second}});
      result.metrics.push_back(
          {StrCat("latency_ms_batch", b, m == 0 ? "_fp32" : "_quantized"), st.mean_ms});
    }
    RETURN_IF_ERROR(rep.At(1.0));
  }

  RETURN_IF_ERROR(rep.Step("export", 0.95, 1.0));
  ASSIGN_OR_RETURN(std::string out_bytes, onnx::ExportModel(q.model));
  const std::string suffix = o.mode == "fp16" || o.mode == "bf16" ? o.mode : "int8";
  const std::filesystem::path model_path = ctx.work_dir() / StrCat("model.", suffix, ".onnx");
  const std::filesystem::path report_path = ctx.work_dir() / "report.json";

  const bool labels = eval_ds.has_labels();
  if (labels) {
    result.metrics.push_back({"accuracy_fp32", fp32_metric});
    result.metrics.push_back({"accuracy_quantized", score.accuracy});
    result.metrics.push_back({"accuracy_drop", fp32_metric - score.accuracy});
  }
  result.metrics.push_back({"agreement_top1", score.agreement});
  result.metrics.push_back(
      {"output_sqnr_db", std::isfinite(score.output_sqnr_db) ? score.output_sqnr_db : 999.0});
  result.metrics.push_back({"model_bytes_fp32", double(bytes.size())});
  result.metrics.push_back({"model_bytes_quantized", double(out_bytes.size())});
  result.metrics.push_back({"layers_quantized", double(q.layers.size())});
  result.metrics.push_back({"layers_fp32_fallback", double(fallback_layers.size())});
  json metrics = json::object();
  for (const Metric& m : result.metrics) metrics[m.name] = m.value;

  for (const std::string& n : q.notes) notes.push_back(n);
  json weights = json::array();
  for (const quant::QuantizedTensor& t : q.tensors) {
    if (t.kind != quant::QuantizedTensor::Kind::kActivation)
      weights.push_back(internal::TensorJson(t));
  }
  json tensors = json::array();
  for (const quant::TensorObserver& obs : cal.observers) {
    const quant::Range r = cal.ranges.at(obs.name());
    tensors.push_back({{"name", obs.name()},
                       {"min", obs.min()},
                       {"max", obs.max()},
                       {"range_min", r.min},
                       {"range_max", r.max},
                       {"fixed", fixed.contains(obs.name())}});
  }
  // File names only: the directories are the runner's (temporary) ones, and identical runs
  // should write identical options.
  report["options"] = {{"model", o.model.filename().string()},
                       {"calibration", o.calibration.filename().string()},
                       {"eval", o.eval.filename().string()},
                       {"eval_labels", o.eval_labels.filename().string()},
                       {"calibrator", o.calibrator},
                       {"percentile", o.percentile},
                       {"activation_scheme", o.activation_scheme},
                       {"per_channel_weights", o.per_channel_weights},
                       {"target", o.target},
                       {"reduce_range", o.reduce_range},
                       {"mode", o.mode},
                       {"max_accuracy_drop", o.max_accuracy_drop},
                       {"calibration_samples", o.calibration_samples},
                       {"eval_samples", o.eval_samples},
                       {"fixed_ranges", o.fixed_ranges.filename().string()},
                       {"latency_batches", o.latency_batches},
                       {"sensitivity", o.sensitivity},
                       {"seed", o.seed},
                       {"threads", threads}};
  report["target"] = {{"name", target.name},
                      {"detected", target.detected},
                      {"reduce_range", reduce_range},
                      {"highway_target", quant::HighwayTargetName()}};
  report["model"] = {{"bytes_fp32", bytes.size()},
                     {"bytes_quantized", out_bytes.size()},
                     {"nodes_fp32", nodes_fp32},
                     {"nodes_quantized", q.model.graph.num_nodes()},
                     {"artifact", model_path.filename().string()}};
  if (o.mode == "static") {
    report["calibration"] = {{"samples", cal.samples},
                             {"method", o.calibrator},
                             {"percentile", o.percentile},
                             {"fixed_ranges", fixed.size()},
                             {"tensors", tensors}};
  }
  report["layers"] =
      o.mode == "static" ? internal::LayersJson(layers, q.layers, fallback_layers) : json(q.layers);
  report["fused_activations"] = q.fused_activations;
  report["weights"] = weights;
  report["activations"] = activations;
  report["sensitivity"] = sensitivity;
  if (!accuracy_aware.is_null()) report["accuracy_aware"] = accuracy_aware;
  quant::Score fp32_score{.accuracy = labels ? fp32_metric : -1, .agreement = 1.0};
  fp32_score.output_sqnr_db = std::numeric_limits<double>::infinity();
  report["evaluation"] = {{"samples", eval_ds.size()},
                          {"source", has_eval ? "eval" : "calibration"},
                          {"labels", labels},
                          {"fp32", internal::ScoreJson(fp32_score)},
                          {"quantized", internal::ScoreJson(score)}};
  report["latency"] = latency;
  report["metrics"] = metrics;
  report["notes"] = notes;

  RETURN_IF_ERROR(AtomicWriteFile(model_path.string(), out_bytes));
  RETURN_IF_ERROR(AtomicWriteFile(report_path.string(), report.dump(2) + "\n"));
  result.artifacts = {{"model", model_path}, {"report", report_path}};
  RETURN_IF_ERROR(rep.At(1.0));
  return result;
}

}  // namespace mp::pipeline
