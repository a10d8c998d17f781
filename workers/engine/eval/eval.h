// mp::eval — what a job reports about a model: accuracy, agreement, latency, size.
//
// All functions run a prepared exec::Session over data and never change it.
//
//   Predictions: the model's first graph output is read as scores whose LAST axis holds the
//     classes ([B, C], or [B, ..., C] reduced per row over the last axis); the prediction is
//     the argmax, ties going to the lowest class index (as numpy.argmax). NaN scores never
//     win. A model with more than one feedable input is rejected (INVALID_ARGUMENT): the
//     dataset supplies one tensor per sample.
//   Top-1 accuracy: correct / samples against int64 labels.
//   Agreement: fraction of samples where two prediction lists match (e.g. int8 vs fp32).
//   Latency: wall time of Session::Run on one fixed batch after warm-up runs, reported as
//     mean / p50 / p90 / p99 / min in milliseconds (nearest-rank percentiles) and
//     samples per second at the mean.
#ifndef MP_WORKERS_ENGINE_EVAL_EVAL_H_
#define MP_WORKERS_ENGINE_EVAL_EVAL_H_

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "workers/engine/data/dataset.h"
#include "workers/engine/exec/session.h"
#include "workers/engine/tensor/tensor.h"

namespace mp::eval {

// Class predictions (argmax over the last axis of output 0) for every dataset row, in
// order, running batches of `batch_size` rows (>= 1). The sample shape must match the
// model's input (Session::Run's messages name the mismatch).
absl::StatusOr<std::vector<int64_t>> PredictTop1(exec::Session& session,
                                                 const data::Dataset& dataset, int64_t batch_size);

struct Top1Result {
  int64_t samples = 0;
  int64_t correct = 0;
  double accuracy() const { return samples == 0 ? 0.0 : double(correct) / double(samples); }
};

// Top-1 accuracy against the dataset's labels (INVALID_ARGUMENT if it has none).
absl::StatusOr<Top1Result> EvaluateTop1(exec::Session& session, const data::Dataset& dataset,
                                        int64_t batch_size);

// Argmax per row of `scores` viewed as [rows, classes] over its last axis (float32, rank
// >= 1, classes >= 1). INVALID_ARGUMENT otherwise.
absl::StatusOr<std::vector<int64_t>> ArgmaxLastAxis(const tensor::Tensor& scores);

// Fraction of equal entries; INVALID_ARGUMENT if the lengths differ or are zero.
absl::StatusOr<double> Agreement(std::span<const int64_t> a, std::span<const int64_t> b);

struct LatencyStats {
  int64_t batch_size = 0;
  int iterations = 0;
  double mean_ms = 0, p50_ms = 0, p90_ms = 0, p99_ms = 0, min_ms = 0;
  double samples_per_second = 0;
};

struct LatencyOptions {
  int warmup = 3;       // untimed runs first (>= 0)
  int iterations = 20;  // timed runs (>= 1)
};

// Times Session::Run on `batch` (the only feedable input). `clock` supplies monotonic time.
absl::StatusOr<LatencyStats> MeasureLatency(exec::Session& session, const tensor::Tensor& batch,
                                            const LatencyOptions& options, Clock* clock);

}  // namespace mp::eval

#endif  // MP_WORKERS_ENGINE_EVAL_EVAL_H_
