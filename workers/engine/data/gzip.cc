#include "workers/engine/data/gzip.h"

#include <zlib.h>

#include <algorithm>

#include "common/str_cat.h"

namespace mp::data {

bool LooksGzipped(std::string_view bytes) {
  return bytes.size() >= 2 && static_cast<uint8_t>(bytes[0]) == 0x1f &&
         static_cast<uint8_t>(bytes[1]) == 0x8b;
}

absl::StatusOr<std::string> GunzipBounded(std::string_view compressed, std::string_view name,
                                          int64_t max_output_bytes) {
  z_stream zs{};
  // 16 + MAX_WBITS: gzip wrapper only; zlib checks the header, CRC-32 and length.
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
    return absl::InternalError(StrCat(name, ": inflateInit2 failed"));
  }
  // One byte past the limit tells "exactly at the limit" from "over it".
  const size_t cap = static_cast<size_t>(std::max<int64_t>(max_output_bytes, 0)) + 1;
  constexpr size_t kMaxChunk = size_t{1} << 30;  // uInt-sized steps
  std::string out;
  size_t produced = 0;
  auto* next_in = reinterpret_cast<const Bytef*>(compressed.data());
  size_t remaining_in = compressed.size();
  absl::Status status;
  while (true) {
    if (produced == out.size()) {
      if (produced >= cap) {
        status = absl::ResourceExhaustedError(
            StrCat(name, ": decompresses to more than the limit of ", max_output_bytes, " bytes"));
        break;
      }
      out.resize(std::min(cap, std::max<size_t>(2 * out.size(), size_t{1} << 16)));
    }
    zs.next_in = const_cast<Bytef*>(next_in);
    zs.avail_in = static_cast<uInt>(std::min(remaining_in, kMaxChunk));
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    zs.avail_out = static_cast<uInt>(std::min(out.size() - produced, kMaxChunk));
    const uInt before_in = zs.avail_in, before_out = zs.avail_out;
    const int rc = inflate(&zs, Z_NO_FLUSH);
    next_in += before_in - zs.avail_in;
    remaining_in -= before_in - zs.avail_in;
    produced += before_out - zs.avail_out;
    if (rc == Z_OK) continue;
    if (rc == Z_STREAM_END) {
      if (remaining_in == 0) break;
      // Concatenated members are legal gzip; anything else after the stream is not.
      if (!LooksGzipped(std::string_view(reinterpret_cast<const char*>(next_in), remaining_in))) {
        status = absl::InvalidArgumentError(
            StrCat(name, ": ", remaining_in, " trailing bytes after the gzip stream"));
        break;
      }
      inflateReset(&zs);
      continue;
    }
    if (rc == Z_BUF_ERROR && remaining_in > 0 && produced == out.size()) continue;
    if (rc == Z_BUF_ERROR) {
      status = absl::InvalidArgumentError(StrCat(name, ": truncated gzip stream"));
    } else {
      status = absl::InvalidArgumentError(
          StrCat(name, ": corrupt gzip data (", zs.msg != nullptr ? zs.msg : "inflate error", ")"));
    }
    break;
  }
  inflateEnd(&zs);
  if (!status.ok()) return status;
  if (produced >= cap) {  // the stream ended exactly one byte past the limit
    return absl::ResourceExhaustedError(
        StrCat(name, ": decompresses to more than the limit of ", max_output_bytes, " bytes"));
  }
  out.resize(produced);
  return out;
}

}  // namespace mp::data
