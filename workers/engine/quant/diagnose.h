// Diagnosis of a quantized model against its fp32 original, on the same inputs.
//
//   Reference / Score: a model's first output over a dataset is compared with the fp32
//     model's: output SQNR (dB, over all output elements), top-1 agreement of the argmax
//     predictions, and top-1 accuracy when the dataset has labels.
//   ActivationErrors: SQNR and MSE of every quantized activation — the QDQ model's
//     dequantized value against the fp32 value it stands for — accumulated over the dataset.
//     This is end-to-end error (it includes what earlier layers contributed). The values are
//     read by making them extra graph outputs of both models, so no fusion hides them.
//   LayerSensitivities: for each layer, the QDQ model quantizing ONLY that layer
//     (QuantizerOptions::only) is scored; layers are ranked most sensitive first: by the
//     larger accuracy drop (or agreement drop without labels), then by the lower output SQNR.
#ifndef MP_WORKERS_ENGINE_QUANT_DIAGNOSE_H_
#define MP_WORKERS_ENGINE_QUANT_DIAGNOSE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "workers/engine/data/dataset.h"
#include "workers/engine/exec/session.h"
#include "workers/engine/quant/quantizer.h"

namespace mp::quant {

// The fp32 model's first output on every dataset row, flattened row by row.
struct Reference {
  std::vector<float> outputs;  // N * per_row values
  int64_t per_row = 0;
  std::vector<int64_t> predictions;  // argmax over the last axis, one per row (eval.h rules)
  int64_t rows() const { return static_cast<int64_t>(predictions.size()); }
  // The first `n` rows (all of them when n >= rows()): the reference of dataset.Take(n).
  Reference Head(int64_t n) const;
};

absl::StatusOr<Reference> ComputeReference(exec::Session& session, const data::Dataset& dataset,
                                           int64_t batch_size);

struct Score {
  double accuracy = -1;  // top-1 against labels; -1 without labels
  double agreement = 0;  // top-1 agreement with the reference
  double output_sqnr_db = 0;
  std::vector<int64_t> predictions;
  // The figure a job optimises: accuracy with labels, agreement without.
  double metric() const { return accuracy >= 0 ? accuracy : agreement; }
};

// Runs `session` over `dataset` (the rows of `reference`) and compares.
absl::StatusOr<Score> ScoreAgainst(exec::Session& session, const data::Dataset& dataset,
                                   const Reference& reference, int64_t batch_size);

struct TensorError {
  std::string name;  // fp32 value name
  double sqnr_db = 0;
  double mse = 0;
  int64_t count = 0;
};

// Activation errors of `quantized` (a QuantizeStatic result for `fp32_model`), in the order
// of quantized.tensors.
absl::StatusOr<std::vector<TensorError>> ActivationErrors(const ir::Model& fp32_model,
                                                          const QuantizeResult& quantized,
                                                          const data::Dataset& dataset,
                                                          int64_t batch_size, int num_threads);

struct LayerSensitivity {
  std::string layer;
  std::string op_type;
  Score score;             // of the model with only this layer quantized
  double metric_drop = 0;  // reference metric - score.metric()
};

struct SensitivityOptions {
  QuantizerOptions quantizer;  // `only` / `exclude` are overridden per layer
  int64_t batch_size = 100;
  int num_threads = 1;
  // Called after each layer with the fraction done; a non-OK status stops the analysis.
  std::function<absl::Status(double)> progress;
};

// `fp32_metric` is the reference's own metric (accuracy with labels, 1 without). Ranked most
// sensitive first (see the file comment).
absl::StatusOr<std::vector<LayerSensitivity>> LayerSensitivities(
    const ir::Model& fp32_model, const RangeMap& ranges, const data::Dataset& dataset,
    const Reference& reference, double fp32_metric, const SensitivityOptions& options);

}  // namespace mp::quant

#endif  // MP_WORKERS_ENGINE_QUANT_DIAGNOSE_H_
