#include "common/sha256.h"

#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace mp {
namespace {

// FIPS 180-4 / NIST CSHS example vectors.
TEST(Sha256Test, NistVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha256Hex(std::string(1'000'000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, IncrementalEqualsOneShot) {
  std::string data;
  for (int i = 0; i < 10'000; ++i) data.push_back(static_cast<char>(i * 131 + 7));
  Sha256 hasher;
  size_t pos = 0;
  for (size_t step = 1; pos < data.size(); step = step * 3 % 97 + 1) {
    const size_t n = std::min(step, data.size() - pos);
    hasher.Update(std::string_view(data).substr(pos, n));
    pos += n;
  }
  EXPECT_EQ(hasher.HexDigest(), Sha256Hex(data));
}

TEST(Sha256Test, KnownDigests) {
  Sha256 empty;
  EXPECT_EQ(empty.HexDigest(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 abc;
  abc.Update("a");
  abc.Update("bc");
  EXPECT_EQ(abc.HexDigest(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256Test, OfStreamGivesDigestAndSize) {
  const std::string data(200'000, 'q');  // more than one read buffer
  std::istringstream in(data);
  absl::StatusOr<StreamDigest> digest = Sha256OfStream(in);
  ASSERT_TRUE(digest.ok()) << digest.status();
  EXPECT_EQ(digest->sha256, Sha256Hex(data));
  EXPECT_EQ(digest->size_bytes, 200'000);
  std::istringstream empty("");
  EXPECT_EQ(Sha256OfStream(empty)->sha256, Sha256Hex(""));
}

TEST(Sha256Test, IsSha256Hex) {
  EXPECT_TRUE(IsSha256Hex(Sha256Hex("x")));
  EXPECT_FALSE(IsSha256Hex(""));
  EXPECT_FALSE(IsSha256Hex(std::string(63, 'a')));
  EXPECT_FALSE(IsSha256Hex(std::string(64, 'A')));
  EXPECT_FALSE(IsSha256Hex(std::string(63, 'a') + "g"));
  EXPECT_FALSE(IsSha256Hex("../" + std::string(61, 'a')));
}

}  // namespace
}  // namespace mp
