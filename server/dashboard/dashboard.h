// mp::dashboard — the server's HTTP side: an operator dashboard (jobs, one job's timeline and
// PTQ per-layer report, models), a JSON API, /healthz and Prometheus /metrics (DESIGN.md §3).
//
// Pieces, from the bottom up:
//   data.h            DashboardData: what the pages read (an interface; store_data.h
//                     implements it over mp::store::Store + BlobStore, tests use a fake)
//   routes.h          pure route functions HttpRequest -> HttpResponse and the Router
//                     (authentication, dispatch, request counting); the route table is there
//   server_metrics.h  the process-side metric families; metric_names.h lists every name
//   grpc_metrics.h    a gRPC server interceptor that counts and times every RPC
//   html.h            escaping (XSS safety) and formatting helpers of the pages
//   service_hook.h    the factory modelpress-server's RunServer calls (http_hook.h)
//   dashboard.h       (this file) the one Boost.Beast HTTP/1.1 listener
//
// The listener: one acceptor and `threads` io_context threads; each connection is a C++20
// coroutine on its own strand. HTTP/1.1 keep-alive; only GET and HEAD (no request bodies:
// any body is 413); headers are capped at max_header_bytes (431 beyond); a connection that
// sends no complete request within `idle_timeout` is closed, as is one whose response
// cannot be written within `write_timeout`; at most `max_connections` at once (more are
// closed on accept). Stop() closes the acceptor and the idle connections, lets requests in
// flight finish (their connection closes after the response), and joins the threads.
//
// modelpress-server starts it through the service layer's HttpListenerFactory hook:
// service_hook.h has the factory, the interceptor registration and the exact wiring.
// Standalone use:
//   mp::metrics::Registry registry;
//   mp::dashboard::ServerMetrics server_metrics(&registry);
//   mp::dashboard::StoreDashboardData data({.store = s, .blobs = b, .tenants = {"default"}});
//   ASSIGN_OR_RETURN(std::unique_ptr<mp::dashboard::HttpServer> http,
//                    mp::dashboard::StartDashboard({.address = "0.0.0.0:8080", .data = &data,
//                                                   .metrics = &server_metrics}));
//   ... http->Stop();   // before the store, blob store and data source are destroyed
#ifndef MP_SERVER_DASHBOARD_DASHBOARD_H_
#define MP_SERVER_DASHBOARD_DASHBOARD_H_

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/dashboard/data.h"
#include "server/dashboard/routes.h"
#include "server/dashboard/server_metrics.h"

namespace mp::dashboard {

struct DashboardOptions {
  // "host:port" or "[v6]:port"; host may be an IP address, "localhost" or empty / "0.0.0.0"
  // (every IPv4 interface). Port 0 picks a free port (see HttpServer::port()).
  std::string address = "0.0.0.0:8080";
  DashboardData* data = nullptr;     // required; not owned; must outlive the server
  ServerMetrics* metrics = nullptr;  // required; not owned; must outlive the server
  RouterOptions routes;              // authentication, worker restarts, page knobs
  int threads = 2;
  std::chrono::milliseconds idle_timeout{30'000};
  std::chrono::milliseconds write_timeout{30'000};
  size_t max_header_bytes = 64 * 1024;
  int max_connections = 256;
};

class HttpServer {
 public:
  virtual ~HttpServer() = default;  // implementations Stop() first
  // The bound port and "host:port" address (with the real port when 0 was asked for).
  virtual int port() const = 0;
  virtual std::string address() const = 0;
  // Graceful stop (see above); idempotent; blocks until the threads have exited.
  virtual void Stop() = 0;
};

// Binds and starts serving. INVALID_ARGUMENT for a malformed address or missing data /
// metrics; UNAVAILABLE if the address cannot be bound (in use, no permission).
absl::StatusOr<std::unique_ptr<HttpServer>> StartDashboard(const DashboardOptions& options);

}  // namespace mp::dashboard

#endif  // MP_SERVER_DASHBOARD_DASHBOARD_H_
