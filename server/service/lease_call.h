// LeaseJob's long poll without a blocked thread.
//
// The call registers a one-shot runnable waiter with the queue BEFORE each Lease attempt
// (so a job submitted between the attempt and the registration is not missed), tries
// Queue::Lease, and if nothing was runnable waits for the waiter (a submission, a requeue,
// a backoff or lease coming due) or the deadline min(wait_ms, max_lease_wait_ms), whichever
// is first. A waiter firing only posts a new attempt to the service executor; attempts of
// one call never overlap. At the deadline, on client cancellation or at server shutdown the
// call answers with no lease (an empty LeaseJobResponse), which the worker treats as "poll
// again".
#ifndef MP_SERVER_SERVICE_LEASE_CALL_H_
#define MP_SERVER_SERVICE_LEASE_CALL_H_

#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"
#include "modelpress/v1/worker.pb.h"
#include "server/service/core.h"

namespace mp::service {

// Handles one (already authenticated) LeaseJob RPC; the reactor owns itself until OnDone.
grpc::ServerUnaryReactor* StartLeaseJob(ServiceCore* core, grpc::CallbackServerContext* context,
                                        const v1::LeaseJobRequest& request,
                                        v1::LeaseJobResponse* response);

}  // namespace mp::service

#endif  // MP_SERVER_SERVICE_LEASE_CALL_H_
