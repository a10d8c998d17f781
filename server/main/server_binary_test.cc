// The modelpress-server binary end to end: start, ready file, serve, SIGTERM, exit 0.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "common/file_util.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "modelpress/v1/job.grpc.pb.h"
#include "modelpress/v1/model.grpc.pb.h"
#include "nlohmann/json.hpp"

extern char** environ;

namespace mp::server {
namespace {

namespace v1 = ::modelpress::v1;
using ::testing::HasSubstr;

// Polls until `done` or 60 s (a deadline for another process, not synchronisation).
bool Eventually(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

class ServerProcess {
 public:
  // Starts modelpress-server with `args`; stderr goes to `stderr_path`.
  ServerProcess(std::vector<std::string> args, const std::string& stderr_path) {
    args.insert(args.begin(), MP_SERVER_BINARY);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~ServerProcess() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  // Waits for exit; returns the wait status.
  int Wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    exited_ = true;
    return status;
  }
  bool Exited(int* status) {
    if (waitpid(pid_, status, WNOHANG) == pid_) exited_ = true;
    return exited_;
  }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
};

TEST(ServerBinaryTest, ServesAndShutsDownCleanlyOnSigterm) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create().ok());
  const std::string ready = dir.path() + "/ready.json";
  ServerProcess server({"--data-dir", dir.path() + "/data", "--listen", "127.0.0.1:0", "--http",
                        "off", "--local-workers", "0", "--ready-file", ready},
                       dir.path() + "/stderr");
  ASSERT_GT(server.pid(), 0);
  int status = 0;
  ASSERT_TRUE(Eventually([&] { return ReadFile(ready).ok() || server.Exited(&status); }))
      << "no ready file";
  ASSERT_TRUE(ReadFile(ready).ok()) << *ReadFile(dir.path() + "/stderr");
  nlohmann::json info = nlohmann::json::parse(*ReadFile(ready));
  EXPECT_EQ(info["pid"].get<int>(), server.pid());
  const std::string address = info["grpc"].get<std::string>();
  EXPECT_THAT(address, HasSubstr("127.0.0.1:"));

  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto models = v1::ModelService::NewStub(channel);
  auto jobs = v1::JobService::NewStub(channel);
  grpc::ClientContext upload_context;
  v1::Model model;
  auto writer = models->UploadModel(&upload_context, &model);
  v1::UploadModelRequest request;
  request.mutable_header()->set_name("m.onnx");
  // sha256("abc")
  request.mutable_header()->set_sha256(
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  request.mutable_header()->set_size_bytes(3);
  request.set_chunk("abc");
  ASSERT_TRUE(writer->Write(request));
  writer->WritesDone();
  grpc::Status upload = writer->Finish();
  ASSERT_TRUE(upload.ok()) << upload.error_message();

  grpc::ClientContext get_context;
  v1::GetJobRequest get;
  get.set_id(model.inspect_job_id());
  v1::Job job;
  ASSERT_TRUE(jobs->GetJob(&get_context, get, &job).ok());
  EXPECT_EQ(job.state(), v1::JOB_STATE_QUEUED);

  // A watcher open at shutdown is ended, and the server still exits 0.
  grpc::ClientContext watch_context;
  v1::WatchJobRequest watch;
  watch.set_id(job.id());
  auto reader = jobs->WatchJob(&watch_context, watch);
  v1::JobEvent event;
  ASSERT_TRUE(reader->Read(&event));
  ASSERT_EQ(kill(server.pid(), SIGTERM), 0);
  EXPECT_FALSE(reader->Read(&event));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  status = server.Wait();
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << *ReadFile(dir.path() + "/stderr");
  EXPECT_FALSE(ReadFile(ready).ok());  // removed on a clean exit
}

TEST(ServerBinaryTest, BadTokenFileIsAStartupErrorNamingTheLine) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create().ok());
  ASSERT_TRUE(AtomicWriteFile(dir.path() + "/tokens", "# ok\nt1 alice\nt2 bob admin\n").ok());
  ServerProcess server({"--data-dir", dir.path() + "/data", "--listen", "127.0.0.1:0", "--http",
                        "off", "--local-workers", "0", "--tokens", dir.path() + "/tokens"},
                       dir.path() + "/stderr");
  const int status = server.Wait();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
  EXPECT_THAT(*ReadFile(dir.path() + "/stderr"), HasSubstr("tokens:3"));
}

TEST(ServerBinaryTest, SupervisesLocalWorkersWithAGeneratedToken) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create().ok());
  // A stand-in worker that records its arguments and token, then waits to be stopped.
  const std::string worker = dir.path() + "/fake-worker";
  const std::string seen = dir.path() + "/seen";
  ASSERT_TRUE(AtomicWriteFile(worker, "#!/bin/sh\necho \"$1 $2 ${#MODELPRESS_TOKEN}\" > " + seen +
                                          ".tmp\nmv " + seen + ".tmp " + seen +
                                          "\nexec sleep 1000\n")
                  .ok());
  ASSERT_EQ(chmod(worker.c_str(), 0755), 0);
  ASSERT_TRUE(AtomicWriteFile(dir.path() + "/tokens", "t1 alice\n").ok());
  const std::string ready = dir.path() + "/ready.json";
  ServerProcess server({"--data-dir", dir.path() + "/data", "--listen", "127.0.0.1:0", "--http",
                        "off", "--local-workers", "1", "--worker-binary", worker, "--tokens",
                        dir.path() + "/tokens", "--ready-file", ready},
                       dir.path() + "/stderr");
  int status = 0;
  ASSERT_TRUE(Eventually([&] { return ReadFile(seen).ok() || server.Exited(&status); }))
      << *ReadFile(dir.path() + "/stderr");
  ASSERT_TRUE(Eventually([&] { return ReadFile(ready).ok(); }));
  nlohmann::json info = nlohmann::json::parse(*ReadFile(ready));
  // "--server 127.0.0.1:PORT 64": the server address and a 64-hex-digit token.
  EXPECT_EQ(*ReadFile(seen), "--server " + info["grpc"].get<std::string>() + " 64\n");
  ASSERT_EQ(kill(server.pid(), SIGTERM), 0);
  status = server.Wait();
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << *ReadFile(dir.path() + "/stderr");
}

}  // namespace
}  // namespace mp::server
