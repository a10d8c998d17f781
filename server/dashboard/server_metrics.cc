#include "server/dashboard/server_metrics.h"

#include <vector>

#include "server/dashboard/html.h"
#include "server/dashboard/metric_names.h"

namespace mp::dashboard {
namespace {

using metrics::TextWriter;
namespace names = metric_names;

// gRPC latency buckets (seconds): unary calls are milliseconds; streams (WatchJob, long-poll
// LeaseJob, uploads) run for seconds to minutes.
const std::vector<double>& GrpcBuckets() {
  static const std::vector<double>* const kBuckets = new std::vector<double>{
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};
  return *kBuckets;
}

// Every state and kind of the API, so that each series exists (as 0) from the first scrape.
std::vector<v1::JobState> AllStates() {
  std::vector<v1::JobState> out;
  for (int s = v1::JobState_MIN; s <= v1::JobState_MAX; ++s) {
    if (v1::JobState_IsValid(s) && s != v1::JOB_STATE_UNSPECIFIED) {
      out.push_back(static_cast<v1::JobState>(s));
    }
  }
  return out;
}

std::vector<v1::JobKind> AllKinds() {
  std::vector<v1::JobKind> out;
  for (int k = v1::JobKind_MIN; k <= v1::JobKind_MAX; ++k) {
    if (v1::JobKind_IsValid(k) && k != v1::JOB_KIND_UNSPECIFIED) {
      out.push_back(static_cast<v1::JobKind>(k));
    }
  }
  return out;
}

template <typename Map, typename Key>
double Lookup(const Map& map, const Key& key) {
  auto it = map.find(key);
  return it == map.end() ? 0.0 : static_cast<double>(it->second);
}

}  // namespace

ServerMetrics::ServerMetrics(metrics::Registry* r)
    : registry(r),
      grpc_requests(r->AddCounter(names::kGrpcRequests,
                                  "gRPC calls finished, by full method name and status code.",
                                  {"method", "code"})),
      grpc_request_seconds(
          r->AddHistogram(names::kGrpcRequestSeconds,
                          "gRPC call latency in seconds, from the call's arrival to its status.",
                          {"method"}, GrpcBuckets())),
      http_requests(r->AddCounter(names::kHttpRequests,
                                  "Dashboard HTTP requests, by route pattern and status.",
                                  {"route", "code"})) {}

void ServerMetrics::SetLocalWorkerRestarts(std::function<int64_t()> source) {
  absl::MutexLock lock(&mu_);
  restarts_ = std::move(source);
}

int64_t ServerMetrics::LocalWorkerRestarts() const {
  absl::MutexLock lock(&mu_);
  return restarts_ ? restarts_() : 0;
}

void WriteStoreMetrics(const absl::StatusOr<JobStats>& stats, double local_worker_restarts,
                       TextWriter& out) {
  out.Header(names::kLocalWorkerRestarts,
             "Local worker processes that exited and were restarted by the server.",
             TextWriter::Type::kCounter);
  out.Sample(names::kLocalWorkerRestarts, {}, local_worker_restarts);
  out.Header(names::kStoreUp, "1 if the job store answered this scrape, else 0.",
             TextWriter::Type::kGauge);
  out.Sample(names::kStoreUp, {}, stats.ok() ? 1 : 0);
  if (!stats.ok()) return;
  const JobStats& s = *stats;
  const std::vector<v1::JobState> states = AllStates();
  const std::vector<v1::JobKind> kinds = AllKinds();

  out.Header(names::kJobs, "Jobs per state, every tenant.", TextWriter::Type::kGauge);
  for (v1::JobState state : states) {
    out.Sample(names::kJobs, {{"state", html::StateName(state)}}, Lookup(s.by_state, state));
  }
  out.Header(names::kJobsByKind, "Jobs per kind and state.", TextWriter::Type::kGauge);
  for (v1::JobKind kind : kinds) {
    for (v1::JobState state : states) {
      out.Sample(names::kJobsByKind,
                 {{"kind", html::KindName(kind)}, {"state", html::StateName(state)}},
                 Lookup(s.by_kind_state, std::make_pair(kind, state)));
    }
  }
  out.Header(names::kJobsSubmitted, "Jobs ever submitted, per kind.", TextWriter::Type::kCounter);
  for (v1::JobKind kind : kinds) {
    out.Sample(names::kJobsSubmitted, {{"kind", html::KindName(kind)}}, Lookup(s.submitted, kind));
  }
  out.Header(names::kJobAttempts, "Leases granted to jobs (attempts), summed per kind.",
             TextWriter::Type::kCounter);
  for (v1::JobKind kind : kinds) {
    out.Sample(names::kJobAttempts, {{"kind", html::KindName(kind)}}, Lookup(s.attempts, kind));
  }
  out.Header(names::kJobDuration,
             "Run time (finished - started) of finished jobs in seconds, per kind.",
             TextWriter::Type::kHistogram);
  const std::vector<double>& bounds = JobDurationBuckets();
  for (v1::JobKind kind : kinds) {
    auto it = s.durations.find(kind);
    JobStats::Durations d;
    if (it != s.durations.end()) d = it->second;
    if (d.counts.empty()) d.counts.assign(bounds.size() + 1, 0);
    out.Histogram(names::kJobDuration, {{"kind", html::KindName(kind)}}, bounds, d.counts,
                  d.sum_seconds);
  }
  out.Header(names::kBlobBytes, "Bytes of blob files (models, datasets, artifacts) on disk.",
             TextWriter::Type::kGauge);
  out.Sample(names::kBlobBytes, {}, static_cast<double>(s.blob_bytes));
  out.Header(names::kTenantBytes, "Bytes a tenant stores (models, datasets, artifacts).",
             TextWriter::Type::kGauge);
  for (const auto& [tenant, bytes] : s.tenant_bytes) {
    out.Sample(names::kTenantBytes, {{"tenant", tenant}}, static_cast<double>(bytes));
  }
}

}  // namespace mp::dashboard
