// FakeData: an in-memory DashboardData for route tests. Jobs and models belong to tenants;
// listings are newest first with integer-offset page tokens; a malformed token is
// INVALID_ARGUMENT and `unavailable` makes every call UNAVAILABLE, like a busy store.
#ifndef MP_SERVER_DASHBOARD_FAKE_DATA_TEST_UTIL_H_
#define MP_SERVER_DASHBOARD_FAKE_DATA_TEST_UTIL_H_

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "common/str_cat.h"
#include "server/dashboard/data.h"

namespace mp::dashboard {

class FakeData final : public DashboardData {
 public:
  bool unavailable = false;
  std::vector<std::pair<std::string, v1::Job>> jobs;        // (tenant, job), in creation order
  std::map<std::string, std::vector<v1::JobEvent>> events;  // by job id
  std::vector<std::pair<std::string, v1::Model>> models;
  std::map<std::string, std::string> blobs;  // sha256 -> bytes
  int64_t blob_bytes = 0;
  std::map<std::string, int64_t> tenant_bytes;

  v1::Job& AddJob(std::string tenant, std::string id, v1::JobKind kind, v1::JobState state) {
    v1::Job job;
    job.set_id(std::move(id));
    job.mutable_spec()->set_kind(kind);
    job.mutable_spec()->set_model_id("model_0000000000000001");
    job.set_state(state);
    job.set_max_attempts(3);
    job.set_created_unix_ms(1'700'000'000'000 + static_cast<int64_t>(jobs.size()) * 1000);
    job.set_eta_seconds(-1);
    jobs.emplace_back(std::move(tenant), std::move(job));
    return jobs.back().second;
  }

  absl::Status Ping() override {
    return unavailable ? absl::UnavailableError("store busy") : absl::OkStatus();
  }

  absl::StatusOr<store::Page<v1::Job>> ListJobs(std::string_view tenant,
                                                const store::JobFilter& filter, int page_size,
                                                std::string_view page_token) override {
    RETURN_IF_ERROR(Ping());
    size_t offset = 0;
    if (!page_token.empty()) {
      if (page_token.find_first_not_of("0123456789") != std::string_view::npos) {
        return absl::InvalidArgumentError("malformed page token");
      }
      offset = std::stoul(std::string(page_token));
    }
    std::vector<v1::Job> matching;
    for (auto it = jobs.rbegin(); it != jobs.rend(); ++it) {
      const v1::Job& job = it->second;
      if (it->first != tenant) continue;
      if (!filter.states.empty() && std::find(filter.states.begin(), filter.states.end(),
                                              job.state()) == filter.states.end()) {
        continue;
      }
      if (filter.kind != v1::JOB_KIND_UNSPECIFIED && job.spec().kind() != filter.kind) continue;
      if (!filter.model_id.empty() && job.spec().model_id() != filter.model_id) continue;
      matching.push_back(job);
    }
    store::Page<v1::Job> page;
    for (size_t i = offset; i < matching.size() && page.items.size() < size_t(page_size); ++i) {
      page.items.push_back(matching[i]);
    }
    if (offset + page.items.size() < matching.size()) {
      page.next_page_token = std::to_string(offset + page.items.size());
    }
    return page;
  }

  absl::StatusOr<v1::Job> GetJob(std::string_view tenant, std::string_view job_id) override {
    RETURN_IF_ERROR(Ping());
    for (const auto& [t, job] : jobs) {
      if (t == tenant && job.id() == job_id) return job;
    }
    return absl::NotFoundError(StrCat("job '", job_id, "' not found"));
  }

  absl::StatusOr<std::vector<v1::JobEvent>> ListEvents(std::string_view tenant,
                                                       std::string_view job_id,
                                                       int64_t after_sequence, int limit) override {
    RETURN_IF_ERROR(GetJob(tenant, job_id).status());
    std::vector<v1::JobEvent> out;
    for (const v1::JobEvent& e : events[std::string(job_id)]) {
      if (e.sequence() > after_sequence && static_cast<int>(out.size()) < limit) {
        out.push_back(e);
      }
    }
    return out;
  }

  absl::StatusOr<store::Page<v1::Model>> ListModels(std::string_view tenant, int page_size,
                                                    std::string_view page_token) override {
    RETURN_IF_ERROR(Ping());
    store::Page<v1::Model> page;
    for (auto it = models.rbegin(); it != models.rend(); ++it) {
      if (it->first == tenant && static_cast<int>(page.items.size()) < page_size) {
        page.items.push_back(it->second);
      }
    }
    return page;
  }

  absl::StatusOr<v1::Model> GetModel(std::string_view tenant, std::string_view model_id) override {
    RETURN_IF_ERROR(Ping());
    for (const auto& [t, model] : models) {
      if (t == tenant && model.id() == model_id) return model;
    }
    return absl::NotFoundError(StrCat("model '", model_id, "' not found"));
  }

  absl::StatusOr<std::string> ReadBlob(std::string_view sha256, int64_t max_bytes) override {
    auto it = blobs.find(std::string(sha256));
    if (it == blobs.end()) return absl::NotFoundError("no blob");
    if (static_cast<int64_t>(it->second.size()) > max_bytes) {
      return absl::ResourceExhaustedError("blob too big");
    }
    return it->second;
  }

  absl::StatusOr<JobStats> Stats() override {
    RETURN_IF_ERROR(Ping());
    JobStats stats;
    for (const auto& [tenant, job] : jobs) {
      ++stats.by_state[job.state()];
      stats.AddJob(job);
    }
    stats.blob_bytes = blob_bytes;
    stats.tenant_bytes = tenant_bytes;
    return stats;
  }
};

}  // namespace mp::dashboard

#endif  // MP_SERVER_DASHBOARD_FAKE_DATA_TEST_UTIL_H_
