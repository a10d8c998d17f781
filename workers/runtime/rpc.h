// RPC plumbing shared by the lease loop, the job monitor and blob transfer: call contexts
// with the bearer token and a deadline, grpc::Status -> absl::Status, and retry backoff.
#ifndef MP_WORKERS_RUNTIME_RPC_H_
#define MP_WORKERS_RUNTIME_RPC_H_

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"

namespace mp::runtime {

struct RpcConfig {
  std::string token;              // sent as `authorization: Bearer <token>` when non-empty
  int64_t timeout_ms = 30'000;    // deadline of unary calls
  int64_t stream_timeout_ms = 0;  // deadline of blob streams; 0: none
};

// A context carrying the token and a deadline `timeout_ms` from now (none if <= 0).
std::unique_ptr<grpc::ClientContext> NewContext(const RpcConfig& config, int64_t timeout_ms);

// The same code; the message is "<what>: <grpc message>".
absl::Status FromGrpc(const grpc::Status& status, std::string_view what);

// Errors worth retrying the same call for: UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED
// (server busy), UNKNOWN (connection reset mid-call).
bool IsTransient(const absl::Status& status);

// Exponential backoff with full jitter: the n-th delay is uniform in [initial, min(max,
// initial * 2^n)] milliseconds. Thread-compatible.
class Backoff {
 public:
  Backoff(int64_t initial_ms, int64_t max_ms);
  int64_t NextDelayMs();
  void Reset() { attempt_ = 0; }

 private:
  int64_t initial_ms_;
  int64_t max_ms_;
  int attempt_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace mp::runtime

#endif  // MP_WORKERS_RUNTIME_RPC_H_
