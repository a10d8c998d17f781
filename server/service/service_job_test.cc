// JobService over real gRPC: submit validation, idempotency, listing, cancel, download.
#include <string>

#include "common/sha256.h"
#include "common/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/service/grpc_status.h"
#include "server/service/service_test_util.h"

namespace mp::service::testing {
namespace {

using ::testing::HasSubstr;

class JobServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(t_.status().ok()) << t_.status();
    absl::StatusOr<v1::Model> model = t_.UploadModel("model bytes");
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = *model;
    absl::StatusOr<v1::Dataset> calib = t_.UploadDataset(NpyBytes(8));
    ASSERT_TRUE(calib.ok()) << calib.status();
    calib_ = *calib;
  }

  absl::StatusOr<v1::Job> Submit(const v1::SubmitJobRequest& request) {
    auto context = TestServer::Context();
    v1::Job job;
    RETURN_IF_ERROR(FromGrpcStatus(t_.jobs->SubmitJob(context.get(), request, &job)));
    return job;
  }

  v1::SubmitJobRequest Ptq() {
    v1::SubmitJobRequest request;
    request.mutable_spec()->set_kind(v1::JOB_KIND_PTQ);
    request.mutable_spec()->set_model_id(model_.id());
    request.mutable_spec()->mutable_ptq()->set_calibration_dataset_id(calib_.id());
    return request;
  }

  void ExpectError(const v1::SubmitJobRequest& request, absl::StatusCode code,
                   const std::string& text) {
    absl::StatusOr<v1::Job> job = Submit(request);
    EXPECT_EQ(job.status().code(), code) << text << ": " << job.status();
    EXPECT_THAT(std::string(job.status().message()), HasSubstr(text));
  }

  TestServer t_;
  v1::Model model_;
  v1::Dataset calib_;
};

TEST_F(JobServiceTest, SubmitValidatesTheSpec) {
  ExpectError(v1::SubmitJobRequest(), absl::StatusCode::kInvalidArgument, "spec");
  v1::SubmitJobRequest request = Ptq();
  request.mutable_spec()->set_kind(v1::JOB_KIND_UNSPECIFIED);
  ExpectError(request, absl::StatusCode::kInvalidArgument, "spec.kind");
  request = Ptq();
  request.mutable_spec()->set_model_id("model_0000000000000000");
  ExpectError(request, absl::StatusCode::kNotFound, "model_0000000000000000");
  request = Ptq();
  request.mutable_spec()->set_model_id("lenet");
  ExpectError(request, absl::StatusCode::kInvalidArgument, "spec.model_id");
  request = Ptq();
  request.mutable_spec()->clear_ptq();
  ExpectError(request, absl::StatusCode::kInvalidArgument, "spec.ptq");
  request = Ptq();
  request.mutable_spec()->mutable_ptq()->set_calibration_dataset_id("data_0000000000000000");
  ExpectError(request, absl::StatusCode::kNotFound, "spec.ptq.calibration_dataset_id");
  request = Ptq();
  request.mutable_spec()->mutable_ptq()->set_calibrator("fancy");
  ExpectError(request, absl::StatusCode::kInvalidArgument, "spec.ptq.calibrator");
  request = Ptq();
  request.mutable_spec()->mutable_ptq()->set_eval_dataset_id("data_0000000000000001");
  ExpectError(request, absl::StatusCode::kNotFound, "spec.ptq.eval_dataset_id");
  request = Ptq();
  request.set_max_attempts(99);
  ExpectError(request, absl::StatusCode::kInvalidArgument, "max_attempts");
  request = Ptq();
  request.mutable_spec()->set_kind(v1::JOB_KIND_PRUNE);  // with ptq options
  ExpectError(request, absl::StatusCode::kInvalidArgument, "spec.prune: required");
  request = Ptq();
  request.mutable_spec()->set_kind(v1::JOB_KIND_SEARCH);
  ExpectError(request, absl::StatusCode::kUnimplemented, "JOB_KIND_SEARCH");
}

TEST_F(JobServiceTest, CompressionJobsRecordTheirInputsByRole) {
  absl::StatusOr<v1::Model> student = t_.UploadModel("student bytes");
  std::string idx("\x00\x00\x08\x01\x00\x00\x00\x08", 8);
  absl::StatusOr<v1::Dataset> labels = t_.UploadDataset(idx + "01234567");
  ASSERT_TRUE(student.ok() && labels.ok());
  v1::SubmitJobRequest request;
  v1::JobSpec* spec = request.mutable_spec();
  spec->set_kind(v1::JOB_KIND_PRUNE);
  spec->set_model_id(model_.id());
  spec->mutable_prune()->set_recover("finetune");
  ExpectError(request, absl::StatusCode::kInvalidArgument, "spec.prune.train_dataset_id");
  spec->mutable_prune()->set_train_dataset_id(calib_.id());
  spec->mutable_prune()->set_train_labels_dataset_id("data_00000000000000ff");
  ExpectError(request, absl::StatusCode::kNotFound, "spec.prune.train_labels_dataset_id");
  spec->mutable_prune()->set_train_labels_dataset_id(labels->id());
  absl::StatusOr<v1::Job> job = Submit(request);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->inputs().size(), 3u);
  EXPECT_EQ(job->inputs().at("train").sha256(), calib_.blob().sha256());
  EXPECT_EQ(job->inputs().at("train_labels").sha256(), labels->blob().sha256());

  request.Clear();
  spec = request.mutable_spec();
  spec->set_kind(v1::JOB_KIND_DISTILL);
  spec->set_model_id(model_.id());
  spec->mutable_distill()->set_student_model_id(student->id());
  spec->mutable_distill()->set_train_dataset_id(calib_.id());
  spec->mutable_distill()->set_train_labels_dataset_id(labels->id());
  job = Submit(request);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->inputs().at("model").sha256(), model_.blob().sha256());
  EXPECT_EQ(job->inputs().at("student").sha256(), student->blob().sha256());

  request.Clear();
  spec = request.mutable_spec();
  spec->set_kind(v1::JOB_KIND_COMPOSE);
  spec->set_model_id(model_.id());
  spec->mutable_compose()->set_train_dataset_id(calib_.id());
  spec->mutable_compose()->set_train_labels_dataset_id(labels->id());
  spec->mutable_compose()->set_calibration_dataset_id(calib_.id());
  spec->mutable_compose()->set_eval_dataset_id(calib_.id());
  job = Submit(request);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->inputs().size(), 5u);
  EXPECT_EQ(job->inputs().at("calibration").sha256(), calib_.blob().sha256());
  EXPECT_EQ(job->inputs().at("eval").sha256(), calib_.blob().sha256());
  EXPECT_EQ(job->spec().compose().train_labels_dataset_id(), labels->id());
}

TEST_F(JobServiceTest, SubmitRecordsInputDigestsByRole) {
  absl::StatusOr<v1::Dataset> eval = t_.UploadDataset(NpyBytes(4));
  std::string idx("\x00\x00\x08\x01\x00\x00\x00\x04", 8);
  absl::StatusOr<v1::Dataset> labels = t_.UploadDataset(idx + "0123");
  ASSERT_TRUE(eval.ok() && labels.ok());
  v1::SubmitJobRequest request = Ptq();
  request.mutable_spec()->mutable_ptq()->set_eval_dataset_id(eval->id());
  request.mutable_spec()->mutable_ptq()->set_eval_labels_dataset_id(labels->id());
  absl::StatusOr<v1::Job> job = Submit(request);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->state(), v1::JOB_STATE_QUEUED);
  EXPECT_NE(job->spec().seed(), 0u);  // chosen and recorded by the server
  EXPECT_EQ(job->inputs().at("model").sha256(), model_.blob().sha256());
  EXPECT_EQ(job->inputs().at("calibration").sha256(), calib_.blob().sha256());
  EXPECT_EQ(job->inputs().at("eval").sha256(), eval->blob().sha256());
  EXPECT_EQ(job->inputs().at("eval_labels").sha256(), labels->blob().sha256());
}

TEST_F(JobServiceTest, IdempotentSubmit) {
  v1::SubmitJobRequest request = Ptq();
  request.set_idempotency_key("key-1");
  absl::StatusOr<v1::Job> first = Submit(request);
  absl::StatusOr<v1::Job> again = Submit(request);
  ASSERT_TRUE(first.ok() && again.ok());
  EXPECT_EQ(first->id(), again->id());
  request.mutable_spec()->mutable_ptq()->set_calibrator("mse");
  absl::StatusOr<v1::Job> different = Submit(request);
  EXPECT_EQ(different.status().code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(JobServiceTest, ListPagesAndFilters) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<v1::Job> job = Submit(Ptq());
    ASSERT_TRUE(job.ok());
    ids.push_back(job->id());
  }
  v1::ListJobsRequest request;
  request.set_kind(v1::JOB_KIND_PTQ);
  request.set_page_size(2);
  std::vector<std::string> seen;
  for (int page = 0; page < 10; ++page) {
    auto context = TestServer::Context();
    v1::ListJobsResponse response;
    ASSERT_TRUE(t_.jobs->ListJobs(context.get(), request, &response).ok());
    EXPECT_LE(response.jobs_size(), 2);
    for (const v1::Job& job : response.jobs()) {
      EXPECT_EQ(job.spec().kind(), v1::JOB_KIND_PTQ);
      seen.push_back(job.id());
    }
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  EXPECT_THAT(seen, ::testing::UnorderedElementsAreArray(ids));

  // The upload's inspect job is the only INSPECT job; filtering by model and state.
  v1::ListJobsRequest inspect;
  inspect.set_kind(v1::JOB_KIND_INSPECT);
  inspect.set_model_id(model_.id());
  inspect.add_states(v1::JOB_STATE_QUEUED);
  auto context = TestServer::Context();
  v1::ListJobsResponse response;
  ASSERT_TRUE(t_.jobs->ListJobs(context.get(), inspect, &response).ok());
  ASSERT_EQ(response.jobs_size(), 1);
  EXPECT_EQ(response.jobs(0).id(), model_.inspect_job_id());
  inspect.clear_states();
  inspect.add_states(v1::JOB_STATE_SUCCEEDED);
  context = TestServer::Context();
  ASSERT_TRUE(t_.jobs->ListJobs(context.get(), inspect, &response).ok());
  EXPECT_EQ(response.jobs_size(), 0);
}

TEST_F(JobServiceTest, CancelQueuedThenFinishedIsFailedPrecondition) {
  absl::StatusOr<v1::Job> job = Submit(Ptq());
  ASSERT_TRUE(job.ok());
  v1::CancelJobRequest cancel;
  cancel.set_id(job->id());
  auto context = TestServer::Context();
  v1::Job cancelled;
  ASSERT_TRUE(t_.jobs->CancelJob(context.get(), cancel, &cancelled).ok());
  EXPECT_EQ(cancelled.state(), v1::JOB_STATE_CANCELLED);
  context = TestServer::Context();
  grpc::Status again = t_.jobs->CancelJob(context.get(), cancel, &cancelled);
  EXPECT_EQ(again.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  cancel.set_id("job_0000000000000000");
  context = TestServer::Context();
  EXPECT_EQ(t_.jobs->CancelJob(context.get(), cancel, &cancelled).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(JobServiceTest, DownloadStreamsTheArtifact) {
  absl::StatusOr<v1::Job> job = Submit(Ptq());
  ASSERT_TRUE(job.ok());
  v1::DownloadArtifactRequest download;
  download.set_job_id(job->id());
  download.set_name("model");
  {
    auto context = TestServer::Context();
    auto reader = t_.jobs->DownloadArtifact(context.get(), download);
    v1::DownloadArtifactChunk chunk;
    while (reader->Read(&chunk)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  }
  absl::StatusOr<v1::LeaseJobResponse> lease = t_.LeaseJob(job->id());
  ASSERT_TRUE(lease.ok()) << lease.status();
  std::string artifact(2500000, 'q');
  for (size_t i = 0; i < artifact.size(); i += 7) artifact[i] = static_cast<char>(i);
  absl::StatusOr<v1::BlobRef> blob = t_.PutBlob(artifact);
  ASSERT_TRUE(blob.ok()) << blob.status();
  v1::CompleteJobRequest complete;
  complete.set_job_id(job->id());
  complete.set_epoch(lease->lease().epoch());
  complete.add_artifacts()->set_name("model");
  *complete.mutable_artifacts(0)->mutable_blob() = *blob;
  auto context = TestServer::Context();
  v1::CompleteJobResponse done;
  ASSERT_TRUE(t_.workers->CompleteJob(context.get(), complete, &done).ok());

  context = TestServer::Context();
  auto reader = t_.jobs->DownloadArtifact(context.get(), download);
  v1::DownloadArtifactChunk chunk;
  std::string got;
  int chunks = 0;
  while (reader->Read(&chunk)) {
    if (chunks++ == 0) {
      EXPECT_EQ(chunk.blob().sha256(), Sha256Hex(artifact));
      EXPECT_EQ(chunk.blob().size_bytes(), static_cast<int64_t>(artifact.size()));
    } else {
      EXPECT_FALSE(chunk.has_blob());
    }
    EXPECT_LE(chunk.data().size(), size_t{1} << 20);
    got += chunk.data();
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(got, artifact);
  EXPECT_EQ(chunks, 3);

  download.set_name("report");
  context = TestServer::Context();
  reader = t_.jobs->DownloadArtifact(context.get(), download);
  while (reader->Read(&chunk)) {
  }
  grpc::Status missing = reader->Finish();
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(missing.error_message(), HasSubstr("'report'"));
  EXPECT_THAT(missing.error_message(), HasSubstr("'model'"));
}

TEST_F(JobServiceTest, GetJobErrors) {
  v1::GetJobRequest get;
  get.set_id("job_0000000000000000");
  auto context = TestServer::Context();
  v1::Job job;
  EXPECT_EQ(t_.jobs->GetJob(context.get(), get, &job).error_code(), grpc::StatusCode::NOT_FOUND);
  get.set_id("42");
  context = TestServer::Context();
  EXPECT_EQ(t_.jobs->GetJob(context.get(), get, &job).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace mp::service::testing
