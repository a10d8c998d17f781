// The QAT part of the compose recipe (compose_internal.h).
#include <memory>
#include <utility>

#include "common/file_util.h"
#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/eval/eval.h"
#include "workers/engine/exec/session.h"
#include "workers/engine/onnx/onnx.h"
#include "workers/engine/pipeline/compose_internal.h"
#include "workers/engine/pipeline/qat_step.h"
#include "workers/engine/pipeline/recipe_progress.h"
#include "workers/engine/quant/target.h"

namespace mp::pipeline::compose_internal {

namespace fs = std::filesystem;
using nlohmann::json;

absl::StatusOr<ComposeQat> RunComposeQat(const ComposeJobOptions& o, const ir::Model& original,
                                         const ir::Model& recovered, const data::Dataset& train,
                                         const data::Dataset* eval,
                                         const data::Dataset& calibration, const std::string& input,
                                         const fs::path& scratch, JobContext& part) {
  const PtqOptions& p = o.ptq;
  const PruneRecipeOptions& pr = o.prune;
  ASSIGN_OR_RETURN(quant::Target target, quant::ResolveTarget(p.target));
  ASSIGN_OR_RETURN(quant::CalibrationMethod method, quant::ParseCalibrationMethod(p.calibrator));
  ASSIGN_OR_RETURN(quant::ActivationScheme scheme,
                   quant::ParseActivationScheme(p.activation_scheme));
  const int threads = std::max(1, part.num_threads());
  const float lr = o.qat_lr > 0 ? o.qat_lr : pr.lr / 10;
  const bool distill = pr.recover == "distill";
  QatStepOptions q{.quantizer = {.activations = scheme,
                                 .per_channel = p.per_channel_weights,
                                 .reduce_range = p.reduce_range || target.needs_reduce_range},
                   .calibrator = {.method = method, .percentile = p.percentile, .scheme = scheme},
                   .training = {.epochs = o.qat_epochs,
                                .batch_size = pr.batch_size,
                                .seed = pr.seed,
                                .optimizer = pr.optimizer,
                                .lr = lr,
                                .weight_decay = pr.weight_decay,
                                .threads = threads},
                   .input_name = input,
                   .teacher = distill ? &original : nullptr,
                   .alpha = pr.alpha,
                   .temperature = pr.temperature,
                   .keep_zeros = pr.method != "structured",
                   .clock = part.clock()};
  Reporter rep(part);
  RETURN_IF_ERROR(rep.Phase("train", 0.0, 0.9));
  absl::Status stopped;
  auto step = RunQatStep(recovered, train, eval, calibration, q,
                         EpochReporter(rep, "qat", o.qat_epochs, &stopped));
  if (!stopped.ok()) return stopped;
  if (!step.ok()) return step.status();

  RETURN_IF_ERROR(rep.Phase("evaluate ptq", 0.9, 1.0));
  ComposeQat out;
  if (eval != nullptr && eval->has_labels()) {
    ASSIGN_OR_RETURN(
        std::unique_ptr<exec::Session> session,
        exec::Session::Create(step->ptq.model, {.num_threads = threads, .fuse_qdq = true}));
    ASSIGN_OR_RETURN(eval::Top1Result top1, eval::EvaluateTop1(*session, *eval, 256));
    out.ptq_accuracy = top1.accuracy();
  }
  out.model = scratch / "qat.onnx";
  out.ranges = scratch / "ranges.json";
  ASSIGN_OR_RETURN(std::string bytes, onnx::ExportModel(step->trained));
  RETURN_IF_ERROR(AtomicWriteFile(out.model.string(), bytes));
  RETURN_IF_ERROR(AtomicWriteFile(out.ranges.string(), RangesJson(step->learned).dump(2) + "\n"));
  out.report = QatReportJson(q, *step, target);
  out.report["ranges"] = out.ranges.filename().string();
  out.report["ptq_accuracy"] = out.ptq_accuracy.has_value() ? json(*out.ptq_accuracy) : json();
  RETURN_IF_ERROR(rep.At(1.0, {}, ""));
  return out;
}

}  // namespace mp::pipeline::compose_internal
