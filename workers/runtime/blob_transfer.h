// Moving blobs between the server and a job's directory over WorkerService.
//
// FetchBlob streams a blob named by the job's lease into a file, hashing as it writes; the
// result is accepted only if the bytes that arrived have the sha256 and size the lease
// declared (DATA_LOSS otherwise, and the file is removed). PutBlob streams a file up in
// chunks, the first carrying the declared sha256 and size; the server verifies them.
#ifndef MP_WORKERS_RUNTIME_BLOB_TRANSFER_H_
#define MP_WORKERS_RUNTIME_BLOB_TRANSFER_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "modelpress/v1/worker.grpc.pb.h"
#include "workers/runtime/rpc.h"

namespace mp::runtime {

// sha256 and size of a file.
absl::StatusOr<modelpress::v1::BlobRef> HashFile(const std::filesystem::path& path);

// Bytes per PutBlob message (the server accepts at most 1 MiB of data per message).
inline constexpr int64_t kBlobChunkBytes = int64_t{1} << 20;

// Streams `blob` (named by the lease job_id/epoch) into `path`. ABORTED/NOT_FOUND from the
// server pass through with their code; a digest or size mismatch is DATA_LOSS naming both
// digests. On error `path` does not exist.
absl::Status FetchBlobToFile(modelpress::v1::WorkerService::StubInterface& stub,
                             const RpcConfig& rpc, const std::string& job_id, int64_t epoch,
                             const modelpress::v1::BlobRef& blob,
                             const std::filesystem::path& path);

// Streams the file at `path` up; returns the BlobRef the server stored.
absl::StatusOr<modelpress::v1::BlobRef> PutBlobFromFile(
    modelpress::v1::WorkerService::StubInterface& stub, const RpcConfig& rpc,
    const std::filesystem::path& path, int64_t chunk_bytes = kBlobChunkBytes);

}  // namespace mp::runtime

#endif  // MP_WORKERS_RUNTIME_BLOB_TRANSFER_H_
