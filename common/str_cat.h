// mp::StrCat: concatenates anything streamable into a std::string.
//
// Why not absl::StrCat: Debian 12's Abseil is built with ABSL_OPTION_USE_STD_STRING_VIEW 0,
// so absl::string_view is a distinct type and absl::StrCat rejects std::string_view. Our APIs
// use std::string_view; this helper accepts both, plus numbers (int8_t/uint8_t print as
// numbers, not characters). Meant for messages, not hot loops.
#ifndef MP_COMMON_STR_CAT_H_
#define MP_COMMON_STR_CAT_H_

#include <sstream>
#include <string>
#include <type_traits>

#include "absl/strings/string_view.h"

namespace mp {
namespace internal {

template <typename T>
void AppendOne(std::ostringstream& os, const T& value) {
  if constexpr (std::is_integral_v<T> && sizeof(T) == 1 && !std::is_same_v<T, char> &&
                !std::is_same_v<T, bool>) {
    os << static_cast<int>(value);
  } else if constexpr (std::is_same_v<T, absl::string_view>) {
    os.write(value.data(), static_cast<std::streamsize>(value.size()));
  } else {
    os << value;
  }
}

}  // namespace internal

template <typename... Args>
std::string StrCat(const Args&... args) {
  std::ostringstream os;
  os.precision(8);
  (internal::AppendOne(os, args), ...);
  return std::move(os).str();
}

}  // namespace mp

#endif  // MP_COMMON_STR_CAT_H_
