// StoreDashboardData over a real Store and BlobStore in a temporary directory, and the
// dashboard's routes on top of it.
#include "server/dashboard/store_data.h"

#include <filesystem>
#include <fstream>
#include <string>

#include "common/clock.h"
#include "common/file_util.h"
#include "common/metrics.h"
#include "common/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/dashboard/routes.h"

namespace mp::dashboard {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class StoreDataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.Create("mp-dash-").ok());
    absl::StatusOr<std::unique_ptr<store::Store>> s =
        store::Store::Open({.data_dir = dir_.path(), .clock = &clock_});
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = *std::move(s);
    absl::StatusOr<std::unique_ptr<store::BlobStore>> b =
        store::BlobStore::Open(dir_.path() + "/blobs");
    ASSERT_TRUE(b.ok()) << b.status();
    blobs_ = *std::move(b);
    data_ = std::make_unique<StoreDashboardData>(
        StoreDataOptions{.store = store_.get(), .blobs = blobs_.get(), .tenants = {"t1", "t2"}});
  }

  void InsertJob(const std::string& tenant, int n, v1::JobKind kind, v1::JobState state,
                 int attempts = 0, int64_t started = 0, int64_t finished = 0) {
    store::JobRecord r;
    r.tenant = tenant;
    r.job.set_id(StrCat("job_", std::string(15 - std::to_string(n).size() + 1, '0'), n));
    r.job.mutable_spec()->set_kind(kind);
    r.job.mutable_spec()->set_model_id("model_m");
    r.job.set_state(state);
    r.job.set_attempts(attempts);
    r.job.set_max_attempts(3);
    r.job.set_created_unix_ms(1000 + n);
    r.job.set_started_unix_ms(started);
    r.job.set_finished_unix_ms(finished);
    r.job.set_eta_seconds(-1);
    r.spec_hash = std::string(64, 'c');
    if (state == v1::JOB_STATE_SUCCEEDED) {
      v1::Artifact* a = r.job.add_artifacts();
      a->set_name("report");
      a->mutable_blob()->set_sha256(report_.sha256());
      a->mutable_blob()->set_size_bytes(report_.size_bytes());
    }
    absl::StatusOr<store::WriteTxn> txn = store_->BeginWrite();
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE(txn->InsertJob(r).ok());
    v1::JobEvent e;
    e.set_state(state);
    e.set_step(StrCat("step of ", n));
    ASSERT_TRUE(txn->AppendEvent(r.job.id(), e).ok());
    ASSERT_TRUE(txn->Commit().ok());
    ids_.push_back(r.job.id());
  }

  FakeClock clock_{1'700'000'000'000};
  ScopedTempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<store::BlobStore> blobs_;
  std::unique_ptr<StoreDashboardData> data_;
  v1::BlobRef report_;
  std::vector<std::string> ids_;
};

TEST_F(StoreDataTest, ReadsAreTenantScoped) {
  InsertJob("t1", 1, v1::JOB_KIND_PTQ, v1::JOB_STATE_QUEUED);
  InsertJob("t2", 2, v1::JOB_KIND_PTQ, v1::JOB_STATE_QUEUED);
  EXPECT_TRUE(data_->Ping().ok());
  absl::StatusOr<store::Page<v1::Job>> page = data_->ListJobs("t1", {}, 10, "");
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].id(), ids_[0]);
  EXPECT_TRUE(data_->GetJob("t1", ids_[0]).ok());
  EXPECT_EQ(data_->GetJob("t1", ids_[1]).status().code(), absl::StatusCode::kNotFound);
  absl::StatusOr<std::vector<v1::JobEvent>> events = data_->ListEvents("t1", ids_[0], 0, 10);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].step(), "step of 1");
  EXPECT_EQ(data_->ListEvents("t1", ids_[1], 0, 10).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(data_->ListJobs("t1", {}, 10, "garbage").status().code(),
            absl::StatusCode::kInvalidArgument);

  store::ModelRecord model;
  model.tenant = "t1";
  model.model.set_id("model_0000000000000001");
  model.model.set_name("lenet.onnx");
  model.model.mutable_blob()->set_sha256(std::string(64, 'a'));
  model.model.mutable_blob()->set_size_bytes(100);
  ASSERT_TRUE(store_->CreateModel(model).ok());
  EXPECT_TRUE(data_->GetModel("t1", "model_0000000000000001").ok());
  EXPECT_EQ(data_->GetModel("t2", "model_0000000000000001").status().code(),
            absl::StatusCode::kNotFound);
  ASSERT_EQ(data_->ListModels("t1", 10, "")->items.size(), 1u);
  EXPECT_TRUE(data_->ListModels("t2", 10, "")->items.empty());
}

TEST_F(StoreDataTest, StatsAggregateEveryTenant) {
  absl::StatusOr<v1::BlobRef> put = blobs_->Put(R"({"layers": [{"name": "conv1"}]})");
  ASSERT_TRUE(put.ok());
  report_ = *put;
  ASSERT_TRUE(blobs_->Put("another blob").ok());
  // A partial upload in tmp/ is not counted.
  std::ofstream(blobs_->temp_dir() + "/x.part") << "partial";

  InsertJob("t1", 1, v1::JOB_KIND_PTQ, v1::JOB_STATE_SUCCEEDED, 2, 10'000, 12'000);
  InsertJob("t1", 2, v1::JOB_KIND_PTQ, v1::JOB_STATE_RUNNING, 1, 10'000);
  InsertJob("t2", 3, v1::JOB_KIND_INSPECT, v1::JOB_STATE_QUEUED);
  InsertJob("t3", 4, v1::JOB_KIND_INSPECT, v1::JOB_STATE_QUEUED);  // not a listed tenant

  absl::StatusOr<JobStats> stats = data_->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  // Job aggregates count every tenant; stored bytes only the listed ones.
  EXPECT_EQ(stats->by_state[v1::JOB_STATE_QUEUED], 2);
  EXPECT_EQ(stats->by_state[v1::JOB_STATE_RUNNING], 1);
  EXPECT_EQ(stats->by_state[v1::JOB_STATE_SUCCEEDED], 1);
  EXPECT_EQ((stats->by_kind_state[{v1::JOB_KIND_INSPECT, v1::JOB_STATE_QUEUED}]), 2);
  EXPECT_EQ(stats->submitted[v1::JOB_KIND_PTQ], 2);
  EXPECT_EQ(stats->attempts[v1::JOB_KIND_PTQ], 3);
  ASSERT_EQ(stats->durations.count(v1::JOB_KIND_PTQ), 1u);
  EXPECT_EQ(stats->durations[v1::JOB_KIND_PTQ].sum_seconds, 2.0);
  EXPECT_EQ(stats->blob_bytes, report_.size_bytes() + int64_t{12});
  EXPECT_EQ(stats->tenant_bytes["t1"], report_.size_bytes());
  EXPECT_EQ(stats->tenant_bytes["t2"], 0);
  EXPECT_EQ(stats->tenant_bytes.count("t3"), 0u);
}

// The store's grouped SQL must agree with JobStats::AddJob (the definition the fakes use)
// job for job, including run times that land exactly on a bucket bound.
TEST_F(StoreDataTest, StoreAggregatesMatchAddJobOverTheSameJobs) {
  struct Row {
    v1::JobKind kind;
    v1::JobState state;
    int attempts;
    int64_t started, finished;
  };
  const std::vector<Row> rows = {
      {v1::JOB_KIND_PTQ, v1::JOB_STATE_SUCCEEDED, 1, 10'000, 10'500},  // exactly 0.5 s
      {v1::JOB_KIND_PTQ, v1::JOB_STATE_SUCCEEDED, 2, 10'000, 10'501},  // just above
      {v1::JOB_KIND_PTQ, v1::JOB_STATE_FAILED, 3, 10'000, 9'999'000},  // 9989 s: +Inf
      {v1::JOB_KIND_PTQ, v1::JOB_STATE_DEAD, 3, 0, 20'000},            // never started
      {v1::JOB_KIND_PTQ, v1::JOB_STATE_RUNNING, 1, 10'000, 0},         // not terminal
      {v1::JOB_KIND_INSPECT, v1::JOB_STATE_CANCELLED, 1, 10'000, 70'000},
      {v1::JOB_KIND_INSPECT, v1::JOB_STATE_QUEUED, 0, 0, 0},
  };
  JobStats expected;
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    InsertJob(i % 2 ? "t1" : "t9", static_cast<int>(i) + 1, r.kind, r.state, r.attempts, r.started,
              r.finished);
    v1::Job job;
    job.mutable_spec()->set_kind(r.kind);
    job.set_state(r.state);
    job.set_attempts(r.attempts);
    job.set_started_unix_ms(r.started);
    job.set_finished_unix_ms(r.finished);
    expected.AddJob(job);
  }
  absl::StatusOr<JobStats> stats = data_->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->by_kind_state, expected.by_kind_state);
  EXPECT_EQ(stats->submitted, expected.submitted);
  EXPECT_EQ(stats->attempts, expected.attempts);
  ASSERT_EQ(stats->durations.size(), expected.durations.size());
  for (const auto& [kind, d] : expected.durations) {
    EXPECT_EQ(stats->durations[kind].counts, d.counts) << v1::JobKind_Name(kind);
    EXPECT_DOUBLE_EQ(stats->durations[kind].sum_seconds, d.sum_seconds) << v1::JobKind_Name(kind);
  }
  EXPECT_EQ(stats->durations[v1::JOB_KIND_PTQ].counts[0], 1u);  // 0.5 s is `le 0.5`
}

TEST_F(StoreDataTest, RoutesOverTheStoreRenderTheReport) {
  absl::StatusOr<v1::BlobRef> put =
      blobs_->Put(R"({"layers": [{"name": "conv<1>", "sqnr_db": 40.5, "fallback": true}]})");
  ASSERT_TRUE(put.ok());
  report_ = *put;
  InsertJob("t1", 1, v1::JOB_KIND_PTQ, v1::JOB_STATE_SUCCEEDED, 1, 10'000, 11'000);
  metrics::Registry registry;
  ServerMetrics metrics(&registry);
  RouterOptions options;
  options.default_tenant = "t1";
  Router router(data_.get(), &metrics, options);
  HttpResponse r = router.Handle(HttpRequest{.target = "/jobs/" + ids_[0]});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr("<td>conv&lt;1&gt;</td><td>-</td><td class=\"num\">40.5</td>"));
  EXPECT_THAT(r.body, HasSubstr("step of 1"));
  r = router.Handle(HttpRequest{.target = "/"});
  EXPECT_THAT(r.body, HasSubstr(ids_[0]));
  r = router.Handle(HttpRequest{.target = "/metrics"});
  EXPECT_THAT(r.body, HasSubstr("modelpress_jobs{state=\"succeeded\"} 1\n"));
  EXPECT_THAT(r.body, HasSubstr("modelpress_tenant_bytes{tenant=\"t1\"} "));
  EXPECT_THAT(r.body, HasSubstr("modelpress_store_up 1\n"));
  EXPECT_EQ(router.Handle(HttpRequest{.target = "/healthz"}).status, 200);
  EXPECT_THAT(router.Handle(HttpRequest{.target = "/?state=queued"}).body, Not(HasSubstr(ids_[0])));
}

TEST(BlobDirectoryBytesTest, MissingRootIsZero) {
  absl::StatusOr<int64_t> bytes = BlobDirectoryBytes("/nonexistent/mp-dashboard-test");
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(*bytes, 0);
}

}  // namespace
}  // namespace mp::dashboard
