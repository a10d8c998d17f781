// WatchJob: replays a job's events after `after_sequence`, then streams new ones live until
// the job is terminal (then OK), the client cancels, or the server shuts down (UNAVAILABLE;
// the client resumes with after_sequence = the last sequence it saw).
//
// No thread is blocked per watcher. The call subscribes to the queue's per-job
// notifications (Queue::Subscribe); a notification only posts a "pump" to the service
// executor, which reads the events committed since the last one sent (at most 64 per read)
// and writes them one at a time. At most one pump or one write is in flight per call; a
// notification arriving meanwhile sets a flag so the pump runs again, hence no event is
// missed and none is sent twice (the cursor is the last sequence read). Completion is
// decided by reading the job first and the events second: the terminal event is committed
// with the terminal state, so "job terminal and no events left" means the stream is done.
#ifndef MP_SERVER_SERVICE_WATCH_CALL_H_
#define MP_SERVER_SERVICE_WATCH_CALL_H_

#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"
#include "modelpress/v1/job.pb.h"
#include "server/service/core.h"

namespace mp::service {

// Handles one WatchJob RPC; the reactor owns itself until gRPC calls OnDone.
grpc::ServerWriteReactor<v1::JobEvent>* StartWatchJob(ServiceCore* core,
                                                      grpc::CallbackServerContext* context,
                                                      const v1::WatchJobRequest& request);

}  // namespace mp::service

#endif  // MP_SERVER_SERVICE_WATCH_CALL_H_
