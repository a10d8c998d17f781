// The metrics interceptor on a real gRPC server (a tiny JobService) over localhost.
#include "server/dashboard/grpc_metrics.h"

#include <memory>
#include <string>
#include <vector>

#include "common/metrics.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "modelpress/v1/job.grpc.pb.h"
#include "server/dashboard/service_hook.h"

namespace mp::dashboard {
namespace {

using ::testing::HasSubstr;

// GetJob answers OK for id "ok" and NOT_FOUND otherwise; every other method is the
// generated UNIMPLEMENTED default.
class TinyJobService final : public v1::JobService::CallbackService {
  grpc::ServerUnaryReactor* GetJob(grpc::CallbackServerContext* context,
                                   const v1::GetJobRequest* request, v1::Job* job) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    if (request->id() == "ok") {
      job->set_id("ok");
      reactor->Finish(grpc::Status::OK);
    } else {
      reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND, "no such job"));
    }
    return reactor;
  }
};

TEST(GrpcMetricsTest, CountsAndTimesEveryCallByMethodAndCode) {
  metrics::Registry registry;
  ServerMetrics metrics(&registry);
  TinyJobService service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  AddMetricsInterceptor(builder, &metrics);  // what modelpress-server's main does
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  ASSERT_GT(port, 0);

  auto stub = v1::JobService::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  for (const char* id : {"ok", "ok", "missing"}) {
    grpc::ClientContext ctx;
    v1::GetJobRequest req;
    req.set_id(id);
    v1::Job job;
    stub->GetJob(&ctx, req, &job);
  }
  {
    grpc::ClientContext ctx;
    v1::CancelJobRequest req;
    v1::Job job;
    EXPECT_EQ(stub->CancelJob(&ctx, req, &job).error_code(), grpc::StatusCode::UNIMPLEMENTED);
  }
  server->Shutdown();

  constexpr char kGet[] = "/modelpress.v1.JobService/GetJob";
  EXPECT_EQ(metrics.grpc_requests->WithLabels({kGet, "OK"})->Value(), 2);
  EXPECT_EQ(metrics.grpc_requests->WithLabels({kGet, "NOT_FOUND"})->Value(), 1);
  EXPECT_EQ(metrics.grpc_request_seconds->WithLabels({kGet})->Snap().count, 3u);
  const std::string text = registry.Expose();
  EXPECT_THAT(text, HasSubstr("modelpress_grpc_requests_total{method=\"/modelpress.v1."
                              "JobService/CancelJob\",code=\"UNIMPLEMENTED\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("modelpress_grpc_request_seconds_count{method=\"" +
                              std::string(kGet) + "\"} 3\n"));
}

TEST(GrpcMetricsTest, CodeNames) {
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::OK), "OK");
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::RESOURCE_EXHAUSTED), "RESOURCE_EXHAUSTED");
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::UNAUTHENTICATED), "UNAUTHENTICATED");
  EXPECT_EQ(GrpcCodeName(static_cast<grpc::StatusCode>(99)), "CODE_99");
}

}  // namespace
}  // namespace mp::dashboard
