// gzip decompression with a cap on the output size (zlib's inflate).
#ifndef MP_WORKERS_ENGINE_DATA_GZIP_H_
#define MP_WORKERS_ENGINE_DATA_GZIP_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace mp::data {

// True if `bytes` starts with the gzip magic 1f 8b.
bool LooksGzipped(std::string_view bytes);

// Decompresses a gzip stream (RFC 1952; several concatenated members are joined, as gunzip
// does). INVALID_ARGUMENT naming `name` on corrupt or truncated input, a bad CRC or trailing
// bytes that are not another member; RESOURCE_EXHAUSTED as soon as the output would exceed
// `max_output_bytes` (the output buffer grows with the data, so a small bomb never allocates
// the cap).
absl::StatusOr<std::string> GunzipBounded(std::string_view compressed, std::string_view name,
                                          int64_t max_output_bytes);

}  // namespace mp::data

#endif  // MP_WORKERS_ENGINE_DATA_GZIP_H_
