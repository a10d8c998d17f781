// WatchJob: replay after a sequence, live events, end at a terminal state or at shutdown.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/service/grpc_status.h"
#include "server/service/service_test_util.h"

namespace mp::service::testing {
namespace {

class WatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(t_.status().ok()) << t_.status();
    absl::StatusOr<v1::Model> model = t_.UploadModel("model bytes");
    ASSERT_TRUE(model.ok()) << model.status();
    job_id_ = model->inspect_job_id();
    absl::StatusOr<v1::LeaseJobResponse> lease = t_.LeaseJob(job_id_);
    ASSERT_TRUE(lease.ok()) << lease.status();
    epoch_ = lease->lease().epoch();
  }

  grpc::Status Progress(double progress, const std::string& step) {
    v1::ReportProgressRequest request;
    request.set_job_id(job_id_);
    request.set_epoch(epoch_);
    request.set_progress(progress);
    request.set_eta_seconds(3);
    request.set_step(step);
    auto context = TestServer::Context();
    v1::HeartbeatResponse response;
    return t_.workers->ReportProgress(context.get(), request, &response);
  }

  grpc::Status Complete() {
    v1::CompleteJobRequest request;
    request.set_job_id(job_id_);
    request.set_epoch(epoch_);
    auto context = TestServer::Context();
    v1::CompleteJobResponse response;
    return t_.workers->CompleteJob(context.get(), request, &response);
  }

  TestServer t_;
  std::string job_id_;
  int64_t epoch_ = 0;
};

TEST_F(WatchTest, ReplaysThenStreamsLiveToTheEnd) {
  ASSERT_TRUE(Progress(0.25, "calibrate").ok());
  v1::WatchJobRequest request;
  request.set_id(job_id_);
  auto context = TestServer::Context();
  auto reader = t_.jobs->WatchJob(context.get(), request);
  // Replay: QUEUED, RUNNING, the progress report.
  v1::JobEvent event;
  std::vector<v1::JobEvent> events;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(reader->Read(&event)) << i;
    events.push_back(event);
  }
  EXPECT_EQ(events[0].sequence(), 1);
  EXPECT_EQ(events[0].state(), v1::JOB_STATE_QUEUED);
  EXPECT_EQ(events[1].state(), v1::JOB_STATE_RUNNING);
  EXPECT_EQ(events[2].step(), "calibrate");
  EXPECT_DOUBLE_EQ(events[2].progress(), 0.25);

  // Live: each event reaches the open stream.
  ASSERT_TRUE(Progress(0.5, "evaluate").ok());
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.sequence(), 4);
  EXPECT_EQ(event.step(), "evaluate");
  ASSERT_TRUE(Complete().ok());
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.sequence(), 5);
  EXPECT_EQ(event.state(), v1::JOB_STATE_SUCCEEDED);
  EXPECT_FALSE(reader->Read(&event));
  EXPECT_TRUE(reader->Finish().ok());
}

TEST_F(WatchTest, AfterSequenceSkipsSeenEventsAndTerminalJobsEnd) {
  ASSERT_TRUE(Progress(0.5, "a").ok());
  ASSERT_TRUE(Complete().ok());
  v1::WatchJobRequest request;
  request.set_id(job_id_);
  request.set_after_sequence(2);
  auto context = TestServer::Context();
  auto reader = t_.jobs->WatchJob(context.get(), request);
  v1::JobEvent event;
  std::vector<int64_t> sequences;
  while (reader->Read(&event)) sequences.push_back(event.sequence());
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(sequences, (std::vector<int64_t>{3, 4}));
}

TEST_F(WatchTest, ManyWatchersSeeEveryEvent) {
  constexpr int kWatchers = 8;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::JobEvent>>> readers;
  v1::WatchJobRequest request;
  request.set_id(job_id_);
  for (int i = 0; i < kWatchers; ++i) {
    contexts.push_back(TestServer::Context());
    readers.push_back(t_.jobs->WatchJob(contexts.back().get(), request));
  }
  for (int p = 1; p <= 20; ++p) ASSERT_TRUE(Progress(p / 20.0, "step").ok());
  ASSERT_TRUE(Complete().ok());
  for (auto& reader : readers) {
    v1::JobEvent event;
    int64_t expected = 1;
    while (reader->Read(&event)) EXPECT_EQ(event.sequence(), expected++);
    EXPECT_EQ(expected, 2 + 20 + 1 + 1);  // QUEUED, RUNNING, 20 progress, SUCCEEDED
    EXPECT_TRUE(reader->Finish().ok());
  }
}

TEST_F(WatchTest, ErrorsAndShutdownEndTheStream) {
  v1::WatchJobRequest request;
  request.set_id("job_0000000000000000");
  auto context = TestServer::Context();
  auto missing = t_.jobs->WatchJob(context.get(), request);
  v1::JobEvent event;
  EXPECT_FALSE(missing->Read(&event));
  EXPECT_EQ(missing->Finish().error_code(), grpc::StatusCode::NOT_FOUND);

  request.set_id(job_id_);
  request.set_after_sequence(-1);
  context = TestServer::Context();
  auto negative = t_.jobs->WatchJob(context.get(), request);
  EXPECT_FALSE(negative->Read(&event));
  EXPECT_EQ(negative->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  request.set_after_sequence(0);
  context = TestServer::Context();
  auto reader = t_.jobs->WatchJob(context.get(), request);
  ASSERT_TRUE(reader->Read(&event));
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.state(), v1::JOB_STATE_RUNNING);
  t_.server->BeginShutdown();  // the job is still running: the watch must end anyway
  EXPECT_FALSE(reader->Read(&event));
  grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), ::testing::HasSubstr("after_sequence"));
}

}  // namespace
}  // namespace mp::service::testing
