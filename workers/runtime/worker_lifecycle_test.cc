// Drain on stop, the watchdog and progress rate limiting, against the fake WorkerService.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "common/file_util.h"
#include "common/status.h"
#include "workers/runtime/fake_worker_service_test_util.h"
#include "workers/runtime/runtime.h"

namespace mp::runtime {
namespace {

using testing::FakeServer;
using testing::FakeWorkerService;
using testing::FastWorkerOptions;
namespace v1 = ::modelpress::v1;

v1::JobSpec PtqSpec() {
  v1::JobSpec spec;
  spec.set_kind(v1::JOB_KIND_PTQ);
  return spec;
}

class LifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(work_.Create("lifecycle-test-").ok()); }

  WorkerOptions Options(Clock* clock) {
    WorkerOptions o = FastWorkerOptions("worker_0000000000000002", work_.path(), clock);
    o.hard_exit = [this](int code) {
      absl::MutexLock lock(&mu_);
      exit_codes_.push_back(code);
    };
    return o;
  }
  std::vector<int> ExitCodes() {
    absl::MutexLock lock(&mu_);
    return exit_codes_;
  }

  ScopedTempDir work_;
  absl::Mutex mu_;
  std::vector<int> exit_codes_ ABSL_GUARDED_BY(mu_);
};

TEST_F(LifecycleTest, StopWhileIdleReturnsFromTheLongPoll) {
  SystemClock clock;
  FakeWorkerService service(&clock);
  FakeServer server(&service);
  WorkerOptions options = Options(&clock);
  options.lease_wait_ms = 60'000;
  Worker worker(server.Channel(), options, {});
  std::thread run([&] { EXPECT_TRUE(worker.Run().ok()); });
  // Wait until the long poll is outstanding, then stop.
  while (true) {
    absl::MutexLock lock(&service.mu);
    if (!service.lease_requests.empty()) break;
    service.mu.AwaitWithTimeout(
        absl::Condition(
            +[](std::vector<v1::LeaseJobRequest>* v) { return !v->empty(); },
            &service.lease_requests),
        absl::Milliseconds(10));
  }
  worker.Stop();
  run.join();
  EXPECT_EQ(worker.jobs_run(), 0);
  // Let the fake's handler finish its wait before the server shuts down.
  absl::MutexLock lock(&service.mu);
  service.leases.emplace_back();
}

TEST_F(LifecycleTest, DrainLetsTheRunningJobFinish) {
  SystemClock clock;
  FakeWorkerService service(&clock);
  FakeServer server(&service);
  service.AddLease("job_00000000000000c1", PtqSpec(), {});
  absl::Notification started, release;
  Recipe recipe = [&](const LeasedJob&, pipeline::JobContext&) -> absl::StatusOr<RecipeOutput> {
    started.Notify();
    release.WaitForNotification();
    RecipeOutput out;
    out.result.metrics = {{"accuracy_int8", 0.5}};
    return out;
  };
  WorkerOptions options = Options(&clock);
  options.drain_seconds = 3'600;
  Worker worker(server.Channel(), options, {{v1::JOB_KIND_PTQ, recipe}});
  std::thread run([&] { EXPECT_TRUE(worker.Run().ok()); });
  started.WaitForNotification();
  worker.Stop();
  release.Notify();
  run.join();
  EXPECT_EQ(worker.jobs_run(), 1);
  absl::MutexLock lock(&service.mu);
  EXPECT_EQ(service.completed.size(), 1u);
  EXPECT_TRUE(service.failed.empty());
}

TEST_F(LifecycleTest, DrainDeadlineFailsTheJobRetryable) {
  FakeClock clock;
  FakeWorkerService service(&clock);
  FakeServer server(&service);
  service.AddLease("job_00000000000000c2", PtqSpec(), {}, /*ttl_ms=*/300'000);
  absl::Notification started;
  std::atomic<bool> saw_cancel{false};
  Recipe recipe = [&](const LeasedJob&,
                      pipeline::JobContext& context) -> absl::StatusOr<RecipeOutput> {
    started.Notify();
    // Runs until the drain cancels it; time moves only when this recipe moves it.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!context.cancelled() && std::chrono::steady_clock::now() < deadline) {
      clock.AdvanceMillis(1'000);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    saw_cancel = context.cancelled();
    return absl::CancelledError("drained");
  };
  WorkerOptions options = Options(&clock);
  options.drain_seconds = 10;
  Worker worker(server.Channel(), options, {{v1::JOB_KIND_PTQ, recipe}});
  std::thread run([&] { EXPECT_TRUE(worker.Run().ok()); });
  started.WaitForNotification();
  worker.Stop();
  run.join();
  EXPECT_TRUE(saw_cancel.load());
  EXPECT_TRUE(ExitCodes().empty());  // the recipe stopped within the grace period
  absl::MutexLock lock(&service.mu);
  EXPECT_TRUE(service.completed.empty());
  ASSERT_EQ(service.failed.size(), 1u);
  EXPECT_TRUE(service.failed[0].retryable());
  EXPECT_NE(service.failed[0].error().find("shut down"), std::string::npos);
}

TEST_F(LifecycleTest, WatchdogFailsTheJobAndExits) {
  FakeClock clock;
  FakeWorkerService service(&clock);
  FakeServer server(&service);
  service.AddLease("job_00000000000000c3", PtqSpec(), {}, /*ttl_ms=*/300'000);
  Recipe recipe = [&](const LeasedJob&,
                      pipeline::JobContext& context) -> absl::StatusOr<RecipeOutput> {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!context.cancelled() && std::chrono::steady_clock::now() < deadline) {
      clock.AdvanceMillis(1'000);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return absl::CancelledError("stopped");
  };
  WorkerOptions options = Options(&clock);
  options.max_job_seconds = 20;
  options.once = true;
  Worker worker(server.Channel(), options, {{v1::JOB_KIND_PTQ, recipe}});
  ASSERT_TRUE(worker.Run().ok());
  EXPECT_EQ(ExitCodes(), std::vector<int>{75});
  absl::MutexLock lock(&service.mu);
  EXPECT_TRUE(service.completed.empty());
  ASSERT_EQ(service.failed.size(), 1u);
  EXPECT_TRUE(service.failed[0].retryable());
  EXPECT_NE(service.failed[0].error().find("--max-job-seconds=20"), std::string::npos);
}

TEST_F(LifecycleTest, ProgressIsRateLimitedAndTheLastUpdateAlwaysSent) {
  FakeClock clock;  // frozen: after the first send, nothing more is due until the flush
  FakeWorkerService service(&clock);
  FakeServer server(&service);
  service.AddLease("job_00000000000000c4", PtqSpec(), {}, /*ttl_ms=*/300'000);
  Recipe recipe = [&](const LeasedJob&,
                      pipeline::JobContext& context) -> absl::StatusOr<RecipeOutput> {
    for (int i = 1; i <= 200; ++i) {
      RETURN_IF_ERROR(context.Report({.fraction = i / 200.0,
                                      .eta_seconds = 200.0 - i,
                                      .step = i < 200 ? "calibrate" : "export",
                                      .metrics = {{"batch", double(i)}}}));
    }
    return RecipeOutput{};
  };
  WorkerOptions options = Options(&clock);
  options.once = true;
  Worker worker(server.Channel(), options, {{v1::JOB_KIND_PTQ, recipe}});
  ASSERT_TRUE(worker.Run().ok());
  absl::MutexLock lock(&service.mu);
  ASSERT_EQ(service.completed.size(), 1u);
  ASSERT_GE(service.progress.size(), 1u);
  EXPECT_LE(service.progress.size(), 2u);
  const auto& last = service.progress.back();
  EXPECT_EQ(last.progress(), 1.0);
  EXPECT_EQ(last.step(), "export");
  EXPECT_EQ(last.eta_seconds(), 0.0);
  ASSERT_EQ(last.metrics_size(), 1);
  EXPECT_EQ(last.metrics(0).value(), 200.0);
  EXPECT_EQ(last.epoch(), 7);
}

}  // namespace
}  // namespace mp::runtime
