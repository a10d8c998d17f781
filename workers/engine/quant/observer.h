// TensorObserver: streaming statistics of one float32 tensor over a calibration set, with
// memory bounded by the histogram size, never by the number of samples.
//
// Calibration runs the data twice (calibrate.h):
//   pass 1  ObserveRange(values) per batch: count, min, max, exact zeros. Any NaN or Inf is
//           an error naming the tensor (a model that produces them cannot be calibrated).
//   pass 2  after StartHistogram(bins), ObserveHistogram(values) per batch fills two
//           histograms that share one bin width w = A / bins, A = max(|min|, |max|):
//             positive[i] counts x > 0 with x in [i*w, (i+1)*w)      (x == A in the last bin)
//             negative[i] counts x < 0 with -x in [i*w, (i+1)*w)
//           Exact zeros are counted apart (zeros()): ReLU outputs are often half zeros, and
//           zero is always exactly representable, so the calibrators treat them separately.
//           Histograms of two observers with the same range and bins merge by addition
//           (Merge), so batches or shards can be observed independently.
// The histogram of |x| is positive + negative (bin for bin) plus zeros in bin 0.
#ifndef MP_WORKERS_ENGINE_QUANT_OBSERVER_H_
#define MP_WORKERS_ENGINE_QUANT_OBSERVER_H_

#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace mp::quant {

class TensorObserver {
 public:
  explicit TensorObserver(std::string name) : name_(std::move(name)) {}

  const std::string& name() const { return name_; }

  // Pass 1. INVALID_ARGUMENT "tensor 'x': NaN or Inf in calibration" on non-finite values.
  absl::Status ObserveRange(std::span<const float> values);
  // Ends pass 1; `bins` >= 1. The histogram range is fixed from the observed min/max.
  void StartHistogram(int bins);
  // Pass 2 (values outside the pass-1 range, which cannot happen for the same data, are
  // clamped into the end bins).
  void ObserveHistogram(std::span<const float> values);
  // Adds another observer's statistics: counts, zeros, min/max and histograms (which must
  // have the same bins and bin width; MP_CHECKed).
  void Merge(const TensorObserver& other);

  int64_t count() const { return count_; }
  int64_t zeros() const { return zeros_; }
  // +inf / -inf before any value is observed.
  float min() const { return min_; }
  float max() const { return max_; }
  bool has_histogram() const { return !positive_.empty(); }
  int bins() const { return static_cast<int>(positive_.size()); }
  double bin_width() const { return bin_width_; }
  // Counts per bin (see the file comment); empty before StartHistogram.
  const std::vector<double>& positive() const { return positive_; }
  const std::vector<double>& negative() const { return negative_; }
  // Histogram of |x|: positive + negative, plus zeros() in bin 0.
  std::vector<double> AbsHistogram() const;
  // Values counted by ObserveHistogram (excluding exact zeros).
  double histogram_count() const { return histogram_count_; }

 private:
  std::string name_;
  int64_t count_ = 0;
  int64_t zeros_ = 0;
  float min_ = std::numeric_limits<float>::infinity();
  float max_ = -std::numeric_limits<float>::infinity();
  double bin_width_ = 0;
  std::vector<double> positive_;
  std::vector<double> negative_;
  double histogram_count_ = 0;
};

}  // namespace mp::quant

#endif  // MP_WORKERS_ENGINE_QUANT_OBSERVER_H_
