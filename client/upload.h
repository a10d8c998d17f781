// Streaming uploads of local files to ModelService / DatasetService: the file is hashed
// first (sha256, size), then sent as a header message followed by chunks of at most
// kUploadChunkBytes. The server checks the declared digest and size at the end.
#ifndef MP_CLIENT_UPLOAD_H_
#define MP_CLIENT_UPLOAD_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "client/client.h"
#include "modelpress/v1/model.pb.h"

namespace mp::client {

inline constexpr int64_t kUploadChunkBytes = int64_t{1} << 20;

// sha256 + size of a local file. NOT_FOUND "<what> '<path>': no such file".
absl::StatusOr<modelpress::v1::UploadHeader> HashLocalFile(const std::string& path,
                                                           std::string_view what);

absl::StatusOr<modelpress::v1::Model> UploadModelFile(Connection& conn, const std::string& path,
                                                      const std::string& name,
                                                      int64_t chunk_bytes = kUploadChunkBytes);
absl::StatusOr<modelpress::v1::Dataset> UploadDatasetFile(Connection& conn, const std::string& path,
                                                          const std::string& name,
                                                          int64_t chunk_bytes = kUploadChunkBytes);

// A command-line argument naming a model or a dataset: an id ("model_<16 hex>" /
// "data_<16 hex>") is returned as is; anything else is a local file, uploaded first (its id
// is noted on `err`). Errors are annotated with `flag` ("--data: data file 'x': no such
// file").
absl::StatusOr<std::string> ResolveModelArg(Connection& conn, const std::string& arg,
                                            std::string_view flag, std::ostream& err);
absl::StatusOr<std::string> ResolveDatasetArg(Connection& conn, const std::string& arg,
                                              std::string_view flag, std::ostream& err);

}  // namespace mp::client

#endif  // MP_CLIENT_UPLOAD_H_
