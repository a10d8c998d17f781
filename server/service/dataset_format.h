// Dataset format detection from the content itself, as it streams in (DESIGN.md §2: the
// server never parses model math, but it refuses bytes no worker could read).
//
//   "npy"          starts with "\x93NUMPY" (NumPy .npy, any version)
//   "idx"          starts with 0x00 0x00 TYPE NDIMS (TYPE one of 0x08 0x09 0x0B 0x0C 0x0D
//                  0x0E, NDIMS >= 1); the total size must equal the header plus the
//                  product of the dims times the element size
//   "idx.gz"       gzip (1f 8b 08) whose decompressed content starts with an IDX magic;
//                  only the first bytes are inflated, so the dims are checked by the worker
//   "onnx_tensor"  an ONNX TensorProto: the whole content is walked as protobuf wire format
//                  (tags only, no decoding of values) and must consist of TensorProto fields
//                  1..14 with their legal wire types, including data_type (2) in 1..16
//
// Anything else is INVALID_ARGUMENT "unrecognized dataset format". Memory use is constant
// whatever the size (a few bytes of magic, the wire-walk state, one small inflate window).
#ifndef MP_SERVER_SERVICE_DATASET_FORMAT_H_
#define MP_SERVER_SERVICE_DATASET_FORMAT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace mp::service {

class DatasetFormatDetector {
 public:
  DatasetFormatDetector();
  ~DatasetFormatDetector();
  DatasetFormatDetector(const DatasetFormatDetector&) = delete;
  DatasetFormatDetector& operator=(const DatasetFormatDetector&) = delete;

  // Feeds the next bytes of the content.
  void Update(std::string_view chunk);
  // After the last chunk: the format name, or INVALID_ARGUMENT saying why not.
  absl::StatusOr<std::string> Finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Convenience for whole buffers (tests).
absl::StatusOr<std::string> DetectDatasetFormat(std::string_view content);

}  // namespace mp::service

#endif  // MP_SERVER_SERVICE_DATASET_FORMAT_H_
