#include "server/service/core.h"

#include <utility>

#include "common/status.h"
#include "common/str_cat.h"

namespace mp::service {

ServiceCore::ServiceCore(store::Store* store, store::BlobStore* blobs, queue::Queue* queue,
                         Clock* clock, const Authenticator* auth, ServiceOptions options)
    : store_(store),
      blobs_(blobs),
      queue_(queue),
      clock_(clock),
      auth_(auth),
      options_(std::move(options)) {
  work_.emplace(io_.get_executor());
  const int n = options_.executor_threads > 0 ? options_.executor_threads : 1;
  for (int i = 0; i < n; ++i) threads_.emplace_back([this] { io_.run(); });
}

ServiceCore::~ServiceCore() { StopExecutor(); }

void ServiceCore::StopExecutor() {
  work_.reset();
  io_.stop();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

absl::Status ServiceCore::ReserveBytes(std::string_view tenant, int64_t bytes) {
  if (options_.tenant_quota_bytes <= 0) return absl::OkStatus();
  absl::MutexLock lock(&quota_mu_);
  // Read under the lock so two uploads of one tenant cannot both pass on the same usage.
  ASSIGN_OR_RETURN(store::TenantUsage usage, store_->GetTenantUsage(tenant));
  const int64_t stored = usage.model_bytes + usage.dataset_bytes;
  int64_t& reserved = reserved_[std::string(tenant)];
  if (stored + reserved + bytes > options_.tenant_quota_bytes) {
    const int64_t in_flight = reserved;
    if (reserved == 0) reserved_.erase(std::string(tenant));
    return absl::ResourceExhaustedError(StrCat(
        "tenant '", tenant, "' quota exceeded: ", stored, " bytes stored + ", in_flight,
        " uploading + ", bytes, " requested > quota ", options_.tenant_quota_bytes, " bytes"));
  }
  reserved += bytes;
  return absl::OkStatus();
}

void ServiceCore::ReleaseBytes(std::string_view tenant, int64_t bytes) {
  if (options_.tenant_quota_bytes <= 0 || bytes == 0) return;
  absl::MutexLock lock(&quota_mu_);
  auto it = reserved_.find(std::string(tenant));
  if (it == reserved_.end()) return;
  it->second -= bytes;
  if (it->second <= 0) reserved_.erase(it);
}

bool ServiceCore::Register(const std::shared_ptr<Interruptible>& call) {
  absl::MutexLock lock(&mu_);
  if (shutting_down_) return false;
  calls_[call.get()] = call;
  return true;
}

void ServiceCore::Unregister(const Interruptible* call) {
  absl::MutexLock lock(&mu_);
  calls_.erase(call);
}

bool ServiceCore::shutting_down() const {
  absl::MutexLock lock(&mu_);
  return shutting_down_;
}

void ServiceCore::BeginShutdown() {
  std::vector<std::shared_ptr<Interruptible>> live;
  {
    absl::MutexLock lock(&mu_);
    shutting_down_ = true;
    for (auto& [ptr, weak] : calls_) {
      if (auto call = weak.lock()) live.push_back(std::move(call));
    }
  }
  for (auto& call : live) call->Interrupt();
}

}  // namespace mp::service
