// The lease loop against an in-process fake WorkerService.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
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

std::string Fixture(const std::string& name) {
  const char* root = std::getenv("MP_SOURCE_DIR");
  return std::string(root ? root : ".") + "/tests/fixtures/models/" + name;
}

v1::JobSpec Spec(v1::JobKind kind) {
  v1::JobSpec spec;
  spec.set_kind(kind);
  spec.set_model_id("model_0123456789abcdef");
  return spec;
}

// Waits (polling, with a deadline) until `done` holds; false on timeout.
template <typename F>
bool Eventually(F done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

class WorkerTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(work_.Create("worker-test-").ok()); }

  WorkerOptions Options(Clock* clock) {
    WorkerOptions o = FastWorkerOptions("worker_0000000000000001", work_.path(), clock);
    o.once = true;
    o.hard_exit = [this](int code) { exit_codes.push_back(code); };
    return o;
  }
  std::string ModelBytes() {
    auto bytes = ReadFile(Fixture("lenet.onnx"));
    EXPECT_TRUE(bytes.ok());
    return bytes.ok() ? *bytes : "";
  }
  bool WorkDirIsEmpty() const {
    return std::filesystem::is_empty(std::filesystem::path(work_.path()));
  }

  ScopedTempDir work_;
  std::vector<int> exit_codes;
};

TEST_F(WorkerTest, InspectJobIsLeasedFetchedRunAndCompleted) {
  SystemClock clock;
  FakeWorkerService service(&clock);
  FakeServer server(&service);
  const v1::BlobRef model = service.AddBlob(ModelBytes());
  service.AddLease("job_00000000000000a1", Spec(v1::JOB_KIND_INSPECT), {{"model", model}});

  Worker worker(server.Channel(), Options(&clock), {{v1::JOB_KIND_INSPECT, &RunInspectJob}});
  ASSERT_TRUE(worker.Run().ok());
  EXPECT_EQ(worker.jobs_run(), 1);

  absl::MutexLock lock(&service.mu);
  ASSERT_FALSE(service.lease_requests.empty());
  const v1::LeaseJobRequest& lr = service.lease_requests[0];
  EXPECT_EQ(lr.worker_id(), "worker_0000000000000001");
  EXPECT_EQ(lr.engine_version(), "test");
  ASSERT_EQ(lr.kinds_size(), 1);
  EXPECT_EQ(lr.kinds(0), v1::JOB_KIND_INSPECT);
  EXPECT_EQ(service.fetches, 1);
  EXPECT_TRUE(service.failed.empty());
  ASSERT_EQ(service.completed.size(), 1u);
  const v1::CompleteJobRequest& c = service.completed[0];
  EXPECT_EQ(c.job_id(), "job_00000000000000a1");
  EXPECT_EQ(c.epoch(), 7);
  ASSERT_TRUE(c.has_inspection());
  ASSERT_EQ(c.inspection().inputs_size(), 1);
  EXPECT_EQ(c.inspection().inputs(0).name(), "input");
  EXPECT_EQ(c.inspection().inputs(0).dtype(), v1::DATA_TYPE_FLOAT);
  EXPECT_EQ(c.inspection().inputs(0).dims(0), -1);
  EXPECT_EQ(c.inspection().outputs(0).name(), "logits");
  EXPECT_GT(c.inspection().op_counts().at("Conv"), 0);
  EXPECT_EQ(c.inspection().unsupported_ops_size(), 0);
  bool has_params = false;
  for (const auto& m : c.metrics()) {
    if (m.name() == "parameter_count") has_params = m.value() == c.inspection().parameter_count();
  }
  EXPECT_TRUE(has_params);
  // The last progress report ("done", 1.0) was sent before CompleteJob.
  ASSERT_FALSE(service.progress.empty());
  EXPECT_EQ(service.progress.back().step(), "done");
  EXPECT_EQ(service.progress.back().progress(), 1.0);
  EXPECT_TRUE(WorkDirIsEmpty());
}

TEST_F(WorkerTest, ArtifactsArePutAndInputsGetTheirFormatExtension) {
  SystemClock clock;
  FakeWorkerService service(&clock);
  FakeServer server(&service);
  const v1::BlobRef model = service.AddBlob(ModelBytes());
  const v1::BlobRef calib = service.AddBlob(std::string("\x93NUMPY-not-really", 17));
  service.AddLease("job_00000000000000a2", Spec(v1::JOB_KIND_PTQ),
                   {{"model", model}, {"calibration", calib}});

  InputFiles seen;
  std::string artifact_bytes(2'500'000, 'q');  // three PutBlob chunks of at most 1 MiB
  Recipe recipe = [&](const LeasedJob& job,
                      pipeline::JobContext& context) -> absl::StatusOr<RecipeOutput> {
    seen = job.inputs;
    const auto path = context.work_dir() / "out.onnx";
    RETURN_IF_ERROR(AtomicWriteFile(path.string(), artifact_bytes));
    RecipeOutput out;
    out.result.metrics = {{"accuracy_int8", 0.9}};
    out.result.artifacts = {{"model", path}};
    return out;
  };
  Worker worker(server.Channel(), Options(&clock), {{v1::JOB_KIND_PTQ, recipe}});
  ASSERT_TRUE(worker.Run().ok());

  EXPECT_EQ(seen.at("model").extension(), ".onnx");
  EXPECT_EQ(seen.at("calibration").extension(), ".npy");
  absl::MutexLock lock(&service.mu);
  ASSERT_EQ(service.completed.size(), 1u);
  const auto& c = service.completed[0];
  ASSERT_EQ(c.artifacts_size(), 1);
  EXPECT_EQ(c.artifacts(0).name(), "model");
  EXPECT_EQ(c.artifacts(0).blob().size_bytes(), 2'500'000);
  EXPECT_EQ(service.blobs.at(c.artifacts(0).blob().sha256()), artifact_bytes);
  EXPECT_EQ(service.put_chunks, std::vector<int>{3});
  ASSERT_EQ(c.metrics_size(), 1);
  EXPECT_EQ(c.metrics(0).name(), "accuracy_int8");
  EXPECT_FALSE(c.has_inspection());
  EXPECT_TRUE(WorkDirIsEmpty());
}

// A recipe that reports progress until it is cancelled.
Recipe UntilCancelled(std::atomic<bool>* saw_cancel, absl::Notification* started) {
  return [=](const LeasedJob&, pipeline::JobContext& context) -> absl::StatusOr<RecipeOutput> {
    started->Notify();
    const bool stopped = Eventually([&] {
      return !context.Report({.fraction = 0.5, .step = "spin"}).ok() && context.cancelled();
    });
    saw_cancel->store(stopped);
    return absl::CancelledError("cancelled");
  };
}

TEST_F(WorkerTest, CancelledHeartbeatReplyStopsTheRecipe) {
  SystemClock clock;
  FakeWorkerService service(&clock);
  FakeServer server(&service);
  service.AddLease("job_00000000000000a3", Spec(v1::JOB_KIND_PTQ), {});
  {
    absl::MutexLock lock(&service.mu);
    service.cancelled.insert("job_00000000000000a3");
  }
  std::atomic<bool> saw_cancel{false};
  absl::Notification started;
  Worker worker(server.Channel(), Options(&clock),
                {{v1::JOB_KIND_PTQ, UntilCancelled(&saw_cancel, &started)}});
  ASSERT_TRUE(worker.Run().ok());
  EXPECT_TRUE(saw_cancel.load());
  absl::MutexLock lock(&service.mu);
  EXPECT_TRUE(service.completed.empty());
  EXPECT_TRUE(service.failed.empty());  // the server already recorded CANCELLED
}

TEST_F(WorkerTest, LostLeaseDropsTheJobSilently) {
  SystemClock clock;
  FakeWorkerService service(&clock);
  FakeServer server(&service);
  service.AddLease("job_00000000000000a4", Spec(v1::JOB_KIND_PTQ), {});
  {
    absl::MutexLock lock(&service.mu);
    service.lost.insert("job_00000000000000a4");
  }
  std::atomic<bool> saw_cancel{false};
  absl::Notification started;
  Worker worker(server.Channel(), Options(&clock),
                {{v1::JOB_KIND_PTQ, UntilCancelled(&saw_cancel, &started)}});
  ASSERT_TRUE(worker.Run().ok());
  EXPECT_TRUE(saw_cancel.load());
  absl::MutexLock lock(&service.mu);
  EXPECT_TRUE(service.completed.empty());
  EXPECT_TRUE(service.failed.empty());
}

TEST_F(WorkerTest, LostLeaseDuringFetchDropsTheJob) {
  SystemClock clock;
  FakeWorkerService service(&clock);
  FakeServer server(&service);
  const v1::BlobRef model = service.AddBlob(ModelBytes());
  service.AddLease("job_00000000000000a5", Spec(v1::JOB_KIND_INSPECT), {{"model", model}});
  {
    absl::MutexLock lock(&service.mu);
    service.lost.insert("job_00000000000000a5");
  }
  Worker worker(server.Channel(), Options(&clock), {{v1::JOB_KIND_INSPECT, &RunInspectJob}});
  ASSERT_TRUE(worker.Run().ok());
  absl::MutexLock lock(&service.mu);
  EXPECT_TRUE(service.completed.empty());
  EXPECT_TRUE(service.failed.empty());
}

struct FailureCase {
  absl::Status status;
  bool retryable;
};

TEST_F(WorkerTest, RecipeErrorsMapToRetryableOrNot) {
  const FailureCase cases[] = {
      {absl::InvalidArgumentError("node 'conv3' (Conv): weight has 3 dims"), false},
      {absl::UnimplementedError("op Hardmax is not supported"), false},
      {absl::FailedPreconditionError("calibration is empty"), false},
      {absl::InternalError("disk full"), true},
      {absl::ResourceExhaustedError("out of memory"), true},
  };
  for (const FailureCase& fc : cases) {
    SystemClock clock;
    FakeWorkerService service(&clock);
    FakeServer server(&service);
    service.AddLease("job_00000000000000a6", Spec(v1::JOB_KIND_PTQ), {});
    Recipe recipe = [&](const LeasedJob&, pipeline::JobContext&) -> absl::StatusOr<RecipeOutput> {
      return fc.status;
    };
    Worker worker(server.Channel(), Options(&clock), {{v1::JOB_KIND_PTQ, recipe}});
    ASSERT_TRUE(worker.Run().ok());
    absl::MutexLock lock(&service.mu);
    ASSERT_EQ(service.failed.size(), 1u) << fc.status;
    EXPECT_EQ(service.failed[0].retryable(), fc.retryable) << fc.status;
    EXPECT_EQ(service.failed[0].error(), std::string(fc.status.message()));
    EXPECT_EQ(service.failed[0].epoch(), 7);
    EXPECT_TRUE(service.completed.empty());
  }
}

TEST_F(WorkerTest, UnsupportedKindFailsForGood) {
  SystemClock clock;
  FakeWorkerService service(&clock);
  FakeServer server(&service);
  service.AddLease("job_00000000000000a7", Spec(v1::JOB_KIND_PRUNE), {});
  Worker worker(server.Channel(), Options(&clock), {{v1::JOB_KIND_INSPECT, &RunInspectJob}});
  ASSERT_TRUE(worker.Run().ok());
  absl::MutexLock lock(&service.mu);
  ASSERT_EQ(service.failed.size(), 1u);
  EXPECT_FALSE(service.failed[0].retryable());
  EXPECT_EQ(service.failed[0].error(), "kind prune is not supported by this worker");
}

TEST_F(WorkerTest, MalformedModelFailsForGoodNamingTheProblem) {
  SystemClock clock;
  FakeWorkerService service(&clock);
  FakeServer server(&service);
  const v1::BlobRef junk = service.AddBlob("definitely not an onnx model");
  service.AddLease("job_00000000000000a8", Spec(v1::JOB_KIND_INSPECT), {{"model", junk}});
  Worker worker(server.Channel(), Options(&clock), {{v1::JOB_KIND_INSPECT, &RunInspectJob}});
  ASSERT_TRUE(worker.Run().ok());
  absl::MutexLock lock(&service.mu);
  ASSERT_EQ(service.failed.size(), 1u);
  EXPECT_FALSE(service.failed[0].retryable());
  // Named by the model id, not by the worker's temp file.
  EXPECT_EQ(service.failed[0].error().rfind("model 'model_0123456789abcdef': ", 0), 0u)
      << service.failed[0].error();
  EXPECT_EQ(service.failed[0].error().find("/inputs/"), std::string::npos);
}

TEST_F(WorkerTest, CorruptedBlobIsRejectedAndRetried) {
  SystemClock clock;
  FakeWorkerService service(&clock);
  FakeServer server(&service);
  const v1::BlobRef model = service.AddBlob(ModelBytes());
  service.AddLease("job_00000000000000a9", Spec(v1::JOB_KIND_INSPECT), {{"model", model}});
  {
    absl::MutexLock lock(&service.mu);
    service.corrupt.insert(model.sha256());
  }
  Worker worker(server.Channel(), Options(&clock), {{v1::JOB_KIND_INSPECT, &RunInspectJob}});
  ASSERT_TRUE(worker.Run().ok());
  absl::MutexLock lock(&service.mu);
  ASSERT_EQ(service.failed.size(), 1u);
  EXPECT_TRUE(service.failed[0].retryable());
  EXPECT_NE(service.failed[0].error().find("input 'model'"), std::string::npos)
      << service.failed[0].error();
  EXPECT_TRUE(service.completed.empty());
  EXPECT_TRUE(WorkDirIsEmpty());
}

TEST_F(WorkerTest, UnavailableServerIsRetried) {
  SystemClock clock;
  FakeWorkerService service(&clock);
  FakeServer server(&service);
  const v1::BlobRef model = service.AddBlob(ModelBytes());
  service.AddLease("job_00000000000000b1", Spec(v1::JOB_KIND_INSPECT), {{"model", model}});
  {
    absl::MutexLock lock(&service.mu);
    service.unavailable_leases = 3;
  }
  Worker worker(server.Channel(), Options(&clock), {{v1::JOB_KIND_INSPECT, &RunInspectJob}});
  ASSERT_TRUE(worker.Run().ok());
  absl::MutexLock lock(&service.mu);
  EXPECT_GE(service.lease_requests.size(), 4u);
  EXPECT_EQ(service.completed.size(), 1u);
}

}  // namespace
}  // namespace mp::runtime
