// SHA-256 (FIPS 180-4) over OpenSSL's libcrypto, with lowercase hex output: the names of
// content-addressed blobs and the idempotency spec hash.
#ifndef MP_SERVER_STORE_SHA256_H_
#define MP_SERVER_STORE_SHA256_H_

#include <memory>
#include <string>
#include <string_view>

namespace mp::store {

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

}  // namespace mp::store

#endif  // MP_SERVER_STORE_SHA256_H_
