// gRPC server metrics: an interceptor that counts every finished call and times it.
//
// For each call it records, when the server sends the call's status:
//   modelpress_grpc_requests_total{method="/modelpress.v1.JobService/SubmitJob",code="OK"}
//   modelpress_grpc_request_seconds{method=...}   (from the interceptor's creation, i.e. the
//                                                  call's arrival, to its status)
// A call that ends without the server sending a status (the client went away first) is
// recorded when gRPC destroys the interceptor, with code "CANCELLED".
//
// Wiring: AddMetricsInterceptor(builder, &server_metrics) (service_hook.h), or by hand
// before BuildAndStart():
//   std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> v;
//   v.push_back(mp::dashboard::MakeMetricsInterceptorFactory(&server_metrics));
//   builder.experimental().SetInterceptorCreators(std::move(v));
#ifndef MP_SERVER_DASHBOARD_GRPC_METRICS_H_
#define MP_SERVER_DASHBOARD_GRPC_METRICS_H_

#include <memory>
#include <string>

#include "grpcpp/support/server_interceptor.h"
#include "grpcpp/support/status.h"
#include "server/dashboard/server_metrics.h"

namespace mp::dashboard {

// "OK", "CANCELLED", ..., "UNAUTHENTICATED" (the canonical names); "CODE_<n>" otherwise.
std::string GrpcCodeName(grpc::StatusCode code);

// `metrics` is not owned and must outlive the gRPC server.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeMetricsInterceptorFactory(ServerMetrics* metrics);

}  // namespace mp::dashboard

#endif  // MP_SERVER_DASHBOARD_GRPC_METRICS_H_
