// absl::Status -> grpc::Status (DESIGN.md §7). The two code spaces are numerically
// identical; the message is kept verbatim so it still names the culprit.
#ifndef MP_SERVER_SERVICE_GRPC_STATUS_H_
#define MP_SERVER_SERVICE_GRPC_STATUS_H_

#include <string>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace mp::service {

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

inline absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

}  // namespace mp::service

#endif  // MP_SERVER_SERVICE_GRPC_STATUS_H_
