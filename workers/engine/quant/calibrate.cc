#include "workers/engine/quant/calibrate.h"

#include <utility>

#include "common/status.h"
#include "common/str_cat.h"

namespace mp::quant {
namespace {

using tensor::DType;
using tensor::Tensor;

// Name -> observer, in first-seen order.
class ObserverSet {
 public:
  TensorObserver& Get(std::string_view name) {
    auto [it, inserted] = index_.try_emplace(std::string(name), observers_.size());
    if (inserted) observers_.emplace_back(std::string(name));
    return observers_[it->second];
  }
  TensorObserver* Find(std::string_view name) {
    auto it = index_.find(std::string(name));
    return it == index_.end() ? nullptr : &observers_[it->second];
  }
  std::vector<TensorObserver>& observers() { return observers_; }

 private:
  absl::flat_hash_map<std::string, size_t> index_;
  std::vector<TensorObserver> observers_;
};

// Runs every batch; `observe` is called with the input batch and every float32 value.
absl::Status RunPass(exec::Session& session, const data::Dataset& dataset, int64_t batch_size,
                     const std::function<absl::Status(std::string_view, const Tensor&)>& observe,
                     const std::function<absl::Status(double)>& progress, double base,
                     double span) {
  const std::string& input = session.inputs()[0].name;
  exec::RunOptions run_options;
  run_options.observer = [&](std::string_view name, const Tensor& t) -> absl::Status {
    if (t.dtype() != DType::kFloat32) return absl::OkStatus();
    return observe(name, t);
  };
  const int64_t n = dataset.size();
  for (int64_t begin = 0; begin < n; begin += batch_size) {
    const int64_t end = std::min(n, begin + batch_size);
    data::Batch batch = dataset.Slice(begin, end);
    if (batch.inputs.dtype() == DType::kFloat32) RETURN_IF_ERROR(observe(input, batch.inputs));
    auto outputs = session.Run({{input, batch.inputs}}, run_options);
    if (!outputs.ok()) {
      return Annotate(outputs.status(), StrCat("samples ", begin, "..", end - 1));
    }
    if (progress) RETURN_IF_ERROR(progress(base + span * double(end) / double(n)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CalibrationResult> Calibrate(exec::Session& session, const data::Dataset& dataset,
                                            const CalibrationOptions& options) {
  if (session.inputs().size() != 1) {
    return absl::InvalidArgumentError(StrCat("calibration: the model has ", session.inputs().size(),
                                             " feedable inputs; PTQ supports exactly one"));
  }
  if (dataset.size() == 0) {
    return absl::InvalidArgumentError("calibration: the calibration data has no samples");
  }
  if (options.batch_size < 1 || options.histogram_bins < 1) {
    return absl::InvalidArgumentError("calibration: batch size and histogram bins must be >= 1");
  }
  RETURN_IF_ERROR(ValidateCalibratorOptions(options.calibrator));
  const bool histogram = NeedsHistogram(options.calibrator.method);
  ObserverSet set;
  const double first_span = histogram ? 0.5 : 1.0;
  absl::Status status = RunPass(
      session, dataset, options.batch_size,
      [&](std::string_view name, const Tensor& t) {
        return set.Get(name).ObserveRange(t.span<float>());
      },
      options.progress, 0.0, first_span);
  if (!status.ok()) return Annotate(status, "calibration");
  if (histogram) {
    for (TensorObserver& o : set.observers()) o.StartHistogram(options.histogram_bins);
    status = RunPass(
        session, dataset, options.batch_size,
        [&](std::string_view name, const Tensor& t) {
          TensorObserver* o = set.Find(name);
          if (o != nullptr && o->has_histogram()) o->ObserveHistogram(t.span<float>());
          return absl::OkStatus();
        },
        options.progress, 0.5, 0.5);
    if (!status.ok()) return Annotate(status, "calibration (histograms)");
  }
  CalibrationResult result;
  result.samples = dataset.size();
  result.observers = std::move(set.observers());
  for (const TensorObserver& o : result.observers) {
    result.ranges[o.name()] = ComputeRange(o, options.calibrator);
  }
  return result;
}

}  // namespace mp::quant
