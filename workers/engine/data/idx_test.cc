#include "workers/engine/data/idx.h"

#include <zlib.h>

#include <string>
#include <vector>

#include "common/file_util.h"
#include "common/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "workers/engine/data/gzip.h"

namespace mp::data {
namespace {

using tensor::DType;
using tensor::Shape;
using ::testing::HasSubstr;

std::string Be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

std::string Idx(uint8_t type, const std::vector<uint32_t>& dims, std::string_view data) {
  std::string out = {'\0', '\0', static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims) out += Be32(d);
  out += data;
  return out;
}

// gzip (RFC 1952) of `bytes` via zlib.
std::string Gzip(std::string_view bytes) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, bytes.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  zs.avail_in = static_cast<uInt>(bytes.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

absl::Status ParseStatus(std::string_view bytes, const IdxReadOptions& options = {}) {
  return ParseIdx(bytes, "img.idx", options).status();
}

TEST(IdxTest, ReadsUint8PlainAndGzipped) {
  const std::string raw = Idx(0x08, {2, 3}, "\x01\x02\x03\x04\x05\xff");
  for (const std::string& bytes : {raw, Gzip(raw)}) {
    auto t = ParseIdx(bytes, "img.idx");
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_EQ(t->dtype(), DType::kUint8);
    EXPECT_EQ(t->shape(), Shape({2, 3}));
    EXPECT_EQ(t->data<uint8_t>()[5], 255);
  }
}

TEST(IdxTest, ConvertsBigEndianElements) {
  auto i32 = ParseIdx(Idx(0x0C, {2}, Be32(0xFFFFFFFE) + Be32(0x01020304)), "x");
  ASSERT_TRUE(i32.ok()) << i32.status();
  EXPECT_EQ(i32->data<int32_t>()[0], -2);
  EXPECT_EQ(i32->data<int32_t>()[1], 0x01020304);
  auto f32 = ParseIdx(Idx(0x0D, {1}, Be32(0x3FC00000)), "x");  // 1.5f
  ASSERT_TRUE(f32.ok());
  EXPECT_EQ(f32->data<float>()[0], 1.5f);
  auto f64 = ParseIdx(Idx(0x0E, {1}, Be32(0xC0040000) + Be32(0)), "x");  // -2.5
  ASSERT_TRUE(f64.ok());
  EXPECT_EQ(f64->data<double>()[0], -2.5);
  auto i8 = ParseIdx(Idx(0x09, {1, 1, 2}, "\x80\x7f"), "x");
  ASSERT_TRUE(i8.ok());
  EXPECT_EQ(i8->shape(), Shape({1, 1, 2}));
  EXPECT_EQ(i8->data<int8_t>()[0], -128);
}

TEST(IdxTest, EmptyDimsAreFine) {
  auto t = ParseIdx(Idx(0x08, {0, 28, 28}, ""), "x");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->num_elements(), 0);
}

TEST(IdxTest, RejectsMalformedFiles) {
  struct Case {
    std::string bytes;
    absl::StatusCode code;
    const char* expected;
  };
  const std::vector<Case> cases = {
      {"", absl::StatusCode::kInvalidArgument, "empty file"},
      {std::string("\0\0", 2), absl::StatusCode::kInvalidArgument, "truncated IDX magic"},
      {Idx(0x08, {3}, "abc").replace(0, 1, "\x01"), absl::StatusCode::kInvalidArgument,
       "not an IDX file"},
      {Idx(0x07, {3}, "abc"), absl::StatusCode::kInvalidArgument, "unknown IDX element type 0x07"},
      {Idx(0x0B, {1}, "ab"), absl::StatusCode::kUnimplemented, "int16"},
      {Idx(0x08, {}, ""), absl::StatusCode::kInvalidArgument, "IDX rank 0"},
      {Idx(0x08, {1, 1, 1, 1, 1, 1, 1, 1, 1}, "a"), absl::StatusCode::kInvalidArgument,
       "IDX rank 9"},
      {Idx(0x08, {10, 28, 28}, "").substr(0, 10), absl::StatusCode::kInvalidArgument,
       "truncated IDX header"},
      {Idx(0x08, {2, 3}, "abcde"), absl::StatusCode::kInvalidArgument, "truncated: 5 data bytes"},
      {Idx(0x0C, {2}, "abcdefg"), absl::StatusCode::kInvalidArgument, "needs 8"},
      {Idx(0x08, {2, 3}, "abcdefg"), absl::StatusCode::kInvalidArgument, "trailing bytes"},
      {Idx(0x08, {60000, 28, 28}, "abc"), absl::StatusCode::kInvalidArgument, "truncated"},
      {Idx(0x08, {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, "abc"), absl::StatusCode::kInvalidArgument,
       "overflows int64"},
      {Idx(0x0E, {0xFFFFFFFF, 0x7FFFFFFF}, "abc"), absl::StatusCode::kInvalidArgument,
       "overflows int64 bytes"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.expected);
    for (const std::string& bytes : {c.bytes, Gzip(c.bytes)}) {
      const absl::Status s = ParseStatus(bytes);
      EXPECT_EQ(s.code(), c.code) << s;
      EXPECT_THAT(std::string(s.message()), HasSubstr(c.expected));
      EXPECT_THAT(std::string(s.message()), testing::StartsWith("img.idx: "));
    }
  }
}

TEST(IdxTest, RejectsBrokenGzip) {
  const std::string raw = Idx(0x08, {100, 100}, std::string(10000, 'x'));
  const std::string gz = Gzip(raw);
  EXPECT_THAT(std::string(ParseStatus(gz.substr(0, gz.size() - 9)).message()),
              HasSubstr("truncated gzip stream"));
  EXPECT_THAT(std::string(ParseStatus(gz.substr(0, 2)).message()),
              HasSubstr("truncated gzip stream"));
  std::string bad_crc = gz;
  bad_crc[bad_crc.size() - 6] ^= 0x55;  // CRC-32 in the trailer
  EXPECT_THAT(std::string(ParseStatus(bad_crc).message()), HasSubstr("corrupt gzip data"));
  std::string bad_method = gz;
  bad_method[2] = 7;  // compression method must be 8 (deflate)
  EXPECT_EQ(ParseStatus(bad_method).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(ParseStatus(gz + "junk").message()), HasSubstr("4 trailing bytes"));
}

TEST(IdxTest, JoinsConcatenatedGzipMembers) {
  const std::string raw = Idx(0x08, {4}, "wxyz");
  auto t = ParseIdx(Gzip(raw.substr(0, 7)) + Gzip(raw.substr(7)), "x");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->data<uint8_t>()[3], 'z');
}

TEST(IdxTest, CapsDecompressedSize) {
  // A 10 MB "bomb" of zeros compresses to about 10 KB.
  const std::string raw = Idx(0x08, {10, 1000, 1000}, std::string(10'000'000, '\0'));
  const std::string gz = Gzip(raw);
  ASSERT_LT(gz.size(), 20'000u);
  const absl::Status s = ParseStatus(gz, {.max_bytes = 1'000'000});
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("more than the limit of 1000000"));
  const int64_t exact = static_cast<int64_t>(raw.size());
  EXPECT_TRUE(ParseIdx(gz, "x", {.max_bytes = exact}).ok());
  EXPECT_EQ(ParseStatus(gz, {.max_bytes = exact - 1}).code(), absl::StatusCode::kResourceExhausted);
  // The plain file is capped too.
  EXPECT_EQ(ParseStatus(raw, {.max_bytes = 1000}).code(), absl::StatusCode::kResourceExhausted);
}

TEST(IdxTest, GunzipStopsAtTheCapWithoutAllocatingIt) {
  auto out = GunzipBounded(Gzip(std::string(5000, 'a')), "x", 4999);
  EXPECT_EQ(out.status().code(), absl::StatusCode::kResourceExhausted);
  auto ok = GunzipBounded(Gzip(""), "x", 0);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_TRUE(ok->empty());
}

TEST(IdxTest, ReadIdxNamesTheFile) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create().ok());
  const std::string path = dir.path() + "/labels-idx1-ubyte.gz";
  ASSERT_TRUE(AtomicWriteFile(path, Gzip(Idx(0x08, {5}, "abc"))).ok());
  const absl::Status s = ReadIdx(path).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr(path + ": truncated"));
  EXPECT_EQ(ReadIdx(dir.path() + "/nope.gz").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace mp::data
