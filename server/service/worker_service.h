// WorkerService: the worker protocol (worker.proto), for worker tokens only.
//
// Lease/heartbeat/progress/complete/fail go to the queue, which fences them by (job_id,
// epoch): a stale epoch is ABORTED. LeaseJob is a long poll without a blocked thread
// (lease_call.h). CompleteJob first checks that every artifact names a blob already put
// (PutBlob) with the declared size. FetchBlob streams a blob only if it is an input of a
// job whose lease (job_id, epoch) the caller holds right now: ABORTED for a lease not held,
// PERMISSION_DENIED for a blob that is not among that job's inputs. PutBlob has the upload
// contract of upload.h (first message declares `blob`), bounded by --max-upload-bytes.
#ifndef MP_SERVER_SERVICE_WORKER_SERVICE_H_
#define MP_SERVER_SERVICE_WORKER_SERVICE_H_

#include "modelpress/v1/worker.grpc.pb.h"
#include "server/service/core.h"

namespace mp::service {

class WorkerServiceImpl final : public v1::WorkerService::CallbackService {
 public:
  explicit WorkerServiceImpl(ServiceCore* core) : core_(core) {}

  grpc::ServerUnaryReactor* LeaseJob(grpc::CallbackServerContext* context,
                                     const v1::LeaseJobRequest* request,
                                     v1::LeaseJobResponse* response) override;
  grpc::ServerUnaryReactor* Heartbeat(grpc::CallbackServerContext* context,
                                      const v1::HeartbeatRequest* request,
                                      v1::HeartbeatResponse* response) override;
  grpc::ServerUnaryReactor* ReportProgress(grpc::CallbackServerContext* context,
                                           const v1::ReportProgressRequest* request,
                                           v1::HeartbeatResponse* response) override;
  grpc::ServerUnaryReactor* CompleteJob(grpc::CallbackServerContext* context,
                                        const v1::CompleteJobRequest* request,
                                        v1::CompleteJobResponse* response) override;
  grpc::ServerUnaryReactor* FailJob(grpc::CallbackServerContext* context,
                                    const v1::FailJobRequest* request,
                                    v1::FailJobResponse* response) override;
  grpc::ServerWriteReactor<v1::BlobChunk>* FetchBlob(grpc::CallbackServerContext* context,
                                                     const v1::FetchBlobRequest* request) override;
  grpc::ServerReadReactor<v1::BlobChunk>* PutBlob(grpc::CallbackServerContext* context,
                                                  v1::BlobRef* response) override;

 private:
  ServiceCore* const core_;
};

}  // namespace mp::service

#endif  // MP_SERVER_SERVICE_WORKER_SERVICE_H_
