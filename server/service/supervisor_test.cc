#include "server/service/supervisor.h"

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "common/file_util.h"
#include "gtest/gtest.h"

namespace mp::service {
namespace {

using std::chrono::milliseconds;

// Polls `done` until it holds or 30 s pass (a deadline, not a synchronisation sleep).
bool Eventually(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return done();
}

TEST(SupervisorTest, RestartsAChildThatDies) {
  SupervisorOptions options;
  options.command = {"/bin/sleep", "1000"};
  options.count = 2;
  options.min_backoff = milliseconds(10);
  ProcessSupervisor supervisor(options);
  ASSERT_TRUE(supervisor.Start().ok());
  std::vector<pid_t> pids = supervisor.Pids();
  ASSERT_EQ(pids.size(), 2u);
  ASSERT_EQ(kill(pids[0], SIGKILL), 0);
  ASSERT_TRUE(Eventually([&] {
    std::vector<pid_t> now = supervisor.Pids();
    return supervisor.exits() == 1 && now.size() == 2 && now[0] != pids[0];
  }));
  EXPECT_EQ(supervisor.Pids()[1], pids[1]);
  supervisor.Stop(milliseconds(5000));
  EXPECT_TRUE(supervisor.Pids().empty());
  // Every child was reaped by the supervisor.
  EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), -1);
}

TEST(SupervisorTest, MissingCommandIsNotFound) {
  SupervisorOptions options;
  options.command = {"/nonexistent/modelpress-worker"};
  ProcessSupervisor supervisor(options);
  absl::Status status = supervisor.Start();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  options.command = {"no-such-command-on-path-xyz"};
  ProcessSupervisor on_path(options);
  EXPECT_EQ(on_path.Start().code(), absl::StatusCode::kNotFound);
}

TEST(SupervisorTest, PassesEnvironmentAndArguments) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create().ok());
  const std::string out = dir.path() + "/out";
  SupervisorOptions options;
  options.command = {"sh", "-c",
                     "echo \"$0 $MODELPRESS_TOKEN\" > " + out + ".tmp && mv " + out + ".tmp " +
                         out + " && exec sleep 1000",
                     "arg0"};
  options.env = {{"MODELPRESS_TOKEN", "secret-token"}};
  ProcessSupervisor supervisor(options);
  ASSERT_TRUE(supervisor.Start().ok());
  ASSERT_TRUE(Eventually([&] { return ReadFile(out).ok(); }));
  EXPECT_EQ(*ReadFile(out), "arg0 secret-token\n");
  supervisor.Stop(milliseconds(5000));
}

TEST(SupervisorTest, KillsAChildThatIgnoresSigterm) {
  SupervisorOptions options;
  options.command = {"/bin/sh", "-c", "trap '' TERM; exec sleep 1000"};
  ProcessSupervisor supervisor(options);
  ASSERT_TRUE(supervisor.Start().ok());
  ASSERT_EQ(supervisor.Pids().size(), 1u);
  supervisor.Stop(milliseconds(200));
  EXPECT_TRUE(supervisor.Pids().empty());
  EXPECT_EQ(supervisor.exits(), 0);
}

TEST(SupervisorTest, CrashLoopKeepsRestartingWithBackoff) {
  SupervisorOptions options;
  options.command = {"/bin/false"};
  options.min_backoff = milliseconds(1);
  options.max_backoff = milliseconds(8);
  ProcessSupervisor supervisor(options);
  ASSERT_TRUE(supervisor.Start().ok());
  ASSERT_TRUE(Eventually([&] { return supervisor.exits() >= 4; }));
  supervisor.Stop(milliseconds(1000));
  EXPECT_TRUE(supervisor.Pids().empty());
}

}  // namespace
}  // namespace mp::service
