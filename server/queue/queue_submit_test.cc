// Queue: submission, idempotency, reads, paging, tenant isolation.
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/ids.h"
#include "gtest/gtest.h"
#include "server/queue/queue_test_util.h"

namespace mp::queue {
namespace {

using QueueSubmitTest = QueueTestBase;

TEST_F(QueueSubmitTest, SubmitCreatesQueuedJobWithEvent) {
  v1::SubmitJobRequest r = Request(v1::JOB_KIND_PTQ, 3);
  SubmitExtras extras;
  extras.inputs["model"].set_sha256(std::string(64, 'a'));
  extras.inputs["model"].set_size_bytes(10);
  auto result = queue_->Submit("t1", r, extras);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->created);
  const v1::Job& job = result->job;
  EXPECT_TRUE(JobId::Parse(job.id()).ok());
  EXPECT_EQ(job.state(), v1::JOB_STATE_QUEUED);
  EXPECT_EQ(job.priority(), 3);
  EXPECT_EQ(job.attempts(), 0);
  EXPECT_EQ(job.max_attempts(), 3);
  EXPECT_NE(job.spec().seed(), 0u);  // the server picked one
  EXPECT_EQ(job.created_unix_ms(), clock_.NowMillis());
  EXPECT_EQ(job.eta_seconds(), -1);
  EXPECT_EQ(job.inputs().at("model").size_bytes(), 10);
  EXPECT_EQ(Job(job.id()).DebugString(), job.DebugString());
  auto events = Events(job.id());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].sequence(), 1);
  EXPECT_EQ(events[0].state(), v1::JOB_STATE_QUEUED);

  r.mutable_spec()->set_seed(1234);
  EXPECT_EQ(Job(Submit(r)).spec().seed(), 1234u);  // a given seed is kept
}

TEST_F(QueueSubmitTest, RejectsMalformedRequests) {
  v1::SubmitJobRequest r = Request(v1::JOB_KIND_UNSPECIFIED);
  EXPECT_EQ(queue_->Submit("t1", r).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(queue_->Submit("t1", Request(v1::JOB_KIND_PTQ, 0, "", 11)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(queue_->Submit("t1", Request(v1::JOB_KIND_PTQ, 0, "", -1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      queue_->Submit("t1", Request(v1::JOB_KIND_PTQ, 0, std::string(129, 'k'))).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(queue_->Submit("", Request()).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Job(Submit(Request(v1::JOB_KIND_PTQ, 0, "", 10))).max_attempts(), 10);
}

TEST_F(QueueSubmitTest, IdempotencyKey) {
  auto first = queue_->Submit("t1", Request(v1::JOB_KIND_PTQ, 0, "k1"));
  ASSERT_TRUE(first.ok());
  auto again = queue_->Submit("t1", Request(v1::JOB_KIND_PTQ, 0, "k1"));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->job.id(), first->job.id());
  auto different = queue_->Submit("t1", Request(v1::JOB_KIND_INSPECT, 0, "k1"));
  EXPECT_EQ(different.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(std::string(different.status().message()).find(first->job.id()), std::string::npos);
  auto other_tenant = queue_->Submit("t2", Request(v1::JOB_KIND_PTQ, 0, "k1"));
  ASSERT_TRUE(other_tenant.ok());
  EXPECT_TRUE(other_tenant->created);
  EXPECT_NE(other_tenant->job.id(), first->job.id());
  EXPECT_EQ(queue_->List("t1", {})->jobs_size(), 1);
}

TEST_F(QueueSubmitTest, TenThreadsRacingOnOneKeyCreateOneJob) {
  constexpr int kThreads = 10;
  std::vector<std::string> ids(kThreads);
  std::vector<int> created(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto result = queue_->Submit("t1", Request(v1::JOB_KIND_PTQ, 0, "race"));
      if (result.ok()) {
        ids[t] = result->job.id();
        created[t] = result->created ? 1 : 0;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 1u);
  EXPECT_FALSE(ids[0].empty());
  int total_created = 0;
  for (int c : created) total_created += c;
  EXPECT_EQ(total_created, 1);
  EXPECT_EQ(queue_->List("t1", {})->jobs_size(), 1);
  EXPECT_EQ(Events(ids[0]).size(), 1u);
}

// Two stores on one database (as two server processes would be) are serialized by SQLite's
// BEGIN IMMEDIATE lock rather than by the writer mutex: still exactly one job.
TEST_F(QueueSubmitTest, TwoStoresRacingOnOneKeyCreateOneJob) {
  auto other_store = store::Store::Open({.data_dir = dir_.path(), .clock = &clock_});
  ASSERT_TRUE(other_store.ok()) << other_store.status();
  auto other_queue = Queue::Create(other_store->get(), &clock_, Options());
  ASSERT_TRUE(other_queue.ok());
  constexpr int kThreads = 10;
  std::vector<std::string> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Queue& q = t % 2 ? **other_queue : *queue_;
      auto result = q.Submit("t1", Request(v1::JOB_KIND_PTQ, 0, "race2"));
      if (result.ok()) ids[t] = result->job.id();
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 1u);
  EXPECT_FALSE(ids[0].empty());
  EXPECT_EQ(queue_->List("t1", {})->jobs_size(), 1);
}

TEST_F(QueueSubmitTest, TenantIsolation) {
  const std::string id = Submit(Request());
  EXPECT_EQ(queue_->Get("t2", id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(queue_->Cancel("t2", id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(queue_->Events("t2", id, 0, 10).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(queue_->Get("t1", "job_ffffffffffffffff").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(queue_->Get("t1", "model_ffffffffffffffff").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(queue_->List("t2", {})->jobs_size(), 0);
  EXPECT_EQ(Job(id).state(), v1::JOB_STATE_QUEUED);  // t2's cancel did nothing
}

TEST_F(QueueSubmitTest, ListPagesAndFilters) {
  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i) {
    ids.push_back(Submit(Request(i % 2 ? v1::JOB_KIND_INSPECT : v1::JOB_KIND_PTQ)));
    clock_.AdvanceMillis(1);
  }
  std::vector<std::string> seen;
  v1::ListJobsRequest r;
  r.set_page_size(3);
  int pages = 0;
  do {
    auto page = queue_->List("t1", r);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const auto& j : page->jobs()) seen.push_back(j.id());
    r.set_page_token(page->next_page_token());
    ++pages;
  } while (!r.page_token().empty());
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, std::vector<std::string>(ids.rbegin(), ids.rend()));  // newest first

  ASSERT_TRUE(queue_->Cancel("t1", ids[0]).ok());
  v1::ListJobsRequest f;
  f.add_states(v1::JOB_STATE_CANCELLED);
  EXPECT_EQ(queue_->List("t1", f)->jobs_size(), 1);
  f.Clear();
  f.set_kind(v1::JOB_KIND_INSPECT);
  EXPECT_EQ(queue_->List("t1", f)->jobs_size(), 3);
  f.Clear();
  f.set_model_id("model_00000000000000aa");
  EXPECT_EQ(queue_->List("t1", f)->jobs_size(), 7);
  f.set_model_id("model_00000000000000bb");
  EXPECT_EQ(queue_->List("t1", f)->jobs_size(), 0);
  f.Clear();
  f.set_page_size(1001);
  EXPECT_EQ(queue_->List("t1", f).status().code(), absl::StatusCode::kInvalidArgument);
  f.set_page_size(0);
  f.set_page_token("garbage!");
  EXPECT_EQ(queue_->List("t1", f).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(QueueSubmitTest, InTxnHookCommitsOrRollsBackWithTheJob) {
  SubmitExtras extras;
  extras.in_txn = [](store::WriteTxn& txn, const v1::Job& job) {
    store::ModelRecord m;
    m.tenant = "t1";
    m.model.set_id("model_0000000000000001");
    m.model.set_inspect_job_id(job.id());
    return txn.InsertModel(m);
  };
  auto ok = queue_->Submit("t1", Request(v1::JOB_KIND_INSPECT), extras);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(store_->GetModel("t1", "model_0000000000000001")->model.inspect_job_id(), ok->job.id());
  // Same model id again: the hook fails, so the job is not created either.
  auto failed = queue_->Submit("t1", Request(v1::JOB_KIND_INSPECT), extras);
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(queue_->List("t1", {})->jobs_size(), 1);
}

class QueueFullTest : public QueueTestBase {
  QueueOptions Options() override {
    QueueOptions o = QueueTestBase::Options();
    o.max_queued_per_tenant = 2;
    return o;
  }
};

TEST_F(QueueFullTest, PerTenantQueueLimit) {
  Submit(Request());
  const std::string second = Submit(Request());
  EXPECT_EQ(queue_->Submit("t1", Request()).status().code(), absl::StatusCode::kResourceExhausted);
  Submit(Request(), "t2");  // other tenants are unaffected
  ASSERT_TRUE(queue_->Cancel("t1", second).ok());
  Submit(Request());
}

}  // namespace
}  // namespace mp::queue
