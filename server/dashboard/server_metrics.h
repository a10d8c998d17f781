// ServerMetrics: the process-side metric families of modelpress-server (names in
// metric_names.h), registered in one mp::metrics::Registry that /metrics exposes.
//
// One ServerMetrics per registry; the registry owns the families, ServerMetrics holds
// pointers to them plus the source of the local-worker restart count. The gRPC interceptor
// (grpc_metrics.h) and the dashboard router record into it; /metrics reads it.
#ifndef MP_SERVER_DASHBOARD_SERVER_METRICS_H_
#define MP_SERVER_DASHBOARD_SERVER_METRICS_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

#include "common/metrics.h"
#include "server/dashboard/data.h"

namespace mp::dashboard {

class ServerMetrics {
 public:
  // Registers (or finds) the families in `registry`, which must outlive this object.
  explicit ServerMetrics(metrics::Registry* registry);
  ServerMetrics(const ServerMetrics&) = delete;
  ServerMetrics& operator=(const ServerMetrics&) = delete;

  metrics::Registry* const registry;
  metrics::CounterFamily* const grpc_requests;           // {method, code}
  metrics::HistogramFamily* const grpc_request_seconds;  // {method}
  metrics::CounterFamily* const http_requests;           // {route, code}

  // Where modelpress_local_worker_restarts_total comes from, e.g.
  //   [w = supervisor.get()] { return w->exits(); }
  // Unset (or reset with nullptr): 0. Set it once the supervisor exists; whatever the
  // function reads must outlive the HTTP listener (or be reset before it goes away).
  void SetLocalWorkerRestarts(std::function<int64_t()> source);
  int64_t LocalWorkerRestarts() const;

 private:
  mutable absl::Mutex mu_;
  std::function<int64_t()> restarts_ ABSL_GUARDED_BY(mu_);
};

// Writes the store-derived metrics (the scrape-time half of metric_names.h) for `stats`;
// when `stats` is an error, writes modelpress_store_up 0 and nothing else from the store.
// `local_worker_restarts` is written as modelpress_local_worker_restarts_total.
void WriteStoreMetrics(const absl::StatusOr<JobStats>& stats, double local_worker_restarts,
                       metrics::TextWriter& out);

}  // namespace mp::dashboard

#endif  // MP_SERVER_DASHBOARD_SERVER_METRICS_H_
