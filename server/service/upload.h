// UploadReactor: the one client-streaming upload path (UploadModel, UploadDataset, PutBlob).
//
// Contract (model.proto): the first message declares the content (sha256, size); every
// message may carry up to ServiceOptions::max_chunk_bytes of content. Bytes go straight to a
// BlobWriter, hashed as they are written; nothing is buffered in memory. The upload is
// refused as soon as it is known to be bad: a declared size over the limit or the quota
// (RESOURCE_EXHAUSTED) before any byte is written, more bytes than declared
// (INVALID_ARGUMENT) or than the limit (RESOURCE_EXHAUSTED) while streaming, and a sha256 or
// size mismatch at the end (INVALID_ARGUMENT). On every error, and when the client cancels,
// the temp file is removed: nothing is kept.
//
// A subclass supplies the per-RPC parts: OnFirst (validate the declaration, reserve quota),
// OnChunk (e.g. sniff the dataset format), BeforeFinish (last checks that must pass before
// the blob becomes durable) and OnComplete (create the rows, fill the response).
//
// Threading: reactions run on gRPC threads, one at a time for a given call (a read is
// started only after the previous one is handled); blob writes are synchronous file I/O.
#ifndef MP_SERVER_SERVICE_UPLOAD_H_
#define MP_SERVER_SERVICE_UPLOAD_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/status.h"
#include "common/str_cat.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"
#include "server/service/core.h"
#include "server/service/grpc_status.h"
#include "server/store/blob_store.h"

namespace mp::service {

// What the first message declared.
struct UploadDeclaration {
  std::string sha256;  // 64 lowercase hex digits
  int64_t size_bytes = 0;
};

// Checks a declaration against the format and the upload limit. `field` names the message
// field in errors ("header" or "blob").
absl::Status ValidateDeclaration(std::string_view field, const UploadDeclaration& declared,
                                 int64_t max_upload_bytes);

template <typename Request, typename Response>
class UploadReactor : public grpc::ServerReadReactor<Request> {
 public:
  UploadReactor(ServiceCore* core, grpc::CallbackServerContext* context, Response* response)
      : core_(core), context_(context), response_(response) {}

  // Call once from the RPC handler: starts reading, or answers `status` at once if not OK.
  void Start(const absl::Status& status) {
    if (!status.ok()) {
      this->Finish(ToGrpcStatus(status));
      return;
    }
    this->StartRead(&request_);
  }

 protected:
  // The first message: validate it, reserve quota. Returns the declaration.
  virtual absl::StatusOr<UploadDeclaration> OnFirst(const Request& first) = 0;
  // Whether a later message wrongly repeats the declaration.
  virtual bool HasDeclaration(const Request& request) const = 0;
  virtual const std::string& ChunkOf(const Request& request) const = 0;
  virtual void OnChunk(std::string_view chunk) {}
  virtual absl::Status BeforeFinish() { return absl::OkStatus(); }
  virtual absl::Status OnComplete(const v1::BlobRef& blob, Response* response) = 0;
  // The message field carrying the declaration, for errors.
  virtual std::string_view DeclarationField() const = 0;
  // Runs once just before the call is answered, whatever the outcome (e.g. release a quota
  // reservation: by then the row exists or the upload failed).
  virtual void BeforeReply() {}

  ServiceCore* core() const { return core_; }

 private:
  void OnReadDone(bool ok) override {
    absl::Status status = ok ? OnMessage() : OnEndOfStream();
    if (status.ok() && ok) {
      this->StartRead(&request_);
      return;
    }
    if (!status.ok() && writer_ != nullptr) writer_->Abort();
    BeforeReply();
    this->Finish(ToGrpcStatus(status));
  }

  absl::Status OnMessage() {
    if (writer_ == nullptr) {
      ASSIGN_OR_RETURN(UploadDeclaration declared, OnFirst(request_));
      ASSIGN_OR_RETURN(writer_, core_->blobs()->NewWriter(declared.sha256, declared.size_bytes,
                                                          core_->options().max_upload_bytes));
    } else if (HasDeclaration(request_)) {
      return absl::InvalidArgumentError(
          StrCat(DeclarationField(), ": only allowed in the first message"));
    }
    const std::string& chunk = ChunkOf(request_);
    if (static_cast<int64_t>(chunk.size()) > core_->options().max_chunk_bytes) {
      return absl::InvalidArgumentError(StrCat("chunk of ", chunk.size(), " bytes exceeds the ",
                                               core_->options().max_chunk_bytes,
                                               "-byte limit per message"));
    }
    if (chunk.empty()) return absl::OkStatus();
    RETURN_IF_ERROR(writer_->Append(chunk));
    OnChunk(chunk);
    return absl::OkStatus();
  }

  absl::Status OnEndOfStream() {
    if (context_->IsCancelled()) return absl::CancelledError("upload cancelled by the client");
    if (writer_ == nullptr) {
      return absl::InvalidArgumentError(
          StrCat("empty upload: the first message must carry `", DeclarationField(), "`"));
    }
    RETURN_IF_ERROR(BeforeFinish());
    ASSIGN_OR_RETURN(v1::BlobRef blob, writer_->Finish());
    return OnComplete(blob, response_);
  }

  void OnDone() override { delete this; }

  ServiceCore* const core_;
  grpc::CallbackServerContext* const context_;
  Response* const response_;
  Request request_;
  std::unique_ptr<store::BlobWriter> writer_;
};

}  // namespace mp::service

#endif  // MP_SERVER_SERVICE_UPLOAD_H_
