// StoreDashboardData: DashboardData over the server's mp::store::Store and BlobStore.
//
// Reads are the store's tenant-scoped reads. Stats() (for /metrics) is computed at scrape
// time:
//   * by_state from Store::CountJobsByState() and the per-kind aggregates (jobs per kind
//     and state, attempts, the run-time histogram) from Store::AggregateJobsByKind(), both
//     over every tenant and computed by SQLite: a scrape decodes no job rows, whatever
//     the number of jobs;
//   * tenant_bytes from Store::GetTenantUsage for each tenant in `tenants`;
//   * blob_bytes by summing the sizes of the files under the blob store's root (two-level
//     fan-out directories; the tmp/ directory of uploads in progress is skipped).
#ifndef MP_SERVER_DASHBOARD_STORE_DATA_H_
#define MP_SERVER_DASHBOARD_STORE_DATA_H_

#include <cstdint>
#include <string>
#include <vector>

#include "server/dashboard/data.h"
#include "server/store/blob_store.h"
#include "server/store/store.h"

namespace mp::dashboard {

struct StoreDataOptions {
  store::Store* store = nullptr;      // required; not owned
  store::BlobStore* blobs = nullptr;  // required; not owned
  // The tenants /metrics reports stored bytes for: the tenants of the token table, or
  // {"default"} when authentication is off.
  std::vector<std::string> tenants;
};

class StoreDashboardData final : public DashboardData {
 public:
  explicit StoreDashboardData(StoreDataOptions options);

  absl::Status Ping() override;
  absl::StatusOr<store::Page<v1::Job>> ListJobs(std::string_view tenant,
                                                const store::JobFilter& filter, int page_size,
                                                std::string_view page_token) override;
  absl::StatusOr<v1::Job> GetJob(std::string_view tenant, std::string_view job_id) override;
  absl::StatusOr<std::vector<v1::JobEvent>> ListEvents(std::string_view tenant,
                                                       std::string_view job_id,
                                                       int64_t after_sequence, int limit) override;
  absl::StatusOr<store::Page<v1::Model>> ListModels(std::string_view tenant, int page_size,
                                                    std::string_view page_token) override;
  absl::StatusOr<v1::Model> GetModel(std::string_view tenant, std::string_view model_id) override;
  absl::StatusOr<std::string> ReadBlob(std::string_view sha256, int64_t max_bytes) override;
  absl::StatusOr<JobStats> Stats() override;

 private:
  StoreDataOptions options_;
};

// Sum of the sizes of the finished blob files under `root` (skipping root/tmp). Missing
// root: 0. I/O errors: INTERNAL naming the path.
absl::StatusOr<int64_t> BlobDirectoryBytes(const std::string& root);

}  // namespace mp::dashboard

#endif  // MP_SERVER_DASHBOARD_STORE_DATA_H_
