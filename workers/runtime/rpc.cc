#include "workers/runtime/rpc.h"

#include <algorithm>
#include <chrono>

#include "common/str_cat.h"

namespace mp::runtime {

std::unique_ptr<grpc::ClientContext> NewContext(const RpcConfig& config, int64_t timeout_ms) {
  auto context = std::make_unique<grpc::ClientContext>();
  if (!config.token.empty()) context->AddMetadata("authorization", "Bearer " + config.token);
  if (timeout_ms > 0) {
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));
  }
  return context;
}

absl::Status FromGrpc(const grpc::Status& status, std::string_view what) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      mp::StrCat(what, ": ", status.error_message()));
}

bool IsTransient(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kUnknown:
      return true;
    default:
      return false;
  }
}

Backoff::Backoff(int64_t initial_ms, int64_t max_ms)
    : initial_ms_(std::max<int64_t>(1, initial_ms)),
      max_ms_(std::max(initial_ms_, max_ms)),
      rng_(std::random_device{}()) {}

int64_t Backoff::NextDelayMs() {
  int64_t cap = initial_ms_;
  for (int i = 0; i < attempt_ && cap < max_ms_; ++i) cap *= 2;
  cap = std::min(cap, max_ms_);
  ++attempt_;
  std::uniform_int_distribution<int64_t> dist(initial_ms_, cap);
  return dist(rng_);
}

}  // namespace mp::runtime
