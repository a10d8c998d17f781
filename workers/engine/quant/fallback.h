// Accuracy-aware PTQ: keep the most sensitive layers in fp32 until the quantized model is
// within a maximum metric drop of the fp32 model.
//
// Algorithm: score the fully quantized model on the dataset; while its drop (reference
// metric - metric, the metric being top-1 accuracy with labels or top-1 agreement with fp32
// without) exceeds `max_drop`, exclude the next layer of the sensitivity ranking
// (diagnose.h, most sensitive first) and score again. Stops when the target is met or every
// ranked layer is excluded; the result is then the best step seen (highest metric, fewest
// fp32 layers on ties) and `target_met` is false. Every step is recorded with the reason the
// layer was chosen.
#ifndef MP_WORKERS_ENGINE_QUANT_FALLBACK_H_
#define MP_WORKERS_ENGINE_QUANT_FALLBACK_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "workers/engine/quant/diagnose.h"

namespace mp::quant {

struct FallbackStep {
  std::string layer;   // the layer put back to fp32 at this step ("" for the initial model)
  std::string reason;  // e.g. "rank 1: quantized alone, top-1 drops 4.20 points (SQNR 9.1 dB)"
  Score score;         // of the model after this step
};

struct FallbackResult {
  QuantizeResult quantized;  // the chosen model
  std::vector<std::string> fp32_layers;
  std::vector<FallbackStep> steps;
  Score score;
  bool target_met = false;
};

struct FallbackOptions {
  QuantizerOptions quantizer;
  double max_drop = 0.01;
  int64_t batch_size = 100;
  int num_threads = 1;
  std::function<absl::Status(double)> progress;  // fraction of the ranking tried
};

absl::StatusOr<FallbackResult> AccuracyAwareFallback(const ir::Model& fp32_model,
                                                     const RangeMap& ranges,
                                                     const data::Dataset& dataset,
                                                     const Reference& reference, double fp32_metric,
                                                     const std::vector<LayerSensitivity>& ranking,
                                                     const FallbackOptions& options);

}  // namespace mp::quant

#endif  // MP_WORKERS_ENGINE_QUANT_FALLBACK_H_
