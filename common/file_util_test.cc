#include "common/file_util.h"

#include <sys/stat.h>

#include <filesystem>

#include "gtest/gtest.h"

namespace mp {
namespace {

TEST(FileUtilTest, AtomicWriteThenReadRoundTrips) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create().ok());
  const std::string path = dir.path() + "/a.bin";
  std::string bytes("hello\0world", 11);
  ASSERT_TRUE(AtomicWriteFile(path, bytes).ok());
  auto read = ReadFile(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, bytes);
  // Overwrite replaces the whole content.
  ASSERT_TRUE(AtomicWriteFile(path, "x").ok());
  EXPECT_EQ(*ReadFile(path), "x");
  // No temp files are left beside it.
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

TEST(FileUtilTest, FailedWriteLeavesNothingAndNamesThePath) {
  absl::Status s = AtomicWriteFile("/nonexistent-dir-mp/x.bin", "data");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("/nonexistent-dir-mp/x.bin"), std::string::npos) << s;
  EXPECT_FALSE(std::filesystem::exists("/nonexistent-dir-mp"));
}

TEST(FileUtilTest, ReadFileErrors) {
  EXPECT_EQ(ReadFile("/nonexistent-mp-file").status().code(), absl::StatusCode::kNotFound);
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create().ok());
  EXPECT_EQ(ReadFile(dir.path()).status().code(), absl::StatusCode::kInvalidArgument);
  const std::string path = dir.path() + "/big";
  ASSERT_TRUE(AtomicWriteFile(path, std::string(100, 'a')).ok());
  EXPECT_EQ(ReadFile(path, 99).status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(ReadFile(path, 100).ok());
}

TEST(FileUtilTest, ScopedTempDirRemovesItsTree) {
  std::string path;
  {
    ScopedTempDir dir;
    ASSERT_TRUE(dir.Create("mp-scoped-").ok());
    path = dir.path();
    std::filesystem::create_directories(path + "/a/b");
    ASSERT_TRUE(AtomicWriteFile(path + "/a/b/c", "1").ok());
  }
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_TRUE(RemoveAll(path).ok());  // missing is fine
}

}  // namespace
}  // namespace mp
