#include "common/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "common/check.h"

namespace mp::metrics {

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[64];
  // Shortest representation that round-trips (e.g. 0.1 -> "0.1", 3 -> "3").
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  MP_CHECK(ec == std::errc());
  return std::string(buf, end);
}

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

bool IsValidName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

const std::vector<double>& DefaultSecondsBuckets() {
  static const std::vector<double>* const kBuckets =
      new std::vector<double>{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return *kBuckets;
}

// ---------------------------------------------------------------- TextWriter

void TextWriter::Header(std::string_view name, std::string_view help, Type type) {
  const char* type_name = type == Type::kCounter ? "counter"
                          : type == Type::kGauge ? "gauge"
                                                 : "histogram";
  out_.append("# HELP ").append(name).append(" ").append(EscapeHelp(help)).append("\n");
  out_.append("# TYPE ").append(name).append(" ").append(type_name).append("\n");
}

void TextWriter::Sample(std::string_view name, const Labels& labels, double value) {
  out_.append(name);
  if (!labels.empty()) {
    out_ += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) out_ += ',';
      out_.append(labels[i].first).append("=\"");
      out_.append(EscapeLabelValue(labels[i].second)).append("\"");
    }
    out_ += '}';
  }
  out_.append(" ").append(FormatValue(value)).append("\n");
}

void TextWriter::Histogram(std::string_view name, const Labels& labels,
                           const std::vector<double>& bounds, const std::vector<uint64_t>& counts,
                           double sum) {
  MP_CHECK_EQ(counts.size(), bounds.size() + 1);
  const std::string bucket = std::string(name) + "_bucket";
  Labels with_le = labels;
  with_le.emplace_back("le", "");
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds.size(); ++i) {
    cumulative += counts[i];
    with_le.back().second = i < bounds.size() ? FormatValue(bounds[i]) : "+Inf";
    Sample(bucket, with_le, static_cast<double>(cumulative));
  }
  Sample(std::string(name) + "_sum", labels, sum);
  Sample(std::string(name) + "_count", labels, static_cast<double>(cumulative));
}

// ---------------------------------------------------------------- metrics

void Counter::Increment(double by) {
  if (!(by >= 0)) return;
  value_.fetch_add(by, std::memory_order_relaxed);
}

void Gauge::Add(double by) { value_.fetch_add(by, std::memory_order_relaxed); }

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::Observe(double value) {
  if (std::isnan(value)) return;
  // Bucket i holds values in (bounds[i-1], bounds[i]]: `le` is inclusive.
  const size_t i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) -
                                       bounds_.begin());
  absl::MutexLock lock(&mu_);
  ++counts_[i];
  sum_ += value;
}

Histogram::Snapshot Histogram::Snap() const {
  absl::MutexLock lock(&mu_);
  Snapshot s;
  s.counts = counts_;
  s.sum = sum_;
  for (uint64_t c : counts_) s.count += c;
  return s;
}

// ---------------------------------------------------------------- families

FamilyBase::FamilyBase(std::string name, std::string help, std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {
  MP_CHECK(IsValidName(name_)) << "metric name '" << name_ << "'";
  for (const std::string& label : label_names_) {
    MP_CHECK(IsValidName(label) && label != "le") << "label name '" << label << "'";
  }
}

void FamilyBase::CheckArity(size_t n) const {
  MP_CHECK_EQ(n, label_names_.size()) << "label values for metric '" << name_ << "'";
}

Labels FamilyBase::MakeLabels(const std::vector<std::string>& values) const {
  Labels labels;
  labels.reserve(values.size());
  for (size_t i = 0; i < values.size(); ++i) labels.emplace_back(label_names_[i], values[i]);
  return labels;
}

template <>
TextWriter::Type Family<Counter>::type() const {
  return TextWriter::Type::kCounter;
}
template <>
TextWriter::Type Family<Gauge>::type() const {
  return TextWriter::Type::kGauge;
}
template <>
TextWriter::Type Family<Histogram>::type() const {
  return TextWriter::Type::kHistogram;
}

template <>
void Family<Counter>::Write(TextWriter& out) const {
  out.Header(name_, help_, type());
  absl::MutexLock lock(&mu_);
  for (const auto& [values, child] : children_) {
    out.Sample(name_, MakeLabels(values), child->Value());
  }
}
template <>
void Family<Gauge>::Write(TextWriter& out) const {
  out.Header(name_, help_, type());
  absl::MutexLock lock(&mu_);
  for (const auto& [values, child] : children_) {
    out.Sample(name_, MakeLabels(values), child->Value());
  }
}
template <>
void Family<Histogram>::Write(TextWriter& out) const {
  out.Header(name_, help_, type());
  absl::MutexLock lock(&mu_);
  for (const auto& [values, child] : children_) {
    const Histogram::Snapshot snap = child->Snap();
    out.Histogram(name_, MakeLabels(values), child->bounds(), snap.counts, snap.sum);
  }
}

// ---------------------------------------------------------------- registry

FamilyBase* Registry::Find(std::string_view name) const {
  for (const auto& family : families_) {
    if (family->name() == name) return family.get();
  }
  return nullptr;
}

namespace {

template <typename Metric>
Family<Metric>* Existing(FamilyBase* found, const std::vector<std::string>& label_names) {
  auto* family = dynamic_cast<Family<Metric>*>(found);
  MP_CHECK(family != nullptr) << "metric '" << found->name() << "' re-added with another type";
  MP_CHECK(family->label_names() == label_names)
      << "metric '" << found->name() << "' re-added with other label names";
  return family;
}

}  // namespace

CounterFamily* Registry::AddCounter(std::string_view name, std::string_view help,
                                    std::vector<std::string> label_names) {
  absl::MutexLock lock(&mu_);
  if (FamilyBase* found = Find(name)) return Existing<Counter>(found, label_names);
  auto family =
      std::make_unique<CounterFamily>(std::string(name), std::string(help), std::move(label_names),
                                      [] { return std::make_unique<Counter>(); });
  CounterFamily* raw = family.get();
  families_.push_back(std::move(family));
  return raw;
}

GaugeFamily* Registry::AddGauge(std::string_view name, std::string_view help,
                                std::vector<std::string> label_names) {
  absl::MutexLock lock(&mu_);
  if (FamilyBase* found = Find(name)) return Existing<Gauge>(found, label_names);
  auto family =
      std::make_unique<GaugeFamily>(std::string(name), std::string(help), std::move(label_names),
                                    [] { return std::make_unique<Gauge>(); });
  GaugeFamily* raw = family.get();
  families_.push_back(std::move(family));
  return raw;
}

HistogramFamily* Registry::AddHistogram(std::string_view name, std::string_view help,
                                        std::vector<std::string> label_names,
                                        std::vector<double> bounds) {
  for (size_t i = 0; i < bounds.size(); ++i) {
    MP_CHECK(std::isfinite(bounds[i])) << "histogram '" << name << "' bound " << bounds[i];
    if (i > 0) MP_CHECK_LT(bounds[i - 1], bounds[i]) << "histogram '" << name << "' bounds";
  }
  absl::MutexLock lock(&mu_);
  if (FamilyBase* found = Find(name)) {
    HistogramFamily* family = Existing<Histogram>(found, label_names);
    MP_CHECK(histogram_bounds_[std::string(name)] == bounds)
        << "histogram '" << name << "' re-added with other bounds";
    return family;
  }
  histogram_bounds_[std::string(name)] = bounds;
  auto family = std::make_unique<HistogramFamily>(
      std::string(name), std::string(help), std::move(label_names),
      [bounds = std::move(bounds)] { return std::make_unique<Histogram>(bounds); });
  HistogramFamily* raw = family.get();
  families_.push_back(std::move(family));
  return raw;
}

void Registry::AddCollector(std::function<void(TextWriter&)> collector) {
  absl::MutexLock lock(&mu_);
  collectors_.push_back(std::move(collector));
}

std::string Registry::Expose() const {
  std::vector<const FamilyBase*> families;
  std::vector<std::function<void(TextWriter&)>> collectors;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& family : families_) families.push_back(family.get());
    collectors = collectors_;
  }
  // Families are never removed, so the pointers stay valid outside the lock; collectors run
  // unlocked so a slow one (a database query) does not block registration.
  TextWriter out;
  for (const FamilyBase* family : families) family->Write(out);
  for (const auto& collector : collectors) collector(out);
  return out.Take();
}

}  // namespace mp::metrics
