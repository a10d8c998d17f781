// Router: authentication, dispatch by path, error pages, request counting; plus the routes
// that are not pages (/healthz, /metrics).
#include <string>
#include <vector>

#include "common/check.h"
#include "common/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/dashboard/html.h"
#include "server/dashboard/routes.h"

namespace mp::dashboard {

HttpResponse HtmlError(const absl::Status& status) {
  const int code = HttpStatusFor(status.code());
  const std::string title = StrCat(code, " ", ReasonPhrase(code));
  return HtmlResponse(
      code, html::Page(title, StrCat("<p class=\"error\">",
                                     html::Escape(std::string(status.message())), "</p>")));
}

HttpResponse JsonError(const absl::Status& status) {
  nlohmann::json body;
  body["error"]["code"] = absl::StatusCodeToString(status.code());
  body["error"]["message"] = std::string(status.message());
  // Error messages may quote client input that is not UTF-8: replace invalid bytes.
  return JsonResponse(HttpStatusFor(status.code()),
                      body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

HttpResponse Healthz(DashboardData& data) {
  const absl::Status status = data.Ping();
  if (status.ok()) return TextResponse(200, "ok\n");
  return TextResponse(503, StrCat("store unavailable: ", std::string(status.message()), "\n"));
}

HttpResponse MetricsPage(DashboardData& data, const ServerMetrics& metrics) {
  metrics::TextWriter store_part;
  WriteStoreMetrics(data.Stats(), static_cast<double>(metrics.LocalWorkerRestarts()), store_part);
  HttpResponse response = TextResponse(200, metrics.registry->Expose() + store_part.Take());
  response.content_type = std::string(metrics::kContentType);
  return response;
}

Router::Router(DashboardData* data, ServerMetrics* metrics, RouterOptions options)
    : data_(data), metrics_(metrics), options_(std::move(options)) {
  MP_CHECK(data_ != nullptr);
  MP_CHECK(metrics_ != nullptr);
}

HttpResponse Router::Handle(const HttpRequest& request) {
  std::string route = "other";
  HttpResponse response = Dispatch(request, &route);
  metrics_->http_requests->WithLabels({route, std::to_string(response.status)})->Increment();
  return response;
}

HttpResponse Router::Dispatch(const HttpRequest& request, std::string* route) {
  absl::StatusOr<Target> target = ParseTarget(request.target);
  const bool api = request.target.rfind("/api/", 0) == 0;
  if (!target.ok()) return api ? JsonError(target.status()) : HtmlError(target.status());
  const std::string& path = target->path;

  // The route pattern and, for /jobs/<id>, /models/<id> and /api/jobs/<id>, the id (one
  // non-empty path segment). Decided first so that every answer, 401 and 405 included, is
  // counted under its route.
  std::string_view id;
  auto id_after = [&path, &id](std::string_view prefix) {
    if (path.size() <= prefix.size() || path.compare(0, prefix.size(), prefix) != 0) {
      return false;
    }
    id = std::string_view(path).substr(prefix.size());
    return id.find('/') == std::string_view::npos;
  };
  if (path == "/healthz" || path == "/metrics" || path == "/models" || path == "/api/jobs") {
    *route = path;
  } else if (path == "/" || path == "/jobs") {
    *route = "/";
  } else if (id_after("/jobs/")) {
    *route = "/jobs/:id";
  } else if (id_after("/models/")) {
    *route = "/models/:id";
  } else if (id_after("/api/jobs/")) {
    *route = "/api/jobs/:id";
  }

  if (request.method != "GET" && request.method != "HEAD") {
    HttpResponse r = TextResponse(405, "only GET and HEAD are allowed\n");
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  if (*route == "/healthz") return Healthz(*data_);
  if (*route == "/metrics") return MetricsPage(*data_, *metrics_);

  // Every other route is tenant-scoped.
  std::string tenant = options_.default_tenant;
  if (options_.authenticate) {
    const std::optional<std::string> token = BearerToken(request.authorization);
    std::optional<std::string> found;
    if (token.has_value()) found = options_.authenticate(*token);
    if (!found.has_value()) {
      const absl::Status denied = absl::UnauthenticatedError(
          token.has_value() ? "unknown token" : "missing 'Authorization: Bearer <token>'");
      HttpResponse r = api ? JsonError(denied) : HtmlError(denied);
      r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"modelpress\"");
      return r;
    }
    tenant = *std::move(found);
  }
  const RouteContext ctx{*target, tenant, *data_, options_};
  if (*route == "/") return JobsPage(ctx);
  if (*route == "/jobs/:id") return JobPage(ctx, id);
  if (*route == "/models") return ModelsPage(ctx);
  if (*route == "/models/:id") return ModelPage(ctx, id);
  if (*route == "/api/jobs") return ApiJobs(ctx);
  if (*route == "/api/jobs/:id") return ApiJob(ctx, id);
  const absl::Status missing = absl::NotFoundError(StrCat("no page at '", path, "'"));
  return api ? JsonError(missing) : HtmlError(missing);
}

}  // namespace mp::dashboard
