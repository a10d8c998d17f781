#include "server/store/blob_store.h"

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "common/file_util.h"
#include "gtest/gtest.h"

namespace mp::store {
namespace {

namespace fs = std::filesystem;

class BlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.Create("blobs-").ok());
    auto store = BlobStore::Open(dir_.path() + "/blobs");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }
  // Number of entries under tmp/.
  int TempFiles() const {
    int n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(store_->temp_dir())) ++n;
    return n;
  }
  // Number of finished blob files.
  int BlobFiles() const {
    int n = 0;
    for (const auto& e : fs::recursive_directory_iterator(store_->root())) {
      if (e.is_regular_file() && e.path().parent_path() != fs::path(store_->temp_dir())) ++n;
    }
    return n;
  }

  static std::string Bytes(size_t n, int seed) {
    std::string s(n, '\0');
    for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 2654435761u + seed) >> 13);
    return s;
  }

  ScopedTempDir dir_;
  std::unique_ptr<BlobStore> store_;
};

TEST_F(BlobStoreTest, PutThenReadBackByHash) {
  const std::string data = Bytes(5000, 1);
  auto ref = store_->Put(data);
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->sha256(), Sha256Hex(data));
  EXPECT_EQ(ref->size_bytes(), 5000);
  EXPECT_EQ(store_->PathFor(ref->sha256()),
            store_->root() + "/" + ref->sha256().substr(0, 2) + "/" + ref->sha256());
  EXPECT_TRUE(fs::exists(store_->PathFor(ref->sha256())));
  EXPECT_TRUE(store_->Exists(ref->sha256()));
  EXPECT_EQ(*store_->Size(ref->sha256()), 5000);
  EXPECT_EQ(*store_->ReadAll(ref->sha256(), 1 << 20), data);
  EXPECT_EQ(store_->ReadAll(ref->sha256(), 4999).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(TempFiles(), 0);
}

TEST_F(BlobStoreTest, StreamsInChunksAndReadsInChunks) {
  const std::string data = Bytes(100'003, 2);
  auto writer = store_->NewWriter(Sha256Hex(data), 100'003, 1 << 20);
  ASSERT_TRUE(writer.ok()) << writer.status();
  for (size_t pos = 0; pos < data.size(); pos += 7000) {
    ASSERT_TRUE((*writer)->Append(std::string_view(data).substr(pos, 7000)).ok());
  }
  EXPECT_EQ((*writer)->bytes_written(), 100'003);
  auto ref = (*writer)->Finish();
  ASSERT_TRUE(ref.ok()) << ref.status();
  auto reader = store_->NewReader(ref->sha256());
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->size(), 100'003);
  std::string all, chunk;
  while (true) {
    ASSERT_TRUE((*reader)->Read(4096, &chunk).ok());
    if (chunk.empty()) break;
    EXPECT_LE(chunk.size(), 4096u);
    all += chunk;
  }
  EXPECT_EQ(all, data);
}

TEST_F(BlobStoreTest, EmptyBlob) {
  auto ref = store_->Put("");
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->size_bytes(), 0);
  EXPECT_EQ(*store_->ReadAll(ref->sha256(), 0), "");
}

TEST_F(BlobStoreTest, HashMismatchKeepsNothing) {
  auto writer = store_->NewWriter(Sha256Hex("something else"), -1, 1000);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Append("hello").ok());
  auto ref = (*writer)->Finish();
  EXPECT_EQ(ref.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(ref.status().message()).find("declared sha256"), std::string::npos);
  EXPECT_FALSE(store_->Exists(Sha256Hex("hello")));
  EXPECT_EQ(TempFiles(), 0);
  EXPECT_EQ(BlobFiles(), 0);
}

TEST_F(BlobStoreTest, SizeMismatchKeepsNothing) {
  {  // fewer bytes than declared
    auto writer = store_->NewWriter("", 10, 1000);
    ASSERT_TRUE((*writer)->Append("12345").ok());
    EXPECT_EQ((*writer)->Finish().status().code(), absl::StatusCode::kInvalidArgument);
  }
  {  // more bytes than declared
    auto writer = store_->NewWriter("", 4, 1000);
    EXPECT_EQ((*writer)->Append("12345").code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ((*writer)->Append("1").code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ((*writer)->Finish().status().code(), absl::StatusCode::kFailedPrecondition);
  }
  EXPECT_EQ(TempFiles(), 0);
  EXPECT_EQ(BlobFiles(), 0);
}

TEST_F(BlobStoreTest, SizeCapEnforcedWhileStreaming) {
  EXPECT_EQ(store_->NewWriter("", 1001, 1000).status().code(),
            absl::StatusCode::kResourceExhausted);
  auto writer = store_->NewWriter("", -1, 1000);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Append(Bytes(600, 3)).ok());
  EXPECT_EQ((*writer)->Append(Bytes(401, 4)).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(TempFiles(), 0);
  EXPECT_EQ(BlobFiles(), 0);
}

TEST_F(BlobStoreTest, AbortAndDestructionLeaveNothing) {
  {
    auto writer = store_->NewWriter("", -1, 1000);
    ASSERT_TRUE((*writer)->Append("partial").ok());
    EXPECT_EQ(TempFiles(), 1);
    (*writer)->Abort();
    (*writer)->Abort();  // idempotent
    EXPECT_EQ(TempFiles(), 0);
  }
  {
    auto writer = store_->NewWriter("", -1, 1000);
    ASSERT_TRUE((*writer)->Append("dropped").ok());
  }  // destroyed unfinished
  EXPECT_EQ(TempFiles(), 0);
  EXPECT_EQ(BlobFiles(), 0);
}

TEST_F(BlobStoreTest, ConcurrentWritersOfSameContent) {
  const std::string data = Bytes(300'000, 5);
  std::vector<std::string> shas(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      auto writer = store_->NewWriter(Sha256Hex(data), static_cast<int64_t>(data.size()), 1 << 20);
      if (!writer.ok()) return;
      for (size_t pos = 0; pos < data.size(); pos += 10'000) {
        if (!(*writer)->Append(std::string_view(data).substr(pos, 10'000)).ok()) return;
      }
      auto ref = (*writer)->Finish();
      if (ref.ok()) shas[t] = ref->sha256();
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& sha : shas) EXPECT_EQ(sha, Sha256Hex(data));
  EXPECT_EQ(BlobFiles(), 1);
  EXPECT_EQ(TempFiles(), 0);
  EXPECT_EQ(*store_->ReadAll(Sha256Hex(data), 1 << 20), data);
}

TEST_F(BlobStoreTest, OpenCleansCrashLeftoversAndKeepsBlobs) {
  auto ref = store_->Put("kept");
  ASSERT_TRUE(ref.ok());
  auto writer = store_->NewWriter("", -1, 1000);  // an upload "in flight" at the crash
  ASSERT_TRUE((*writer)->Append("half").ok());
  std::ofstream(store_->temp_dir() + "/up_0123456789abcdef.part") << "leftover";
  fs::create_directories(store_->temp_dir() + "/junk");
  EXPECT_EQ(TempFiles(), 3);
  auto reopened = BlobStore::Open(store_->root());
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ(TempFiles(), 0);
  EXPECT_EQ(*(*reopened)->ReadAll(ref->sha256(), 100), "kept");
  (*writer)->Abort();  // its file is already gone: no error, nothing left
  EXPECT_EQ(TempFiles(), 0);
}

TEST_F(BlobStoreTest, BadAndUnknownHashes) {
  EXPECT_EQ(store_->NewReader("../etc/passwd").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->NewWriter("ABC", -1, 10).status().code(), absl::StatusCode::kInvalidArgument);
  const std::string missing = Sha256Hex("missing");
  EXPECT_EQ(store_->NewReader(missing).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->Size(missing).status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(store_->Exists(missing));
  EXPECT_EQ(store_->Delete(missing).code(), absl::StatusCode::kNotFound);
  auto ref = store_->Put("gone soon");
  ASSERT_TRUE(store_->Delete(ref->sha256()).ok());
  EXPECT_FALSE(store_->Exists(ref->sha256()));
}

}  // namespace
}  // namespace mp::store
