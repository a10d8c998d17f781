#include "server/service/job_service.h"

#include <memory>
#include <string>
#include <utility>

#include "server/service/blob_stream.h"
#include "server/service/job_validation.h"
#include "server/service/rpc_util.h"
#include "server/service/watch_call.h"

namespace mp::service {

grpc::ServerUnaryReactor* JobServiceImpl::SubmitJob(grpc::CallbackServerContext* context,
                                                    const v1::SubmitJobRequest* request,
                                                    v1::Job* response) {
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(Principal caller, core_->auth().Authenticate(*context, Role::kUser));
    if (!request->has_spec()) return absl::InvalidArgumentError("spec: required");
    queue::SubmitExtras extras;
    ASSIGN_OR_RETURN(extras.inputs,
                     ValidateJobSpec(*core_->store(), caller.tenant, request->spec()));
    ASSIGN_OR_RETURN(queue::SubmitResult result,
                     core_->queue()->Submit(caller.tenant, *request, std::move(extras)));
    *response = std::move(result.job);
    return absl::OkStatus();
  }();
  return Reply(context, status);
}

grpc::ServerUnaryReactor* JobServiceImpl::GetJob(grpc::CallbackServerContext* context,
                                                 const v1::GetJobRequest* request,
                                                 v1::Job* response) {
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(Principal caller, core_->auth().Authenticate(*context, Role::kUser));
    RETURN_IF_ERROR(ParseIdField<JobId>("id", request->id()).status());
    ASSIGN_OR_RETURN(*response, core_->queue()->Get(caller.tenant, request->id()));
    return absl::OkStatus();
  }();
  return Reply(context, status);
}

grpc::ServerUnaryReactor* JobServiceImpl::ListJobs(grpc::CallbackServerContext* context,
                                                   const v1::ListJobsRequest* request,
                                                   v1::ListJobsResponse* response) {
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(Principal caller, core_->auth().Authenticate(*context, Role::kUser));
    RETURN_IF_ERROR(ResolvePageSize(request->page_size()).status());
    if (!request->model_id().empty()) {
      RETURN_IF_ERROR(ParseIdField<ModelId>("model_id", request->model_id()).status());
    }
    ASSIGN_OR_RETURN(*response, core_->queue()->List(caller.tenant, *request));
    return absl::OkStatus();
  }();
  return Reply(context, status);
}

grpc::ServerUnaryReactor* JobServiceImpl::CancelJob(grpc::CallbackServerContext* context,
                                                    const v1::CancelJobRequest* request,
                                                    v1::Job* response) {
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(Principal caller, core_->auth().Authenticate(*context, Role::kUser));
    RETURN_IF_ERROR(ParseIdField<JobId>("id", request->id()).status());
    ASSIGN_OR_RETURN(*response, core_->queue()->Cancel(caller.tenant, request->id()));
    return absl::OkStatus();
  }();
  return Reply(context, status);
}

grpc::ServerWriteReactor<v1::JobEvent>* JobServiceImpl::WatchJob(
    grpc::CallbackServerContext* context, const v1::WatchJobRequest* request) {
  return StartWatchJob(core_, context, *request);
}

grpc::ServerWriteReactor<v1::DownloadArtifactChunk>* JobServiceImpl::DownloadArtifact(
    grpc::CallbackServerContext* context, const v1::DownloadArtifactRequest* request) {
  auto* reactor = new BlobStreamReactor<v1::DownloadArtifactChunk>(
      static_cast<size_t>(core_->options().download_chunk_bytes));
  std::unique_ptr<store::BlobReader> reader;
  v1::BlobRef blob;
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(Principal caller, core_->auth().Authenticate(*context, Role::kUser));
    RETURN_IF_ERROR(ParseIdField<JobId>("job_id", request->job_id()).status());
    ASSIGN_OR_RETURN(v1::Job job, core_->queue()->Get(caller.tenant, request->job_id()));
    std::string names;
    for (const v1::Artifact& artifact : job.artifacts()) {
      if (artifact.name() == request->name()) {
        blob = artifact.blob();
        ASSIGN_OR_RETURN(reader, core_->blobs()->NewReader(blob.sha256()));
        return absl::OkStatus();
      }
      names += StrCat(names.empty() ? "" : ", ", "'", artifact.name(), "'");
    }
    if (job.artifacts_size() == 0 && !queue::IsTerminal(job.state())) {
      return absl::FailedPreconditionError(StrCat("job '", job.id(), "' is ",
                                                  v1::JobState_Name(job.state()),
                                                  "; its artifacts exist once it has succeeded"));
    }
    return absl::NotFoundError(StrCat("job '", job.id(), "' has no artifact '", request->name(),
                                      "' (artifacts: ", names.empty() ? "none" : names, ")"));
  }();
  reactor->Start(status, std::move(reader), std::move(blob));
  return reactor;
}

}  // namespace mp::service
