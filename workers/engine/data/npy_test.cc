#include "workers/engine/data/npy.h"

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/file_util.h"
#include "common/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "workers/engine/tensor/float16.h"

namespace mp::data {
namespace {

using tensor::DType;
using tensor::Shape;
using tensor::Tensor;
using ::testing::HasSubstr;

// A .npy image with the given version, raw header dict text (padded with spaces and '\n'
// here unless `raw_header`) and data bytes.
std::string MakeNpy(int major, std::string dict, std::string_view data, bool raw_header = false) {
  const size_t pre = major == 1 ? 10 : 12;
  if (!raw_header) {
    const size_t total = (pre + dict.size() + 1 + 63) / 64 * 64;
    dict.append(total - pre - dict.size() - 1, ' ');
    dict.push_back('\n');
  }
  std::string out = "\x93NUMPY";
  out.push_back(static_cast<char>(major));
  out.push_back('\0');
  for (size_t i = 0; i < pre - 8; ++i)
    out.push_back(static_cast<char>((dict.size() >> (8 * i)) & 0xff));
  out += dict;
  out += data;
  return out;
}

std::string Dict(std::string_view descr, std::string_view shape, bool fortran = false) {
  return StrCat("{'descr': '", descr, "', 'fortran_order': ", fortran ? "True" : "False",
                ", 'shape': ", shape, ", }");
}

std::string Fixture(std::string_view name) {
  const char* root = std::getenv("MP_SOURCE_DIR");
  return StrCat(root != nullptr ? root : ".", "/tests/fixtures/data/npy/", name);
}

absl::Status ParseError(std::string_view bytes) { return ParseNpy(bytes, "x.npy").status(); }

TEST(NpyTest, RoundTripsEveryDtype) {
  const std::vector<Tensor> tensors = {
      Tensor::FromVector<float>(Shape({2, 3}), {1.5f, -2, 0, 3.25f, 1e-20f, -7}),
      Tensor::FromVector<double>(Shape({3}), {1.0 / 3, -2, 1e300}),
      Tensor::FromVector<int64_t>(Shape({2, 1, 2}), {INT64_MIN, -1, 0, INT64_MAX}),
      Tensor::FromVector<int32_t>(Shape({2}), {INT32_MIN, 42}),
      Tensor::FromVector<uint8_t>(Shape({4}), {0, 1, 128, 255}),
      Tensor::FromVector<int8_t>(Shape({2, 2}), {-128, -1, 0, 127}),
      Tensor::FromVector<bool>(Shape({3}), {true, false, true}),
      Tensor::FromVector<float>(Shape(), {3.5f}),
      Tensor::Zeros(DType::kFloat32, Shape({0, 4})),
      Tensor::Zeros(DType::kFloat16, Shape({2, 2})),
  };
  for (const Tensor& t : tensors) {
    SCOPED_TRACE(t.DebugString());
    auto bytes = EncodeNpy(t);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    auto back = ParseNpy(*bytes, "mem");
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->dtype(), t.dtype());
    EXPECT_EQ(back->shape(), t.shape());
    EXPECT_EQ(std::memcmp(back->raw_data(), t.raw_data(), t.byte_size()), 0);
    ASSERT_TRUE(ParseNpyHeader(*bytes, "mem").ok());
    EXPECT_EQ(ParseNpyHeader(*bytes, "mem")->data_offset % 64, 0);
  }
}

TEST(NpyTest, EncodesTheBytesNumpyWrites) {
  auto ours = EncodeNpy(Tensor::FromVector<float>(Shape({2, 3}), {-1, -0.5f, 0, 0.5f, 1, 1.5f}));
  ASSERT_TRUE(ours.ok());
  auto numpy = ReadFile(Fixture("f32_2x3.npy"));
  ASSERT_TRUE(numpy.ok()) << numpy.status();
  EXPECT_EQ(*ours, *numpy);
  auto ours64 = EncodeNpy(Tensor::FromVector<int64_t>(Shape({2, 3}), {-2, -1, 0, 1, 2, 3}));
  ASSERT_TRUE(ours64.ok());
  EXPECT_EQ(*ours64, *ReadFile(Fixture("i64_2x3.npy")));
}

TEST(NpyTest, ReadsNumpyFilesOfEachDtypeAndVersion) {
  struct Case {
    const char* file;
    DType dtype;
  };
  for (const Case& c : {Case{"f32_2x3.npy", DType::kFloat32}, Case{"f64_2x3.npy", DType::kFloat64},
                        Case{"i64_2x3.npy", DType::kInt64}, Case{"i32_2x3.npy", DType::kInt32},
                        Case{"u8_2x3.npy", DType::kUint8}, Case{"i8_2x3.npy", DType::kInt8},
                        Case{"bool_2x3.npy", DType::kBool}, Case{"i64_2x3_v2.npy", DType::kInt64},
                        Case{"i64_2x3_v3.npy", DType::kInt64}}) {
    SCOPED_TRACE(c.file);
    auto t = ReadNpy(Fixture(c.file));
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_EQ(t->dtype(), c.dtype);
    EXPECT_EQ(t->shape(), Shape({2, 3}));
  }
  // Values: a = arange(6).reshape(2, 3) - 2.
  EXPECT_EQ(ReadNpy(Fixture("i64_2x3_v3.npy"))->data<int64_t>()[5], 3);
  EXPECT_EQ(ReadNpy(Fixture("f64_2x3.npy"))->data<double>()[0], -0.5);
  EXPECT_EQ(ReadNpy(Fixture("i8_2x3.npy"))->data<int8_t>()[0], -2);
  EXPECT_EQ(ReadNpy(Fixture("u8_2x3.npy"))->data<uint8_t>()[0], 248);
  EXPECT_EQ(ReadNpy(Fixture("bool_2x3.npy"))->data<bool>()[3], true);
  auto scalar = ReadNpy(Fixture("f32_scalar.npy"));
  ASSERT_TRUE(scalar.ok()) << scalar.status();
  EXPECT_EQ(scalar->rank(), 0);
  EXPECT_EQ(scalar->data<float>()[0], 3.5f);
  auto empty = ReadNpy(Fixture("f32_empty_0x4.npy"));
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->shape(), Shape({0, 4}));
}

TEST(NpyTest, ConvertsFloat64OnlyWhenAsked) {
  auto kept = ReadNpy(Fixture("f64_2x3.npy"));
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->dtype(), DType::kFloat64);
  auto f = ReadNpy(Fixture("f64_2x3.npy"), {.float64_to_float32 = true});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->dtype(), DType::kFloat32);
  EXPECT_EQ(f->data<float>()[1], -0.25f);
}

TEST(NpyTest, RejectsFortranOrderAndBigEndianClearly) {
  auto fortran = ReadNpy(Fixture("f32_fortran_2x3.npy"));
  EXPECT_EQ(fortran.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(fortran.status().message()), HasSubstr("fortran_order"));
  EXPECT_THAT(std::string(fortran.status().message()), HasSubstr("f32_fortran_2x3.npy"));
  auto big = ReadNpy(Fixture("f32_bigendian_2x3.npy"));
  EXPECT_EQ(big.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(big.status().message()), HasSubstr("big-endian"));
}

TEST(NpyTest, AcceptsKeyOrderQuotesAndPython2Longs) {
  const std::string data(24, '\0');
  auto t = ParseNpy(
      MakeNpy(1, "{\"shape\": (2L, 3L), \"fortran_order\": False, \"descr\": \"<f4\"}", data),
      "x.npy");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->shape(), Shape({2, 3}));
  EXPECT_TRUE(ParseNpy(MakeNpy(2, Dict("<u1", "(24,)"), data), "x.npy").ok());
  EXPECT_TRUE(ParseNpy(MakeNpy(1, Dict("<i4", "(2,3,)"), data), "x.npy").ok());
}

TEST(NpyTest, RejectsMalformedHeaders) {
  const std::string d24(24, '\0');
  struct Case {
    std::string bytes;
    const char* expected;
  };
  const std::vector<Case> cases = {
      {"", "empty file"},
      {"PK\x03\x04 this is a zip", "bad magic"},
      {"\x93NUM", "bad magic"},
      {std::string("\x93NUMPY\x01", 7), "truncated header"},
      {std::string("\x93NUMPY\x01\x00\x40", 9), "truncated header"},
      {MakeNpy(1, Dict("<f4", "(2, 3)"), d24).substr(0, 40), "truncated header"},
      {MakeNpy(4, Dict("<f4", "(2, 3)"), d24), "unsupported .npy version 4.0"},
      {MakeNpy(1, Dict("<f4", "(2, 3)"), d24.substr(0, 20)), "truncated: 20 data bytes"},
      {MakeNpy(1, Dict("<f4", "(2, 3)"), d24 + "xx"), "2 bytes after the data"},
      {MakeNpy(1, Dict("<f4", "(200, 300)"), d24), "truncated"},
      {MakeNpy(1, Dict("<f4", "(4611686018427387904, 4)"), d24), "overflows int64"},
      {MakeNpy(1, Dict("<f8", "(9223372036854775807,)"), d24), "overflows int64 bytes"},
      {MakeNpy(1, Dict("<f4", "(99999999999999999999,)"), d24), "does not fit in int64"},
      {MakeNpy(1, Dict("<f4", "(-1, 6)"), d24), "expected a non-negative integer"},
      {MakeNpy(1, Dict("<f4", "(1, 1, 1, 1, 1, 1, 1, 1, 1, 24)"), d24), "more than 8 dims"},
      {MakeNpy(1, Dict("<f4", "(24)"), d24), "is not a tuple"},
      {MakeNpy(1, Dict("<f4", "(06,)"), d24), "leading zero"},
      {MakeNpy(1, Dict("<c8", "(3,)"), d24), "unsupported dtype '<c8'"},
      {MakeNpy(1, Dict("|O", "(3,)"), d24), "unsupported dtype '|O'"},
      {MakeNpy(1, Dict("<U3", "(2,)"), d24), "unsupported dtype '<U3'"},
      {MakeNpy(1, Dict(">i4", "(6,)"), d24), "big-endian"},
      {MakeNpy(1, "{'descr': '<f4', 'shape': (6,), }", d24), "missing key 'fortran_order'"},
      {MakeNpy(1, "{'descr': '<f4', 'fortran_order': False}", d24), "missing key 'shape'"},
      {MakeNpy(1, Dict("<f4", "(6,)") + "x", d24), "must end with"},
      {MakeNpy(1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,)}", d24),
       "duplicate key 'descr'"},
      {MakeNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'x': 1}", d24),
       "unexpected key 'x'"},
      {MakeNpy(1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (6,)}", d24),
       "expected True or False"},
      {MakeNpy(1, "{'descr': '<f4' 'fortran_order': False, 'shape': (6,)}", d24),
       "expected ',' or '}'"},
      {MakeNpy(1, "{'descr' '<f4', 'fortran_order': False, 'shape': (6,)}", d24), "expected ':'"},
      {MakeNpy(1, Dict("<f4", "(6,)"), d24, /*raw_header=*/true), "must end with"},
      {MakeNpy(1, Dict("|b1", "(3,)"), std::string("\x01\x02\x00", 3)), "has byte value 2"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.expected);
    const absl::Status s = ParseError(c.bytes);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.expected));
    EXPECT_THAT(std::string(s.message()), testing::StartsWith("x.npy"));
  }
}

TEST(NpyTest, FileReaderAgreesWithMemoryParserAndNamesTheFile) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create().ok());
  const std::string d24(24, '\0');
  const std::vector<std::string> images = {
      "",
      "garbage",
      std::string("\x93NUMPY\x02\x00\xff\xff\xff\x7f", 12),  // 2 GiB header
      MakeNpy(1, Dict("<f4", "(2, 3)"), d24.substr(0, 7)),
      MakeNpy(3, Dict("<f4", "(2, 3)"), d24),
      MakeNpy(1, Dict("<i8", "(3,)"), d24),
  };
  for (size_t i = 0; i < images.size(); ++i) {
    const std::string path = StrCat(dir.path(), "/f", i, ".npy");
    ASSERT_TRUE(AtomicWriteFile(path, images[i]).ok());
    auto from_file = ReadNpy(path);
    auto from_mem = ParseNpy(images[i], path);
    EXPECT_EQ(from_file.ok(), from_mem.ok()) << i;
    if (!from_file.ok()) {
      EXPECT_EQ(from_file.status().code(), absl::StatusCode::kInvalidArgument) << i;
      EXPECT_THAT(std::string(from_file.status().message()), HasSubstr(path));
    }
  }
  EXPECT_EQ(ReadNpy(StrCat(dir.path(), "/missing.npy")).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ReadNpy(dir.path()).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(NpyTest, EnforcesTheSizeLimit) {
  const std::string bytes = MakeNpy(1, Dict("<f4", "(64,)"), std::string(256, '\0'));
  EXPECT_EQ(ParseNpy(bytes, "x", {.max_bytes = 255}).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(ParseNpy(bytes, "x", {.max_bytes = 256}).ok());
}

TEST(NpyTest, WritesAtomicallyAndRefusesUnnamedDtypes) {
  ScopedTempDir dir;
  ASSERT_TRUE(dir.Create().ok());
  const std::string path = dir.path() + "/out.npy";
  const Tensor t = Tensor::FromVector<int32_t>(Shape({2, 2}), {1, 2, 3, 4});
  ASSERT_TRUE(WriteNpy(path, t).ok());
  auto back = ReadNpy(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->data<int32_t>()[3], 4);

  const absl::Status bf16 = WriteNpy(path, Tensor::Zeros(DType::kBFloat16, Shape({2})));
  EXPECT_EQ(bf16.code(), absl::StatusCode::kUnimplemented);
  // The old file is untouched by the failed write.
  EXPECT_EQ(ReadNpy(path)->dtype(), DType::kInt32);
  EXPECT_FALSE(WriteNpy(dir.path() + "/no/such/dir/x.npy", t).ok());
}

TEST(NpyTest, WritesVersion1HeadersEvenAtMaxRank) {
  auto bytes = EncodeNpy(Tensor::Zeros(DType::kUint8, Shape({1, 1, 1, 1, 1, 1, 1, 1})));
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ((*bytes)[6], '\x01');
  auto header = ParseNpyHeader(*bytes, "x");
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_EQ(header->shape.rank(), 8);
  EXPECT_EQ(header->data_offset, 128);
}

}  // namespace
}  // namespace mp::data
