// ServiceCore: what every gRPC service of the server shares — the store, blob store and
// queue it fronts, authentication, limits, quota reservations, a small executor for work
// that must not run on the notifying thread (queue wake-ups, long-poll timers), and the
// registry of long-lived calls that shutdown must end.
#ifndef MP_SERVER_SERVICE_CORE_H_
#define MP_SERVER_SERVICE_CORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "common/clock.h"
#include "server/queue/queue.h"
#include "server/service/auth.h"
#include "server/store/blob_store.h"
#include "server/store/store.h"

namespace mp::service {

namespace v1 = ::modelpress::v1;

// Limits and knobs of the API services (flags of modelpress-server).
struct ServiceOptions {
  int64_t max_upload_bytes = int64_t{2} << 30;  // per upload (models, datasets, PutBlob)
  int64_t tenant_quota_bytes = 0;               // models + datasets per tenant; 0: unlimited
  int64_t max_chunk_bytes = int64_t{1} << 20;   // per upload message
  int64_t download_chunk_bytes = int64_t{1} << 20;
  int64_t max_lease_wait_ms = 30'000;  // cap on LeaseJob's long poll
  int executor_threads = 2;
};

// Something long-lived (a WatchJob stream, a LeaseJob long poll) that shutdown must end.
class Interruptible {
 public:
  virtual ~Interruptible() = default;
  // Ends the call soon (from any thread, without blocking); idempotent.
  virtual void Interrupt() = 0;
};

class ServiceCore {
 public:
  // Pointers are not owned and must outlive the core.
  ServiceCore(store::Store* store, store::BlobStore* blobs, queue::Queue* queue, Clock* clock,
              const Authenticator* auth, ServiceOptions options);
  ~ServiceCore();  // stops the executor
  ServiceCore(const ServiceCore&) = delete;
  ServiceCore& operator=(const ServiceCore&) = delete;

  store::Store* store() const { return store_; }
  store::BlobStore* blobs() const { return blobs_; }
  queue::Queue* queue() const { return queue_; }
  Clock* clock() const { return clock_; }
  const Authenticator& auth() const { return *auth_; }
  const ServiceOptions& options() const { return options_; }
  boost::asio::io_context& executor() { return io_; }

  // Quota: reserves `bytes` of the tenant's model+dataset quota for an upload in progress.
  // RESOURCE_EXHAUSTED (naming usage and quota) if stored + reserved + bytes > quota.
  // Always OK when the quota is unlimited.
  absl::Status ReserveBytes(std::string_view tenant, int64_t bytes);
  void ReleaseBytes(std::string_view tenant, int64_t bytes);

  // Shutdown registry. Register returns false (and does not register) once shutdown began.
  bool Register(const std::shared_ptr<Interruptible>& call);
  void Unregister(const Interruptible* call);
  bool shutting_down() const;
  // Marks shutdown and interrupts every registered call.
  void BeginShutdown();
  // Stops the executor threads (after the gRPC server has shut down).
  void StopExecutor();

 private:
  store::Store* const store_;
  store::BlobStore* const blobs_;
  queue::Queue* const queue_;
  Clock* const clock_;
  const Authenticator* const auth_;
  const ServiceOptions options_;

  absl::Mutex quota_mu_;  // held across the usage read, so reservations cannot race
  absl::flat_hash_map<std::string, int64_t> reserved_ ABSL_GUARDED_BY(quota_mu_);
  mutable absl::Mutex mu_;
  absl::flat_hash_map<const Interruptible*, std::weak_ptr<Interruptible>> calls_
      ABSL_GUARDED_BY(mu_);
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;

  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
};

}  // namespace mp::service

#endif  // MP_SERVER_SERVICE_CORE_H_
