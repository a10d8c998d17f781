#include "common/sha256.h"

#include <openssl/evp.h>

#include <vector>

#include "common/check.h"

namespace mp {

struct Sha256::State {
  EVP_MD_CTX* ctx = nullptr;
  bool done = false;
};

Sha256::Sha256() : state_(std::make_unique<State>()) {
  state_->ctx = EVP_MD_CTX_new();
  MP_CHECK(state_->ctx != nullptr);
  MP_CHECK(EVP_DigestInit_ex(state_->ctx, EVP_sha256(), nullptr) == 1);
}

Sha256::~Sha256() { EVP_MD_CTX_free(state_->ctx); }

void Sha256::Update(std::string_view bytes) {
  MP_CHECK(!state_->done);
  if (bytes.empty()) return;
  MP_CHECK(EVP_DigestUpdate(state_->ctx, bytes.data(), bytes.size()) == 1);
}

std::string Sha256::HexDigest() {
  MP_CHECK(!state_->done);
  state_->done = true;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  MP_CHECK(EVP_DigestFinal_ex(state_->ctx, digest, &length) == 1);
  MP_CHECK(length == 32);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(64, '0');
  for (unsigned int i = 0; i < length; ++i) {
    hex[2 * i] = kHex[digest[i] >> 4];
    hex[2 * i + 1] = kHex[digest[i] & 0xf];
  }
  return hex;
}

std::string Sha256Hex(std::string_view bytes) {
  Sha256 hasher;
  hasher.Update(bytes);
  return hasher.HexDigest();
}

bool IsSha256Hex(std::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

absl::StatusOr<StreamDigest> Sha256OfStream(std::istream& in) {
  Sha256 hasher;
  std::vector<char> buf(1 << 16);
  StreamDigest digest;
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const std::streamsize n = in.gcount();
    if (n <= 0) break;
    hasher.Update(std::string_view(buf.data(), static_cast<size_t>(n)));
    digest.size_bytes += n;
  }
  if (in.bad()) return absl::DataLossError("read error");
  digest.sha256 = hasher.HexDigest();
  return digest;
}

}  // namespace mp
