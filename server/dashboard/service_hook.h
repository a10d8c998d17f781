// The dashboard as modelpress-server's HTTP listener, through the service layer's hook
// (server/service/http_hook.h): RunServer calls the factory with the listen address and
// the store, blob store and authenticator it opened.
//
// The listener it starts serves every route of routes.h over StoreDashboardData. When the
// Authenticator has a token table, every route but /healthz and /metrics needs
// `Authorization: Bearer <token>` with a *user* token and shows that token's tenant;
// without one, everything is tenant "default".
//
// Wiring in modelpress-server (server/main), exactly:
//   mp::metrics::Registry registry;
//   mp::dashboard::ServerMetrics server_metrics(&registry);
//   // gRPC: ServerDeps.configure_builder =
//   //   [&](grpc::ServerBuilder& b) { mp::dashboard::AddMetricsInterceptor(b, &server_metrics); }
//   mp::service::HttpListenerFactory http_factory =
//       mp::dashboard::MakeHttpListenerFactory({.metrics = &server_metrics,
//                                               .tenants = token_tenants});
//   // after the ProcessSupervisor `workers` exists:
//   server_metrics.SetLocalWorkerRestarts([w = workers.get()] { return w->exits(); });
#ifndef MP_SERVER_DASHBOARD_SERVICE_HOOK_H_
#define MP_SERVER_DASHBOARD_SERVICE_HOOK_H_

#include <string>
#include <vector>

#include "grpcpp/server_builder.h"
#include "server/dashboard/server_metrics.h"
#include "server/service/http_hook.h"

namespace mp::dashboard {

struct HookOptions {
  ServerMetrics* metrics = nullptr;  // required; not owned; must outlive the listener
  // Tenants whose per-kind job metrics and stored bytes /metrics reports (the store cannot
  // list tenants). Empty: {"default"} when authentication is off, none when it is on (then
  // only modelpress_jobs{state} and the byte total of the blob directory cover everyone).
  std::vector<std::string> tenants;
  int threads = 2;
};

// A factory for RunServer. Each call starts one dashboard listener on `listen`.
service::HttpListenerFactory MakeHttpListenerFactory(HookOptions options);

// Registers the gRPC metrics interceptor (grpc_metrics.h) on `builder`. Replaces any
// interceptor creators set before: call it once, from ServerDeps.configure_builder.
void AddMetricsInterceptor(grpc::ServerBuilder& builder, ServerMetrics* metrics);

}  // namespace mp::dashboard

#endif  // MP_SERVER_DASHBOARD_SERVICE_HOOK_H_
