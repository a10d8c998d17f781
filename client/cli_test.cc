// The CLI end to end in process: flags, exit codes, jobs/show/cancel, submit --spec.
#include <gtest/gtest.h>

#include "client/cli_test_util.h"
#include "client/exit_codes.h"
#include "common/file_util.h"

namespace mp::client {
namespace {

using testing::Cli;
using testing::FakeServer;
namespace v1 = ::modelpress::v1;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.Create("cli-test-").ok());
    v1::Job done;
    done.set_id("job_00000000000000e1");
    done.mutable_spec()->set_kind(v1::JOB_KIND_PTQ);
    done.mutable_spec()->set_model_id("model_0000000000000001");
    done.set_state(v1::JOB_STATE_SUCCEEDED);
    done.set_progress(1);
    v1::Job running = done;
    running.set_id("job_00000000000000e2");
    running.set_state(v1::JOB_STATE_RUNNING);
    running.set_progress(0.42);
    running.set_step("calibrate");
    absl::MutexLock lock(&server_.jobs.mu);
    server_.jobs.jobs[done.id()] = done;
    server_.jobs.jobs[running.id()] = running;
  }
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = dir_.path() + "/" + name;
    EXPECT_TRUE(AtomicWriteFile(path, text).ok());
    return path;
  }
  FakeServer server_;
  ScopedTempDir dir_;
};

TEST_F(CliTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Cli(server_, {}).code, kExitUsage);
  EXPECT_EQ(Cli(server_, {"frobnicate"}).code, kExitUsage);
  EXPECT_EQ(Cli(server_, {"jobs", "--bogus"}).code, kExitUsage);
  EXPECT_EQ(Cli(server_, {"ptq", "model_0000000000000001"}).code, kExitUsage);  // no --calib
  EXPECT_EQ(Cli(server_, {"ptq", "model_0000000000000001", "--calib", "data_0000000000000001",
                          "--calibrator", "magic"})
                .code,
            kExitUsage);
  EXPECT_EQ(Cli(server_, {"download", "job_00000000000000e1"}).code, kExitUsage);  // no -o
  auto r = Cli(server_, {"jobs", "--state", "sleeping"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_NE(r.err.find("--state 'sleeping'"), std::string::npos) << r.err;
  r = Cli(server_, {"ptq", "model_0000000000000001", "--calib", "data_0000000000000001", "--labels",
                    "data_0000000000000002"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_NE(r.err.find("--labels needs --eval"), std::string::npos) << r.err;
}

TEST_F(CliTest, HelpListsTheExitCodes) {
  auto r = Cli(server_, {"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("Exit status:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("9  DATA_LOSS"), std::string::npos);
}

TEST_F(CliTest, ServerErrorsMapToExitCodes) {
  auto r = Cli(server_, {"show", "job_00000000000000ff"});
  EXPECT_EQ(r.code, kExitNotFound);
  EXPECT_NE(r.err.find("job_00000000000000ff"), std::string::npos);
  r = Cli(server_, {"cancel", "job_00000000000000e1"});
  EXPECT_EQ(r.code, kExitConflict);
  EXPECT_NE(r.err.find("already succeeded"), std::string::npos) << r.err;
}

TEST_F(CliTest, UnreachableServerExitsFive) {
  std::string address;
  {
    FakeServer gone;
    address = gone.address();
  }
  std::ostringstream out, err;
  const int code = RunCli({"--server", address, "jobs"}, out, err);
  EXPECT_EQ(code, kExitUnavailable) << err.str();
  EXPECT_NE(err.str().find("is modelpress-server running?"), std::string::npos) << err.str();
}

TEST_F(CliTest, JobsFiltersAndTable) {
  auto r = Cli(server_, {"jobs", "--state", "running", "--state", "QUEUED", "--kind", "ptq",
                         "--limit", "5"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("job_00000000000000e2  ptq   running    42%"), std::string::npos) << r.out;
  absl::MutexLock lock(&server_.jobs.mu);
  ASSERT_EQ(server_.jobs.list_requests.size(), 1u);
  const auto& q = server_.jobs.list_requests[0];
  ASSERT_EQ(q.states_size(), 2);
  EXPECT_EQ(q.states(0), v1::JOB_STATE_RUNNING);
  EXPECT_EQ(q.states(1), v1::JOB_STATE_QUEUED);
  EXPECT_EQ(q.kind(), v1::JOB_KIND_PTQ);
  EXPECT_EQ(q.page_size(), 5);
}

TEST_F(CliTest, ShowAndCancel) {
  auto r = Cli(server_, {"show", "job_00000000000000e2"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("job job_00000000000000e2 (ptq): running"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("progress 42%  step calibrate"), std::string::npos) << r.out;
  r = Cli(server_, {"cancel", "job_00000000000000e2"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "job_00000000000000e2 cancelled\n");
  r = Cli(server_, {"--json", "show", "job_00000000000000e2"});
  EXPECT_NE(r.out.find("\"state\":\"JOB_STATE_CANCELLED\""), std::string::npos) << r.out;
}

TEST_F(CliTest, SubmitReadsProtoJson) {
  const std::string spec = Write("spec.json", R"({
    "kind": "JOB_KIND_PTQ", "modelId": "model_0000000000000001", "seed": "5",
    "ptq": {"calibrationDatasetId": "data_0000000000000001", "calibrator": "entropy",
            "latencyBatches": [1, 8], "skipSensitivity": true}})");
  auto r = Cli(server_, {"submit", "--spec", spec, "--max-attempts", "2"});
  ASSERT_EQ(r.code, 0) << r.err;
  absl::MutexLock lock(&server_.jobs.mu);
  ASSERT_EQ(server_.jobs.submitted.size(), 1u);
  const auto& s = server_.jobs.submitted[0];
  EXPECT_EQ(s.max_attempts(), 2);
  EXPECT_EQ(s.spec().seed(), 5u);
  EXPECT_EQ(s.spec().ptq().calibrator(), "entropy");
  EXPECT_EQ(s.spec().ptq().latency_batches_size(), 2);
  EXPECT_TRUE(s.spec().ptq().skip_sensitivity());
}

TEST_F(CliTest, SubmitReadsYaml) {
  const std::string spec = Write("spec.yaml",
                                 "kind: JOB_KIND_PTQ\n"
                                 "model_id: model_0000000000000001\n"
                                 "ptq:\n"
                                 "  calibration_dataset_id: data_0000000000000001\n"
                                 "  percentile: 99.5\n"
                                 "  reduce_range: true\n"
                                 "  latency_batches: [1, 64]\n");
  auto r = Cli(server_, {"submit", "--spec", spec});
  ASSERT_EQ(r.code, 0) << r.err;
  absl::MutexLock lock(&server_.jobs.mu);
  ASSERT_EQ(server_.jobs.submitted.size(), 1u);
  const auto& p = server_.jobs.submitted[0].spec().ptq();
  EXPECT_EQ(p.percentile(), 99.5);
  EXPECT_TRUE(p.reduce_range());
  EXPECT_EQ(p.latency_batches(1), 64);
}

TEST_F(CliTest, BadSpecFilesAreNamed) {
  auto r = Cli(server_, {"submit", "--spec", Write("bad.json", "{\"kind\": \"JOB_KIND_NOPE\"}")});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_NE(r.err.find("spec file '"), std::string::npos) << r.err;
  r = Cli(server_, {"submit", "--spec", Write("nokind.json", "{\"modelId\": \"x\"}")});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_NE(r.err.find("kind is not set"), std::string::npos) << r.err;
  r = Cli(server_, {"submit", "--spec", dir_.path() + "/absent.json"});
  EXPECT_EQ(r.code, kExitNotFound);
  EXPECT_NE(r.err.find("absent.json': no such file"), std::string::npos) << r.err;
  r = Cli(server_, {"submit", "--spec", Write("bad.yaml", "kind: [unclosed\n")});
  EXPECT_EQ(r.code, kExitUsage) << r.err;
}

}  // namespace
}  // namespace mp::client
