// download: verified, atomic; corrupted or short streams leave no file.
#include <gtest/gtest.h>

#include <filesystem>

#include "client/cli_test_util.h"
#include "common/file_util.h"
#include "common/sha256.h"

namespace mp::client {
namespace {

using testing::Cli;
using testing::FakeServer;

class DownloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.Create("download-test-").ok());
    bytes_.resize(5'555);
    for (size_t i = 0; i < bytes_.size(); ++i) bytes_[i] = static_cast<char>(i % 253);
    absl::MutexLock lock(&server_.jobs.mu);
    server_.jobs.artifacts["job_00000000000000d1/model"] = bytes_;
  }
  // Nothing but the expected files in the directory (no temp files left behind).
  std::vector<std::string> Files() const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir_.path())) {
      names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }
  FakeServer server_;
  ScopedTempDir dir_;
  std::string bytes_;
};

TEST_F(DownloadTest, WritesVerifiedBytes) {
  const std::string out = dir_.path() + "/model.int8.onnx";
  auto r = Cli(server_, {"download", "job_00000000000000d1", "-o", out});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(*ReadFile(out), bytes_);
  EXPECT_EQ(Files(), std::vector<std::string>{"model.int8.onnx"});
  EXPECT_NE(r.out.find(Sha256Hex(bytes_)), std::string::npos);
}

TEST_F(DownloadTest, CorruptedStreamIsRejectedAndLeavesNoFile) {
  {
    absl::MutexLock lock(&server_.jobs.mu);
    server_.jobs.corrupt_download = true;
  }
  const std::string out = dir_.path() + "/model.int8.onnx";
  auto r = Cli(server_, {"download", "job_00000000000000d1", "-o", out});
  EXPECT_EQ(r.code, 9) << r.err;
  EXPECT_NE(r.err.find("nothing written"), std::string::npos) << r.err;
  EXPECT_TRUE(Files().empty());
}

TEST_F(DownloadTest, TruncatedStreamIsRejectedAndKeepsTheOldFile) {
  {
    absl::MutexLock lock(&server_.jobs.mu);
    server_.jobs.truncate_download = true;
  }
  const std::string out = dir_.path() + "/model.int8.onnx";
  ASSERT_TRUE(AtomicWriteFile(out, "previous").ok());
  auto r = Cli(server_, {"download", "job_00000000000000d1", "-o", out});
  EXPECT_EQ(r.code, 9) << r.err;
  EXPECT_EQ(*ReadFile(out), "previous");
  EXPECT_EQ(Files(), std::vector<std::string>{"model.int8.onnx"});
}

TEST_F(DownloadTest, UnknownArtifactIsNotFound) {
  auto r = Cli(server_, {"download", "job_00000000000000d1", "--artifact", "report", "-o",
                         dir_.path() + "/r.json"});
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_TRUE(Files().empty());
}

TEST_F(DownloadTest, UnwritableDirectoryIsAUsageError) {
  auto r =
      Cli(server_, {"download", "job_00000000000000d1", "-o", dir_.path() + "/no/such/dir/m.onnx"});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("no/such/dir/m.onnx"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace mp::client
