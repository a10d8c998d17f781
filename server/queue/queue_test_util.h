// Test fixture for mp::queue: a Store and a Queue over a temp dir, driven by a FakeClock.
#ifndef MP_SERVER_QUEUE_QUEUE_TEST_UTIL_H_
#define MP_SERVER_QUEUE_QUEUE_TEST_UTIL_H_

#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/file_util.h"
#include "gtest/gtest.h"
#include "server/queue/queue.h"
#include "server/store/store.h"

namespace mp::queue {

class QueueTestBase : public ::testing::Test {
 protected:
  static constexpr int64_t kTtl = 10'000;
  static constexpr int64_t kBackoff = 1'000;

  void SetUp() override {
    ASSERT_TRUE(dir_.Create("queue-").ok());
    auto store = store::Store::Open({.data_dir = dir_.path(), .clock = &clock_});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    auto queue = Queue::Create(store_.get(), &clock_, Options());
    ASSERT_TRUE(queue.ok()) << queue.status();
    queue_ = std::move(*queue);
  }
  virtual QueueOptions Options() {
    return QueueOptions{
        .lease_ttl_ms = kTtl, .backoff_base_ms = kBackoff, .backoff_max_ms = 8 * kBackoff};
  }

  static v1::SubmitJobRequest Request(v1::JobKind kind = v1::JOB_KIND_PTQ, int priority = 0,
                                      std::string key = "", int max_attempts = 0) {
    v1::SubmitJobRequest r;
    r.mutable_spec()->set_kind(kind);
    r.mutable_spec()->set_model_id("model_00000000000000aa");
    r.set_priority(priority);
    r.set_idempotency_key(std::move(key));
    r.set_max_attempts(max_attempts);
    return r;
  }
  // Submits and returns the job id (fails the test on error).
  std::string Submit(const v1::SubmitJobRequest& r, const std::string& tenant = "t1") {
    auto result = queue_->Submit(tenant, r);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? result->job.id() : "";
  }
  v1::LeaseJobResponse Lease(const std::string& worker = "worker_a",
                             std::vector<v1::JobKind> kinds = {}) {
    v1::LeaseJobRequest r;
    r.set_worker_id(worker);
    r.set_engine_version("test-engine");
    for (v1::JobKind k : kinds) r.add_kinds(k);
    auto lease = queue_->Lease(r);
    EXPECT_TRUE(lease.ok()) << lease.status();
    return lease.ok() ? *lease : v1::LeaseJobResponse();
  }
  v1::Job Job(const std::string& id, const std::string& tenant = "t1") {
    auto job = queue_->Get(tenant, id);
    EXPECT_TRUE(job.ok()) << job.status();
    return job.ok() ? *job : v1::Job();
  }
  std::vector<v1::JobEvent> Events(const std::string& id, const std::string& tenant = "t1") {
    auto events = queue_->Events(tenant, id, 0, 1000);
    EXPECT_TRUE(events.ok()) << events.status();
    return events.ok() ? *events : std::vector<v1::JobEvent>();
  }
  absl::Status Heartbeat(const std::string& id, int64_t epoch) {
    v1::HeartbeatRequest r;
    r.set_job_id(id);
    r.set_epoch(epoch);
    return queue_->Heartbeat(r).status();
  }
  absl::Status Complete(const std::string& id, int64_t epoch, double accuracy = 0.9) {
    v1::CompleteJobRequest r;
    r.set_job_id(id);
    r.set_epoch(epoch);
    auto* m = r.add_metrics();
    m->set_name("accuracy");
    m->set_value(accuracy);
    return queue_->Complete(r);
  }
  absl::Status Fail(const std::string& id, int64_t epoch, bool retryable,
                    const std::string& error = "boom") {
    v1::FailJobRequest r;
    r.set_job_id(id);
    r.set_epoch(epoch);
    r.set_retryable(retryable);
    r.set_error(error);
    return queue_->Fail(r);
  }

  ScopedTempDir dir_;
  FakeClock clock_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Queue> queue_;
};

}  // namespace mp::queue

#endif  // MP_SERVER_QUEUE_QUEUE_TEST_UTIL_H_
