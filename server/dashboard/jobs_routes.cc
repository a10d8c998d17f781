// The job list (HTML and JSON) and the single-job JSON route.
#include <string>
#include <vector>

#include "common/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"
#include "server/dashboard/html.h"
#include "server/dashboard/routes.h"

namespace mp::dashboard {
namespace {

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;

// Proto3 JSON of `message` with the .proto field names and every field present.
nlohmann::json ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string text;
  const auto status = google::protobuf::util::MessageToJsonString(message, &text, options);
  // Printing a well-formed message cannot fail except on invalid UTF-8 in a string field.
  if (!status.ok()) return nlohmann::json{{"print_error", std::string(status.message())}};
  return nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
}

std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The link to a page of the job list with the current filters and `page_token`.
std::string ListLink(const Target& target, std::string_view page_token) {
  std::string query;
  for (const auto& [key, value] : target.query) {
    if (key == "page_token") continue;
    query += StrCat(query.empty() ? "?" : "&", UrlEncode(key), "=", UrlEncode(value));
  }
  if (!page_token.empty()) {
    query += StrCat(query.empty() ? "?" : "&", "page_token=", UrlEncode(page_token));
  }
  return StrCat("/", query);
}

std::string KeyMetrics(const v1::Job& job) {
  std::string out;
  int shown = 0;
  for (const v1::Metric& m : job.metrics()) {
    if (shown++ == 3) {
      out += " &hellip;";
      break;
    }
    if (!out.empty()) out += "<br>";
    out += StrCat(html::Escape(m.name()), "=", html::FormatNumber(m.value()));
  }
  return out;
}

std::string Duration(const v1::Job& job) {
  if (job.started_unix_ms() <= 0 || job.finished_unix_ms() < job.started_unix_ms()) return "-";
  return html::FormatDuration(static_cast<double>(job.finished_unix_ms() - job.started_unix_ms()) /
                              1000);
}

std::string FilterForm(const store::JobFilter& filter, int page_size) {
  std::string states;
  for (const v1::JobState s : filter.states) {
    states += StrCat(states.empty() ? "" : ",", html::StateName(s));
  }
  std::string kinds = "<option value=\"\">any</option>";
  for (int k = v1::JobKind_MIN + 1; k <= v1::JobKind_MAX; ++k) {
    if (!v1::JobKind_IsValid(k)) continue;
    const std::string name = html::KindName(static_cast<v1::JobKind>(k));
    kinds += StrCat("<option", k == filter.kind ? " selected" : "", ">", name, "</option>");
  }
  return StrCat("<form class=\"filters\" method=\"get\" action=\"/\">",
                "state <input name=\"state\" placeholder=\"running,queued\" value=\"",
                html::Escape(states), "\"> kind <select name=\"kind\">", kinds,
                "</select> model <input name=\"model_id\" value=\"", html::Escape(filter.model_id),
                "\"> page size <input name=\"page_size\" size=\"4\" value=\"", page_size,
                "\"> <button>Filter</button> <a href=\"", html::Escape(ListLink(Target{}, "")),
                "\">clear</a></form>");
}

}  // namespace

absl::Status ParseJobQuery(const Target& target, store::JobFilter* filter, int* page_size,
                           std::string* page_token) {
  *filter = store::JobFilter{};
  for (const std::string& value : target.GetAll("state")) {
    size_t start = 0;
    while (start <= value.size()) {
      const size_t comma = std::min(value.find(',', start), value.size());
      const std::string name = value.substr(start, comma - start);
      start = comma + 1;
      if (name.empty()) continue;
      v1::JobState state;
      if (!html::ParseState(name, &state)) {
        return absl::InvalidArgumentError(
            StrCat("query parameter 'state': unknown state '", name, "'"));
      }
      filter->states.push_back(state);
    }
  }
  if (std::optional<std::string> kind = target.Get("kind"); kind && !kind->empty()) {
    if (!html::ParseKind(*kind, &filter->kind)) {
      return absl::InvalidArgumentError(
          StrCat("query parameter 'kind': unknown kind '", *kind, "'"));
    }
  }
  filter->model_id = target.Get("model_id").value_or("");
  *page_size = kDefaultPageSize;
  if (std::optional<std::string> size = target.Get("page_size"); size && !size->empty()) {
    int value = 0;
    const bool digits =
        size->size() <= 4 && size->find_first_not_of("0123456789") == std::string::npos;
    if (digits) value = std::stoi(*size);
    if (!digits || value < 1 || value > kMaxPageSize) {
      return absl::InvalidArgumentError(StrCat("query parameter 'page_size': '", *size,
                                               "' is not an integer in [1, ", kMaxPageSize, "]"));
    }
    *page_size = value;
  }
  *page_token = target.Get("page_token").value_or("");
  return absl::OkStatus();
}

HttpResponse JobsPage(const RouteContext& ctx) {
  store::JobFilter filter;
  int page_size = 0;
  std::string token;
  if (absl::Status s = ParseJobQuery(ctx.target, &filter, &page_size, &token); !s.ok()) {
    return HtmlError(s);
  }
  absl::StatusOr<store::Page<v1::Job>> page =
      ctx.data.ListJobs(ctx.tenant, filter, page_size, token);
  if (!page.ok()) return HtmlError(page.status());

  std::string body = FilterForm(filter, page_size);
  body +=
      "<table><tr><th>id</th><th>kind</th><th>state</th><th>progress</th><th>step</th>"
      "<th>ETA</th><th>attempts</th><th>created</th><th>duration</th><th>key metrics</th></tr>";
  for (const v1::Job& job : page->items) {
    const bool running = job.state() == v1::JOB_STATE_RUNNING;
    body += StrCat(
        "<tr><td><a href=\"/jobs/", html::Escape(UrlEncode(job.id())), "\">",
        html::Escape(job.id()), "</a></td><td>", html::KindName(job.spec().kind()), "</td><td>",
        html::StateBadge(job.state()), "</td><td>", html::ProgressBar(job.progress()), "</td><td>",
        html::Escape(job.step()), "</td><td>",
        running && job.eta_seconds() >= 0 ? html::FormatDuration(job.eta_seconds()) : "-",
        "</td><td class=\"num\">", job.attempts(), "/", job.max_attempts(), "</td><td>",
        html::FormatTime(job.created_unix_ms()), "</td><td>", Duration(job), "</td><td>",
        KeyMetrics(job), "</td></tr>");
  }
  body += "</table>";
  if (page->items.empty()) body += "<p>No jobs match.</p>";
  body += "<p>";
  if (!token.empty()) {
    body += StrCat("<a href=\"", html::Escape(ListLink(ctx.target, "")), "\">first page</a> ");
  }
  if (!page->next_page_token.empty()) {
    body += StrCat("<a href=\"", html::Escape(ListLink(ctx.target, page->next_page_token)),
                   "\">next page &rarr;</a>");
  }
  body += "</p>";
  return HtmlResponse(200, html::Page("Jobs", body, ctx.options.refresh_seconds));
}

HttpResponse ApiJobs(const RouteContext& ctx) {
  store::JobFilter filter;
  int page_size = 0;
  std::string token;
  if (absl::Status s = ParseJobQuery(ctx.target, &filter, &page_size, &token); !s.ok()) {
    return JsonError(s);
  }
  absl::StatusOr<store::Page<v1::Job>> page =
      ctx.data.ListJobs(ctx.tenant, filter, page_size, token);
  if (!page.ok()) return JsonError(page.status());
  nlohmann::json body;
  body["jobs"] = nlohmann::json::array();
  for (const v1::Job& job : page->items) body["jobs"].push_back(ToJson(job));
  body["next_page_token"] = page->next_page_token;
  return JsonResponse(200, Dump(body));
}

HttpResponse ApiJob(const RouteContext& ctx, std::string_view job_id) {
  absl::StatusOr<v1::Job> job = ctx.data.GetJob(ctx.tenant, job_id);
  if (!job.ok()) return JsonError(job.status());
  return JsonResponse(200, Dump(ToJson(*job)));
}

}  // namespace mp::dashboard
