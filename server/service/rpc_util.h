// Small helpers shared by the service handlers.
#ifndef MP_SERVER_SERVICE_RPC_UTIL_H_
#define MP_SERVER_SERVICE_RPC_UTIL_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/ids.h"
#include "common/status.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"
#include "server/service/grpc_status.h"

namespace mp::service {

inline constexpr int32_t kDefaultPageSize = 50;
inline constexpr int32_t kMaxPageSize = 1000;

// Finishes a unary callback RPC with `status` (the response is already filled when OK).
inline grpc::ServerUnaryReactor* Reply(grpc::CallbackServerContext* context,
                                       const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

// page_size 0 -> the default; otherwise it must be in [1, kMaxPageSize].
inline absl::StatusOr<int> ResolvePageSize(int32_t page_size) {
  if (page_size == 0) return kDefaultPageSize;
  if (page_size < 0 || page_size > kMaxPageSize) {
    return absl::InvalidArgumentError(
        StrCat("page_size: must be in [0, ", kMaxPageSize, "], got ", page_size));
  }
  return page_size;
}

// Parses a client-supplied id; INVALID_ARGUMENT naming the field otherwise.
template <typename Id>
absl::StatusOr<Id> ParseIdField(std::string_view field, std::string_view text) {
  absl::StatusOr<Id> id = Id::Parse(text);
  if (!id.ok()) return Annotate(id.status(), field);
  return id;
}

}  // namespace mp::service

#endif  // MP_SERVER_SERVICE_RPC_UTIL_H_
