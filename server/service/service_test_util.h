// An in-process modelpress gRPC server for tests: a real store and blob store in a temp dir,
// a queue on a FakeClock, the services on 127.0.0.1:0, and generated gRPC clients (mp_proto).
#ifndef MP_SERVER_SERVICE_SERVICE_TEST_UTIL_H_
#define MP_SERVER_SERVICE_SERVICE_TEST_UTIL_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/file_util.h"
#include "common/status.h"
#include "common/str_cat.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "modelpress/v1/job.grpc.pb.h"
#include "modelpress/v1/model.grpc.pb.h"
#include "modelpress/v1/worker.grpc.pb.h"
#include "server/queue/queue.h"
#include "server/service/auth.h"
#include "server/service/service.h"
#include "server/store/blob_store.h"
#include "server/store/store.h"

namespace mp::service::testing {

namespace v1 = ::modelpress::v1;

struct TestServerOptions {
  std::optional<TokenTable> tokens;  // unset: auth off
  ServiceOptions service;
  queue::QueueOptions queue;
};

class TestServer {
 public:
  // Starts everything; check ok() / status() in the test.
  explicit TestServer(TestServerOptions options = {});
  ~TestServer();

  const absl::Status& status() const { return status_; }

  // A client context carrying `token` (none when empty).
  static std::unique_ptr<grpc::ClientContext> Context(std::string_view token = "");

  // Uploads `bytes` as a model (or dataset) in chunks of `chunk` bytes with a correct
  // declaration unless `declared_sha` / `declared_size` override it.
  absl::StatusOr<v1::Model> UploadModel(std::string_view bytes, std::string_view token = "",
                                        size_t chunk = 1 << 20, std::string declared_sha = "",
                                        int64_t declared_size = -1);
  absl::StatusOr<v1::Dataset> UploadDataset(std::string_view bytes, std::string_view token = "",
                                            std::string name = "data");
  // Puts a blob through WorkerService.PutBlob.
  absl::StatusOr<v1::BlobRef> PutBlob(std::string_view bytes, std::string_view token = "");
  // Leases with wait_ms 0.
  absl::StatusOr<v1::LeaseJobResponse> Lease(std::string_view token = "", int64_t wait_ms = 0);
  // Leases until the job with this id is leased (other jobs are failed permanently).
  absl::StatusOr<v1::LeaseJobResponse> LeaseJob(const std::string& job_id,
                                                std::string_view token = "");

  FakeClock clock;
  ScopedTempDir dir;
  std::unique_ptr<store::Store> db;
  std::unique_ptr<store::BlobStore> blobs;
  std::unique_ptr<queue::Queue> queue;
  std::unique_ptr<Authenticator> auth;
  std::unique_ptr<GrpcServer> server;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::ModelService::Stub> models;
  std::unique_ptr<v1::DatasetService::Stub> datasets;
  std::unique_ptr<v1::JobService::Stub> jobs;
  std::unique_ptr<v1::WorkerService::Stub> workers;

 private:
  absl::Status status_;
};

// A .npy file holding float32 zeros of shape [n, 4].
std::string NpyBytes(int n);

// Collects a WatchJob stream until it ends; returns the events and the final status.
struct WatchResult {
  std::vector<v1::JobEvent> events;
  grpc::Status status;
};

}  // namespace mp::service::testing

#endif  // MP_SERVER_SERVICE_SERVICE_TEST_UTIL_H_
