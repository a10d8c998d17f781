#include "common/chunked_read.h"

#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace mp {
namespace {

std::vector<std::string> Pieces(const std::string& data, int64_t chunk_bytes, int64_t limit,
                                ChunkedReadResult* result, int fail_at = -1) {
  std::istringstream in(data);
  std::vector<std::string> pieces;
  *result = ReadInChunks(in, chunk_bytes, limit, [&](std::string_view piece) {
    pieces.emplace_back(piece);
    return static_cast<int>(pieces.size()) - 1 != fail_at;
  });
  return pieces;
}

TEST(ChunkedReadTest, SplitsIntoBoundedPieces) {
  ChunkedReadResult result;
  const std::vector<std::string> pieces = Pieces(std::string(2500, 'x'), 1000, 2500, &result);
  EXPECT_EQ(pieces, (std::vector<std::string>{std::string(1000, 'x'), std::string(1000, 'x'),
                                              std::string(500, 'x')}));
  EXPECT_EQ(result.bytes, 2500);
  EXPECT_TRUE(result.send_ok);
}

TEST(ChunkedReadTest, EmptyStreamSendsOneEmptyPiece) {
  ChunkedReadResult result;
  EXPECT_EQ(Pieces("", 1000, 0, &result), std::vector<std::string>{""});
  EXPECT_EQ(result.bytes, 0);
  EXPECT_TRUE(result.send_ok);
}

TEST(ChunkedReadTest, StopsWhenSendFails) {
  ChunkedReadResult result;
  EXPECT_EQ(Pieces("abcdefgh", 3, 8, &result, /*fail_at=*/1).size(), 2u);
  EXPECT_EQ(result.bytes, 6);
  EXPECT_FALSE(result.send_ok);
}

TEST(ChunkedReadTest, ReportsStreamsLongerOrShorterThanTheLimit) {
  ChunkedReadResult result;
  Pieces("abcdefgh", 3, 4, &result);  // grew: stops once the limit is reached
  EXPECT_EQ(result.bytes, 6);
  Pieces("abcd", 3, 8, &result);  // shrank: stops at the end
  EXPECT_EQ(result.bytes, 4);
}

}  // namespace
}  // namespace mp
