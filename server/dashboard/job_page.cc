// GET /jobs/<id>: everything about one job, the key figures of a prune / distill / compose
// job (job_summary.h), and the per-layer table of a PTQ report.
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "common/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"
#include "server/dashboard/html.h"
#include "server/dashboard/job_summary.h"
#include "server/dashboard/routes.h"

namespace mp::dashboard {
namespace {

constexpr int kEventPage = 1000;
constexpr int64_t kMaxEventsScanned = 100'000;

bool IsTerminal(v1::JobState s) {
  return s == v1::JOB_STATE_SUCCEEDED || s == v1::JOB_STATE_FAILED ||
         s == v1::JOB_STATE_CANCELLED || s == v1::JOB_STATE_DEAD;
}

std::string Row(std::string_view key, std::string_view value_html) {
  return StrCat("<tr><th>", key, "</th><td>", value_html, "</td></tr>");
}

// A JSON value as table-cell HTML: numbers formatted, booleans yes/no, strings escaped.
std::string Cell(const nlohmann::json& v) {
  if (v.is_null()) return "-";
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_number()) return html::FormatNumber(v.get<double>());
  if (v.is_string()) return html::Escape(v.get<std::string>());
  return html::Escape(v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

// The first of `keys` present in `object`, or null.
nlohmann::json Field(const nlohmann::json& object, std::initializer_list<const char*> keys) {
  for (const char* key : keys) {
    auto it = object.find(key);
    if (it != object.end()) return *it;
  }
  return nullptr;
}

// The per-layer table of a PTQ report: {"layers": [{"name", "sqnr_db", "sensitivity",
// "fallback", ...}], "notes": ["..."]}. Key spellings are accepted loosely (see Field calls)
// so small format changes degrade to "-" cells rather than a missing table.
std::string ReportSection(const nlohmann::json& report) {
  std::string out = "<h2>Per-layer report</h2>";
  const nlohmann::json layers = report.is_object() ? Field(report, {"layers"}) : nullptr;
  if (!layers.is_array()) return out + "<p>The report has no \"layers\" array.</p>";
  out +=
      "<table><tr><th>layer</th><th>op</th><th>SQNR (dB)</th><th>sensitivity</th>"
      "<th>fallback to fp32</th></tr>";
  for (const nlohmann::json& layer : layers) {
    if (!layer.is_object()) continue;
    nlohmann::json fallback = Field(layer, {"fallback", "kept_fp32", "fp32"});
    if (fallback.is_null()) {
      const nlohmann::json quantized = Field(layer, {"quantized"});
      if (quantized.is_boolean()) fallback = !quantized.get<bool>();
    }
    out += StrCat("<tr><td>", Cell(Field(layer, {"name", "layer", "node"})), "</td><td>",
                  Cell(Field(layer, {"op", "op_type"})), "</td><td class=\"num\">",
                  Cell(Field(layer, {"sqnr_db", "sqnr"})), "</td><td class=\"num\">",
                  Cell(Field(layer, {"sensitivity", "sensitivity_drop", "accuracy_drop"})),
                  "</td><td>", Cell(fallback), "</td></tr>");
  }
  out += "</table>";
  const nlohmann::json notes = Field(report, {"notes"});
  if (notes.is_array() && !notes.empty()) {
    out += "<ul>";
    for (const nlohmann::json& note : notes) out += StrCat("<li>", Cell(note), "</li>");
    out += "</ul>";
  }
  return out;
}

// The job's latest `keep` events (scanning at most kMaxEventsScanned), and whether older
// ones were left out.
absl::StatusOr<std::deque<v1::JobEvent>> LatestEvents(const RouteContext& ctx,
                                                      std::string_view job_id, size_t keep,
                                                      bool* truncated) {
  std::deque<v1::JobEvent> events;
  *truncated = false;
  int64_t after = 0;
  for (int64_t scanned = 0; scanned < kMaxEventsScanned;) {
    absl::StatusOr<std::vector<v1::JobEvent>> page =
        ctx.data.ListEvents(ctx.tenant, job_id, after, kEventPage);
    if (!page.ok()) return page.status();
    for (v1::JobEvent& e : *page) {
      after = e.sequence();
      events.push_back(std::move(e));
      if (events.size() > keep) {
        events.pop_front();
        *truncated = true;
      }
    }
    scanned += static_cast<int64_t>(page->size());
    if (page->size() < static_cast<size_t>(kEventPage)) break;
  }
  return events;
}

std::string MetricsList(const google::protobuf::RepeatedPtrField<v1::Metric>& metrics) {
  std::string out;
  for (const v1::Metric& m : metrics) {
    out +=
        StrCat(out.empty() ? "" : ", ", html::Escape(m.name()), "=", html::FormatNumber(m.value()));
  }
  return out;
}

}  // namespace

HttpResponse JobPage(const RouteContext& ctx, std::string_view job_id) {
  absl::StatusOr<v1::Job> got = ctx.data.GetJob(ctx.tenant, job_id);
  if (!got.ok()) return HtmlError(got.status());
  const v1::Job& job = *got;
  bool truncated = false;
  absl::StatusOr<std::deque<v1::JobEvent>> events =
      LatestEvents(ctx, job_id, static_cast<size_t>(ctx.options.max_events_shown), &truncated);
  if (!events.ok()) return HtmlError(events.status());

  std::string body = "<table>";
  body += Row("kind", html::KindName(job.spec().kind()));
  body += Row("state", html::StateBadge(job.state()));
  body += Row("progress", html::ProgressBar(job.progress()));
  body += Row("step", html::Escape(job.step()));
  if (job.state() == v1::JOB_STATE_RUNNING && job.eta_seconds() >= 0) {
    body += Row("ETA", html::FormatDuration(job.eta_seconds()));
  }
  body += Row("model", StrCat("<a href=\"/models/", html::Escape(UrlEncode(job.spec().model_id())),
                              "\">", html::Escape(job.spec().model_id()), "</a>"));
  body += Row("priority", std::to_string(job.priority()));
  body += Row("attempts", StrCat(job.attempts(), " of ", job.max_attempts()));
  body += Row("created", html::FormatTime(job.created_unix_ms()));
  body += Row("started", html::FormatTime(job.started_unix_ms()));
  body += Row("finished", html::FormatTime(job.finished_unix_ms()));
  if (job.started_unix_ms() > 0 && job.finished_unix_ms() >= job.started_unix_ms()) {
    body += Row("duration",
                html::FormatDuration(
                    static_cast<double>(job.finished_unix_ms() - job.started_unix_ms()) / 1000));
  }
  body += Row("worker", html::Escape(job.worker_id()));
  body += Row("engine", html::Escape(job.engine_version()));
  if (!job.error().empty()) {
    body += Row("error", StrCat("<span class=\"error\">", html::Escape(job.error()), "</span>"));
  }
  body += "</table>";

  google::protobuf::util::JsonPrintOptions print;
  print.add_whitespace = true;
  print.preserve_proto_field_names = true;
  std::string spec_json;
  (void)google::protobuf::util::MessageToJsonString(job.spec(), &spec_json, print);
  body += StrCat("<h2>Spec</h2><pre>", html::Escape(spec_json), "</pre>");
  if (!job.inputs().empty()) {
    body += "<h2>Inputs</h2><table><tr><th>role</th><th>sha256</th><th>size</th></tr>";
    std::map<std::string, v1::BlobRef> inputs(job.inputs().begin(), job.inputs().end());
    for (const auto& [role, blob] : inputs) {
      body += StrCat("<tr><td>", html::Escape(role), "</td><td><code>", html::Escape(blob.sha256()),
                     "</code></td><td class=\"num\">", html::FormatBytes(blob.size_bytes()),
                     "</td></tr>");
    }
    body += "</table>";
  }

  body += CompressionSummary(job);
  body += "<h2>Metrics</h2>";
  if (job.metrics().empty()) body += "<p>None yet.</p>";
  if (!job.metrics().empty()) {
    body += "<table><tr><th>metric</th><th>value</th></tr>";
    for (const v1::Metric& m : job.metrics()) {
      body += StrCat("<tr><td>", html::Escape(m.name()), "</td><td class=\"num\">",
                     html::FormatNumber(m.value()), "</td></tr>");
    }
    body += "</table>";
  }

  body += "<h2>Artifacts</h2>";
  if (job.artifacts().empty()) body += "<p>None yet.</p>";
  if (!job.artifacts().empty()) {
    body += "<table><tr><th>name</th><th>sha256</th><th>size</th></tr>";
    for (const v1::Artifact& a : job.artifacts()) {
      body += StrCat("<tr><td>", html::Escape(a.name()), "</td><td><code>",
                     html::Escape(a.blob().sha256()), "</code></td><td class=\"num\">",
                     html::FormatBytes(a.blob().size_bytes()), "</td></tr>");
    }
    body += "</table>";
  }
  if (job.spec().kind() == v1::JOB_KIND_PTQ) {
    for (const v1::Artifact& a : job.artifacts()) {
      if (a.name() != "report") continue;
      absl::StatusOr<std::string> bytes =
          ctx.data.ReadBlob(a.blob().sha256(), ctx.options.max_report_bytes);
      if (!bytes.ok()) {
        body += StrCat("<h2>Per-layer report</h2><p class=\"error\">cannot read the report: ",
                       html::Escape(std::string(bytes.status().message())), "</p>");
        break;
      }
      const nlohmann::json report = nlohmann::json::parse(*bytes, nullptr, false);
      body += report.is_discarded()
                  ? "<h2>Per-layer report</h2><p>The report artifact is not JSON.</p>"
                  : ReportSection(report);
      break;
    }
  }

  body += "<h2>Events</h2>";
  if (truncated) {
    body += StrCat("<p>Showing the latest ", events->size(), " events.</p>");
  }
  body +=
      "<table><tr><th>#</th><th>time</th><th>state</th><th>progress</th><th>step</th>"
      "<th>ETA</th><th>metrics</th><th>log</th></tr>";
  for (const v1::JobEvent& e : *events) {
    body += StrCat(
        "<tr><td class=\"num\">", e.sequence(), "</td><td>", html::FormatTime(e.unix_ms()),
        "</td><td>", html::StateBadge(e.state()), "</td><td>", html::ProgressBar(e.progress()),
        "</td><td>", html::Escape(e.step()), "</td><td>",
        e.eta_seconds() >= 0 ? html::FormatDuration(e.eta_seconds()) : "-", "</td><td>",
        MetricsList(e.metrics()), "</td><td class=\"log\">", html::Escape(e.log()), "</td></tr>");
  }
  body += "</table>";
  const int refresh = IsTerminal(job.state()) ? 0 : ctx.options.refresh_seconds;
  return HtmlResponse(200, html::Page(StrCat("Job ", job.id()), body, refresh));
}

}  // namespace mp::dashboard
