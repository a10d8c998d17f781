// Opaque keyset page tokens: the (created_ms, id) of the last row of a page, so the next
// page is "rows strictly after it in (created_ms desc, id desc) order". Encoded as web-safe
// base64 of "v1:<created_ms>:<id>" — opaque to clients, who only echo it back.
#ifndef MP_SERVER_STORE_PAGE_TOKEN_H_
#define MP_SERVER_STORE_PAGE_TOKEN_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace mp::store::internal {

struct PageCursor {
  int64_t created_ms = 0;
  std::string id;
};

std::string EncodePageToken(const PageCursor& cursor);
// INVALID_ARGUMENT naming the token if it was not made by EncodePageToken.
absl::StatusOr<PageCursor> DecodePageToken(std::string_view token);

}  // namespace mp::store::internal

#endif  // MP_SERVER_STORE_PAGE_TOKEN_H_
