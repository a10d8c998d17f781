#include "server/dashboard/job_summary.h"

#include <array>
#include <cstdio>
#include <map>
#include <optional>
#include <vector>

#include "common/str_cat.h"
#include "server/dashboard/html.h"

namespace mp::dashboard {
namespace {

namespace v1 = ::modelpress::v1;

enum class Unit { kAccuracy, kBytes, kCount, kMs };

struct Figure {
  const char* label;
  Unit unit;
  std::array<const char*, 3> metrics;  // per column; nullptr: not measured for that model
};

struct Layout {
  std::vector<const char*> columns;
  std::vector<Figure> figures;
  std::vector<std::pair<const char*, const char*>> extras;  // label, metric
  // Quantization-aware training (present only when the job ran it): the int8 accuracy with
  // QAT and with plain PTQ of the same model.
  const char* qat_accuracy = nullptr;
  const char* ptq_accuracy = nullptr;
};

const Layout* LayoutFor(v1::JobKind kind) {
  static const Layout kPrune = {
      {"original", "pruned"},
      {{"accuracy", Unit::kAccuracy, {"accuracy_before", "accuracy_after"}},
       {"parameter bytes", Unit::kBytes, {"parameter_bytes_before", "parameter_bytes_after"}},
       {"MACs (batch 1)", Unit::kCount, {"macs_before", "macs_after"}},
       {"latency (batch 1)", Unit::kMs, {"latency_ms_batch1_before", "latency_ms_batch1_after"}}},
      {{"accuracy right after pruning", "pruned_accuracy"},
       {"sparsity", "sparsity"},
       {"model bytes", "model_bytes"}}};
  static const Layout kDistill = {
      {"teacher", "student before", "student after"},
      {{"accuracy",
        Unit::kAccuracy,
        {"teacher_accuracy", "student_accuracy_before", "student_accuracy_after"}},
       {"parameters", Unit::kCount, {"teacher_parameters", nullptr, "student_parameters"}},
       {"model bytes", Unit::kBytes, {"teacher_model_bytes", nullptr, "model_bytes"}},
       {"MACs (batch 1)", Unit::kCount, {"teacher_macs", nullptr, "student_macs"}},
       {"latency (batch 1)",
        Unit::kMs,
        {"teacher_latency_ms_batch1", nullptr, "latency_ms_batch1"}}},
      {{"baseline accuracy (labels only)", "baseline_accuracy"},
       {"gain over the baseline", "distill_gain"},
       {"int8 student model bytes", "int8_model_bytes"},
       {"int8 student latency (batch 1)", "latency_ms_batch1_int8"}},
      "student_accuracy_int8",
      "student_accuracy_int8_ptq"};
  static const Layout kCompose = {
      {"original fp32", "pruned fp32", "int8"},
      {{"accuracy", Unit::kAccuracy, {"accuracy_fp32", "accuracy_pruned", "accuracy_int8"}},
       {"model bytes",
        Unit::kBytes,
        {"model_bytes_fp32", "model_bytes_pruned", "model_bytes_int8"}},
       {"MACs (batch 1)", Unit::kCount, {"macs_fp32", "macs_pruned", nullptr}},
       {"latency (batch 1)",
        Unit::kMs,
        {"latency_ms_batch1_fp32", "latency_ms_batch1_pruned", "latency_ms_batch1_int8"}}},
      {{"sparsity", "sparsity"}},
      "accuracy_int8",
      "accuracy_int8_ptq"};
  switch (kind) {
    case v1::JOB_KIND_PRUNE:
      return &kPrune;
    case v1::JOB_KIND_DISTILL:
      return &kDistill;
    case v1::JOB_KIND_COMPOSE:
      return &kCompose;
    default:
      return nullptr;
  }
}

std::string Format(Unit unit, double v) {
  switch (unit) {
    case Unit::kAccuracy:
      return StrCat(html::FormatNumber(100 * v), "%");
    case Unit::kBytes:
      return html::FormatBytes(static_cast<int64_t>(v));
    case Unit::kMs:
      return StrCat(html::FormatNumber(v), " ms");
    case Unit::kCount:
      return html::FormatNumber(v);
  }
  return html::FormatNumber(v);
}

// First measured column -> last measured column: "+1.25 pt" for accuracy, else "0.42x".
std::string Change(Unit unit, double first, double last) {
  char buf[32];
  if (unit == Unit::kAccuracy) {
    std::snprintf(buf, sizeof(buf), "%+.2f pt", 100 * (last - first));
  } else if (first > 0) {
    std::snprintf(buf, sizeof(buf), "%.3gx", last / first);
  } else {
    return "-";
  }
  return buf;
}

}  // namespace

std::string CompressionSummary(const v1::Job& job) {
  const Layout* layout = LayoutFor(job.spec().kind());
  if (layout == nullptr) return "";
  std::map<std::string, double> metrics;
  for (const v1::Metric& m : job.metrics()) metrics[m.name()] = m.value();
  const auto get = [&](const char* name) -> std::optional<double> {
    if (name == nullptr) return std::nullopt;
    auto it = metrics.find(name);
    if (it == metrics.end()) return std::nullopt;
    return it->second;
  };

  std::string rows;
  for (const Figure& f : layout->figures) {
    std::string cells;
    bool any = false;
    for (size_t c = 0; c < layout->columns.size(); ++c) {
      const std::optional<double> v = get(f.metrics[c]);
      cells += StrCat("<td class=\"num\">", v ? Format(f.unit, *v) : "-", "</td>");
      any = any || v.has_value();
    }
    if (!any) continue;
    const std::optional<double> first = get(f.metrics[0]);
    const std::optional<double> last = get(f.metrics[layout->columns.size() - 1]);
    rows += StrCat("<tr><th>", f.label, "</th>", cells, "<td class=\"num\">",
                   first && last ? Change(f.unit, *first, *last) : "-", "</td></tr>");
  }
  std::string extras;
  for (const auto& [label, name] : layout->extras) {
    const std::optional<double> v = get(name);
    if (!v) continue;
    const bool accuracy = std::string_view(name).find("accuracy") != std::string_view::npos ||
                          std::string_view(name) == "distill_gain";
    const bool bytes = std::string_view(name).ends_with("model_bytes");
    const std::string text =
        std::string_view(name) == "sparsity" ? StrCat(html::FormatNumber(100 * *v), "%")
        : bytes                              ? html::FormatBytes(static_cast<int64_t>(*v))
        : std::string_view(name).starts_with("latency_ms") ? Format(Unit::kMs, *v)
        : accuracy                                         ? Format(Unit::kAccuracy, *v)
                                                           : html::FormatNumber(*v);
    extras += StrCat("<tr><th>", label, "</th><td class=\"num\">", text, "</td></tr>");
  }
  // QAT vs plain PTQ: shown when the job reported the plain-PTQ comparison (it runs QAT).
  std::string qat;
  const std::optional<double> ptq_accuracy = get(layout->ptq_accuracy);
  if (ptq_accuracy) {
    const std::optional<double> qat_accuracy = get(layout->qat_accuracy);
    qat = StrCat("<table><tr><th></th><th>plain PTQ</th><th>QAT</th><th>change</th></tr>",
                 "<tr><th>int8 accuracy</th><td class=\"num\">",
                 Format(Unit::kAccuracy, *ptq_accuracy), "</td><td class=\"num\">",
                 qat_accuracy ? Format(Unit::kAccuracy, *qat_accuracy) : "-",
                 "</td><td class=\"num\">",
                 qat_accuracy ? Change(Unit::kAccuracy, *ptq_accuracy, *qat_accuracy) : "-",
                 "</td></tr></table>");
  }
  if (rows.empty() && extras.empty() && qat.empty()) return "";
  std::string out = "<h2>Summary</h2>";
  if (!rows.empty()) {
    out += "<table><tr><th></th>";
    for (const char* column : layout->columns) out += StrCat("<th>", column, "</th>");
    out += StrCat("<th>change</th></tr>", rows, "</table>");
  }
  if (!extras.empty()) out += StrCat("<table>", extras, "</table>");
  if (!qat.empty()) out += StrCat("<h3>Quantization-aware training</h3>", qat);
  return out;
}

}  // namespace mp::dashboard
