// DashboardData: what the dashboard reads, as an interface so routes are testable with a
// fake. The production implementation (store_data.h) reads mp::store::Store and BlobStore.
//
// Tenant scoping: every user-row read takes the tenant and answers NOT_FOUND for another
// tenant's id, exactly like the store. Stats() is the operator-wide aggregate for /metrics.
#ifndef MP_SERVER_DASHBOARD_DATA_H_
#define MP_SERVER_DASHBOARD_DATA_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "modelpress/v1/job.pb.h"
#include "modelpress/v1/model.pb.h"
#include "server/store/store.h"

namespace mp::dashboard {

namespace v1 = ::modelpress::v1;

// Upper bounds (seconds) of the job-duration histogram buckets; +Inf is implicit.
const std::vector<double>& JobDurationBuckets();

// Aggregates over every job of every tenant, computed at scrape time.
struct JobStats {
  std::map<v1::JobState, int64_t> by_state;  // every state present
  std::map<std::pair<v1::JobKind, v1::JobState>, int64_t> by_kind_state;
  std::map<v1::JobKind, int64_t> submitted;  // jobs ever created, by kind
  std::map<v1::JobKind, int64_t> attempts;   // sum of Job.attempts, by kind
  // Run time (finished - started) of terminal jobs that started, by kind: per-bucket (not
  // cumulative) counts over JobDurationBuckets() plus +Inf, and the sum of seconds.
  struct Durations {
    std::vector<uint64_t> counts;
    double sum_seconds = 0;
  };
  std::map<v1::JobKind, Durations> durations;
  int64_t blob_bytes = 0;                       // bytes of every blob file on disk
  std::map<std::string, int64_t> tenant_bytes;  // TenantUsage::total() per known tenant

  // Adds one job to by_kind_state, submitted, attempts and durations (by_state is filled
  // separately: the store counts it directly).
  void AddJob(const v1::Job& job);
};

class DashboardData {
 public:
  virtual ~DashboardData() = default;

  // OK when the backing store answers a trivial read; its error otherwise (for /healthz).
  virtual absl::Status Ping() = 0;

  // The tenant's jobs, newest first; `page_size` in [1, 1000]; a malformed token is
  // INVALID_ARGUMENT.
  virtual absl::StatusOr<store::Page<v1::Job>> ListJobs(std::string_view tenant,
                                                        const store::JobFilter& filter,
                                                        int page_size,
                                                        std::string_view page_token) = 0;
  virtual absl::StatusOr<v1::Job> GetJob(std::string_view tenant, std::string_view job_id) = 0;
  // The job's events with sequence > after_sequence, ascending, at most `limit`;
  // NOT_FOUND if the tenant has no such job.
  virtual absl::StatusOr<std::vector<v1::JobEvent>> ListEvents(std::string_view tenant,
                                                               std::string_view job_id,
                                                               int64_t after_sequence,
                                                               int limit) = 0;

  virtual absl::StatusOr<store::Page<v1::Model>> ListModels(std::string_view tenant, int page_size,
                                                            std::string_view page_token) = 0;
  virtual absl::StatusOr<v1::Model> GetModel(std::string_view tenant,
                                             std::string_view model_id) = 0;

  // The bytes of a blob, refusing blobs larger than `max_bytes` (RESOURCE_EXHAUSTED).
  // Callers only pass a sha256 they read from one of the tenant's rows.
  virtual absl::StatusOr<std::string> ReadBlob(std::string_view sha256, int64_t max_bytes) = 0;

  virtual absl::StatusOr<JobStats> Stats() = 0;
};

}  // namespace mp::dashboard

#endif  // MP_SERVER_DASHBOARD_DATA_H_
