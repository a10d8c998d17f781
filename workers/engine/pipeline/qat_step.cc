#include "workers/engine/pipeline/qat_step.h"

#include <algorithm>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/exec/session.h"
#include "workers/engine/train/qat.h"
#include "workers/engine/train/train.h"

namespace mp::pipeline {
namespace {

// Flat indices of the exact zeros of each fake-quantized weight that has any, bound to the
// trainer's parameter.
struct ZeroSet {
  tensor::Tensor* value = nullptr;
  std::vector<int64_t> zeros;
};

std::vector<ZeroSet> FindZeros(train::GradGraph& graph, const std::vector<std::string>& weights) {
  std::vector<ZeroSet> out;
  for (train::Parameter& p : graph.parameters()) {
    if (std::find(weights.begin(), weights.end(), p.name) == weights.end()) continue;
    ZeroSet z{.value = &p.value};
    const float* w = p.value.data<float>();
    for (int64_t i = 0; i < p.value.num_elements(); ++i) {
      if (w[i] == 0.0f) z.zeros.push_back(i);
    }
    if (!z.zeros.empty()) out.push_back(std::move(z));
  }
  return out;
}

void ResetZeros(const std::vector<ZeroSet>& sets) {
  for (const ZeroSet& z : sets) {
    float* w = z.value->mutable_data<float>();
    for (int64_t i : z.zeros) w[i] = 0.0f;
  }
}

}  // namespace

absl::StatusOr<QatStepResult> RunQatStep(const ir::Model& fp32, const data::Dataset& train,
                                         const data::Dataset* eval,
                                         const data::Dataset& calibration, const QatStepOptions& o,
                                         const distill::DistillCallback& progress) {
  auto qat_error = [](const absl::Status& s) { return Annotate(s, "qat"); };
  const int threads = std::max(1, o.training.threads);
  QatStepResult r;
  {
    auto session = exec::Session::Create(fp32, {.num_threads = threads});
    if (!session.ok()) return qat_error(session.status());
    r.folded = (*session)->model();
    quant::NameNodes(r.folded.graph);
    auto cal = quant::Calibrate(**session, calibration, {.calibrator = o.calibrator});
    if (!cal.ok()) return qat_error(cal.status());
    r.calibrated = std::move(cal->ranges);
    r.calibration_samples = cal->samples;
  }
  auto ptq = quant::QuantizeStatic(r.folded, r.calibrated, o.quantizer);
  if (!ptq.ok()) return qat_error(ptq.status());
  r.ptq = *std::move(ptq);

  auto qat = train::InsertFakeQuant(r.folded, r.calibrated, {.quantizer = o.quantizer});
  if (!qat.ok()) return qat_error(qat.status());
  auto graph =
      train::GradGraph::Create(qat->model, {.num_threads = threads, .seed = o.training.seed});
  if (!graph.ok()) return qat_error(graph.status());
  const std::vector<ZeroSet> zeros =
      o.keep_zeros ? FindZeros(**graph, qat->weights) : std::vector<ZeroSet>{};
  train::FitOptions fit = RecipeFitOptions(o.training);
  fit.input_name = o.input_name;
  fit.clock = o.clock;
  // Steps re-zero the kept zeros before anything else sees the weights.
  auto on_step = [&](const distill::DistillProgress& p) -> absl::Status {
    if (p.event == train::FitProgress::Event::kStep) ResetZeros(zeros);
    return progress ? progress(p) : absl::OkStatus();
  };
  if (o.teacher != nullptr) {
    auto distilled = distill::Distill(**graph, *o.teacher, train, eval,
                                      {.alpha = o.alpha,
                                       .temperature = o.temperature,
                                       .fit = fit,
                                       .teacher_output_index = 0,
                                       .teacher_threads = threads},
                                      on_step);
    if (!distilled.ok()) return qat_error(distilled.status());
    r.curve = CurveOf(*distilled);
  } else {
    auto fitted = train::Fit(**graph, train, eval, fit, [&](const train::FitProgress& p) {
      return on_step(AsDistillProgress(p));
    });
    if (!fitted.ok()) return qat_error(fitted.status());
    r.curve = CurveOf(*fitted);
  }
  ResetZeros(zeros);
  auto exported = (*graph)->ExportModel();
  if (!exported.ok()) return qat_error(exported.status());
  auto removed = train::RemoveFakeQuant(*exported);
  if (!removed.ok()) return qat_error(removed.status());
  r.trained = std::move(removed->model);
  r.learned = std::move(removed->ranges);
  r.ranges = r.calibrated;
  for (const auto& [name, range] : r.learned) r.ranges[name] = range;
  auto int8 = quant::QuantizeStatic(r.trained, r.ranges, o.quantizer);
  if (!int8.ok()) return qat_error(int8.status());
  r.int8 = *std::move(int8);
  return r;
}

nlohmann::json QatReportJson(const QatStepOptions& o, const QatStepResult& r,
                             const quant::Target& target) {
  const RecipeTraining& t = o.training;
  nlohmann::json options = {
      {"epochs", t.epochs},
      {"lr", t.lr},
      {"optimizer", std::string(t.optimizer)},
      {"batch_size", t.batch_size},
      {"weight_decay", t.weight_decay},
      {"seed", t.seed},
      {"schedule", "cosine"},
      {"loss", o.teacher != nullptr ? "distill" : "cross_entropy"},
      {"keep_zeros", o.keep_zeros},
      {"calibration_samples", r.calibration_samples},
      {"calibrator", quant::CalibrationMethodName(o.calibrator.method)},
      {"activation_scheme", quant::ActivationSchemeName(o.quantizer.activations)},
      {"per_channel_weights", o.quantizer.per_channel},
      {"reduce_range", o.quantizer.reduce_range}};
  if (o.teacher != nullptr) {
    options["alpha"] = o.alpha;
    options["temperature"] = o.temperature;
  }
  return {{"options", options},
          {"target", {{"name", target.name}, {"detected", target.detected}}},
          {"learned_ranges", r.learned.size()},
          {"quantized_layers", r.int8.layers.size()},
          {"curve", CurveJson(r.curve)}};
}

nlohmann::json RangesJson(const quant::RangeMap& ranges) {
  const std::map<std::string, quant::Range> sorted(ranges.begin(), ranges.end());
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, range] : sorted) j[name] = {range.min, range.max};
  return j;
}

}  // namespace mp::pipeline
