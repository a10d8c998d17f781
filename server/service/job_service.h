// JobService: submit, get, list, cancel, watch jobs and download their artifacts (job.proto).
//
// SubmitJob validates the spec (job_validation.h), resolves its input blobs by role and
// hands the request to the queue, which checks the queue fields, applies the idempotency
// key and the per-tenant queue limit. WatchJob is watch_call.h. DownloadArtifact streams
// the named artifact of a SUCCEEDED (or cancelled-after-complete) job.
#ifndef MP_SERVER_SERVICE_JOB_SERVICE_H_
#define MP_SERVER_SERVICE_JOB_SERVICE_H_

#include "modelpress/v1/job.grpc.pb.h"
#include "server/service/core.h"

namespace mp::service {

class JobServiceImpl final : public v1::JobService::CallbackService {
 public:
  explicit JobServiceImpl(ServiceCore* core) : core_(core) {}

  grpc::ServerUnaryReactor* SubmitJob(grpc::CallbackServerContext* context,
                                      const v1::SubmitJobRequest* request,
                                      v1::Job* response) override;
  grpc::ServerUnaryReactor* GetJob(grpc::CallbackServerContext* context,
                                   const v1::GetJobRequest* request, v1::Job* response) override;
  grpc::ServerUnaryReactor* ListJobs(grpc::CallbackServerContext* context,
                                     const v1::ListJobsRequest* request,
                                     v1::ListJobsResponse* response) override;
  grpc::ServerUnaryReactor* CancelJob(grpc::CallbackServerContext* context,
                                      const v1::CancelJobRequest* request,
                                      v1::Job* response) override;
  grpc::ServerWriteReactor<v1::JobEvent>* WatchJob(grpc::CallbackServerContext* context,
                                                   const v1::WatchJobRequest* request) override;
  grpc::ServerWriteReactor<v1::DownloadArtifactChunk>* DownloadArtifact(
      grpc::CallbackServerContext* context, const v1::DownloadArtifactRequest* request) override;

 private:
  ServiceCore* const core_;
};

}  // namespace mp::service

#endif  // MP_SERVER_SERVICE_JOB_SERVICE_H_
