#include "workers/runtime/blob_transfer.h"

#include <gtest/gtest.h>

#include "common/file_util.h"
#include "common/sha256.h"
#include "workers/runtime/fake_worker_service_test_util.h"

namespace mp::runtime {
namespace {

using testing::FakeServer;
using testing::FakeWorkerService;
namespace v1 = ::modelpress::v1;

class BlobTransferTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(dir_.Create("blob-test-").ok()); }
  std::filesystem::path Path(const char* name) { return std::filesystem::path(dir_.path()) / name; }
  SystemClock clock_;
  FakeWorkerService service_{&clock_};
  FakeServer server_{&service_};
  std::unique_ptr<v1::WorkerService::Stub> stub_ = v1::WorkerService::NewStub(server_.Channel());
  ScopedTempDir dir_;
};

TEST_F(BlobTransferTest, FetchVerifiesAndWrites) {
  const std::string bytes(4321, 'x');
  const v1::BlobRef ref = service_.AddBlob(bytes);
  ASSERT_TRUE(FetchBlobToFile(*stub_, {}, "job_1", 7, ref, Path("a")).ok());
  EXPECT_EQ(*ReadFile(Path("a").string()), bytes);
}

TEST_F(BlobTransferTest, CorruptedFetchIsDataLossAndLeavesNoFile) {
  const v1::BlobRef ref = service_.AddBlob(std::string(4321, 'y'));
  {
    absl::MutexLock lock(&service_.mu);
    service_.corrupt.insert(ref.sha256());
  }
  const absl::Status s = FetchBlobToFile(*stub_, {}, "job_1", 7, ref, Path("b"));
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_FALSE(std::filesystem::exists(Path("b")));
}

TEST_F(BlobTransferTest, WrongDeclaredSizeIsDataLoss) {
  v1::BlobRef ref = service_.AddBlob(std::string(2500, 'z'));
  ref.set_size_bytes(2000);  // the lease says fewer bytes than arrive
  EXPECT_EQ(FetchBlobToFile(*stub_, {}, "job_1", 7, ref, Path("c")).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_FALSE(std::filesystem::exists(Path("c")));
}

TEST_F(BlobTransferTest, PutStreamsChunksWithTheDeclaredDigest) {
  const std::string bytes(2'500, 'p');
  ASSERT_TRUE(AtomicWriteFile(Path("up").string(), bytes).ok());
  auto ref = PutBlobFromFile(*stub_, {}, Path("up"), /*chunk_bytes=*/1000);
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->size_bytes(), 2'500);
  EXPECT_EQ(ref->sha256(), Sha256Hex(bytes));
  absl::MutexLock lock(&service_.mu);
  EXPECT_EQ(service_.put_chunks, std::vector<int>{3});
  EXPECT_EQ(service_.blobs.at(ref->sha256()), bytes);
}

TEST_F(BlobTransferTest, PutOfAnEmptyFileSendsOneChunk) {
  ASSERT_TRUE(AtomicWriteFile(Path("empty").string(), "").ok());
  auto ref = PutBlobFromFile(*stub_, {}, Path("empty"));
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->size_bytes(), 0);
}

TEST_F(BlobTransferTest, PutOfAMissingFileIsNotFound) {
  EXPECT_EQ(PutBlobFromFile(*stub_, {}, Path("absent")).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace mp::runtime
