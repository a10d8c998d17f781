// Pieces of the distill recipe (distill.h): building the student, measuring a model, and
// quantization-aware distillation.
#ifndef MP_WORKERS_ENGINE_PIPELINE_DISTILL_INTERNAL_H_
#define MP_WORKERS_ENGINE_PIPELINE_DISTILL_INTERNAL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "workers/engine/data/dataset.h"
#include "workers/engine/ir/graph.h"
#include "workers/engine/pipeline/distill.h"
#include "workers/engine/pipeline/qat_step.h"

namespace mp::pipeline::distill_internal {

struct Student {
  ir::Model model;
  // width/pruned: [{layer, channels, kept, skipped}] per channel producer; else empty.
  nlohmann::json layers = nlohmann::json::array();
};

// The student before training (distill.h, "Student source"). `teacher` is the imported
// teacher model; `options.student` is read for source "model". Errors name the source
// ("student 's.onnx': ...", "width 0.5: ...").
absl::StatusOr<Student> BuildStudent(const DistillJobOptions& options, const ir::Model& teacher);

struct ModelMeasure {
  std::optional<double> accuracy;  // top-1 on the eval set when it is given
  int64_t eval_samples = 0;
  int64_t parameters = 0;
  int64_t parameter_bytes = 0;
  int64_t model_bytes = 0;  // serialized ONNX (onnx::ExportModel)
  int64_t macs = 0;         // batch 1
  std::optional<double> latency_ms;
};

// Statistics of `model`; top-1 on `eval` when non-null (labelled); the median batch-1
// latency over `latency_iterations` runs on the first row of `sample` when > 0. `quantized`:
// a QDQ model, run on the integer kernels (exec fuse_qdq); parameters and MACs stay 0.
absl::StatusOr<ModelMeasure> Measure(const ir::Model& model, const data::Dataset* eval,
                                     const data::Dataset& sample, int threads,
                                     int latency_iterations, bool quantized = false);

nlohmann::json MeasureJson(const ModelMeasure& m);

// Quantization-aware distillation (distill.h "QAT").
struct QatOutcome {
  QatStepResult step;
  std::string int8_bytes;       // serialized step.int8.model
  nlohmann::json ranges_json;   // RangesJson(step.learned): ranges.json
  nlohmann::json report;        // the report's "qat" section
  nlohmann::json student_int8;  // {accuracy, model_bytes, latency_ms_batch1}
  std::vector<Metric> metrics;  // student_accuracy_int8(_ptq), int8_model_bytes
};

// QAT of the distilled `student` from `teacher` (recipe qat_* options; the recipe's alpha,
// temperature, optimizer, batch size, weight decay and seed; no feature terms), calibrated on
// the first min(512, N) training rows with minmax, uint8 asymmetric activations and per-channel
// weights (7-bit for a target that needs reduce_range). Fills everything but the
// measurements (MeasureQat).
absl::StatusOr<QatOutcome> DistillQat(const DistillJobOptions& options, const ir::Model& teacher,
                                      const ir::Model& student, const data::Dataset& train,
                                      const data::Dataset* eval, const std::string& input,
                                      int threads, Clock* clock,
                                      const distill::DistillCallback& progress);

// Measures the QAT int8 model and the plain-PTQ comparison: student_int8, the metrics (the
// accuracies only with labelled `eval`) and int8_model_bytes.
absl::Status MeasureQat(const data::Dataset* eval, const data::Dataset& sample, int threads,
                        int latency_iterations, QatOutcome* qat);

}  // namespace mp::pipeline::distill_internal

#endif  // MP_WORKERS_ENGINE_PIPELINE_DISTILL_INTERNAL_H_
