#include "server/service/worker_service.h"

#include <memory>
#include <set>
#include <string>
#include <utility>

#include "server/service/blob_stream.h"
#include "server/service/lease_call.h"
#include "server/service/rpc_util.h"
#include "server/service/upload.h"

namespace mp::service {
namespace {

absl::Status CheckJobId(std::string_view job_id) {
  return ParseIdField<JobId>("job_id", job_id).status();
}

// Every artifact must name a blob already in the store, with the declared size.
absl::Status CheckArtifacts(const store::BlobStore& blobs, const v1::CompleteJobRequest& request) {
  std::set<std::string> names;
  for (int i = 0; i < request.artifacts_size(); ++i) {
    const v1::Artifact& artifact = request.artifacts(i);
    const std::string where = StrCat("artifacts[", i, "] '", artifact.name(), "'");
    if (artifact.name().empty()) {
      return absl::InvalidArgumentError(StrCat("artifacts[", i, "].name: required"));
    }
    if (!names.insert(artifact.name()).second) {
      return absl::InvalidArgumentError(StrCat(where, ": duplicate artifact name"));
    }
    absl::StatusOr<int64_t> size = blobs.Size(artifact.blob().sha256());
    if (absl::IsNotFound(size.status())) {
      return absl::InvalidArgumentError(
          StrCat(where, ": blob ", artifact.blob().sha256(), " not found (PutBlob it first)"));
    }
    if (!size.ok()) return Annotate(size.status(), where);
    if (*size != artifact.blob().size_bytes()) {
      return absl::InvalidArgumentError(StrCat(where, ": blob size is ", *size,
                                               " bytes, the artifact declares ",
                                               artifact.blob().size_bytes()));
    }
  }
  return absl::OkStatus();
}

class PutBlobReactor final : public UploadReactor<v1::BlobChunk, v1::BlobRef> {
 public:
  using UploadReactor::UploadReactor;

 private:
  absl::StatusOr<UploadDeclaration> OnFirst(const v1::BlobChunk& first) override {
    if (!first.has_blob()) {
      return absl::InvalidArgumentError("blob: the first message must declare sha256 and size");
    }
    UploadDeclaration declared{.sha256 = first.blob().sha256(),
                               .size_bytes = first.blob().size_bytes()};
    RETURN_IF_ERROR(ValidateDeclaration("blob", declared, core()->options().max_upload_bytes));
    return declared;
  }
  bool HasDeclaration(const v1::BlobChunk& request) const override { return request.has_blob(); }
  const std::string& ChunkOf(const v1::BlobChunk& request) const override { return request.data(); }
  std::string_view DeclarationField() const override { return "blob"; }
  absl::Status OnComplete(const v1::BlobRef& blob, v1::BlobRef* response) override {
    *response = blob;
    return absl::OkStatus();
  }
};

}  // namespace

grpc::ServerUnaryReactor* WorkerServiceImpl::LeaseJob(grpc::CallbackServerContext* context,
                                                      const v1::LeaseJobRequest* request,
                                                      v1::LeaseJobResponse* response) {
  absl::StatusOr<Principal> caller = core_->auth().Authenticate(*context, Role::kWorker);
  if (!caller.ok()) return Reply(context, caller.status());
  if (request->worker_id().empty()) {
    return Reply(context, absl::InvalidArgumentError("worker_id: required"));
  }
  return StartLeaseJob(core_, context, *request, response);
}

grpc::ServerUnaryReactor* WorkerServiceImpl::Heartbeat(grpc::CallbackServerContext* context,
                                                       const v1::HeartbeatRequest* request,
                                                       v1::HeartbeatResponse* response) {
  absl::Status status = [&]() -> absl::Status {
    RETURN_IF_ERROR(core_->auth().Authenticate(*context, Role::kWorker).status());
    RETURN_IF_ERROR(CheckJobId(request->job_id()));
    ASSIGN_OR_RETURN(*response, core_->queue()->Heartbeat(*request));
    return absl::OkStatus();
  }();
  return Reply(context, status);
}

grpc::ServerUnaryReactor* WorkerServiceImpl::ReportProgress(
    grpc::CallbackServerContext* context, const v1::ReportProgressRequest* request,
    v1::HeartbeatResponse* response) {
  absl::Status status = [&]() -> absl::Status {
    RETURN_IF_ERROR(core_->auth().Authenticate(*context, Role::kWorker).status());
    RETURN_IF_ERROR(CheckJobId(request->job_id()));
    ASSIGN_OR_RETURN(*response, core_->queue()->ReportProgress(*request));
    return absl::OkStatus();
  }();
  return Reply(context, status);
}

grpc::ServerUnaryReactor* WorkerServiceImpl::CompleteJob(grpc::CallbackServerContext* context,
                                                         const v1::CompleteJobRequest* request,
                                                         v1::CompleteJobResponse* response) {
  absl::Status status = [&]() -> absl::Status {
    RETURN_IF_ERROR(core_->auth().Authenticate(*context, Role::kWorker).status());
    RETURN_IF_ERROR(CheckJobId(request->job_id()));
    RETURN_IF_ERROR(CheckArtifacts(*core_->blobs(), *request));
    return core_->queue()->Complete(*request);
  }();
  return Reply(context, status);
}

grpc::ServerUnaryReactor* WorkerServiceImpl::FailJob(grpc::CallbackServerContext* context,
                                                     const v1::FailJobRequest* request,
                                                     v1::FailJobResponse* response) {
  absl::Status status = [&]() -> absl::Status {
    RETURN_IF_ERROR(core_->auth().Authenticate(*context, Role::kWorker).status());
    RETURN_IF_ERROR(CheckJobId(request->job_id()));
    return core_->queue()->Fail(*request);
  }();
  return Reply(context, status);
}

grpc::ServerWriteReactor<v1::BlobChunk>* WorkerServiceImpl::FetchBlob(
    grpc::CallbackServerContext* context, const v1::FetchBlobRequest* request) {
  auto* reactor = new BlobStreamReactor<v1::BlobChunk>(
      static_cast<size_t>(core_->options().download_chunk_bytes));
  std::unique_ptr<store::BlobReader> reader;
  v1::BlobRef blob;
  absl::Status status = [&]() -> absl::Status {
    RETURN_IF_ERROR(core_->auth().Authenticate(*context, Role::kWorker).status());
    RETURN_IF_ERROR(CheckJobId(request->job_id()));
    ASSIGN_OR_RETURN(store::JobRecord record,
                     core_->queue()->CheckLease(request->job_id(), request->epoch()));
    for (const auto& [role, input] : record.job.inputs()) {
      if (input.sha256() == request->sha256()) {
        blob = input;
        ASSIGN_OR_RETURN(reader, core_->blobs()->NewReader(input.sha256()));
        return absl::OkStatus();
      }
    }
    return absl::PermissionDeniedError(StrCat("blob '", request->sha256().substr(0, 80),
                                              "' is not an input of job '", request->job_id(),
                                              "'"));
  }();
  reactor->Start(status, std::move(reader), std::move(blob));
  return reactor;
}

grpc::ServerReadReactor<v1::BlobChunk>* WorkerServiceImpl::PutBlob(
    grpc::CallbackServerContext* context, v1::BlobRef* response) {
  auto* reactor = new PutBlobReactor(core_, context, response);
  reactor->Start(core_->auth().Authenticate(*context, Role::kWorker).status());
  return reactor;
}

}  // namespace mp::service
