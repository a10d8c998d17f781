// Quantization-aware distillation of the distill recipe (distill.h "QAT";
// distill_internal.h DistillQat / MeasureQat).
#include <algorithm>
#include <utility>

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/onnx/onnx.h"
#include "workers/engine/pipeline/distill_internal.h"
#include "workers/engine/quant/target.h"

namespace mp::pipeline::distill_internal {

using nlohmann::json;

namespace {

constexpr int64_t kCalibrationRows = 512;

}  // namespace

absl::StatusOr<QatOutcome> DistillQat(const DistillJobOptions& o, const ir::Model& teacher,
                                      const ir::Model& student, const data::Dataset& train,
                                      const data::Dataset* eval, const std::string& input,
                                      int threads, Clock* clock,
                                      const distill::DistillCallback& progress) {
  const DistillRecipeOptions& r = o.recipe;
  auto target = quant::ResolveTarget(r.qat_target);
  if (!target.ok()) return Annotate(target.status(), "qat_target");
  const float lr = r.qat_lr > 0 ? r.qat_lr : r.lr / 10;
  ASSIGN_OR_RETURN(data::Dataset calibration,
                   train.Take(std::min<int64_t>(kCalibrationRows, train.size())));
  QatStepOptions q{.quantizer = {.activations = quant::ActivationScheme::kUint8Asymmetric,
                                 .per_channel = true,
                                 .reduce_range = target->needs_reduce_range},
                   .calibrator = {.method = quant::CalibrationMethod::kMinMax},
                   .training = {.epochs = r.qat_epochs,
                                .batch_size = r.batch_size,
                                .seed = r.seed,
                                .optimizer = r.optimizer,
                                .lr = lr,
                                .weight_decay = r.weight_decay,
                                .threads = threads},
                   .input_name = input,
                   .teacher = &teacher,
                   .alpha = r.alpha,
                   .temperature = r.temperature,
                   .clock = clock};
  QatOutcome out;
  ASSIGN_OR_RETURN(out.step, RunQatStep(student, train, eval, calibration, q, progress));
  ASSIGN_OR_RETURN(out.int8_bytes, onnx::ExportModel(out.step.int8.model));
  out.ranges_json = RangesJson(out.step.learned);
  out.report = QatReportJson(q, out.step, *target);
  return out;
}

absl::Status MeasureQat(const data::Dataset* eval, const data::Dataset& sample, int threads,
                        int latency_iterations, QatOutcome* qat) {
  ASSIGN_OR_RETURN(ModelMeasure int8, Measure(qat->step.int8.model, eval, sample, threads,
                                              latency_iterations, /*quantized=*/true));
  int8.model_bytes = static_cast<int64_t>(qat->int8_bytes.size());
  qat->student_int8 = {{"model_bytes", int8.model_bytes}, {"eval_samples", int8.eval_samples}};
  qat->student_int8["accuracy"] = int8.accuracy.has_value() ? json(*int8.accuracy) : json(nullptr);
  qat->student_int8["latency_ms_batch1"] =
      int8.latency_ms.has_value() ? json(*int8.latency_ms) : json(nullptr);
  if (int8.accuracy.has_value()) {
    ASSIGN_OR_RETURN(ModelMeasure ptq, Measure(qat->step.ptq.model, eval, sample, threads, 0,
                                               /*quantized=*/true));
    qat->metrics.push_back({"student_accuracy_int8", *int8.accuracy});
    qat->metrics.push_back({"student_accuracy_int8_ptq", *ptq.accuracy});
    qat->report["ptq_accuracy"] = *ptq.accuracy;
  }
  qat->metrics.push_back({"int8_model_bytes", double(int8.model_bytes)});
  if (int8.latency_ms.has_value()) {
    qat->metrics.push_back({"latency_ms_batch1_int8", *int8.latency_ms});
  }
  return absl::OkStatus();
}

}  // namespace mp::pipeline::distill_internal
