// BlobStreamReactor: streams one blob to the client in chunks (DownloadArtifact, FetchBlob).
//
// The first message carries the BlobRef (sha256, size) and the first bytes; later messages
// carry at most `chunk_bytes` each; an empty blob is one message with the BlobRef only.
// Reads are synchronous file I/O on the gRPC thread running the reaction; one write is in
// flight at a time, so memory per stream is one chunk.
#ifndef MP_SERVER_SERVICE_BLOB_STREAM_H_
#define MP_SERVER_SERVICE_BLOB_STREAM_H_

#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "grpcpp/support/server_callback.h"
#include "modelpress/v1/common.pb.h"
#include "server/service/grpc_status.h"
#include "server/store/blob_store.h"

namespace mp::service {

// Chunk is a message with `bytes data` and `BlobRef blob` fields.
template <typename Chunk>
class BlobStreamReactor final : public grpc::ServerWriteReactor<Chunk> {
 public:
  explicit BlobStreamReactor(size_t chunk_bytes) : chunk_bytes_(chunk_bytes) {}

  // Call once from the RPC handler: streams the blob, or answers `status` if not OK.
  void Start(const absl::Status& status, std::unique_ptr<store::BlobReader> reader,
             modelpress::v1::BlobRef blob) {
    if (!status.ok()) {
      this->Finish(ToGrpcStatus(status));
      return;
    }
    reader_ = std::move(reader);
    blob_ = std::move(blob);
    WriteNext();
  }

 private:
  void WriteNext() {
    chunk_.Clear();
    absl::Status status = reader_->Read(chunk_bytes_, chunk_.mutable_data());
    if (!status.ok()) {
      this->Finish(ToGrpcStatus(status));
      return;
    }
    if (first_) {
      *chunk_.mutable_blob() = blob_;
      first_ = false;
    } else if (chunk_.data().empty()) {
      this->Finish(grpc::Status::OK);
      return;
    }
    this->StartWrite(&chunk_);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      this->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "stream closed by the client"));
      return;
    }
    WriteNext();
  }

  void OnDone() override { delete this; }

  const size_t chunk_bytes_;
  std::unique_ptr<store::BlobReader> reader_;
  modelpress::v1::BlobRef blob_;
  Chunk chunk_;
  bool first_ = true;
};

}  // namespace mp::service

#endif  // MP_SERVER_SERVICE_BLOB_STREAM_H_
