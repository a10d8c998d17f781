// SHA-256 (FIPS 180-4) over OpenSSL's libcrypto, with lowercase hex output: the names of
// content-addressed blobs, the idempotency spec hash, and the digests that uploads, blob
// transfers and downloads declare and verify.
#ifndef MP_COMMON_SHA256_H_
#define MP_COMMON_SHA256_H_

#include <cstdint>
#include <istream>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace mp {

// Incremental hasher: Update() any number of times, then HexDigest() once.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view bytes);
  // 64 lowercase hex digits. Ends the computation; call once.
  std::string HexDigest();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The lowercase hex sha256 of `bytes`.
std::string Sha256Hex(std::string_view bytes);

// True iff `text` is 64 lowercase hex digits.
bool IsSha256Hex(std::string_view text);

// The sha256 and size of everything `in` yields up to its end.
struct StreamDigest {
  std::string sha256;
  int64_t size_bytes = 0;
};
// Reads `in` to its end. DATA_LOSS "read error" if the stream fails on the way.
absl::StatusOr<StreamDigest> Sha256OfStream(std::istream& in);

}  // namespace mp

#endif  // MP_COMMON_SHA256_H_
