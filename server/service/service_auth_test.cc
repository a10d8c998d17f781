// Authentication, tenant isolation and the standard health service over real gRPC.
#include <future>
#include <string>

#include "gmock/gmock.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/support/byte_buffer.h"
#include "gtest/gtest.h"
#include "server/service/grpc_status.h"
#include "server/service/service_test_util.h"

namespace mp::service::testing {
namespace {

TestServerOptions WithTokens() {
  TestServerOptions options;
  absl::StatusOr<TokenTable> table =
      TokenTable::Parse("alice-token alice\nbob-token bob user\nworker-token pool worker\n", "t");
  EXPECT_TRUE(table.ok());
  options.tokens = *std::move(table);
  return options;
}

grpc::StatusCode ListModelsCode(TestServer& t, const std::string& token) {
  auto context = TestServer::Context(token);
  v1::ListModelsResponse response;
  return t.models->ListModels(context.get(), v1::ListModelsRequest(), &response).error_code();
}

TEST(AuthTest, TokensAndRoles) {
  TestServer t(WithTokens());
  ASSERT_TRUE(t.status().ok()) << t.status();
  EXPECT_EQ(ListModelsCode(t, ""), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ListModelsCode(t, "wrong-token"), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ListModelsCode(t, "worker-token"), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ListModelsCode(t, "alice-token"), grpc::StatusCode::OK);
  EXPECT_EQ(t.UploadModel("m", "").status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(t.UploadModel("m", "worker-token").status().code(), absl::StatusCode::kUnauthenticated);
  // Worker RPCs need a worker token.
  EXPECT_EQ(t.Lease("alice-token").status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(t.Lease("").status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(t.Lease("worker-token").ok());
  EXPECT_EQ(t.PutBlob("x", "bob-token").status().code(), absl::StatusCode::kUnauthenticated);
}

TEST(AuthTest, TenantsAreIsolated) {
  TestServer t(WithTokens());
  ASSERT_TRUE(t.status().ok()) << t.status();
  absl::StatusOr<v1::Model> model = t.UploadModel("alice's model", "alice-token");
  ASSERT_TRUE(model.ok()) << model.status();

  auto context = TestServer::Context("bob-token");
  v1::GetModelRequest get_model;
  get_model.set_id(model->id());
  v1::Model m;
  EXPECT_EQ(t.models->GetModel(context.get(), get_model, &m).error_code(),
            grpc::StatusCode::NOT_FOUND);
  context = TestServer::Context("bob-token");
  v1::GetJobRequest get_job;
  get_job.set_id(model->inspect_job_id());
  v1::Job job;
  EXPECT_EQ(t.jobs->GetJob(context.get(), get_job, &job).error_code(), grpc::StatusCode::NOT_FOUND);
  context = TestServer::Context("bob-token");
  v1::CancelJobRequest cancel;
  cancel.set_id(model->inspect_job_id());
  EXPECT_EQ(t.jobs->CancelJob(context.get(), cancel, &job).error_code(),
            grpc::StatusCode::NOT_FOUND);
  context = TestServer::Context("bob-token");
  v1::SubmitJobRequest submit;
  submit.mutable_spec()->set_kind(v1::JOB_KIND_INSPECT);
  submit.mutable_spec()->set_model_id(model->id());
  EXPECT_EQ(t.jobs->SubmitJob(context.get(), submit, &job).error_code(),
            grpc::StatusCode::NOT_FOUND);
  context = TestServer::Context("bob-token");
  v1::WatchJobRequest watch;
  watch.set_id(model->inspect_job_id());
  auto reader = t.jobs->WatchJob(context.get(), watch);
  v1::JobEvent event;
  EXPECT_FALSE(reader->Read(&event));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
  context = TestServer::Context("bob-token");
  v1::ListJobsResponse list;
  ASSERT_TRUE(t.jobs->ListJobs(context.get(), v1::ListJobsRequest(), &list).ok());
  EXPECT_EQ(list.jobs_size(), 0);
  context = TestServer::Context("alice-token");
  ASSERT_TRUE(t.jobs->ListJobs(context.get(), v1::ListJobsRequest(), &list).ok());
  EXPECT_EQ(list.jobs_size(), 1);
  context = TestServer::Context("alice-token");
  EXPECT_TRUE(t.jobs->SubmitJob(context.get(), submit, &job).ok());
}

// grpc.health.v1.Health/Check by hand: HealthCheckRequest{service = 1} ->
// HealthCheckResponse{status = 1} with SERVING = 1, NOT_SERVING = 2.
int HealthStatus(TestServer& t, const std::string& service) {
  std::string request;
  if (!service.empty()) {
    request.push_back(0x0a);
    request.push_back(static_cast<char>(service.size()));
    request += service;
  }
  grpc::Slice slice(request);
  grpc::ByteBuffer request_buffer(&slice, 1);
  grpc::ByteBuffer response_buffer;
  grpc::GenericStub stub(t.channel);
  grpc::ClientContext context;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request_buffer,
                 &response_buffer, [&done](grpc::Status status) { done.set_value(status); });
  grpc::Status status = done.get_future().get();
  if (!status.ok()) return -static_cast<int>(status.error_code());
  std::vector<grpc::Slice> slices;
  EXPECT_TRUE(response_buffer.Dump(&slices).ok());
  std::string bytes;
  for (const grpc::Slice& s : slices)
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  if (bytes.size() != 2 || bytes[0] != 0x08) return 0;
  return bytes[1];
}

TEST(HealthTest, ServingUntilShutdownBegins) {
  TestServer t;
  ASSERT_TRUE(t.status().ok()) << t.status();
  EXPECT_EQ(HealthStatus(t, ""), 1);
  EXPECT_EQ(HealthStatus(t, "modelpress.v1.JobService"), 1);
  EXPECT_EQ(HealthStatus(t, "modelpress.v1.WorkerService"), 1);
  t.server->BeginShutdown();
  EXPECT_EQ(HealthStatus(t, ""), 2);
  EXPECT_EQ(HealthStatus(t, "modelpress.v1.JobService"), 2);
  // Long polls end at once during shutdown.
  absl::StatusOr<v1::LeaseJobResponse> lease = t.Lease("", 20'000);
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_FALSE(lease->has_lease());
}

}  // namespace
}  // namespace mp::service::testing
