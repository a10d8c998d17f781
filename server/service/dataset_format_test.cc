#include "server/service/dataset_format.h"

#include <zlib.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mp::service {
namespace {

using ::testing::HasSubstr;

std::string Idx(unsigned char type, std::vector<uint32_t> dims, size_t elem) {
  std::string out;
  out += '\0';
  out += '\0';
  out += static_cast<char>(type);
  out += static_cast<char>(dims.size());
  size_t n = 1;
  for (uint32_t d : dims) {
    for (int s = 24; s >= 0; s -= 8) out += static_cast<char>((d >> s) & 0xff);
    n *= d;
  }
  out.append(n * elem, '\x07');
  return out;
}

std::string Gzip(const std::string& data) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, data.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// TensorProto{dims: [2], data_type: FLOAT, raw_data: 8 bytes}.
std::string TensorProtoBytes() {
  std::string out = {0x08, 0x02, 0x10, 0x01, 0x4a, 0x08};
  out.append(8, '\0');
  return out;
}

// Feeds one byte at a time, the worst case for the streaming detector.
absl::StatusOr<std::string> DetectBytewise(const std::string& content) {
  DatasetFormatDetector detector;
  for (char c : content) detector.Update(std::string_view(&c, 1));
  return detector.Finish();
}

TEST(DatasetFormatTest, Npy) {
  std::string npy("\x93NUMPY\x01\x00", 8);
  npy += "rest";
  EXPECT_EQ(*DetectDatasetFormat(npy), "npy");
  EXPECT_EQ(*DetectBytewise(npy), "npy");
}

TEST(DatasetFormatTest, IdxChecksSize) {
  const std::string idx = Idx(0x08, {3, 2, 2}, 1);
  EXPECT_EQ(*DetectDatasetFormat(idx), "idx");
  EXPECT_EQ(*DetectBytewise(idx), "idx");
  EXPECT_EQ(*DetectDatasetFormat(Idx(0x0D, {5}, 4)), "idx");
  absl::StatusOr<std::string> short_idx = DetectDatasetFormat(idx.substr(0, idx.size() - 1));
  ASSERT_FALSE(short_idx.ok());
  EXPECT_THAT(std::string(short_idx.status().message()), HasSubstr("content has"));
  std::string bad_type = idx;
  bad_type[2] = 0x05;
  EXPECT_FALSE(DetectDatasetFormat(bad_type).ok());
}

TEST(DatasetFormatTest, GzipIdx) {
  const std::string gz = Gzip(Idx(0x08, {100, 28, 28}, 1));
  EXPECT_EQ(*DetectDatasetFormat(gz), "idx.gz");
  EXPECT_EQ(*DetectBytewise(gz), "idx.gz");
  absl::StatusOr<std::string> not_idx = DetectDatasetFormat(Gzip("hello world, not idx"));
  ASSERT_FALSE(not_idx.ok());
  EXPECT_THAT(std::string(not_idx.status().message()), HasSubstr("IDX"));
}

TEST(DatasetFormatTest, OnnxTensorProto) {
  EXPECT_EQ(*DetectDatasetFormat(TensorProtoBytes()), "onnx_tensor");
  EXPECT_EQ(*DetectBytewise(TensorProtoBytes()), "onnx_tensor");
  const std::string t = TensorProtoBytes();
  EXPECT_FALSE(DetectDatasetFormat(t.substr(0, t.size() - 1)).ok());  // truncated raw_data
  EXPECT_EQ(*DetectDatasetFormat(t.substr(2)), "onnx_tensor");        // a scalar: no dims
  std::string no_type = {0x08, 0x02, 0x4a, 0x00};
  EXPECT_FALSE(DetectDatasetFormat(no_type).ok());
  std::string unknown_field = TensorProtoBytes() + std::string{static_cast<char>(0x7a), 0x00};
  EXPECT_FALSE(DetectDatasetFormat(unknown_field).ok());  // field 15
}

TEST(DatasetFormatTest, RejectsOther) {
  for (std::string junk : {std::string("hello"), std::string("PK\x03\x04zipfile"), std::string(),
                           std::string(100, '\xff')}) {
    absl::StatusOr<std::string> format = DetectDatasetFormat(junk);
    ASSERT_FALSE(format.ok()) << junk;
    EXPECT_EQ(format.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace mp::service
