// Calibrators: the clipping range [min, max] of one activation tensor, chosen from its
// TensorObserver statistics (observer.h).
//
//   minmax      [observed min, observed max].
//   percentile  the (100 - p)-th and p-th percentiles of the values (p = 99.99 by default),
//               read from the signed histogram, each linearly interpolated inside its bin;
//               a side with no values keeps the observed extreme (e.g. 0 for ReLU outputs).
//   entropy     TensorRT's KL-divergence calibration on the histogram of |x|, with exact
//               zeros left out and spikes (a bin with > 1% of the values and > 8x its
//               neighbours' mean, e.g. a ReLU of a constant background) flattened to their
//               neighbours' mean: one level represents such values at any threshold, but
//               they would drag the KL search to tiny thresholds. Then, for every
//               candidate threshold bin i (from `levels` to bins), P = hist[0..i) with the
//               mass beyond folded into bin i-1, Q = P quantized to `levels` levels (each
//               level's mass spread evenly over its non-empty bins); the threshold with the
//               smallest KL(P || Q) wins (the largest on ties). levels = 128 (TensorRT's 7
//               bits of magnitude) whatever the scheme: 256 for uint8 ReLU outputs clips far
//               too much. Range = [max(min, -T), min(max, T)].
//   mse         the range [a * min, a * max], a in {1, 0.995, ..., 0.05} (shrinking towards 0),
//               whose quantization (with the tensor's actual scheme) has the least expected
//               squared error over the histogram, each bin read as uniform over its width and
//               its error integrated exactly (clipping beyond the representable range,
//               rounding inside it); exact zeros cost nothing.
// Histogram calibrators need the observer's histogram (pass 2); minmax does not.
#ifndef MP_WORKERS_ENGINE_QUANT_CALIBRATOR_H_
#define MP_WORKERS_ENGINE_QUANT_CALIBRATOR_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "workers/engine/quant/observer.h"
#include "workers/engine/quant/qparams.h"

namespace mp::quant {

enum class CalibrationMethod { kMinMax, kPercentile, kEntropy, kMse };

// "minmax", "percentile", "entropy", "mse"; INVALID_ARGUMENT otherwise.
absl::StatusOr<CalibrationMethod> ParseCalibrationMethod(std::string_view name);
std::string CalibrationMethodName(CalibrationMethod method);
// True for the methods that need a histogram (pass 2).
bool NeedsHistogram(CalibrationMethod method);

struct CalibratorOptions {
  CalibrationMethod method = CalibrationMethod::kMinMax;
  double percentile = 99.99;  // (0, 100]
  ActivationScheme scheme = ActivationScheme::kUint8Asymmetric;
};

// INVALID_ARGUMENT when the percentile is outside (0, 100].
absl::Status ValidateCalibratorOptions(const CalibratorOptions& options);

// The range for `observer` (which has seen at least one value; an empty observer gives
// [0, 0]). Histogram methods MP_CHECK that the histogram exists.
Range ComputeRange(const TensorObserver& observer, const CalibratorOptions& options);

}  // namespace mp::quant

#endif  // MP_WORKERS_ENGINE_QUANT_CALIBRATOR_H_
