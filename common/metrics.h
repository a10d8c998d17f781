// mp::metrics — a small, thread-safe metrics registry with Prometheus text exposition.
//
// A Registry holds metric FAMILIES (one name, one type, fixed label names); a family hands
// out one CHILD per tuple of label values, created on first use and alive (at a stable
// address) as long as the registry:
//
//   metrics::Registry registry;
//   auto* requests = registry.AddCounter("modelpress_http_requests_total",
//                                        "HTTP requests served.", {"route", "code"});
//   requests->WithLabels({"/jobs", "200"})->Increment();
//   auto* latency = registry.AddHistogram("x_seconds", "...", {"method"}, {0.01, 0.1, 1});
//   latency->WithLabels({"Get"})->Observe(0.02);
//   std::string text = registry.Expose();   // text format 0.0.4
//
// Collectors: a function registered with AddCollector() writes metrics computed at scrape
// time (e.g. from a database) through a TextWriter; Expose() runs every collector after the
// families.
//
// Exposition (Prometheus text format 0.0.4, content type kContentType): for each family a
// `# HELP` line (backslash and newline escaped), a `# TYPE` line, then one sample per child
// ordered by label values. Label values escape backslash, double quote and newline.
// Histograms write cumulative `_bucket{le="..."}` samples ending with `le="+Inf"`, then
// `_sum` and `_count`. Numbers are printed in the shortest form that round-trips; infinities
// as +Inf / -Inf, NaN as NaN.
//
// Contracts (broken ones are MP_CHECK failures: they are programming errors, never input):
// metric and label names match [a-zA-Z_][a-zA-Z0-9_]*; WithLabels gets exactly one value per
// label name; histogram bounds strictly increase and are finite. Adding a family whose name
// exists returns the existing family if type, label names (and bounds) agree, else fails.
//
// Thread safety: every method of every class here may be called from any thread.
#ifndef MP_COMMON_METRICS_H_
#define MP_COMMON_METRICS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace mp::metrics {

inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

// (name, value) pairs in the order they are written.
using Labels = std::vector<std::pair<std::string, std::string>>;

// Formatting helpers (exposed for tests and collectors).
std::string FormatValue(double value);
std::string EscapeLabelValue(std::string_view value);
std::string EscapeHelp(std::string_view help);
bool IsValidName(std::string_view name);

// Default latency buckets in seconds (Prometheus client defaults).
const std::vector<double>& DefaultSecondsBuckets();

// Writes exposition text. Header() once per family, then its samples.
class TextWriter {
 public:
  enum class Type { kCounter, kGauge, kHistogram };
  void Header(std::string_view name, std::string_view help, Type type);
  void Sample(std::string_view name, const Labels& labels, double value);
  // A histogram from per-bucket (NOT cumulative) counts: counts.size() == bounds.size() + 1,
  // the last count being the observations above the last bound.
  void Histogram(std::string_view name, const Labels& labels, const std::vector<double>& bounds,
                 const std::vector<uint64_t>& counts, double sum);
  const std::string& text() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

class Counter {
 public:
  // `by` must be >= 0 (a counter only goes up); negative values are ignored.
  void Increment(double by = 1);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double by);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);  // NaN is ignored

  struct Snapshot {
    std::vector<uint64_t> counts;  // per bucket, not cumulative; bounds().size() + 1 entries
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot Snap() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  const std::vector<double> bounds_;
  mutable absl::Mutex mu_;
  std::vector<uint64_t> counts_ ABSL_GUARDED_BY(mu_);
  double sum_ ABSL_GUARDED_BY(mu_) = 0;
};

// Type-erased part of a family, for the registry.
class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, std::vector<std::string> label_names);
  virtual ~FamilyBase() = default;
  const std::string& name() const { return name_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  virtual TextWriter::Type type() const = 0;
  virtual void Write(TextWriter& out) const = 0;

 protected:
  Labels MakeLabels(const std::vector<std::string>& values) const;
  void CheckArity(size_t n) const;

  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
};

template <typename Metric>
class Family final : public FamilyBase {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::function<std::unique_ptr<Metric>()> make)
      : FamilyBase(std::move(name), std::move(help), std::move(label_names)),
        make_(std::move(make)) {}

  // The child for `values` (one per label name, in order). Never null.
  Metric* WithLabels(const std::vector<std::string>& values) {
    CheckArity(values.size());
    absl::MutexLock lock(&mu_);
    std::unique_ptr<Metric>& slot = children_[values];
    if (slot == nullptr) slot = make_();
    return slot.get();
  }
  TextWriter::Type type() const override;
  void Write(TextWriter& out) const override;

 private:
  const std::function<std::unique_ptr<Metric>()> make_;
  mutable absl::Mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>> children_ ABSL_GUARDED_BY(mu_);
};

// Defined in metrics.cc for the three metric types.
template <>
TextWriter::Type Family<Counter>::type() const;
template <>
TextWriter::Type Family<Gauge>::type() const;
template <>
TextWriter::Type Family<Histogram>::type() const;
template <>
void Family<Counter>::Write(TextWriter& out) const;
template <>
void Family<Gauge>::Write(TextWriter& out) const;
template <>
void Family<Histogram>::Write(TextWriter& out) const;

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  CounterFamily* AddCounter(std::string_view name, std::string_view help,
                            std::vector<std::string> label_names = {});
  GaugeFamily* AddGauge(std::string_view name, std::string_view help,
                        std::vector<std::string> label_names = {});
  HistogramFamily* AddHistogram(std::string_view name, std::string_view help,
                                std::vector<std::string> label_names,
                                std::vector<double> bounds = DefaultSecondsBuckets());
  // Runs at every Expose(), after the families; must not call back into this registry's
  // Add*/AddCollector. Collectors cannot be removed: whatever they capture must outlive the
  // registry or the collector must stay safe to call.
  void AddCollector(std::function<void(TextWriter&)> collector);

  // The whole exposition text.
  std::string Expose() const;

 private:
  FamilyBase* Find(std::string_view name) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<FamilyBase>> families_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<double>> histogram_bounds_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<void(TextWriter&)>> collectors_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mp::metrics

#endif  // MP_COMMON_METRICS_H_
