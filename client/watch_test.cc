// watch: rendering (plain lines off a terminal, the bar on one), final table, exit codes.
#include <gtest/gtest.h>

#include "client/cli_test_util.h"
#include "client/watch.h"

namespace mp::client {
namespace {

using testing::Cli;
using testing::FakeServer;
namespace v1 = ::modelpress::v1;

v1::JobEvent Event(int64_t seq, v1::JobState state, double progress, const std::string& step,
                   double eta = -1) {
  v1::JobEvent e;
  e.set_sequence(seq);
  e.set_state(state);
  e.set_progress(progress);
  e.set_step(step);
  e.set_eta_seconds(eta);
  return e;
}

class WatchTest : public ::testing::Test {
 protected:
  void Script(const std::string& id, v1::JobState final_state) {
    absl::MutexLock lock(&server_.jobs.mu);
    auto& ev = server_.jobs.events[id];
    ev.push_back(Event(1, v1::JOB_STATE_QUEUED, 0, ""));
    ev.push_back(Event(2, v1::JOB_STATE_RUNNING, 0.0, "load"));
    ev.push_back(Event(3, v1::JOB_STATE_RUNNING, 0.31, "calibrate", 75));
    ev.push_back(Event(4, v1::JOB_STATE_RUNNING, 0.33, "calibrate", 70));  // same decile
    ev.push_back(Event(5, v1::JOB_STATE_RUNNING, 0.52, "calibrate", 40));
    ev.push_back(Event(6, final_state, 1.0, "export", 0));
    v1::Job job;
    job.set_id(id);
    job.mutable_spec()->set_kind(v1::JOB_KIND_PTQ);
    job.set_state(final_state);
    if (final_state == v1::JOB_STATE_FAILED) job.set_error("node 'conv3' (Conv): bad weight");
    auto add = [&](const char* name, double value) {
      v1::Metric* m = job.add_metrics();
      m->set_name(name);
      m->set_value(value);
    };
    add("accuracy_fp32", 0.9012);
    add("accuracy_int8", 0.8987);
    add("model_bytes_fp32", 246000);
    add("model_bytes_int8", 64000);
    add("sqnr_db_min", 21.5);
    add("layers_quantized", 5);  // no fp32 twin: listed alone
    server_.jobs.jobs[id] = job;
  }
  FakeServer server_;
};

TEST_F(WatchTest, PlainLinesThenTheComparisonTable) {
  Script("job_00000000000000w1", v1::JOB_STATE_SUCCEEDED);
  auto r = Cli(server_, {"watch", "job_00000000000000w1"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "queued      0%\n"
            "running     0%  load\n"
            "running    31%  calibrate  eta 1:15\n"
            "running    52%  calibrate  eta 0:40\n"
            "succeeded 100%  export\n"
            "job job_00000000000000w1 (ptq): succeeded\n"
            "metric       fp32    int8\n"
            "accuracy     0.9012  0.8987\n"
            "model_bytes  246000  64000\n"
            "metric            value\n"
            "sqnr_db_min       21.5\n"
            "layers_quantized  5\n");
}

TEST_F(WatchTest, FailedJobExitsOneWithTheError) {
  Script("job_00000000000000w2", v1::JOB_STATE_FAILED);
  auto r = Cli(server_, {"watch", "job_00000000000000w2"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("error: node 'conv3' (Conv): bad weight"), std::string::npos) << r.out;
}

TEST_F(WatchTest, JsonPrintsOneEventPerLineThenTheJob) {
  Script("job_00000000000000w3", v1::JOB_STATE_SUCCEEDED);
  auto r = Cli(server_, {"--json", "watch", "job_00000000000000w3"});
  EXPECT_EQ(r.code, 0) << r.err;
  int lines = 0;
  for (char c : r.out) lines += c == '\n';
  EXPECT_EQ(lines, 7);  // six events + the job
  EXPECT_NE(r.out.find("\"step\":\"calibrate\""), std::string::npos);
}

TEST_F(WatchTest, UnknownJobIsNotFound) {
  auto r = Cli(server_, {"watch", "job_00000000000000ff"});
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_NE(r.err.find("job_00000000000000ff"), std::string::npos);
}

TEST_F(WatchTest, SubmitWithWatchFollowsTheNewJob) {
  Script("job_00000000000000j1", v1::JOB_STATE_SUCCEEDED);
  auto r = Cli(server_,
               {"ptq", "model_0000000000000001", "--calib", "data_0000000000000001", "--watch"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("job_00000000000000j1\nqueued", 0), 0u) << r.out;
}

TEST(RenderTest, ProgressBar) {
  const std::string bar = RenderProgressBar(Event(3, v1::JOB_STATE_RUNNING, 0.5, "calibrate", 12),
                                            /*width=*/60);
  EXPECT_LE(bar.size(), 59u);
  EXPECT_EQ(bar.front(), '[');
  const size_t close = bar.find(']');
  ASSERT_NE(close, std::string::npos);
  const std::string inner = bar.substr(1, close - 1);
  EXPECT_EQ(std::count(inner.begin(), inner.end(), '#'), int(inner.size() / 2));
  EXPECT_NE(bar.find(" 50%  calibrate  ETA 0:12"), std::string::npos) << bar;
  const std::string done = RenderProgressBar(Event(4, v1::JOB_STATE_SUCCEEDED, 1, ""), 60);
  EXPECT_EQ(done.find('.'), std::string::npos) << done;
  EXPECT_NE(done.find("100%  succeeded"), std::string::npos) << done;
}

TEST(RenderTest, PlainFilterPrintsChangesAndDeciles) {
  PlainLineFilter f;
  EXPECT_TRUE(f.ShouldPrint(Event(1, v1::JOB_STATE_RUNNING, 0.01, "calibrate")));
  EXPECT_FALSE(f.ShouldPrint(Event(2, v1::JOB_STATE_RUNNING, 0.05, "calibrate")));
  EXPECT_TRUE(f.ShouldPrint(Event(3, v1::JOB_STATE_RUNNING, 0.10, "calibrate")));
  EXPECT_TRUE(f.ShouldPrint(Event(4, v1::JOB_STATE_RUNNING, 0.11, "quantize")));
  v1::JobEvent log = Event(5, v1::JOB_STATE_RUNNING, 0.12, "quantize");
  log.set_log("fallback: conv3 stays fp32");
  EXPECT_TRUE(f.ShouldPrint(log));
}

}  // namespace
}  // namespace mp::client
