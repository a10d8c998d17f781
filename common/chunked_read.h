// Reading a stream in bounded pieces for client-streaming uploads (the CLI's model and
// dataset uploads, the worker's PutBlob), whose first message also carries a header that
// declares the sha256 and size of the whole stream.
#ifndef MP_COMMON_CHUNKED_READ_H_
#define MP_COMMON_CHUNKED_READ_H_

#include <algorithm>
#include <cstdint>
#include <istream>
#include <string>
#include <string_view>

namespace mp {

struct ChunkedReadResult {
  int64_t bytes = 0;    // bytes handed to `send`
  bool send_ok = true;  // false iff a `send` returned false (reading stopped there)
};

// Reads `in` in pieces of at most `chunk_bytes` (> 0) and hands each to
// `send(std::string_view) -> bool` until at least `limit` bytes have been handed over, the
// stream ends, or `send` returns false. `send` is called at least once, with an empty piece
// for an empty stream, so the first message (the one with the header) always goes out. A
// stream that grew past `limit` yields `bytes` > `limit`; one that shrank, `bytes` < `limit`.
template <typename Send>
ChunkedReadResult ReadInChunks(std::istream& in, int64_t chunk_bytes, int64_t limit, Send&& send) {
  ChunkedReadResult result;
  std::string buf(static_cast<size_t>(chunk_bytes), '\0');
  bool first = true;
  while (result.send_ok && (first || result.bytes < limit)) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const std::streamsize n = std::max<std::streamsize>(in.gcount(), 0);
    if (n == 0 && !first) break;
    result.send_ok = send(std::string_view(buf.data(), static_cast<size_t>(n)));
    result.bytes += n;
    first = false;
  }
  return result;
}

}  // namespace mp

#endif  // MP_COMMON_CHUNKED_READ_H_
