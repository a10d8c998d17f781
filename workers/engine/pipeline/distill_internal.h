// Pieces of the distill recipe (distill.h): building the student and measuring a model.
#ifndef MP_WORKERS_ENGINE_PIPELINE_DISTILL_INTERNAL_H_
#define MP_WORKERS_ENGINE_PIPELINE_DISTILL_INTERNAL_H_

#include <cstdint>
#include <optional>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "workers/engine/data/dataset.h"
#include "workers/engine/ir/graph.h"
#include "workers/engine/pipeline/distill.h"

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
// latency over `latency_iterations` runs on the first row of `sample` when > 0.
absl::StatusOr<ModelMeasure> Measure(const ir::Model& model, const data::Dataset* eval,
                                     const data::Dataset& sample, int threads,
                                     int latency_iterations);

nlohmann::json MeasureJson(const ModelMeasure& m);

}  // namespace mp::pipeline::distill_internal

#endif  // MP_WORKERS_ENGINE_PIPELINE_DISTILL_INTERNAL_H_
