#include "workers/engine/quant/observer.h"

#include <algorithm>
#include <cmath>

#include "common/check.h"
#include "common/str_cat.h"

namespace mp::quant {

absl::Status TensorObserver::ObserveRange(std::span<const float> values) {
  float lo = min_, hi = max_;
  int64_t zeros = 0;
  bool finite = true;
  for (float v : values) {
    finite &= std::isfinite(v);
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    zeros += v == 0.0f;
  }
  if (!finite) {
    return absl::InvalidArgumentError(StrCat("tensor '", name_,
                                             "': NaN or Inf in calibration (after ", count_,
                                             " values); check the calibration data and the model"));
  }
  min_ = lo;
  max_ = hi;
  zeros_ += zeros;
  count_ += static_cast<int64_t>(values.size());
  return absl::OkStatus();
}

void TensorObserver::StartHistogram(int bins) {
  MP_CHECK_GE(bins, 1);
  const double extent =
      count_ == 0 ? 0.0 : std::max(std::fabs(double(min_)), std::fabs(double(max_)));
  bin_width_ = extent > 0 ? extent / bins : 1.0;
  positive_.assign(static_cast<size_t>(bins), 0.0);
  negative_.assign(static_cast<size_t>(bins), 0.0);
  histogram_count_ = 0;
}

void TensorObserver::ObserveHistogram(std::span<const float> values) {
  MP_CHECK(has_histogram());
  const double inv = 1.0 / bin_width_;
  const int64_t last = bins() - 1;
  for (float v : values) {
    if (v == 0.0f) continue;
    const double a = std::fabs(double(v));
    const int64_t i = std::min<int64_t>(last, static_cast<int64_t>(a * inv));
    (v > 0 ? positive_ : negative_)[static_cast<size_t>(i)] += 1.0;
    histogram_count_ += 1.0;
  }
}

void TensorObserver::Merge(const TensorObserver& other) {
  MP_CHECK_EQ(bins(), other.bins());
  MP_CHECK(bin_width_ == other.bin_width_);
  for (size_t i = 0; i < positive_.size(); ++i) {
    positive_[i] += other.positive_[i];
    negative_[i] += other.negative_[i];
  }
  histogram_count_ += other.histogram_count_;
  count_ += other.count_;
  zeros_ += other.zeros_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

std::vector<double> TensorObserver::AbsHistogram() const {
  std::vector<double> abs(positive_.size());
  for (size_t i = 0; i < abs.size(); ++i) abs[i] = positive_[i] + negative_[i];
  if (!abs.empty()) abs[0] += static_cast<double>(zeros_);
  return abs;
}

}  // namespace mp::quant
