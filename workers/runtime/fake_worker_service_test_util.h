// An in-process WorkerService for the runtime's tests: hands out scripted leases, serves
// blobs, records every call, and can be told to cancel a job, refuse its epoch (ABORTED),
// corrupt a blob, or answer UNAVAILABLE.
#ifndef MP_WORKERS_RUNTIME_FAKE_WORKER_SERVICE_TEST_UTIL_H_
#define MP_WORKERS_RUNTIME_FAKE_WORKER_SERVICE_TEST_UTIL_H_

#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/sha256.h"
#include "modelpress/v1/worker.grpc.pb.h"
#include "workers/runtime/blob_transfer.h"
#include "workers/runtime/runtime.h"

namespace mp::runtime::testing {

namespace v1 = ::modelpress::v1;

class FakeWorkerService final : public v1::WorkerService::Service {
 public:
  explicit FakeWorkerService(Clock* clock) : clock_(clock) {}

  // Stores `bytes` and returns its BlobRef.
  v1::BlobRef AddBlob(const std::string& bytes) {
    v1::BlobRef ref;
    ref.set_sha256(Sha256Hex(bytes));
    ref.set_size_bytes(static_cast<int64_t>(bytes.size()));
    absl::MutexLock lock(&mu);
    blobs[ref.sha256()] = bytes;
    return ref;
  }
  // Queues a lease for job `job_id` with a TTL of `ttl_ms` on the fake's clock.
  void AddLease(const std::string& job_id, v1::JobSpec spec,
                std::map<std::string, v1::BlobRef> inputs, int64_t ttl_ms = 300) {
    v1::LeaseJobResponse r;
    r.mutable_lease()->set_job_id(job_id);
    r.mutable_lease()->set_epoch(7);
    r.mutable_lease()->set_expires_unix_ms(clock_->NowMillis() + ttl_ms);
    *r.mutable_spec() = std::move(spec);
    for (auto& [role, ref] : inputs) (*r.mutable_inputs())[role] = ref;
    r.set_attempt(1);
    absl::MutexLock lock(&mu);
    leases.push_back(std::move(r));
  }

  grpc::Status LeaseJob(grpc::ServerContext* ctx, const v1::LeaseJobRequest* request,
                        v1::LeaseJobResponse* response) override {
    absl::MutexLock lock(&mu);
    lease_requests.push_back(*request);
    if (unavailable_leases > 0) {
      --unavailable_leases;
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "fake: not yet");
    }
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return !leases.empty(); };
    mu.AwaitWithTimeout(absl::Condition(&ready), absl::Milliseconds(request->wait_ms()));
    if (leases.empty() || ctx->IsCancelled()) return grpc::Status::OK;
    *response = leases.front();
    leases.pop_front();
    return grpc::Status::OK;
  }

  grpc::Status Heartbeat(grpc::ServerContext*, const v1::HeartbeatRequest* request,
                         v1::HeartbeatResponse* response) override {
    absl::MutexLock lock(&mu);
    ++heartbeats;
    return Renew(request->job_id(), request->epoch(), response);
  }

  grpc::Status ReportProgress(grpc::ServerContext*, const v1::ReportProgressRequest* request,
                              v1::HeartbeatResponse* response) override {
    absl::MutexLock lock(&mu);
    progress.push_back(*request);
    return Renew(request->job_id(), request->epoch(), response);
  }

  grpc::Status CompleteJob(grpc::ServerContext*, const v1::CompleteJobRequest* request,
                           v1::CompleteJobResponse*) override {
    absl::MutexLock lock(&mu);
    completed.push_back(*request);
    return grpc::Status::OK;
  }

  grpc::Status FailJob(grpc::ServerContext*, const v1::FailJobRequest* request,
                       v1::FailJobResponse*) override {
    absl::MutexLock lock(&mu);
    failed.push_back(*request);
    return grpc::Status::OK;
  }

  grpc::Status FetchBlob(grpc::ServerContext*, const v1::FetchBlobRequest* request,
                         grpc::ServerWriter<v1::BlobChunk>* writer) override {
    std::string bytes;
    {
      absl::MutexLock lock(&mu);
      ++fetches;
      if (lost.count(request->job_id())) {
        return grpc::Status(grpc::StatusCode::ABORTED, "fake: stale epoch");
      }
      auto it = blobs.find(request->sha256());
      if (it == blobs.end()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "fake: no blob");
      bytes = it->second;
      if (corrupt.count(request->sha256()) && !bytes.empty()) bytes[bytes.size() / 2] ^= 0x5a;
    }
    for (size_t off = 0; off < bytes.size() || off == 0; off += 1000) {
      v1::BlobChunk chunk;
      chunk.set_data(bytes.substr(off, 1000));
      if (!writer->Write(chunk)) break;
      if (bytes.empty()) break;
    }
    return grpc::Status::OK;
  }

  grpc::Status PutBlob(grpc::ServerContext*, grpc::ServerReader<v1::BlobChunk>* reader,
                       v1::BlobRef* response) override {
    v1::BlobChunk chunk;
    v1::BlobRef declared;
    std::string bytes;
    int chunks = 0;
    while (reader->Read(&chunk)) {
      if (chunks++ == 0) declared = chunk.blob();
      bytes += chunk.data();
    }
    const std::string got = Sha256Hex(bytes);
    if (got != declared.sha256() || int64_t(bytes.size()) != declared.size_bytes()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "fake: digest mismatch");
    }
    response->set_sha256(got);
    response->set_size_bytes(static_cast<int64_t>(bytes.size()));
    absl::MutexLock lock(&mu);
    blobs[got] = bytes;
    put_chunks.push_back(chunks);
    return grpc::Status::OK;
  }

  absl::Mutex mu;
  std::deque<v1::LeaseJobResponse> leases ABSL_GUARDED_BY(mu);
  std::map<std::string, std::string> blobs ABSL_GUARDED_BY(mu);
  std::set<std::string> cancelled ABSL_GUARDED_BY(mu);  // job ids answered cancelled=true
  std::set<std::string> lost ABSL_GUARDED_BY(mu);       // job ids answered ABORTED
  std::set<std::string> corrupt ABSL_GUARDED_BY(mu);    // sha256s served with a flipped byte
  int unavailable_leases ABSL_GUARDED_BY(mu) = 0;
  std::vector<v1::LeaseJobRequest> lease_requests ABSL_GUARDED_BY(mu);
  std::vector<v1::ReportProgressRequest> progress ABSL_GUARDED_BY(mu);
  std::vector<v1::CompleteJobRequest> completed ABSL_GUARDED_BY(mu);
  std::vector<v1::FailJobRequest> failed ABSL_GUARDED_BY(mu);
  std::vector<int> put_chunks ABSL_GUARDED_BY(mu);
  int heartbeats ABSL_GUARDED_BY(mu) = 0;
  int fetches ABSL_GUARDED_BY(mu) = 0;

 private:
  grpc::Status Renew(const std::string& job_id, int64_t epoch, v1::HeartbeatResponse* response)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (lost.count(job_id) || epoch != 7) {
      return grpc::Status(grpc::StatusCode::ABORTED, "fake: stale epoch");
    }
    response->set_cancelled(cancelled.count(job_id) > 0);
    response->set_expires_unix_ms(clock_->NowMillis() + 300);
    return grpc::Status::OK;
  }

  Clock* clock_;
};

// Serves `service` on 127.0.0.1:<ephemeral port>.
class FakeServer {
 public:
  explicit FakeServer(grpc::Service* service) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(service);
    server_ = builder.BuildAndStart();
  }
  ~FakeServer() { server_->Shutdown(std::chrono::system_clock::now()); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::shared_ptr<grpc::Channel> Channel() const {
    return grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
  }

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

// WorkerOptions with the short timings the worker tests use (50 ms lease waits, 10 ms
// minimum heartbeat, 1-5 ms backoff, 60 s drain grace); callers set once and hard_exit.
inline WorkerOptions FastWorkerOptions(const std::string& worker_id, const std::string& work_dir,
                                       Clock* clock) {
  WorkerOptions o;
  o.worker_id = worker_id;
  o.engine_version = "test";
  o.work_dir = work_dir;
  o.lease_wait_ms = 50;
  o.min_heartbeat_ms = 10;
  o.backoff_initial_ms = 1;
  o.backoff_max_ms = 5;
  o.drain_grace_ms = 60'000;
  o.clock = clock;
  return o;
}

}  // namespace mp::runtime::testing

#endif  // MP_WORKERS_RUNTIME_FAKE_WORKER_SERVICE_TEST_UTIL_H_
