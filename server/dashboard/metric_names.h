// The names of every metric modelpress-server exposes on /metrics. The Grafana dashboard
// (deploy/grafana/modelpress.json) queries these names; tests/deploy/check_grafana.py reads
// this file to check that every name a panel uses exists, and metrics_route_test.cc checks
// that /metrics writes every name listed here. Keep one `inline constexpr` per line.
//
// Computed at scrape time from the store (metrics_route.cc):
//   modelpress_jobs{state}                        gauge: jobs per state, every tenant
//   modelpress_jobs_by_kind{kind,state}           gauge
//   modelpress_jobs_submitted_total{kind}         counter: jobs ever created (jobs are never
//                                                 deleted, so the count only grows)
//   modelpress_job_duration_seconds{kind}         histogram over terminal jobs that started:
//                                                 finished - started (the last attempt's run)
//   modelpress_job_attempts_total{kind}           counter: sum of leases granted to jobs
//   modelpress_blob_bytes                         gauge: bytes of blob files on disk
//   modelpress_tenant_bytes{tenant}               gauge: a tenant's model+dataset+artifact
//                                                 bytes (rows counted, as for quotas)
//   modelpress_store_up                           gauge: 1 if the store answered this scrape
//   modelpress_local_worker_restarts_total        counter: local worker processes restarted
// Kept in the process (server_metrics.h):
//   modelpress_grpc_requests_total{method,code}   counter: finished RPCs by status code name
//   modelpress_grpc_request_seconds{method}       histogram: RPC latency, start to status
//   modelpress_http_requests_total{route,code}    counter: dashboard HTTP requests
#ifndef MP_SERVER_DASHBOARD_METRIC_NAMES_H_
#define MP_SERVER_DASHBOARD_METRIC_NAMES_H_

#include <string_view>

namespace mp::dashboard::metric_names {

inline constexpr std::string_view kJobs = "modelpress_jobs";
inline constexpr std::string_view kJobsByKind = "modelpress_jobs_by_kind";
inline constexpr std::string_view kJobsSubmitted = "modelpress_jobs_submitted_total";
inline constexpr std::string_view kJobDuration = "modelpress_job_duration_seconds";
inline constexpr std::string_view kJobAttempts = "modelpress_job_attempts_total";
inline constexpr std::string_view kBlobBytes = "modelpress_blob_bytes";
inline constexpr std::string_view kTenantBytes = "modelpress_tenant_bytes";
inline constexpr std::string_view kStoreUp = "modelpress_store_up";
inline constexpr std::string_view kLocalWorkerRestarts = "modelpress_local_worker_restarts_total";
inline constexpr std::string_view kGrpcRequests = "modelpress_grpc_requests_total";
inline constexpr std::string_view kGrpcRequestSeconds = "modelpress_grpc_request_seconds";
inline constexpr std::string_view kHttpRequests = "modelpress_http_requests_total";

// Every name above, for tests.
inline constexpr std::string_view kAll[] = {kJobs,
                                            kJobsByKind,
                                            kJobsSubmitted,
                                            kJobDuration,
                                            kJobAttempts,
                                            kBlobBytes,
                                            kTenantBytes,
                                            kStoreUp,
                                            kLocalWorkerRestarts,
                                            kGrpcRequests,
                                            kGrpcRequestSeconds,
                                            kHttpRequests};

// The histograms among them (series name_bucket, name_sum, name_count).
inline constexpr std::string_view kHistograms[] = {kJobDuration, kGrpcRequestSeconds};

}  // namespace mp::dashboard::metric_names

#endif  // MP_SERVER_DASHBOARD_METRIC_NAMES_H_
