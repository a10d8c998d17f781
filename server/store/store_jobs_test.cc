// Store: job rows, events and the job queries the queue relies on.
#include <string>
#include <vector>

#include "common/str_cat.h"
#include "gtest/gtest.h"
#include "server/store/store.h"
#include "server/store/store_test_util.h"

namespace mp::store {
namespace {

class StoreJobsTest : public StoreTestBase {
 protected:
  static JobRecord Job(const std::string& tenant, int n, int64_t created, int priority = 0,
                       v1::JobState state = v1::JOB_STATE_QUEUED,
                       v1::JobKind kind = v1::JOB_KIND_PTQ) {
    JobRecord r;
    r.tenant = tenant;
    r.job.set_id(StrCat("job_", n < 10 ? "000000000000000" : "00000000000000", n));
    r.job.mutable_spec()->set_kind(kind);
    r.job.mutable_spec()->set_model_id(StrCat("model_m", n % 2));
    r.job.set_state(state);
    r.job.set_priority(priority);
    r.job.set_max_attempts(3);
    r.job.set_created_unix_ms(created);
    r.job.set_eta_seconds(-1);
    r.spec_hash = std::string(64, 'c');
    return r;
  }
  void Insert(const JobRecord& r) {
    auto txn = store_->BeginWrite();
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE(txn->InsertJob(r).ok());
    ASSERT_TRUE(txn->Commit().ok());
  }
};

TEST_F(StoreJobsTest, EveryColumnRoundTrips) {
  JobRecord r = Job("t1", 1, 42, 7, v1::JOB_STATE_RUNNING);
  v1::Job& j = r.job;
  j.mutable_spec()->set_seed(99);
  j.mutable_spec()->mutable_ptq()->set_calibrator("entropy");
  j.set_attempts(2);
  j.set_progress(0.25);
  j.set_eta_seconds(12.5);
  j.set_step("calibrate");
  j.set_error("previous attempt: boom");
  auto* m = j.add_metrics();
  m->set_name("accuracy");
  m->set_value(0.91);
  auto* a = j.add_artifacts();
  a->set_name("model");
  a->mutable_blob()->set_sha256(std::string(64, 'd'));
  a->mutable_blob()->set_size_bytes(321);
  (*j.mutable_inputs())["model"].set_sha256(std::string(64, 'e'));
  (*j.mutable_inputs())["calibration"].set_size_bytes(5);
  j.set_engine_version("0.1.0");
  j.set_worker_id("worker_1");
  j.set_started_unix_ms(50);
  j.set_finished_unix_ms(60);
  r.epoch = 4;
  r.lease_expires_unix_ms = 1234;
  r.next_run_unix_ms = 99;
  r.cancel_requested = true;
  r.idempotency_key = "key-1";
  Insert(r);
  auto got = store_->GetJob("t1", j.id());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->tenant, "t1");
  EXPECT_EQ(got->epoch, 4);
  EXPECT_EQ(got->lease_expires_unix_ms, 1234);
  EXPECT_EQ(got->next_run_unix_ms, 99);
  EXPECT_TRUE(got->cancel_requested);
  EXPECT_EQ(got->idempotency_key, "key-1");
  EXPECT_EQ(got->spec_hash, r.spec_hash);
  EXPECT_EQ(got->job.DebugString(), j.DebugString());
  EXPECT_EQ(store_->GetJob("t2", j.id()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(store_->GetJobAnyTenant(j.id()).ok());
  EXPECT_EQ(store_->GetTenantUsage("t1")->artifact_bytes, 321);
}

TEST_F(StoreJobsTest, UpdateAndUniqueKeys) {
  JobRecord r = Job("t1", 1, 1);
  r.idempotency_key = "k";
  Insert(r);
  auto txn = store_->BeginWrite();
  ASSERT_TRUE(txn.ok());
  JobRecord same_key = Job("t1", 2, 2);
  same_key.idempotency_key = "k";
  EXPECT_EQ(txn->InsertJob(same_key).code(), absl::StatusCode::kAlreadyExists);
  JobRecord other_tenant = Job("t2", 3, 2);
  other_tenant.idempotency_key = "k";
  EXPECT_TRUE(txn->InsertJob(other_tenant).ok());
  EXPECT_TRUE(txn->InsertJob(Job("t1", 4, 2)).ok());  // no key: never conflicts
  EXPECT_TRUE(txn->InsertJob(Job("t1", 5, 2)).ok());
  auto found = txn->FindJobByIdempotencyKey("t1", "k");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->job.id(), r.job.id());
  EXPECT_FALSE(txn->FindJobByIdempotencyKey("t1", "other")->has_value());
  r.job.set_state(v1::JOB_STATE_FAILED);
  r.job.set_error("bad");
  EXPECT_TRUE(txn->UpdateJob(r).ok());
  EXPECT_EQ(txn->UpdateJob(Job("t1", 9, 1)).code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(txn->Commit().ok());
  EXPECT_EQ(store_->GetJob("t1", r.job.id())->job.error(), "bad");
}

TEST_F(StoreJobsTest, EventsAreDensePerJob) {
  Insert(Job("t1", 1, 1));
  Insert(Job("t1", 2, 1));
  auto txn = store_->BeginWrite();
  ASSERT_TRUE(txn.ok());
  for (int i = 0; i < 5; ++i) {
    v1::JobEvent e;
    e.set_state(v1::JOB_STATE_RUNNING);
    e.set_progress(0.1 * i);
    e.set_step(StrCat("step", i));
    e.add_metrics()->set_name(StrCat("m", i));
    EXPECT_EQ(*txn->AppendEvent("job_0000000000000001", e), i + 1);
    if (i < 2) {
      EXPECT_EQ(*txn->AppendEvent("job_0000000000000002", e), i + 1);
    }
  }
  ASSERT_TRUE(txn->Commit().ok());
  auto events = store_->ListEvents("job_0000000000000001", 2, 100);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ((*events)[0].sequence(), 3);
  EXPECT_EQ((*events)[0].step(), "step2");
  EXPECT_EQ((*events)[0].metrics(0).name(), "m2");
  EXPECT_EQ((*events)[0].unix_ms(), clock_.NowMillis());
  EXPECT_EQ(store_->ListEvents("job_0000000000000001", 0, 2)->size(), 2u);
  EXPECT_EQ(store_->ListEvents("job_0000000000000002", 0, 100)->size(), 2u);
}

TEST_F(StoreJobsTest, NextRunnableOrdersByPriorityThenAge) {
  Insert(Job("t1", 1, 10, 0));
  Insert(Job("t1", 2, 11, 5));
  Insert(Job("t2", 3, 9, 5));  // same priority, older: first
  Insert(Job("t1", 4, 5, 9, v1::JOB_STATE_RUNNING));
  JobRecord backoff = Job("t1", 5, 1, 20);
  backoff.next_run_unix_ms = 1000;
  Insert(backoff);
  Insert(Job("t1", 6, 1, 1, v1::JOB_STATE_QUEUED, v1::JOB_KIND_INSPECT));
  auto txn = store_->BeginWrite();
  ASSERT_TRUE(txn.ok());
  EXPECT_EQ((*txn->NextRunnable(999, {}))->job.id(), "job_0000000000000003");
  EXPECT_EQ((*txn->NextRunnable(1000, {}))->job.id(), "job_0000000000000005");
  EXPECT_EQ((*txn->NextRunnable(999, {v1::JOB_KIND_INSPECT}))->job.id(), "job_0000000000000006");
  EXPECT_FALSE(txn->NextRunnable(999, {v1::JOB_KIND_SEARCH})->has_value());
}

TEST_F(StoreJobsTest, ExpiredLeasesAndDueTimes) {
  JobRecord a = Job("t1", 1, 1, 0, v1::JOB_STATE_RUNNING);
  a.lease_expires_unix_ms = 500;
  JobRecord b = Job("t1", 2, 1, 0, v1::JOB_STATE_RUNNING);
  b.lease_expires_unix_ms = 300;
  JobRecord c = Job("t1", 3, 1);
  c.next_run_unix_ms = 400;
  Insert(a);
  Insert(b);
  Insert(c);
  {
    auto txn = store_->BeginWrite();
    ASSERT_TRUE(txn.ok());
    auto expired = txn->ExpiredLeases(500, 10);
    ASSERT_EQ(expired->size(), 2u);
    EXPECT_EQ((*expired)[0].job.id(), "job_0000000000000002");  // oldest expiry first
    EXPECT_EQ(txn->ExpiredLeases(499, 10)->size(), 1u);
  }
  EXPECT_EQ(**store_->NextDueMillis(0), 300);
  EXPECT_EQ(**store_->NextDueMillis(300), 400);
  EXPECT_EQ(**store_->NextDueMillis(400), 500);
  EXPECT_FALSE(store_->NextDueMillis(500)->has_value());
  auto counts = store_->CountJobsByState();
  EXPECT_EQ((*counts)[v1::JOB_STATE_RUNNING], 2);
  EXPECT_EQ((*counts)[v1::JOB_STATE_QUEUED], 1);
  EXPECT_EQ(*store_->CountTenantJobs("t1", v1::JOB_STATE_QUEUED), 1);
  EXPECT_EQ(*store_->CountTenantJobs("t2", v1::JOB_STATE_QUEUED), 0);
}

TEST_F(StoreJobsTest, ListJobsFiltersAndPages) {
  for (int i = 1; i <= 12; ++i) {
    Insert(Job(i % 4 == 0 ? "t2" : "t1", i, 100 + i, 0,
               i % 3 == 0 ? v1::JOB_STATE_SUCCEEDED : v1::JOB_STATE_QUEUED,
               i % 5 == 0 ? v1::JOB_KIND_INSPECT : v1::JOB_KIND_PTQ));
  }
  std::vector<std::string> ids;
  std::string token;
  do {
    auto page = store_->ListJobs("t1", {}, 4, token);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const auto& r : page->items) ids.push_back(r.job.id().substr(18));
    token = page->next_page_token;
  } while (!token.empty());
  EXPECT_EQ(ids, (std::vector<std::string>{"11", "10", "09", "07", "06", "05", "03", "02", "01"}));
  auto done = store_->ListJobs("t1", {.states = {v1::JOB_STATE_SUCCEEDED}}, 100, "");
  EXPECT_EQ(done->items.size(), 3u);  // 3, 6, 9
  auto inspect = store_->ListJobs("t1", {.kind = v1::JOB_KIND_INSPECT}, 100, "");
  EXPECT_EQ(inspect->items.size(), 2u);  // 5, 10
  auto by_model = store_->ListJobs("t1", {.model_id = "model_m1"}, 100, "");
  EXPECT_EQ(by_model->items.size(), 6u);  // t1's odd jobs: 1, 3, 5, 7, 9, 11
  auto both = store_->ListJobs(
      "t1", {.states = {v1::JOB_STATE_QUEUED, v1::JOB_STATE_SUCCEEDED}, .model_id = "model_m0"},
      100, "");
  EXPECT_EQ(both->items.size(), 3u);  // 2, 6, 10
}

}  // namespace
}  // namespace mp::store
