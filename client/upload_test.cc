// Uploads: chunking, declared digest and size, names, missing files, datasets in ptq.
#include <gtest/gtest.h>

#include "client/cli_test_util.h"
#include "client/upload.h"
#include "common/file_util.h"
#include "common/sha256.h"

namespace mp::client {
namespace {

using testing::Cli;
using testing::FakeServer;
namespace v1 = ::modelpress::v1;

class UploadTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(dir_.Create("upload-test-").ok()); }
  std::string Write(const std::string& name, const std::string& bytes) {
    const std::string path = dir_.path() + "/" + name;
    EXPECT_TRUE(AtomicWriteFile(path, bytes).ok());
    return path;
  }
  FakeServer server_;
  ScopedTempDir dir_;
};

TEST_F(UploadTest, StreamsChunksWithDigestAndSize) {
  std::string bytes(2'500'000, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 131 % 251);
  const std::string path = Write("big.onnx", bytes);
  auto conn = Connection::Dial(server_.address(), "secret");
  auto model = UploadModelFile(*conn, path, "", /*chunk_bytes=*/1 << 20);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->name(), "big.onnx");
  EXPECT_EQ(model->blob().size_bytes(), 2'500'000);
  EXPECT_EQ(model->blob().sha256(), Sha256Hex(bytes));
  absl::MutexLock lock(&server_.models.mu);
  ASSERT_EQ(server_.models.uploads.size(), 1u);
  EXPECT_EQ(server_.models.uploads[0], bytes);
  EXPECT_EQ(server_.models.chunk_sizes,
            (std::vector<size_t>{1 << 20, 1 << 20, 2'500'000 - (2 << 20)}));
  EXPECT_EQ(server_.models.auth, "Bearer secret");
}

TEST_F(UploadTest, EmptyFileIsOneHeaderMessage) {
  const std::string path = Write("empty.onnx", "");
  auto conn = Connection::Dial(server_.address(), "");
  auto model = UploadModelFile(*conn, path, "named");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->name(), "named");
  absl::MutexLock lock(&server_.models.mu);
  EXPECT_EQ(server_.models.chunk_sizes, std::vector<size_t>{0});
}

TEST_F(UploadTest, CliPrintsTheIdAndJson) {
  const std::string path = Write("m.onnx", "onnx bytes");
  auto r = Cli(server_, {"upload", path, "--name", "lenet"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "model_0000000000000001\n");
  r = Cli(server_, {"--json", "upload", path});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("\"id\":\"model_0000000000000002\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"sha256\":\"" + Sha256Hex("onnx bytes") + "\""), std::string::npos);
}

TEST_F(UploadTest, MissingFileIsNamedAndExitsNotFound) {
  auto r = Cli(server_, {"upload", dir_.path() + "/x.onnx"});
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find("model file '" + dir_.path() + "/x.onnx': no such file"), std::string::npos)
      << r.err;
}

TEST_F(UploadTest, PtqUploadsLocalFilesFirst) {
  const std::string model = Write("m.onnx", "model");
  const std::string calib = Write("calib.npy", "calib");
  auto r = Cli(server_, {"ptq",
                         model,
                         "--calib",
                         calib,
                         "--eval",
                         "data_00000000000000aa",
                         "--labels",
                         "data_00000000000000bb",
                         "--calibrator",
                         "percentile",
                         "--percentile",
                         "99.9",
                         "--latency-batch",
                         "1",
                         "--latency-batch",
                         "32",
                         "--reduce-range",
                         "--skip-sensitivity",
                         "--priority",
                         "3",
                         "--idempotency-key",
                         "k1",
                         "--seed",
                         "9"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "job_00000000000000j1\n");
  absl::MutexLock lock(&server_.jobs.mu);
  ASSERT_EQ(server_.jobs.submitted.size(), 1u);
  const v1::SubmitJobRequest& s = server_.jobs.submitted[0];
  EXPECT_EQ(s.priority(), 3);
  EXPECT_EQ(s.idempotency_key(), "k1");
  EXPECT_EQ(s.spec().kind(), v1::JOB_KIND_PTQ);
  EXPECT_EQ(s.spec().seed(), 9u);
  EXPECT_EQ(s.spec().model_id(), "model_0000000000000001");
  const v1::PtqSpec& p = s.spec().ptq();
  EXPECT_EQ(p.calibration_dataset_id(), "data_0000000000000001");
  EXPECT_EQ(p.eval_dataset_id(), "data_00000000000000aa");
  EXPECT_EQ(p.eval_labels_dataset_id(), "data_00000000000000bb");
  EXPECT_EQ(p.calibrator(), "percentile");
  EXPECT_EQ(p.percentile(), 99.9);
  EXPECT_EQ(p.latency_batches_size(), 2);
  EXPECT_EQ(p.latency_batches(1), 32);
  EXPECT_TRUE(p.reduce_range());
  EXPECT_TRUE(p.skip_sensitivity());
  EXPECT_FALSE(p.per_tensor_weights());
}

TEST_F(UploadTest, PtqMissingCalibrationFileIsNamed) {
  auto r = Cli(server_, {"ptq", "model_0000000000000001", "--calib", dir_.path() + "/nope.npy"});
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find("--calib: data file '"), std::string::npos) << r.err;
  absl::MutexLock lock(&server_.jobs.mu);
  EXPECT_TRUE(server_.jobs.submitted.empty());
}

}  // namespace
}  // namespace mp::client
