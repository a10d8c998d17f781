// The dashboard's routes: pure functions of (request, tenant, data source) -> response, and
// the Router that authenticates a request, dispatches it and counts it.
//
//   GET /                 jobs table; query: state= (repeatable or comma-separated),
//                         kind=, model_id=, page_size= (1..1000, default 50), page_token=
//   GET /jobs/<id>        one job: spec, state, events timeline, metrics, artifacts, and
//                         the per-layer table of a PTQ job's JSON "report" artifact
//   GET /models           models table; query: page_size=, page_token=
//   GET /models/<id>      one model and its inspection
//   GET /api/jobs         JSON {"jobs": [Job...], "next_page_token": ""}, same query as /
//   GET /api/jobs/<id>    JSON Job
//   GET /healthz          200 "ok" when the store answers, 503 otherwise (no auth)
//   GET /metrics          Prometheus text format 0.0.4 (no auth)
//
// Jobs and models are the proto messages in their proto3 JSON form with the .proto field
// names (snake_case), every field present, enums by name, int64 as strings.
//
// Status codes (DESIGN.md §7): unknown id or another tenant's 404; bad query 400; missing
// or unknown token 401 (with WWW-Authenticate: Bearer); store busy 503; methods other than
// GET/HEAD 405. HTML routes answer errors with an HTML page, /api/ routes with JSON
// {"error": {"code": "NOT_FOUND", "message": "..."}}.
#ifndef MP_SERVER_DASHBOARD_ROUTES_H_
#define MP_SERVER_DASHBOARD_ROUTES_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "server/dashboard/data.h"
#include "server/dashboard/http_types.h"
#include "server/dashboard/server_metrics.h"

namespace mp::dashboard {

struct RouterOptions {
  // Maps a bearer token to its tenant; nullopt rejects the token (401). Unset:
  // authentication is off and every request sees `default_tenant`.
  std::function<std::optional<std::string>(std::string_view token)> authenticate;
  std::string default_tenant = "default";
  int refresh_seconds = 5;                      // auto-refresh of / and of unfinished jobs
  int64_t max_report_bytes = int64_t{8} << 20;  // larger PTQ reports are not rendered
  int max_events_shown = 500;                   // the job page shows the latest this many
};

// What a route needs besides the request.
struct RouteContext {
  const Target& target;
  std::string_view tenant;
  DashboardData& data;
  const RouterOptions& options;
};

// Parses the job-list query (state, kind, model_id, page_size, page_token);
// INVALID_ARGUMENT naming the parameter.
absl::Status ParseJobQuery(const Target& target, store::JobFilter* filter, int* page_size,
                           std::string* page_token);

HttpResponse JobsPage(const RouteContext& ctx);
HttpResponse JobPage(const RouteContext& ctx, std::string_view job_id);
HttpResponse ModelsPage(const RouteContext& ctx);
HttpResponse ModelPage(const RouteContext& ctx, std::string_view model_id);
HttpResponse ApiJobs(const RouteContext& ctx);
HttpResponse ApiJob(const RouteContext& ctx, std::string_view job_id);
HttpResponse Healthz(DashboardData& data);
// The registry's families followed by the store-derived metrics.
HttpResponse MetricsPage(DashboardData& data, const ServerMetrics& metrics);

// Error responses: an HTML page or a JSON body carrying the status's code and message.
HttpResponse HtmlError(const absl::Status& status);
HttpResponse JsonError(const absl::Status& status);

class Router {
 public:
  // `data` and `metrics` are not owned and must outlive the router.
  Router(DashboardData* data, ServerMetrics* metrics, RouterOptions options);

  // Authenticates, dispatches and counts one request (thread-safe). HEAD is answered like
  // GET; the listener drops the body.
  HttpResponse Handle(const HttpRequest& request);

 private:
  // The route pattern (a label value of bounded cardinality) and the response.
  HttpResponse Dispatch(const HttpRequest& request, std::string* route);

  DashboardData* const data_;
  ServerMetrics* const metrics_;
  const RouterOptions options_;
};

}  // namespace mp::dashboard

#endif  // MP_SERVER_DASHBOARD_ROUTES_H_
