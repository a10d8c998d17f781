// Queue: cancellation paths, event waiting, long polls and the background reaper.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "server/queue/queue_test_util.h"

namespace mp::queue {
namespace {

using QueueCancelTest = QueueTestBase;

v1::HeartbeatResponse Beat(Queue& queue, const std::string& id, int64_t epoch) {
  v1::HeartbeatRequest r;
  r.set_job_id(id);
  r.set_epoch(epoch);
  auto reply = queue.Heartbeat(r);
  EXPECT_TRUE(reply.ok()) << reply.status();
  return reply.ok() ? *reply : v1::HeartbeatResponse();
}

TEST_F(QueueCancelTest, CancelQueuedIsImmediate) {
  const std::string id = Submit(Request());
  auto job = queue_->Cancel("t1", id);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->state(), v1::JOB_STATE_CANCELLED);
  EXPECT_EQ(job->finished_unix_ms(), clock_.NowMillis());
  EXPECT_EQ(Events(id).back().state(), v1::JOB_STATE_CANCELLED);
  EXPECT_FALSE(Lease().has_lease());
  EXPECT_EQ(queue_->Cancel("t1", id).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(QueueCancelTest, CancelRunningIsDeliveredInHeartbeatAndAcknowledgedByFail) {
  const std::string id = Submit(Request());
  const int64_t epoch = Lease().lease().epoch();
  EXPECT_FALSE(Beat(*queue_, id, epoch).cancelled());
  auto job = queue_->Cancel("t1", id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->state(), v1::JOB_STATE_RUNNING);
  const size_t events_after_cancel = Events(id).size();
  EXPECT_TRUE(queue_->Cancel("t1", id).ok());  // repeated: no-op
  EXPECT_EQ(Events(id).size(), events_after_cancel);
  EXPECT_TRUE(Beat(*queue_, id, epoch).cancelled());
  ASSERT_TRUE(Fail(id, epoch, /*retryable=*/true, "cancelled by request").ok());
  EXPECT_EQ(Job(id).state(), v1::JOB_STATE_CANCELLED);
  EXPECT_EQ(queue_->Cancel("t1", id).status().code(), absl::StatusCode::kFailedPrecondition);
  clock_.AdvanceMillis(100 * kBackoff);
  EXPECT_FALSE(Lease().has_lease());
}

TEST_F(QueueCancelTest, CompleteAfterCancelRequestEndsCancelledKeepingResults) {
  const std::string id = Submit(Request());
  const int64_t epoch = Lease().lease().epoch();
  ASSERT_TRUE(queue_->Cancel("t1", id).ok());
  ASSERT_TRUE(Complete(id, epoch, 0.8).ok());
  const v1::Job job = Job(id);
  EXPECT_EQ(job.state(), v1::JOB_STATE_CANCELLED);
  EXPECT_EQ(job.metrics(0).value(), 0.8);
}

TEST_F(QueueCancelTest, CancelRunningWhoseWorkerVanishedEndsAtLeaseExpiry) {
  const std::string id = Submit(Request());
  Lease();
  ASSERT_TRUE(queue_->Cancel("t1", id).ok());
  clock_.AdvanceMillis(kTtl);
  EXPECT_EQ(*queue_->ReapExpired(), 1);
  EXPECT_EQ(Job(id).state(), v1::JOB_STATE_CANCELLED);  // not requeued, attempts left or not
  clock_.AdvanceMillis(100 * kBackoff);
  EXPECT_FALSE(Lease().has_lease());
}

TEST_F(QueueCancelTest, CancelTerminalJobsIsFailedPrecondition) {
  const std::string done = Submit(Request());
  ASSERT_TRUE(Complete(done, Lease().lease().epoch()).ok());
  const std::string failed = Submit(Request());
  ASSERT_TRUE(Fail(failed, Lease().lease().epoch(), false).ok());
  for (const std::string& id : {done, failed}) {
    auto status = queue_->Cancel("t1", id).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(std::string(status.message()).find(id), std::string::npos);
  }
}

TEST_F(QueueCancelTest, SubscribersHearEveryCommittedEvent) {
  const std::string id = Submit(Request());
  std::atomic<int> calls{0};
  const Notifier::Token token = queue_->Subscribe(id, [&] { ++calls; });
  const int64_t epoch = Lease().lease().epoch();  // RUNNING event
  v1::ReportProgressRequest p;
  p.set_job_id(id);
  p.set_epoch(epoch);
  ASSERT_TRUE(queue_->ReportProgress(p).ok());  // progress event
  Beat(*queue_, id, epoch);                     // no event, no call
  ASSERT_TRUE(Complete(id, epoch).ok());        // SUCCEEDED event
  EXPECT_EQ(calls.load(), 3);
  queue_->Unsubscribe(token);
  Submit(Request());
  EXPECT_EQ(calls.load(), 3);
}

TEST_F(QueueCancelTest, WaitForEventsWakesOnProgressFromAnotherThread) {
  const std::string id = Submit(Request());
  const int64_t epoch = Lease().lease().epoch();
  const int64_t seen = Events(id).back().sequence();
  std::vector<v1::JobEvent> got;
  std::thread watcher([&] {
    auto events = queue_->WaitForEvents("t1", id, seen, 100, absl::Seconds(60));
    if (events.ok()) got = *events;
  });
  v1::ReportProgressRequest p;
  p.set_job_id(id);
  p.set_epoch(epoch);
  p.set_step("evaluate");
  ASSERT_TRUE(queue_->ReportProgress(p).ok());
  watcher.join();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].step(), "evaluate");
  EXPECT_EQ(got[0].sequence(), seen + 1);
  // A terminal job with nothing newer answers at once (empty), without waiting.
  ASSERT_TRUE(Complete(id, epoch).ok());
  const int64_t last = Events(id).back().sequence();
  auto none = queue_->WaitForEvents("t1", id, last, 100, absl::Hours(1));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(queue_->WaitForEvents("t2", id, 0, 10, absl::Hours(1)).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(QueueCancelTest, LeaseWaitIsWokenBySubmit) {
  v1::LeaseJobRequest r;
  r.set_worker_id("worker_w");
  r.set_wait_ms(60'000);  // capped at max_wait_ms; the submit below wakes it first
  absl::StatusOr<v1::LeaseJobResponse> got;
  std::thread waiter([&] { got = queue_->LeaseWait(r); });
  const std::string id = Submit(Request());
  waiter.join();
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_lease());
  EXPECT_EQ(got->lease().job_id(), id);
  r.set_wait_ms(0);
  auto empty = queue_->LeaseWait(r);
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->has_lease());
}

TEST_F(QueueCancelTest, ShutdownWakesLeaseWaitWithUnavailable) {
  v1::LeaseJobRequest r;
  r.set_worker_id("worker_w");
  r.set_wait_ms(60'000);
  absl::StatusOr<v1::LeaseJobResponse> got;
  std::thread waiter([&] { got = queue_->LeaseWait(r); });
  queue_->Shutdown();
  waiter.join();
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(QueueCancelTest, RunnableWaitersAreOneShot) {
  std::atomic<int> fired{0};
  const Notifier::Token a = queue_->AddRunnableWaiter([&] { ++fired; });
  const Notifier::Token b = queue_->AddRunnableWaiter([&] { fired += 10; });
  EXPECT_TRUE(queue_->RemoveRunnableWaiter(b));
  Submit(Request());
  EXPECT_EQ(fired.load(), 1);
  EXPECT_FALSE(queue_->RemoveRunnableWaiter(a));  // already ran
  Submit(Request());
  EXPECT_EQ(fired.load(), 1);
}

TEST_F(QueueCancelTest, BackgroundThreadReapsExpiredLeases) {
  const std::string id = Submit(Request());
  Lease();
  const int64_t seen = Events(id).back().sequence();
  queue_->StartBackground(absl::Milliseconds(1));
  clock_.AdvanceMillis(kTtl);
  // The reaper's requeue event wakes this wait; no sleeping for the thread.
  std::vector<v1::JobEvent> events;
  while (events.empty()) {
    auto got = queue_->WaitForEvents("t1", id, seen, 10, absl::Seconds(60));
    ASSERT_TRUE(got.ok());
    events = *got;
  }
  EXPECT_EQ(events[0].state(), v1::JOB_STATE_QUEUED);
  queue_->Shutdown();
}

}  // namespace
}  // namespace mp::queue
