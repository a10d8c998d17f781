#include "common/ids.h"

#include <cstdint>
#include <random>

#include "absl/synchronization/mutex.h"
#include "common/str_cat.h"

namespace mp::internal {
namespace {

constexpr size_t kHexDigits = 16;

uint64_t RandomU64() {
  // std::random_device reads the OS entropy source on Linux; one engine seeded from it is
  // shared behind a mutex so ids stay unique across threads.
  static absl::Mutex mu;
  static std::mt19937_64* engine = [] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return new std::mt19937_64(seq);
  }();
  absl::MutexLock lock(&mu);
  return (*engine)();
}

}  // namespace

std::string RandomId(std::string_view prefix) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = StrCat(prefix, "_");
  uint64_t bits = RandomU64();
  for (size_t i = 0; i < kHexDigits; ++i) {
    out.push_back(kHex[bits & 0xF]);
    bits >>= 4;
  }
  return out;
}

absl::Status ValidateId(std::string_view prefix, std::string_view id) {
  const size_t expected = prefix.size() + 1 + kHexDigits;
  bool ok =
      id.size() == expected && id.substr(0, prefix.size()) == prefix && id[prefix.size()] == '_';
  for (size_t i = prefix.size() + 1; ok && i < id.size(); ++i) {
    const char c = id[i];
    ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  }
  if (ok) return absl::OkStatus();
  std::string shown(id.substr(0, 64));
  if (id.size() > 64) shown += "...";
  return absl::InvalidArgumentError(
      StrCat("malformed ", prefix, " id '", shown, "': expected ", prefix, "_ and 16 hex digits"));
}

}  // namespace mp::internal
