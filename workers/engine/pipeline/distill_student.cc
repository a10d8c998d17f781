#include <memory>
#include <string>
#include <utility>

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/eval/eval.h"
#include "workers/engine/exec/session.h"
#include "workers/engine/onnx/onnx.h"
#include "workers/engine/pipeline/distill_internal.h"
#include "workers/engine/prune/prune.h"
#include "workers/engine/train/init.h"

namespace mp::pipeline::distill_internal {

using nlohmann::json;

absl::StatusOr<Student> BuildStudent(const DistillJobOptions& o, const ir::Model& teacher) {
  const DistillRecipeOptions& r = o.recipe;
  Student student;
  if (r.student == "model") {
    auto imported = onnx::ImportModelFile(o.student.string());
    if (!imported.ok()) {
      return Annotate(imported.status(), StrCat("student '", o.student.string(), "'"));
    }
    student.model = *std::move(imported);
    return student;
  }
  const std::string what = StrCat("student ", r.student, " ", r.width);
  student.model = teacher;
  auto plan = prune::PlanStructured(student.model, {.ratio = 1.0 - r.width});
  if (!plan.ok()) return Annotate(plan.status(), what);
  if (absl::Status s = prune::ApplyStructured(*plan, prune::ApplyMode::kRemove, &student.model);
      !s.ok()) {
    return Annotate(s, what);
  }
  for (const prune::StructuredLayerReport& l : prune::SummarizePlan(*plan)) {
    student.layers.push_back(
        {{"layer", l.layer}, {"channels", l.channels}, {"kept", l.kept}, {"skipped", l.skipped}});
  }
  if (r.student == "width") {
    auto initialised = train::InitializeParameters(student.model, r.seed);
    if (!initialised.ok()) return Annotate(initialised.status(), what);
  }
  return student;
}

absl::StatusOr<ModelMeasure> Measure(const ir::Model& model, const data::Dataset* eval,
                                     const data::Dataset& sample, int threads,
                                     int latency_iterations, bool quantized) {
  ModelMeasure m;
  if (!quantized) {
    ASSIGN_OR_RETURN(prune::ModelStats stats, prune::ComputeStats(model));
    m.parameters = stats.parameters;
    m.parameter_bytes = stats.parameter_bytes;
    m.macs = stats.macs;
  }
  ASSIGN_OR_RETURN(std::string bytes, onnx::ExportModel(model));
  m.model_bytes = static_cast<int64_t>(bytes.size());
  if ((eval == nullptr || !eval->has_labels()) && latency_iterations == 0) return m;
  ASSIGN_OR_RETURN(std::unique_ptr<exec::Session> session,
                   exec::Session::Create(model, {.num_threads = threads, .fuse_qdq = quantized}));
  if (eval != nullptr && eval->has_labels()) {
    ASSIGN_OR_RETURN(eval::Top1Result top1, eval::EvaluateTop1(*session, *eval, 256));
    m.accuracy = top1.accuracy();
    m.eval_samples = top1.samples;
  }
  if (latency_iterations > 0 && sample.size() > 0) {
    const data::Batch one = sample.Slice(0, 1);
    ASSIGN_OR_RETURN(
        eval::LatencyStats lat,
        eval::MeasureLatency(*session, one.inputs, {.warmup = 3, .iterations = latency_iterations},
                             SystemClock::Get()));
    m.latency_ms = lat.p50_ms;
  }
  return m;
}

json MeasureJson(const ModelMeasure& m) {
  json j = {{"eval_samples", m.eval_samples},
            {"parameters", m.parameters},
            {"parameter_bytes", m.parameter_bytes},
            {"model_bytes", m.model_bytes},
            {"macs", m.macs}};
  j["accuracy"] = m.accuracy.has_value() ? json(*m.accuracy) : json(nullptr);
  j["latency_ms_batch1"] = m.latency_ms.has_value() ? json(*m.latency_ms) : json(nullptr);
  return j;
}

}  // namespace mp::pipeline::distill_internal
