#include "server/dashboard/store_data.h"

#include <filesystem>
#include <system_error>

#include "common/check.h"
#include "common/status.h"
#include "common/str_cat.h"

namespace mp::dashboard {

StoreDashboardData::StoreDashboardData(StoreDataOptions options) : options_(std::move(options)) {
  MP_CHECK(options_.store != nullptr);
  MP_CHECK(options_.blobs != nullptr);
}

absl::Status StoreDashboardData::Ping() {
  // One short read transaction on a reader connection.
  return options_.store->SchemaVersion().status();
}

absl::StatusOr<store::Page<v1::Job>> StoreDashboardData::ListJobs(std::string_view tenant,
                                                                  const store::JobFilter& filter,
                                                                  int page_size,
                                                                  std::string_view page_token) {
  ASSIGN_OR_RETURN(store::Page<store::JobRecord> page,
                   options_.store->ListJobs(tenant, filter, page_size, page_token));
  store::Page<v1::Job> out;
  out.next_page_token = std::move(page.next_page_token);
  out.items.reserve(page.items.size());
  for (store::JobRecord& rec : page.items) out.items.push_back(std::move(rec.job));
  return out;
}

absl::StatusOr<v1::Job> StoreDashboardData::GetJob(std::string_view tenant,
                                                   std::string_view job_id) {
  ASSIGN_OR_RETURN(store::JobRecord rec, options_.store->GetJob(tenant, job_id));
  return std::move(rec.job);
}

absl::StatusOr<std::vector<v1::JobEvent>> StoreDashboardData::ListEvents(std::string_view tenant,
                                                                         std::string_view job_id,
                                                                         int64_t after_sequence,
                                                                         int limit) {
  // Store::ListEvents is not tenant-scoped: check ownership first.
  RETURN_IF_ERROR(options_.store->GetJob(tenant, job_id).status());
  return options_.store->ListEvents(job_id, after_sequence, limit);
}

absl::StatusOr<store::Page<v1::Model>> StoreDashboardData::ListModels(std::string_view tenant,
                                                                      int page_size,
                                                                      std::string_view page_token) {
  ASSIGN_OR_RETURN(store::Page<store::ModelRecord> page,
                   options_.store->ListModels(tenant, page_size, page_token));
  store::Page<v1::Model> out;
  out.next_page_token = std::move(page.next_page_token);
  for (store::ModelRecord& rec : page.items) out.items.push_back(std::move(rec.model));
  return out;
}

absl::StatusOr<v1::Model> StoreDashboardData::GetModel(std::string_view tenant,
                                                       std::string_view model_id) {
  ASSIGN_OR_RETURN(store::ModelRecord rec, options_.store->GetModel(tenant, model_id));
  return std::move(rec.model);
}

absl::StatusOr<std::string> StoreDashboardData::ReadBlob(std::string_view sha256,
                                                         int64_t max_bytes) {
  return options_.blobs->ReadAll(sha256, max_bytes);
}

absl::StatusOr<JobStats> StoreDashboardData::Stats() {
  JobStats stats;
  ASSIGN_OR_RETURN(stats.by_state, options_.store->CountJobsByState());
  const std::vector<double>& bounds = JobDurationBuckets();
  std::vector<double> bounds_ms;
  for (double b : bounds) bounds_ms.push_back(b * 1000.0);
  ASSIGN_OR_RETURN(auto by_kind, options_.store->AggregateJobsByKind(bounds_ms));
  for (const auto& [kind, agg] : by_kind) {
    for (const auto& [state, count] : agg.by_state) {
      stats.by_kind_state[{kind, state}] = count;
      stats.submitted[kind] += count;
    }
    stats.attempts[kind] = agg.attempts;
    if (agg.finished == 0) continue;
    // The store's buckets are cumulative; JobStats keeps per-bucket counts (+Inf last).
    JobStats::Durations& d = stats.durations[kind];
    d.counts.assign(bounds.size() + 1, 0);
    int64_t below = 0;
    for (size_t i = 0; i < bounds.size(); ++i) {
      d.counts[i] = static_cast<uint64_t>(agg.run_ms_le[i] - below);
      below = agg.run_ms_le[i];
    }
    d.counts[bounds.size()] = static_cast<uint64_t>(agg.finished - below);
    d.sum_seconds = static_cast<double>(agg.run_ms_sum) / 1000.0;
  }
  for (const std::string& tenant : options_.tenants) {
    ASSIGN_OR_RETURN(store::TenantUsage usage, options_.store->GetTenantUsage(tenant));
    stats.tenant_bytes[tenant] = usage.total();
  }
  ASSIGN_OR_RETURN(stats.blob_bytes, BlobDirectoryBytes(options_.blobs->root()));
  return stats;
}

absl::StatusOr<int64_t> BlobDirectoryBytes(const std::string& root) {
  namespace fs = std::filesystem;
  // Layout: root/<2 hex>/<64 hex>; root/tmp holds partial uploads and is skipped. Entries
  // deleted while we walk (garbage collection) are simply not counted. Iteration uses the
  // error_code overloads throughout: std::filesystem must not throw into our code.
  const fs::directory_iterator end;
  std::error_code ec;
  fs::directory_iterator top(root, ec);
  if (ec == std::errc::no_such_file_or_directory) return 0;
  int64_t total = 0;
  for (; !ec && top != end; top.increment(ec)) {
    std::error_code dir_ec;
    if (top->path().filename() == "tmp" || !top->is_directory(dir_ec)) continue;
    fs::directory_iterator files(top->path(), dir_ec);
    for (; !dir_ec && files != end; files.increment(dir_ec)) {
      std::error_code file_ec;
      if (!files->is_regular_file(file_ec)) continue;
      const uintmax_t size = files->file_size(file_ec);
      if (!file_ec) total += static_cast<int64_t>(size);
    }
    if (dir_ec && dir_ec != std::errc::no_such_file_or_directory) {
      return absl::InternalError(
          StrCat("blob directory '", top->path().string(), "': ", dir_ec.message()));
    }
  }
  if (ec) return absl::InternalError(StrCat("blob directory '", root, "': ", ec.message()));
  return total;
}

}  // namespace mp::dashboard
