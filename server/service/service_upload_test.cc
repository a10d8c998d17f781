// UploadModel / UploadDataset over real gRPC: contract, limits, quota, inspect job.
#include <dirent.h>

#include <string>

#include "common/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/service/service_test_util.h"

namespace mp::service::testing {
namespace {

using ::testing::HasSubstr;

std::string Bytes(size_t n, char seed = 'a') {
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<char>(seed + (i * 131) % 251);
  return out;
}

// Number of finished blobs under the blob store (temp files excluded).
int CountBlobs(const TestServer& t) {
  int count = 0;
  DIR* root = opendir(t.blobs->root().c_str());
  if (root == nullptr) return 0;
  while (dirent* e = readdir(root)) {
    const std::string name = e->d_name;
    if (name.size() != 2 || name == "..") continue;  // fan-out directories only
    DIR* sub = opendir((t.blobs->root() + "/" + name).c_str());
    if (sub == nullptr) continue;
    while (dirent* f = readdir(sub)) {
      if (f->d_name[0] != '.') ++count;
    }
    closedir(sub);
  }
  closedir(root);
  return count;
}

TEST(UploadTest, ModelUploadStoresBytesAndSubmitsInspectJob) {
  TestServer t;
  ASSERT_TRUE(t.status().ok()) << t.status();
  const std::string bytes = Bytes(3 * (1 << 20) + 123);
  absl::StatusOr<v1::Model> model = t.UploadModel(bytes, "", 1 << 20);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->blob().sha256(), Sha256Hex(bytes));
  EXPECT_EQ(model->blob().size_bytes(), static_cast<int64_t>(bytes.size()));
  EXPECT_EQ(model->name(), "model.onnx");
  EXPECT_EQ(*t.blobs->ReadAll(model->blob().sha256(), 1 << 30), bytes);

  auto context = TestServer::Context();
  v1::GetModelRequest get;
  get.set_id(model->id());
  v1::Model fetched;
  ASSERT_TRUE(t.models->GetModel(context.get(), get, &fetched).ok());
  EXPECT_EQ(fetched.inspect_job_id(), model->inspect_job_id());

  context = TestServer::Context();
  v1::GetJobRequest get_job;
  get_job.set_id(model->inspect_job_id());
  v1::Job job;
  ASSERT_TRUE(t.jobs->GetJob(context.get(), get_job, &job).ok());
  EXPECT_EQ(job.spec().kind(), v1::JOB_KIND_INSPECT);
  EXPECT_EQ(job.spec().model_id(), model->id());
  EXPECT_EQ(job.state(), v1::JOB_STATE_QUEUED);
  EXPECT_EQ(job.inputs().at("model").sha256(), model->blob().sha256());

  context = TestServer::Context();
  v1::ListModelsResponse list;
  ASSERT_TRUE(t.models->ListModels(context.get(), v1::ListModelsRequest(), &list).ok());
  ASSERT_EQ(list.models_size(), 1);
  EXPECT_EQ(list.models(0).id(), model->id());
}

TEST(UploadTest, ShaMismatchKeepsNothing) {
  TestServer t;
  ASSERT_TRUE(t.status().ok()) << t.status();
  const std::string bytes = Bytes(5000);
  absl::StatusOr<v1::Model> model = t.UploadModel(bytes, "", 1000, Sha256Hex("other"));
  ASSERT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(model.status().message()), HasSubstr("sha256"));
  // Declared size different from what was sent.
  model = t.UploadModel(bytes, "", 1000, "", 6000);
  ASSERT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CountBlobs(t), 0);
  auto context = TestServer::Context();
  v1::ListModelsResponse list;
  ASSERT_TRUE(t.models->ListModels(context.get(), v1::ListModelsRequest(), &list).ok());
  EXPECT_EQ(list.models_size(), 0);
  context = TestServer::Context();
  v1::ListJobsResponse jobs;
  ASSERT_TRUE(t.jobs->ListJobs(context.get(), v1::ListJobsRequest(), &jobs).ok());
  EXPECT_EQ(jobs.jobs_size(), 0);
}

TEST(UploadTest, MalformedDeclarationsAndChunks) {
  TestServer t;
  ASSERT_TRUE(t.status().ok()) << t.status();
  absl::StatusOr<v1::Model> model = t.UploadModel("abc", "", 1 << 20, "NOT-A-SHA");
  ASSERT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(model.status().message()), HasSubstr("header.sha256"));

  // A 2 MiB message: within gRPC's 4 MiB limit, over the 1 MiB chunk limit.
  const std::string big = Bytes(2 << 20);
  model = t.UploadModel(big, "", big.size());
  ASSERT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(model.status().message()), HasSubstr("chunk"));

  // No header at all.
  auto context = TestServer::Context();
  v1::Model response;
  auto writer = t.models->UploadModel(context.get(), &response);
  v1::UploadModelRequest request;
  request.set_chunk("xyz");
  writer->Write(request);
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("header"));
  EXPECT_EQ(CountBlobs(t), 0);
}

TEST(UploadTest, OversizeIsResourceExhausted) {
  TestServerOptions options;
  options.service.max_upload_bytes = 1000;
  TestServer t(options);
  ASSERT_TRUE(t.status().ok()) << t.status();
  absl::StatusOr<v1::Model> model = t.UploadModel(Bytes(1001));
  ASSERT_EQ(model.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(model.status().message()), HasSubstr("1000"));
  // Declaring less than is streamed is caught while streaming.
  model = t.UploadModel(Bytes(3000), "", 500, "", 900);
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(CountBlobs(t), 0);
  ASSERT_TRUE(t.UploadModel(Bytes(1000)).ok());
  EXPECT_EQ(CountBlobs(t), 1);
}

TEST(UploadTest, TenantQuotaCountsModelsAndDatasets) {
  TestServerOptions options;
  options.service.tenant_quota_bytes = 2000;
  TestServer t(options);
  ASSERT_TRUE(t.status().ok()) << t.status();
  ASSERT_TRUE(t.UploadModel(Bytes(1200, 'x')).ok());
  absl::StatusOr<v1::Model> second = t.UploadModel(Bytes(1200, 'y'));
  ASSERT_EQ(second.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("quota"));
  absl::StatusOr<v1::Dataset> data = t.UploadDataset(NpyBytes(60));  // 128 + 960 bytes
  ASSERT_EQ(data.status().code(), absl::StatusCode::kResourceExhausted);
  data = t.UploadDataset(NpyBytes(10));  // 288 bytes fit
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(CountBlobs(t), 2);
}

TEST(UploadTest, FullQueueRefusesTheUploadAndKeepsNothing) {
  TestServerOptions options;
  options.queue.max_queued_per_tenant = 1;
  TestServer t(options);
  ASSERT_TRUE(t.status().ok()) << t.status();
  absl::StatusOr<v1::Model> first = t.UploadModel(Bytes(100, 'x'));
  ASSERT_TRUE(first.ok()) << first.status();  // its inspect job fills the queue
  absl::StatusOr<v1::Model> second = t.UploadModel(Bytes(100, 'y'));
  ASSERT_EQ(second.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("queued jobs"));
  EXPECT_EQ(CountBlobs(t), 1);
  v1::SubmitJobRequest submit;
  submit.mutable_spec()->set_kind(v1::JOB_KIND_INSPECT);
  submit.mutable_spec()->set_model_id(first->id());
  auto context = TestServer::Context();
  v1::Job job;
  EXPECT_EQ(t.jobs->SubmitJob(context.get(), submit, &job).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST(UploadTest, DatasetFormatsAreDetected) {
  TestServer t;
  ASSERT_TRUE(t.status().ok()) << t.status();
  absl::StatusOr<v1::Dataset> npy = t.UploadDataset(NpyBytes(3), "", "x.npy");
  ASSERT_TRUE(npy.ok()) << npy.status();
  EXPECT_EQ(npy->format(), "npy");
  EXPECT_EQ(npy->name(), "x.npy");
  std::string idx("\x00\x00\x08\x01\x00\x00\x00\x03", 8);
  idx += "abc";
  absl::StatusOr<v1::Dataset> labels = t.UploadDataset(idx);
  ASSERT_TRUE(labels.ok()) << labels.status();
  EXPECT_EQ(labels->format(), "idx");
  absl::StatusOr<v1::Dataset> junk = t.UploadDataset("this is not a dataset");
  ASSERT_EQ(junk.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(junk.status().message()), HasSubstr("unrecognized dataset format"));
  EXPECT_EQ(CountBlobs(t), 2);

  auto context = TestServer::Context();
  v1::ListDatasetsResponse list;
  ASSERT_TRUE(t.datasets->ListDatasets(context.get(), v1::ListDatasetsRequest(), &list).ok());
  EXPECT_EQ(list.datasets_size(), 2);
  context = TestServer::Context();
  v1::DeleteDatasetRequest del;
  del.set_id(npy->id());
  v1::DeleteDatasetResponse deleted;
  ASSERT_TRUE(t.datasets->DeleteDataset(context.get(), del, &deleted).ok());
  context = TestServer::Context();
  v1::GetDatasetRequest get;
  get.set_id(npy->id());
  v1::Dataset gone;
  EXPECT_EQ(t.datasets->GetDataset(context.get(), get, &gone).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST(UploadTest, DeleteModelAndBadIds) {
  TestServer t;
  ASSERT_TRUE(t.status().ok()) << t.status();
  absl::StatusOr<v1::Model> model = t.UploadModel(Bytes(100));
  ASSERT_TRUE(model.ok());
  auto context = TestServer::Context();
  v1::DeleteModelRequest del;
  del.set_id(model->id());
  v1::DeleteModelResponse deleted;
  ASSERT_TRUE(t.models->DeleteModel(context.get(), del, &deleted).ok());
  context = TestServer::Context();
  v1::GetModelRequest get;
  get.set_id(model->id());
  v1::Model gone;
  grpc::Status status = t.models->GetModel(context.get(), get, &gone);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  context = TestServer::Context();
  get.set_id("model_xyz");
  status = t.models->GetModel(context.get(), get, &gone);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("id"));
  context = TestServer::Context();
  v1::ListModelsRequest list_request;
  list_request.set_page_size(5000);
  v1::ListModelsResponse list;
  status = t.models->ListModels(context.get(), list_request, &list);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("page_size"));
}

}  // namespace
}  // namespace mp::service::testing
