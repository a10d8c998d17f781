// WorkerService: lease (long poll), heartbeat, progress, complete, fencing, blob access.
#include <future>
#include <string>

#include "common/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/service/grpc_status.h"
#include "server/service/service_test_util.h"

namespace mp::service::testing {
namespace {

using ::testing::HasSubstr;

TEST(WorkerServiceTest, LeaseWithoutWorkAnswersNoLease) {
  TestServer t;
  ASSERT_TRUE(t.status().ok()) << t.status();
  absl::StatusOr<v1::LeaseJobResponse> lease = t.Lease("", 0);
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_FALSE(lease->has_lease());
  lease = t.Lease("", 150);  // long poll that times out
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_FALSE(lease->has_lease());
  auto context = TestServer::Context();
  v1::LeaseJobRequest request;  // no worker_id
  v1::LeaseJobResponse response;
  EXPECT_EQ(t.workers->LeaseJob(context.get(), request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST(WorkerServiceTest, LongPollReceivesAJobSubmittedWhileWaiting) {
  TestServer t;
  ASSERT_TRUE(t.status().ok()) << t.status();
  std::future<absl::StatusOr<v1::LeaseJobResponse>> pending =
      std::async(std::launch::async, [&] { return t.Lease("", 20'000); });
  absl::StatusOr<v1::Model> model = t.UploadModel("model");
  ASSERT_TRUE(model.ok());
  absl::StatusOr<v1::LeaseJobResponse> lease = pending.get();
  ASSERT_TRUE(lease.ok()) << lease.status();
  ASSERT_TRUE(lease->has_lease());
  EXPECT_EQ(lease->lease().job_id(), model->inspect_job_id());
  EXPECT_EQ(lease->spec().kind(), v1::JOB_KIND_INSPECT);
  EXPECT_EQ(lease->inputs().at("model").sha256(), model->blob().sha256());
  EXPECT_EQ(lease->attempt(), 1);
}

TEST(WorkerServiceTest, HeartbeatProgressCompleteAndInspection) {
  TestServer t;
  ASSERT_TRUE(t.status().ok()) << t.status();
  absl::StatusOr<v1::Model> model = t.UploadModel("model");
  ASSERT_TRUE(model.ok());
  absl::StatusOr<v1::LeaseJobResponse> lease = t.Lease();
  ASSERT_TRUE(lease.ok() && lease->has_lease());
  const std::string job_id = lease->lease().job_id();
  const int64_t epoch = lease->lease().epoch();

  v1::HeartbeatRequest heartbeat;
  heartbeat.set_job_id(job_id);
  heartbeat.set_epoch(epoch);
  auto context = TestServer::Context();
  v1::HeartbeatResponse reply;
  ASSERT_TRUE(t.workers->Heartbeat(context.get(), heartbeat, &reply).ok());
  EXPECT_FALSE(reply.cancelled());
  EXPECT_GT(reply.expires_unix_ms(), t.clock.NowMillis());

  v1::ReportProgressRequest progress;
  progress.set_job_id(job_id);
  progress.set_epoch(epoch);
  progress.set_progress(0.5);
  progress.set_step("parse");
  context = TestServer::Context();
  ASSERT_TRUE(t.workers->ReportProgress(context.get(), progress, &reply).ok());

  v1::CompleteJobRequest complete;
  complete.set_job_id(job_id);
  complete.set_epoch(epoch);
  complete.mutable_inspection()->set_opset(13);
  complete.mutable_inspection()->set_parameter_count(1234);
  auto* metric = complete.add_metrics();
  metric->set_name("nodes");
  metric->set_value(7);
  context = TestServer::Context();
  v1::CompleteJobResponse done;
  ASSERT_TRUE(t.workers->CompleteJob(context.get(), complete, &done).ok());

  context = TestServer::Context();
  v1::GetJobRequest get;
  get.set_id(job_id);
  v1::Job job;
  ASSERT_TRUE(t.jobs->GetJob(context.get(), get, &job).ok());
  EXPECT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(job.engine_version(), "test-engine");
  ASSERT_EQ(job.metrics_size(), 1);
  context = TestServer::Context();
  v1::GetModelRequest get_model;
  get_model.set_id(model->id());
  v1::Model inspected;
  ASSERT_TRUE(t.models->GetModel(context.get(), get_model, &inspected).ok());
  EXPECT_EQ(inspected.inspection().parameter_count(), 1234);
  // A second completion is refused: the lease ended.
  context = TestServer::Context();
  EXPECT_EQ(t.workers->CompleteJob(context.get(), complete, &done).error_code(),
            grpc::StatusCode::ABORTED);
}

TEST(WorkerServiceTest, StaleEpochIsAborted) {
  TestServerOptions options;
  options.queue.lease_ttl_ms = 1000;
  options.queue.backoff_base_ms = 1;
  TestServer t(options);
  ASSERT_TRUE(t.status().ok()) << t.status();
  ASSERT_TRUE(t.UploadModel("model").ok());
  absl::StatusOr<v1::LeaseJobResponse> first = t.Lease();
  ASSERT_TRUE(first.ok() && first->has_lease());
  t.clock.AdvanceMillis(5000);  // the lease lapses: reaped, requeued after a 1 ms backoff
  ASSERT_TRUE(t.queue->ReapExpired().ok());
  t.clock.AdvanceMillis(10);
  absl::StatusOr<v1::LeaseJobResponse> second = t.Lease();
  ASSERT_TRUE(second.ok() && second->has_lease()) << second.status();
  EXPECT_EQ(second->lease().job_id(), first->lease().job_id());
  EXPECT_GT(second->lease().epoch(), first->lease().epoch());
  EXPECT_EQ(second->attempt(), 2);

  v1::HeartbeatRequest heartbeat;
  heartbeat.set_job_id(first->lease().job_id());
  heartbeat.set_epoch(first->lease().epoch());
  auto context = TestServer::Context();
  v1::HeartbeatResponse reply;
  EXPECT_EQ(t.workers->Heartbeat(context.get(), heartbeat, &reply).error_code(),
            grpc::StatusCode::ABORTED);
  v1::CompleteJobRequest complete;
  complete.set_job_id(first->lease().job_id());
  complete.set_epoch(first->lease().epoch());
  context = TestServer::Context();
  v1::CompleteJobResponse done;
  EXPECT_EQ(t.workers->CompleteJob(context.get(), complete, &done).error_code(),
            grpc::StatusCode::ABORTED);
  heartbeat.set_epoch(second->lease().epoch());
  context = TestServer::Context();
  EXPECT_TRUE(t.workers->Heartbeat(context.get(), heartbeat, &reply).ok());
}

TEST(WorkerServiceTest, CancellationTravelsInTheHeartbeatReply) {
  TestServer t;
  ASSERT_TRUE(t.status().ok()) << t.status();
  absl::StatusOr<v1::Model> model = t.UploadModel("model");
  ASSERT_TRUE(model.ok());
  absl::StatusOr<v1::LeaseJobResponse> lease = t.Lease();
  ASSERT_TRUE(lease.ok() && lease->has_lease());
  auto context = TestServer::Context();
  v1::CancelJobRequest cancel;
  cancel.set_id(lease->lease().job_id());
  v1::Job job;
  ASSERT_TRUE(t.jobs->CancelJob(context.get(), cancel, &job).ok());
  v1::HeartbeatRequest heartbeat;
  heartbeat.set_job_id(lease->lease().job_id());
  heartbeat.set_epoch(lease->lease().epoch());
  context = TestServer::Context();
  v1::HeartbeatResponse reply;
  ASSERT_TRUE(t.workers->Heartbeat(context.get(), heartbeat, &reply).ok());
  EXPECT_TRUE(reply.cancelled());
}

std::string Fetch(TestServer& t, const v1::FetchBlobRequest& request, grpc::Status* status) {
  auto context = TestServer::Context();
  auto reader = t.workers->FetchBlob(context.get(), request);
  v1::BlobChunk chunk;
  std::string data;
  while (reader->Read(&chunk)) data += chunk.data();
  *status = reader->Finish();
  return data;
}

TEST(WorkerServiceTest, FetchBlobNeedsALeaseNamingTheBlob) {
  TestServer t;
  ASSERT_TRUE(t.status().ok()) << t.status();
  const std::string bytes(1500000, 'm');
  absl::StatusOr<v1::Model> model = t.UploadModel(bytes);
  absl::StatusOr<v1::Model> other = t.UploadModel("another model");
  ASSERT_TRUE(model.ok() && other.ok());
  v1::FetchBlobRequest request;
  request.set_sha256(model->blob().sha256());
  request.set_job_id(model->inspect_job_id());
  request.set_epoch(1);
  grpc::Status status;
  Fetch(t, request, &status);  // not leased yet
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ABORTED);

  absl::StatusOr<v1::LeaseJobResponse> lease = t.LeaseJob(model->inspect_job_id());
  ASSERT_TRUE(lease.ok()) << lease.status();
  request.set_epoch(lease->lease().epoch());
  EXPECT_EQ(Fetch(t, request, &status), bytes);
  EXPECT_TRUE(status.ok()) << status.error_message();

  request.set_sha256(other->blob().sha256());  // exists, but not this job's input
  Fetch(t, request, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  request.set_sha256(model->blob().sha256());
  request.set_epoch(lease->lease().epoch() + 1);
  Fetch(t, request, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ABORTED);
}

TEST(WorkerServiceTest, CompleteChecksArtifactBlobs) {
  TestServer t;
  ASSERT_TRUE(t.status().ok()) << t.status();
  ASSERT_TRUE(t.UploadModel("model").ok());
  absl::StatusOr<v1::LeaseJobResponse> lease = t.Lease();
  ASSERT_TRUE(lease.ok() && lease->has_lease());
  v1::CompleteJobRequest complete;
  complete.set_job_id(lease->lease().job_id());
  complete.set_epoch(lease->lease().epoch());
  v1::Artifact* artifact = complete.add_artifacts();
  artifact->set_name("model");
  artifact->mutable_blob()->set_sha256(Sha256Hex("never put"));
  artifact->mutable_blob()->set_size_bytes(9);
  auto context = TestServer::Context();
  v1::CompleteJobResponse done;
  grpc::Status status = t.workers->CompleteJob(context.get(), complete, &done);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("PutBlob"));
  absl::StatusOr<v1::BlobRef> put = t.PutBlob("never put");
  ASSERT_TRUE(put.ok()) << put.status();
  context = TestServer::Context();
  EXPECT_TRUE(t.workers->CompleteJob(context.get(), complete, &done).ok());
}

}  // namespace
}  // namespace mp::service::testing
