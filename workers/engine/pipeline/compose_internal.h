// The quantization-aware training part of the compose recipe (compose.h "QAT").
#ifndef MP_WORKERS_ENGINE_PIPELINE_COMPOSE_INTERNAL_H_
#define MP_WORKERS_ENGINE_PIPELINE_COMPOSE_INTERNAL_H_

#include <filesystem>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "workers/engine/data/dataset.h"
#include "workers/engine/ir/graph.h"
#include "workers/engine/pipeline/compose.h"
#include "workers/engine/pipeline/job.h"

namespace mp::pipeline::compose_internal {

struct ComposeQat {
  std::filesystem::path model;         // the QAT-trained fp32 model (in the scratch dir)
  std::filesystem::path ranges;        // ranges.json in the scratch dir: the learned ranges
  std::optional<double> ptq_accuracy;  // plain PTQ of the recovered model (labelled eval)
  nlohmann::json report;               // the report's "qat" section
};

// QAT (pipeline/qat_step.h) of the recovered model `recovered` for o.qat_epochs: distillation
// from `original` when o.prune.recover == "distill", else cross-entropy; prune's optimizer,
// batch size, weight decay, seed, alpha and temperature, lr = o.qat_lr (0: o.prune.lr / 10);
// ptq's calibrator, activation scheme, per-channel weights and reduce_range (or the
// target's). Unstructured / N:M zeros are kept. Calibrates on `calibration`, evaluates the
// PTQ comparison on `eval` (may be null). Progress through `part` (its fractions 0..1);
// `scratch` receives the trained model and ranges.json.
absl::StatusOr<ComposeQat> RunComposeQat(const ComposeJobOptions& o, const ir::Model& original,
                                         const ir::Model& recovered, const data::Dataset& train,
                                         const data::Dataset* eval,
                                         const data::Dataset& calibration, const std::string& input,
                                         const std::filesystem::path& scratch, JobContext& part);

}  // namespace mp::pipeline::compose_internal

#endif  // MP_WORKERS_ENGINE_PIPELINE_COMPOSE_INTERNAL_H_
