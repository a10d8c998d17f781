// .npy files: numpy's array format (numpy.lib.format, NEP 1), read and written.
//
// Layout of a file:
//   "\x93NUMPY" major minor            6 + 2 bytes; versions 1.0, 2.0 and 3.0
//   HEADER_LEN                         uint16 LE (1.0) or uint32 LE (2.0, 3.0)
//   header                             HEADER_LEN bytes: a Python dict literal, e.g.
//                                      {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
//                                      padded with spaces and ended by '\n' (latin-1 in 1.0/2.0,
//                                      UTF-8 in 3.0)
//   data                               prod(shape) elements, C order, no padding
//
// Accepted: exactly the keys descr / fortran_order / shape (any order, each once); descr one
// of '<f4' float32, '<f8' float64, '<f2' float16, '<i8' int64, '<i4' int32, '|u1' uint8,
// '|i1' int8, '|b1' bool (byte types also as '<u1' / '<i1' / '<b1'); fortran_order False;
// shape a tuple of non-negative integers (rank <= Shape::kMaxRank; () is a scalar). The
// element count and byte size are computed in checked arithmetic and the data must be
// exactly prod(shape) * itemsize bytes: a short file ("truncated") and trailing bytes are both
// INVALID_ARGUMENT. Bool elements must be 0 or 1. Rejected with INVALID_ARGUMENT and a
// message naming the file: bad magic, unknown version, malformed or lying header,
// fortran_order True ("save it with np.ascontiguousarray"), big-endian data, object/string/
// structured dtypes. Every error message starts with the file (or buffer) name.
//
// float64: decision — the reader keeps float64 as DType::kFloat64 by default (no silent
// precision change); set NpyReadOptions::float64_to_float32 to convert while reading (round
// to nearest, like numpy's astype(np.float32)). The dataset loaders (dataset_io.h) turn it on,
// because numpy's default dtype is float64 and the engine computes in float32.
//
// Writing emits version 1.0 (a rank <= 8 header always fits its 65535 bytes), '<' byte
// order, C order, header padded so that data starts at a multiple of 64 bytes — the bytes
// numpy.save writes for the same array. Files are written atomically (AtomicWriteFile).
#ifndef MP_WORKERS_ENGINE_DATA_NPY_H_
#define MP_WORKERS_ENGINE_DATA_NPY_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "workers/engine/tensor/tensor.h"

namespace mp::data {

struct NpyReadOptions {
  // Files (or data sections) larger than this are RESOURCE_EXHAUSTED.
  int64_t max_bytes = int64_t{1} << 32;
  // Convert float64 arrays to float32 while reading (see the header comment).
  bool float64_to_float32 = false;
};

// The parsed header of a .npy file.
struct NpyHeader {
  tensor::DType dtype = tensor::DType::kUndefined;
  tensor::Shape shape;
  int64_t data_offset = 0;  // bytes from the start of the file to the first element
  int64_t data_bytes = 0;   // shape.num_elements() * DTypeSize(dtype), checked
};

// Parses the preamble and header dict from the first bytes of a file. `prefix` may be the
// whole file or only its beginning; returns INVALID_ARGUMENT "<name>: truncated header" if it
// ends before the header does. Does not look at the data.
absl::StatusOr<NpyHeader> ParseNpyHeader(std::string_view prefix, std::string_view name);

// Parses a whole .npy image held in memory (e.g. a blob). `name` is used in messages.
absl::StatusOr<tensor::Tensor> ParseNpy(std::string_view bytes, std::string_view name,
                                        const NpyReadOptions& options = {});

// Reads a .npy file, streaming the data straight into the tensor's buffer.
// NOT_FOUND if the file does not exist.
absl::StatusOr<tensor::Tensor> ReadNpy(const std::string& path, const NpyReadOptions& options = {});

// The .npy bytes for `t`. UNIMPLEMENTED for dtypes numpy cannot name (bfloat16).
absl::StatusOr<std::string> EncodeNpy(const tensor::Tensor& t);

// Writes `t` to `path` atomically (temp file, fsync, rename).
absl::Status WriteNpy(const std::string& path, const tensor::Tensor& t);

}  // namespace mp::data

#endif  // MP_WORKERS_ENGINE_DATA_NPY_H_
