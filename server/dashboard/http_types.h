// Transport-neutral HTTP request/response values for the dashboard's routes, and the small
// parsing helpers they need (request target, query string, bearer token).
//
// Routes are pure functions HttpRequest -> HttpResponse (plus a data source); the Beast
// listener (http_server.cc) converts to and from the wire, so every route is unit-testable
// without sockets.
#ifndef MP_SERVER_DASHBOARD_HTTP_TYPES_H_
#define MP_SERVER_DASHBOARD_HTTP_TYPES_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mp::dashboard {

struct HttpRequest {
  std::string method = "GET";  // "GET", "HEAD", ...
  std::string target = "/";    // origin-form request target: path [?query]
  std::string authorization;   // the Authorization header, verbatim ("" if absent)
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  // Extra headers (Content-Type and Content-Length are set from the fields above).
  std::vector<std::pair<std::string, std::string>> headers;
};

// A request target split into its decoded path and query parameters (in order; a key may
// repeat). '+' in the query means space; %XX escapes are decoded in both parts.
struct Target {
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;

  // The last value of `key`, if present.
  std::optional<std::string> Get(std::string_view key) const;
  // Every value of `key`, in order.
  std::vector<std::string> GetAll(std::string_view key) const;
};

// INVALID_ARGUMENT for a target that is not origin-form ("/..."), a bad %-escape, or a
// decoded path containing NUL.
absl::StatusOr<Target> ParseTarget(std::string_view target);

// Percent-encodes `s` for use as a query value or path segment (unreserved characters
// A-Z a-z 0-9 - . _ ~ are kept).
std::string UrlEncode(std::string_view s);

// The token of an "Authorization: Bearer <token>" header (scheme case-insensitive), or
// nullopt when the header is absent or uses another scheme.
std::optional<std::string> BearerToken(std::string_view authorization);

// HTTP status for a status code (DESIGN.md §7): INVALID_ARGUMENT 400, NOT_FOUND 404,
// FAILED_PRECONDITION/ABORTED/ALREADY_EXISTS 409, RESOURCE_EXHAUSTED 429, UNIMPLEMENTED 501,
// UNAVAILABLE 503, UNAUTHENTICATED 401, PERMISSION_DENIED 403, anything else 500.
int HttpStatusFor(absl::StatusCode code);
// The reason phrase for the statuses the dashboard answers ("Not Found", ...).
std::string_view ReasonPhrase(int status);

HttpResponse TextResponse(int status, std::string body);
HttpResponse HtmlResponse(int status, std::string body);
HttpResponse JsonResponse(int status, std::string body);

}  // namespace mp::dashboard

#endif  // MP_SERVER_DASHBOARD_HTTP_TYPES_H_
