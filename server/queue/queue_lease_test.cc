// Queue: leases, ordering, fencing, expiry, retries with backoff, DEAD, completion.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/queue/queue_test_util.h"

namespace mp::queue {
namespace {

using QueueLeaseTest = QueueTestBase;

int CountEventsInState(const std::vector<v1::JobEvent>& events, v1::JobState state) {
  int n = 0;
  for (const auto& e : events) n += e.state() == state;
  return n;
}

TEST_F(QueueLeaseTest, NothingToLease) {
  EXPECT_FALSE(Lease().has_lease());
  v1::LeaseJobRequest no_worker;
  EXPECT_EQ(queue_->Lease(no_worker).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(QueueLeaseTest, LeaseGrantsTheJobAndCountsTheAttempt) {
  SubmitExtras extras;
  extras.inputs["model"].set_sha256(std::string(64, 'a'));
  auto submitted = queue_->Submit("t1", Request(), extras);
  ASSERT_TRUE(submitted.ok());
  const std::string id = submitted->job.id();
  const v1::LeaseJobResponse lease = Lease("worker_a");
  ASSERT_TRUE(lease.has_lease());
  EXPECT_EQ(lease.lease().job_id(), id);
  EXPECT_EQ(lease.lease().epoch(), 1);
  EXPECT_EQ(lease.lease().expires_unix_ms(), clock_.NowMillis() + kTtl);
  EXPECT_EQ(lease.attempt(), 1);
  EXPECT_EQ(lease.spec().DebugString(), submitted->job.spec().DebugString());
  EXPECT_EQ(lease.inputs().at("model").sha256(), std::string(64, 'a'));
  const v1::Job job = Job(id);
  EXPECT_EQ(job.state(), v1::JOB_STATE_RUNNING);
  EXPECT_EQ(job.attempts(), 1);
  EXPECT_EQ(job.worker_id(), "worker_a");
  EXPECT_EQ(job.engine_version(), "test-engine");
  EXPECT_EQ(job.started_unix_ms(), clock_.NowMillis());
  const auto events = Events(id);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].state(), v1::JOB_STATE_RUNNING);
  EXPECT_FALSE(Lease("worker_b").has_lease());  // one job, one lease
  EXPECT_TRUE(queue_->CheckLease(id, 1).ok());
  EXPECT_EQ(queue_->CheckLease(id, 2).status().code(), absl::StatusCode::kAborted);
}

TEST_F(QueueLeaseTest, HighestPriorityFirstThenOldest) {
  const std::string low = Submit(Request(v1::JOB_KIND_PTQ, 0));
  clock_.AdvanceMillis(1);
  const std::string high_old = Submit(Request(v1::JOB_KIND_PTQ, 5));
  clock_.AdvanceMillis(1);
  const std::string high_new = Submit(Request(v1::JOB_KIND_PTQ, 5), "t2");
  clock_.AdvanceMillis(1);
  const std::string mid = Submit(Request(v1::JOB_KIND_PTQ, 1));
  EXPECT_EQ(Lease().lease().job_id(), high_old);
  EXPECT_EQ(Lease().lease().job_id(), high_new);
  EXPECT_EQ(Lease().lease().job_id(), mid);
  EXPECT_EQ(Lease().lease().job_id(), low);
}

TEST_F(QueueLeaseTest, KindsFilter) {
  const std::string ptq = Submit(Request(v1::JOB_KIND_PTQ, 9));
  const std::string inspect = Submit(Request(v1::JOB_KIND_INSPECT));
  EXPECT_EQ(Lease("w", {v1::JOB_KIND_INSPECT}).lease().job_id(), inspect);
  EXPECT_FALSE(Lease("w", {v1::JOB_KIND_INSPECT, v1::JOB_KIND_SEARCH}).has_lease());
  EXPECT_EQ(Lease("w").lease().job_id(), ptq);
}

TEST_F(QueueLeaseTest, HeartbeatRenewsTheLease) {
  const std::string id = Submit(Request());
  const int64_t epoch = Lease().lease().epoch();
  clock_.AdvanceMillis(kTtl - 1);
  v1::HeartbeatRequest hb;
  hb.set_job_id(id);
  hb.set_epoch(epoch);
  auto reply = queue_->Heartbeat(hb);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_FALSE(reply->cancelled());
  EXPECT_EQ(reply->expires_unix_ms(), clock_.NowMillis() + kTtl);
  clock_.AdvanceMillis(kTtl - 1);
  EXPECT_EQ(*queue_->ReapExpired(), 0);
  EXPECT_EQ(Job(id).state(), v1::JOB_STATE_RUNNING);
  clock_.AdvanceMillis(1);  // exactly at expiry: expired
  EXPECT_EQ(*queue_->ReapExpired(), 1);
  EXPECT_EQ(Job(id).state(), v1::JOB_STATE_QUEUED);
  EXPECT_EQ(Heartbeat(id, epoch).code(), absl::StatusCode::kAborted);
  EXPECT_EQ(Heartbeat("job_ffffffffffffffff", 1).code(), absl::StatusCode::kNotFound);
}

TEST_F(QueueLeaseTest, ExpiredButUnreapedLeaseIsStillHeld) {
  const std::string id = Submit(Request());
  const int64_t epoch = Lease().lease().epoch();
  clock_.AdvanceMillis(kTtl + 5);
  EXPECT_TRUE(Heartbeat(id, epoch).ok());  // nobody took it: renewed
  EXPECT_EQ(*queue_->ReapExpired(), 0);
}

TEST_F(QueueLeaseTest, ExpiryRequeuesWithBackoffAndReleasesWithNextAttempt) {
  const std::string id = Submit(Request());
  const v1::LeaseJobResponse first = Lease("worker_a");
  clock_.AdvanceMillis(kTtl);
  // Lease() reaps inline; the job is in backoff, so nothing is leasable yet.
  EXPECT_FALSE(Lease("worker_b").has_lease());
  v1::Job job = Job(id);
  EXPECT_EQ(job.state(), v1::JOB_STATE_QUEUED);
  EXPECT_NE(job.error().find("worker_a"), std::string::npos);
  clock_.AdvanceMillis(kBackoff - 1);
  EXPECT_FALSE(Lease("worker_b").has_lease());
  clock_.AdvanceMillis(1);
  const v1::LeaseJobResponse second = Lease("worker_b");
  ASSERT_TRUE(second.has_lease());
  EXPECT_EQ(second.lease().job_id(), id);
  EXPECT_EQ(second.attempt(), 2);
  EXPECT_EQ(second.lease().epoch(), first.lease().epoch() + 1);
  // Fencing: the first worker comes back and is refused everywhere.
  EXPECT_EQ(Heartbeat(id, first.lease().epoch()).code(), absl::StatusCode::kAborted);
  EXPECT_EQ(Complete(id, first.lease().epoch()).code(), absl::StatusCode::kAborted);
  EXPECT_EQ(Fail(id, first.lease().epoch(), false).code(), absl::StatusCode::kAborted);
  v1::ReportProgressRequest progress;
  progress.set_job_id(id);
  progress.set_epoch(first.lease().epoch());
  EXPECT_EQ(queue_->ReportProgress(progress).status().code(), absl::StatusCode::kAborted);
  // The current holder completes exactly once.
  EXPECT_TRUE(Complete(id, second.lease().epoch(), 0.5).ok());
  EXPECT_EQ(Complete(id, second.lease().epoch(), 0.7).code(), absl::StatusCode::kAborted);
  job = Job(id);
  EXPECT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(job.metrics(0).value(), 0.5);
  EXPECT_EQ(job.worker_id(), "worker_b");
  EXPECT_EQ(CountEventsInState(Events(id), v1::JOB_STATE_SUCCEEDED), 1);
  EXPECT_EQ(Heartbeat(id, second.lease().epoch()).code(), absl::StatusCode::kAborted);
}

TEST_F(QueueLeaseTest, PoisonJobGoesDeadWhileJobsBehindItStillLease) {
  const std::string poison = Submit(Request(v1::JOB_KIND_PTQ, 10, "", 2));
  const std::string normal = Submit(Request(v1::JOB_KIND_PTQ, 0));
  EXPECT_EQ(Lease().lease().job_id(), poison);  // attempt 1: the worker dies
  clock_.AdvanceMillis(kTtl);
  const v1::LeaseJobResponse n = Lease();  // poison in backoff: the next job runs
  EXPECT_EQ(n.lease().job_id(), normal);
  EXPECT_TRUE(Complete(normal, n.lease().epoch()).ok());
  clock_.AdvanceMillis(kBackoff);
  const v1::LeaseJobResponse p2 = Lease();
  EXPECT_EQ(p2.lease().job_id(), poison);
  EXPECT_EQ(p2.attempt(), 2);
  clock_.AdvanceMillis(kTtl);  // dies again: no attempts left
  EXPECT_EQ(*queue_->ReapExpired(), 1);
  const v1::Job dead = Job(poison);
  EXPECT_EQ(dead.state(), v1::JOB_STATE_DEAD);
  EXPECT_EQ(dead.attempts(), 2);
  EXPECT_NE(dead.error().find("attempt 2 of 2"), std::string::npos);
  EXPECT_EQ(dead.finished_unix_ms(), clock_.NowMillis());
  clock_.AdvanceMillis(100 * kBackoff);
  EXPECT_FALSE(Lease().has_lease());
  const auto events = Events(poison);
  EXPECT_EQ(events.back().state(), v1::JOB_STATE_DEAD);
  EXPECT_EQ(CountEventsInState(events, v1::JOB_STATE_RUNNING), 2);
}

TEST_F(QueueLeaseTest, RetryableFailuresBackOffExponentiallyUntilDead) {
  const std::string id = Submit(Request(v1::JOB_KIND_PTQ, 0, "", 6));
  // Backoff after attempt n: base * 2^(n-1), capped at 8 * base.
  const int64_t expected[] = {1, 2, 4, 8, 8};
  for (int attempt = 1; attempt <= 5; ++attempt) {
    const v1::LeaseJobResponse lease = Lease();
    ASSERT_EQ(lease.attempt(), attempt);
    ASSERT_TRUE(Fail(id, lease.lease().epoch(), true, "transient").ok());
    EXPECT_EQ(Job(id).state(), v1::JOB_STATE_QUEUED);
    EXPECT_EQ(Job(id).error(), "transient");
    clock_.AdvanceMillis(expected[attempt - 1] * kBackoff - 1);
    EXPECT_FALSE(Lease().has_lease()) << "attempt " << attempt;
    clock_.AdvanceMillis(1);
  }
  const v1::LeaseJobResponse last = Lease();
  ASSERT_EQ(last.attempt(), 6);
  ASSERT_TRUE(Fail(id, last.lease().epoch(), true, "transient").ok());
  EXPECT_EQ(Job(id).state(), v1::JOB_STATE_DEAD);
}

TEST_F(QueueLeaseTest, PermanentFailureIsFailed) {
  const std::string id = Submit(Request());
  const int64_t epoch = Lease().lease().epoch();
  ASSERT_TRUE(Fail(id, epoch, false, "node 'conv3' (Conv): weight has 3 dims").ok());
  const v1::Job job = Job(id);
  EXPECT_EQ(job.state(), v1::JOB_STATE_FAILED);
  EXPECT_EQ(job.error(), "node 'conv3' (Conv): weight has 3 dims");
  EXPECT_EQ(job.attempts(), 1);
  EXPECT_EQ(Fail(id, epoch, false).code(), absl::StatusCode::kAborted);
  clock_.AdvanceMillis(100 * kBackoff);
  EXPECT_FALSE(Lease().has_lease());
}

TEST_F(QueueLeaseTest, ProgressAppendsEventsAndRenews) {
  const std::string id = Submit(Request());
  const int64_t epoch = Lease().lease().epoch();
  clock_.AdvanceMillis(kTtl - 1);
  v1::ReportProgressRequest r;
  r.set_job_id(id);
  r.set_epoch(epoch);
  r.set_progress(0.4);
  r.set_eta_seconds(12);
  r.set_step("calibrate");
  r.add_metrics()->set_name("batches");
  r.set_log("batch 4/10");
  auto reply = queue_->ReportProgress(r);
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->expires_unix_ms(), clock_.NowMillis() + kTtl);
  r.set_progress(1.7);  // clamped
  ASSERT_TRUE(queue_->ReportProgress(r).ok());
  const v1::Job job = Job(id);
  EXPECT_EQ(job.progress(), 1.0);
  EXPECT_EQ(job.eta_seconds(), 12);
  EXPECT_EQ(job.step(), "calibrate");
  const auto events = Events(id);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[2].progress(), 0.4);
  EXPECT_EQ(events[2].step(), "calibrate");
  EXPECT_EQ(events[2].log(), "batch 4/10");
  EXPECT_EQ(events[2].metrics(0).name(), "batches");
  EXPECT_EQ(events[2].state(), v1::JOB_STATE_RUNNING);
  EXPECT_EQ(events[3].sequence(), 4);
  clock_.AdvanceMillis(kTtl - 1);
  EXPECT_EQ(*queue_->ReapExpired(), 0);
}

TEST_F(QueueLeaseTest, CompleteStoresArtifactsAndInspection) {
  store::ModelRecord model;
  model.tenant = "t1";
  model.model.set_id("model_00000000000000aa");
  ASSERT_TRUE(store_->CreateModel(model).ok());
  const std::string id = Submit(Request(v1::JOB_KIND_INSPECT));
  const int64_t epoch = Lease().lease().epoch();
  v1::CompleteJobRequest r;
  r.set_job_id(id);
  r.set_epoch(epoch);
  r.mutable_inspection()->set_opset(13);
  r.mutable_inspection()->add_unsupported_ops("Loop");
  auto* artifact = r.add_artifacts();
  artifact->set_name("report");
  artifact->mutable_blob()->set_sha256(std::string(64, 'f'));
  artifact->mutable_blob()->set_size_bytes(4096);
  ASSERT_TRUE(queue_->Complete(r).ok());
  const v1::Job job = Job(id);
  EXPECT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(job.progress(), 1.0);
  EXPECT_EQ(job.artifacts(0).name(), "report");
  EXPECT_EQ(job.finished_unix_ms(), clock_.NowMillis());
  auto stored = store_->GetModel("t1", "model_00000000000000aa");
  EXPECT_EQ(stored->model.inspection().opset(), 13);
  EXPECT_EQ(stored->model.inspection().unsupported_ops(0), "Loop");
  EXPECT_EQ(store_->GetTenantUsage("t1")->artifact_bytes, 4096);

  // The model was deleted while its inspect job ran: the job still completes.
  ASSERT_TRUE(store_->DeleteModel("t1", "model_00000000000000aa").ok());
  const std::string orphan = Submit(Request(v1::JOB_KIND_INSPECT));
  r.set_job_id(orphan);
  r.set_epoch(Lease().lease().epoch());
  EXPECT_TRUE(queue_->Complete(r).ok());
  EXPECT_EQ(Job(orphan).state(), v1::JOB_STATE_SUCCEEDED);
}

TEST_F(QueueLeaseTest, DurableAcrossReopen) {
  const std::string id = Submit(Request());
  const int64_t epoch = Lease().lease().epoch();
  queue_.reset();
  store_.reset();
  auto store = store::Store::Open({.data_dir = dir_.path(), .clock = &clock_});
  ASSERT_TRUE(store.ok());
  store_ = std::move(*store);
  queue_ = std::move(*Queue::Create(store_.get(), &clock_, Options()));
  EXPECT_EQ(Job(id).state(), v1::JOB_STATE_RUNNING);
  EXPECT_TRUE(Complete(id, epoch).ok());  // the lease survived the restart
  EXPECT_TRUE(store_->IntegrityCheck().ok());
}

}  // namespace
}  // namespace mp::queue
