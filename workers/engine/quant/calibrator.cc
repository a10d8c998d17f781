#include "workers/engine/quant/calibrator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "common/check.h"
#include "common/str_cat.h"

namespace mp::quant {
namespace {

// The value at `rank` (0 .. total) in ascending order, reading the signed histogram as
// uniform within each bin.
double ValueAtRank(const TensorObserver& o, double rank) {
  const double w = o.bin_width();
  const std::vector<double>& neg = o.negative();
  const std::vector<double>& pos = o.positive();
  double cum = 0;
  for (size_t i = neg.size(); i-- > 0;) {
    if (neg[i] > 0 && cum + neg[i] >= rank) {
      const double f = (rank - cum) / neg[i];
      return -(double(i + 1) - f) * w;
    }
    cum += neg[i];
  }
  cum += double(o.zeros());
  if (cum >= rank) return 0.0;
  for (size_t i = 0; i < pos.size(); ++i) {
    if (pos[i] > 0 && cum + pos[i] >= rank) {
      const double f = (rank - cum) / pos[i];
      return (double(i) + f) * w;
    }
    cum += pos[i];
  }
  return o.max();
}

Range PercentileRange(const TensorObserver& o, double percentile) {
  const double total = o.histogram_count() + double(o.zeros());
  const double q = percentile / 100.0;
  const double hi = ValueAtRank(o, q * total);
  const double lo = ValueAtRank(o, (1.0 - q) * total);
  return {static_cast<float>(std::max<double>(o.min(), lo)),
          static_cast<float>(std::min<double>(o.max(), hi))};
}

// KL(P || Q) for the TensorRT candidate threshold of `i` bins (see the header).
double Divergence(const std::vector<double>& hist, int i, int levels, double outliers) {
  std::vector<double> p(hist.begin(), hist.begin() + i);
  p[static_cast<size_t>(i - 1)] += outliers;
  std::vector<double> q(static_cast<size_t>(i), 0.0);
  int begin = 0;
  for (int k = 0; k < levels; ++k) {
    // Bins j with floor(j * levels / i) == k.
    int end = begin;
    while (end < i && int64_t(end) * levels / i == k) ++end;
    double mass = 0;
    int nonzero = 0;
    for (int j = begin; j < end; ++j) {
      mass += hist[static_cast<size_t>(j)];
      nonzero += hist[static_cast<size_t>(j)] != 0;
    }
    for (int j = begin; j < end; ++j) {
      if (hist[static_cast<size_t>(j)] != 0) q[static_cast<size_t>(j)] = mass / nonzero;
    }
    begin = end;
  }
  double psum = 0, qsum = 0;
  for (int j = 0; j < i; ++j) {
    psum += p[static_cast<size_t>(j)];
    qsum += q[static_cast<size_t>(j)];
  }
  if (psum <= 0 || qsum <= 0) return std::numeric_limits<double>::infinity();
  double kl = 0;
  for (int j = 0; j < i; ++j) {
    const double pj = p[static_cast<size_t>(j)] / psum;
    if (pj <= 0) continue;
    const double qj = q[static_cast<size_t>(j)] / qsum;
    if (qj <= 0) return std::numeric_limits<double>::infinity();
    kl += pj * std::log(pj / qj);
  }
  return kl;
}

// Replaces each spike — a bin holding more than 1% of all values and more than 8x the mean
// of its 8 nearest bins — by that mean. Spikes come from constant values (a ReLU of a conv
// bias over an image's blank background): one level represents them at any threshold, but
// the KL search, which spreads each level's mass over its bins, would keep one bin per
// level to preserve them and clip the real tail (ResNet's stem: 89% of its range, top-1
// -12 points on Fashion-MNIST).
void FlattenSpikes(std::vector<double>& hist) {
  const int bins = static_cast<int>(hist.size());
  double total = 0;
  for (double h : hist) total += h;
  std::vector<double> flat = hist;
  for (int j = 0; j < bins; ++j) {
    double sum = 0;
    int n = 0;
    for (int k = std::max(0, j - 4); k <= std::min(bins - 1, j + 4); ++k) {
      if (k == j) continue;
      sum += hist[size_t(k)];
      ++n;
    }
    const double mean = n > 0 ? sum / n : 0.0;
    if (hist[size_t(j)] > 0.01 * total && hist[size_t(j)] > 8.0 * mean) flat[size_t(j)] = mean;
  }
  hist = std::move(flat);
}

Range EntropyRange(const TensorObserver& o) {
  // Exact zeros are left out: they are representable whatever the threshold, and their
  // spike (ReLU outputs, image backgrounds) would otherwise drag the threshold down.
  std::vector<double> hist = o.AbsHistogram();
  hist[0] -= double(o.zeros());
  const int bins = static_cast<int>(hist.size());
  // TensorRT's 128 levels (7 bits of magnitude) for every tensor and scheme: with 256 for
  // non-negative uint8 tensors, the search clips far too much (MobileNet's stem: 84% of its
  // range; top-1 -3 points on Fashion-MNIST), as each level then holds half as many bins.
  const int levels = std::min(bins, 128);
  FlattenSpikes(hist);
  std::vector<double> suffix(static_cast<size_t>(bins) + 1, 0.0);
  for (int j = bins - 1; j >= 0; --j) {
    suffix[static_cast<size_t>(j)] =
        suffix[static_cast<size_t>(j) + 1] + hist[static_cast<size_t>(j)];
  }
  double best = std::numeric_limits<double>::infinity();
  int best_i = bins;
  for (int i = levels; i <= bins; ++i) {
    const double kl = Divergence(hist, i, levels, suffix[static_cast<size_t>(i)]);
    if (kl <= best) {  // ties: the largest threshold
      best = kl;
      best_i = i;
    }
  }
  const double t = double(best_i) * o.bin_width();
  return {static_cast<float>(std::max<double>(o.min(), -t)),
          static_cast<float>(std::min<double>(o.max(), t))};
}

// Integral of (x - g)^2 over [u, v].
double SquaredErrorIntegral(double u, double v, double g) {
  return ((v - g) * (v - g) * (v - g) - (u - g) * (u - g) * (u - g)) / 3.0;
}

// Integral over [a, b] of the squared error of quantize-dequantize with parameters `p`:
// values beyond the representable range clip to its ends, values inside round to the
// nearest multiple of the scale (ties have measure zero).
double BinError(double a, double b, const QParams& p) {
  const double lo = p.representable_min(), hi = p.representable_max(), s = p.scale;
  double err = 0;
  if (a < lo) err += SquaredErrorIntegral(a, std::min(b, lo), lo);
  if (b > hi) err += SquaredErrorIntegral(std::max(a, hi), b, hi);
  const double u = std::max(a, lo), v = std::min(b, hi);
  for (double k = std::nearbyint(u / s); u < v && k * s - 0.5 * s < v; k += 1.0) {
    const double cu = std::max(u, (k - 0.5) * s), cv = std::min(v, (k + 0.5) * s);
    if (cv > cu) err += SquaredErrorIntegral(cu, cv, k * s);
  }
  return err;
}

// Expected squared quantization error of the histogram under `p`, reading each bin as
// uniform over its width; exact zeros cost nothing (0 is always representable).
double HistogramError(const TensorObserver& o, const QParams& p) {
  const double w = o.bin_width();
  double err = 0;
  for (int side = 0; side < 2; ++side) {
    const std::vector<double>& h = side == 0 ? o.positive() : o.negative();
    for (size_t i = 0; i < h.size(); ++i) {
      if (h[i] == 0) continue;
      const double a = double(i) * w, b = double(i + 1) * w;
      const double e = side == 0 ? BinError(a, b, p) : BinError(-b, -a, p);
      err += e * h[i] / w;
    }
  }
  return err;
}

Range MseRange(const TensorObserver& o, ActivationScheme scheme) {
  Range best{o.min(), o.max()};
  double best_err = std::numeric_limits<double>::infinity();
  for (int step = 200; step >= 10; --step) {
    const double a = step / 200.0;
    const Range r{static_cast<float>(a * o.min()), static_cast<float>(a * o.max())};
    const double err = HistogramError(o, ActivationQParams(r, scheme));
    if (err < best_err) {
      best_err = err;
      best = r;
    }
  }
  return best;
}

}  // namespace

absl::StatusOr<CalibrationMethod> ParseCalibrationMethod(std::string_view name) {
  if (name == "minmax") return CalibrationMethod::kMinMax;
  if (name == "percentile") return CalibrationMethod::kPercentile;
  if (name == "entropy") return CalibrationMethod::kEntropy;
  if (name == "mse") return CalibrationMethod::kMse;
  return absl::InvalidArgumentError(
      StrCat("calibrator '", name, "' is not one of minmax, percentile, entropy, mse"));
}

std::string CalibrationMethodName(CalibrationMethod method) {
  switch (method) {
    case CalibrationMethod::kMinMax:
      return "minmax";
    case CalibrationMethod::kPercentile:
      return "percentile";
    case CalibrationMethod::kEntropy:
      return "entropy";
    case CalibrationMethod::kMse:
      return "mse";
  }
  return "unknown";
}

bool NeedsHistogram(CalibrationMethod method) { return method != CalibrationMethod::kMinMax; }

absl::Status ValidateCalibratorOptions(const CalibratorOptions& options) {
  if (!(options.percentile > 0.0 && options.percentile <= 100.0)) {
    return absl::InvalidArgumentError(
        StrCat("percentile must be in (0, 100], got ", options.percentile));
  }
  return absl::OkStatus();
}

Range ComputeRange(const TensorObserver& o, const CalibratorOptions& options) {
  if (o.count() == 0) return {0.0f, 0.0f};
  if (options.method == CalibrationMethod::kMinMax || o.min() == o.max()) {
    return {o.min(), o.max()};
  }
  MP_CHECK(o.has_histogram()) << "tensor '" << o.name() << "': no histogram";
  switch (options.method) {
    case CalibrationMethod::kPercentile:
      return PercentileRange(o, options.percentile);
    case CalibrationMethod::kEntropy:
      return EntropyRange(o);
    case CalibrationMethod::kMse:
      return MseRange(o, options.scheme);
    case CalibrationMethod::kMinMax:
      break;
  }
  return {o.min(), o.max()};
}

}  // namespace mp::quant
