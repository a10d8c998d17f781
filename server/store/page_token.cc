#include "server/store/page_token.h"

#include <charconv>

#include "absl/strings/escaping.h"
#include "common/str_cat.h"

namespace mp::store::internal {

std::string EncodePageToken(const PageCursor& cursor) {
  const std::string plain = StrCat("v1:", cursor.created_ms, ":", cursor.id);
  return absl::WebSafeBase64Escape(absl::string_view(plain.data(), plain.size()));
}

absl::StatusOr<PageCursor> DecodePageToken(std::string_view token) {
  const auto bad = [&] {
    return absl::InvalidArgumentError(
        StrCat("page_token '", token.substr(0, 64), "' is not a token from a previous page"));
  };
  if (token.size() > 512) return bad();
  std::string plain;
  if (!absl::WebSafeBase64Unescape(absl::string_view(token.data(), token.size()), &plain)) {
    return bad();
  }
  std::string_view rest(plain);
  if (rest.substr(0, 3) != "v1:") return bad();
  rest.remove_prefix(3);
  const size_t colon = rest.find(':');
  if (colon == std::string_view::npos || colon == 0) return bad();
  PageCursor cursor;
  const char* begin = rest.data();
  const auto [ptr, ec] = std::from_chars(begin, begin + colon, cursor.created_ms);
  if (ec != std::errc() || ptr != begin + colon) return bad();
  cursor.id = std::string(rest.substr(colon + 1));
  if (cursor.id.empty()) return bad();
  return cursor;
}

}  // namespace mp::store::internal
