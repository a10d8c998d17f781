// mp::service — the gRPC face of the server (DESIGN.md §2, §3, §7).
//
// Four callback services (grpc::CallbackService, no thread per call) validate requests,
// call the queue and the store, and map absl::Status to gRPC status codes one to one
// (grpc_status.h), keeping messages that name the culprit:
//   ModelService    model_service.h    uploads (upload.h) + the inspect job of every model
//   DatasetService  dataset_service.h  uploads with format detection (dataset_format.h)
//   JobService      job_service.h      submit (job_validation.h), list, cancel, watch
//                                      (watch_call.h), download (blob_stream.h)
//   WorkerService   worker_service.h   lease long poll (lease_call.h), fencing, blobs
// plus gRPC's standard health service (grpc.health.v1.Health): SERVING for "" and each
// service name while up, NOT_SERVING from the start of shutdown.
//
// Authentication (auth.h): `authorization: Bearer <token>`; user RPCs need a user token and
// run in its tenant, WorkerService needs a worker token; without a token table every call
// is tenant "default". Limits: gRPC max receive message size, ServiceOptions (upload size,
// per-tenant quota over stored models + datasets, chunk size, lease wait cap); the per-tenant
// queue limit and lease TTL are the queue's (QueueOptions).
//
// Shutdown is two-phase so local workers can still report while they stop:
//   BeginShutdown(): health NOT_SERVING; WatchJob streams end UNAVAILABLE, LeaseJob long
//                    polls answer "no job", new long-lived calls are refused;
//   Shutdown(grace): stop accepting, let in-flight RPCs finish within `grace`, cancel the
//                    rest, stop the service executor.
#ifndef MP_SERVER_SERVICE_SERVICE_H_
#define MP_SERVER_SERVICE_SERVICE_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "server/queue/queue.h"
#include "server/service/auth.h"
#include "server/service/core.h"
#include "server/store/blob_store.h"
#include "server/store/store.h"

namespace mp::service {

// What the services front; not owned, must outlive the GrpcServer.
struct ServerDeps {
  store::Store* store = nullptr;
  store::BlobStore* blobs = nullptr;
  queue::Queue* queue = nullptr;
  Clock* clock = nullptr;
  const Authenticator* auth = nullptr;
  // Optional: called on the builder before the server starts, e.g. to add the dashboard's
  // metrics interceptor (builder.experimental().SetInterceptorCreators(...)).
  std::function<void(grpc::ServerBuilder&)> configure_builder;
};

inline constexpr int kMaxReceiveMessageBytes = 4 << 20;

class GrpcServer {
 public:
  // Builds the services and starts serving on `listen` ("HOST:PORT"; port 0 picks a free
  // one). UNAVAILABLE naming the address if it cannot listen.
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(const std::string& listen,
                                                           const ServerDeps& deps,
                                                           ServiceOptions options);
  ~GrpcServer();  // BeginShutdown + Shutdown(0) unless done
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  int port() const { return port_; }
  // Where a local client should dial: the listen host (a wildcard becomes 127.0.0.1) and
  // the bound port.
  const std::string& address() const { return address_; }

  void BeginShutdown();
  void Shutdown(std::chrono::milliseconds grace);

 private:
  struct Services;
  GrpcServer() = default;

  std::unique_ptr<ServiceCore> core_;
  std::unique_ptr<Services> services_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::string address_;
  bool began_shutdown_ = false;
  bool shut_down_ = false;
};

// Splits "HOST:PORT" ("[v6]:PORT" too). INVALID_ARGUMENT naming the text otherwise.
absl::Status ParseHostPort(const std::string& text, std::string* host, int* port);

}  // namespace mp::service

#endif  // MP_SERVER_SERVICE_SERVICE_H_
