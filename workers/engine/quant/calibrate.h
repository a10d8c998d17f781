// Calibration: streams a dataset through an fp32 session and observes every float32
// activation (graph inputs and every computed float32 value), then turns the statistics
// into ranges with a calibrator (calibrator.h).
//
// Two passes over the data for histogram methods (observer.h): pass 1 ranges, pass 2
// histograms over the fixed ranges; minmax needs only pass 1. Memory is one observer per
// tensor (2 x `histogram_bins` doubles), whatever the number of samples. Batches are taken in
// dataset order, so the result is deterministic for any thread count.
#ifndef MP_WORKERS_ENGINE_QUANT_CALIBRATE_H_
#define MP_WORKERS_ENGINE_QUANT_CALIBRATE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "workers/engine/data/dataset.h"
#include "workers/engine/exec/session.h"
#include "workers/engine/quant/calibrator.h"
#include "workers/engine/quant/observer.h"

namespace mp::quant {

struct CalibrationOptions {
  CalibratorOptions calibrator;
  int64_t batch_size = 100;  // >= 1
  int histogram_bins = 2048;
  // Called after every batch with the fraction of calibration done (0..1]; a non-OK status
  // (e.g. CANCELLED) stops calibration and is returned.
  std::function<absl::Status(double)> progress;
};

struct CalibrationResult {
  // Observers in the order tensors were first seen (graph input first, then topological).
  std::vector<TensorObserver> observers;
  // Calibrated range of each observed tensor, by value name.
  absl::flat_hash_map<std::string, Range> ranges;
  int64_t samples = 0;
};

// The session must have exactly one feedable input; `dataset` rows are fed as batches of
// that input (Session::Run validates shapes). INVALID_ARGUMENT for an empty dataset or an
// invalid batch size; errors from Run or from observers (NaN / Inf) are returned annotated
// with "calibration".
absl::StatusOr<CalibrationResult> Calibrate(exec::Session& session, const data::Dataset& dataset,
                                            const CalibrationOptions& options);

}  // namespace mp::quant

#endif  // MP_WORKERS_ENGINE_QUANT_CALIBRATE_H_
