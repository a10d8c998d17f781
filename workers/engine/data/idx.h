// IDX files: the MNIST / Fashion-MNIST array format (http://yann.lecun.com/exdb/mnist/).
//
// Layout (all multi-byte values big-endian):
//   00 00 TT RR        magic: two zero bytes, element type TT, rank RR (1..Shape::kMaxRank)
//   RR x uint32        dims
//   data               prod(dims) elements, C order
// Types: 0x08 uint8, 0x09 int8, 0x0C int32, 0x0D float32, 0x0E float64 (0x0B int16 has no
// engine dtype: UNIMPLEMENTED). Multi-byte elements are converted to native order.
//
// The file may be gzip-compressed (detected by its magic 1f 8b, not by the name); it is
// decompressed with a cap (IdxReadOptions::max_bytes) on the decompressed size. The data must
// be exactly prod(dims) * itemsize bytes (checked arithmetic): short data ("truncated") and
// trailing bytes are INVALID_ARGUMENT, as are a bad magic, an unknown type, rank 0 or a rank
// above the cap; every message starts with the file name.
#ifndef MP_WORKERS_ENGINE_DATA_IDX_H_
#define MP_WORKERS_ENGINE_DATA_IDX_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "workers/engine/tensor/tensor.h"

namespace mp::data {

struct IdxReadOptions {
  // Cap on the file size and on the decompressed size: RESOURCE_EXHAUSTED above it.
  int64_t max_bytes = int64_t{1} << 30;
};

// Parses an IDX image (gzip'd or not) held in memory; `name` is used in messages.
absl::StatusOr<tensor::Tensor> ParseIdx(std::string_view bytes, std::string_view name,
                                        const IdxReadOptions& options = {});

// Reads an IDX file (gzip'd or not). NOT_FOUND if it does not exist.
absl::StatusOr<tensor::Tensor> ReadIdx(const std::string& path, const IdxReadOptions& options = {});

}  // namespace mp::data

#endif  // MP_WORKERS_ENGINE_DATA_IDX_H_
