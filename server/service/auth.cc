#include "server/service/auth.h"

#include <algorithm>

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "common/status.h"
#include "common/str_cat.h"

namespace mp::service {
namespace {

constexpr std::string_view kBearer = "Bearer ";

std::string_view RoleName(Role role) { return role == Role::kWorker ? "worker" : "user"; }

}  // namespace

absl::StatusOr<TokenTable> TokenTable::Parse(std::string_view text, std::string_view source) {
  TokenTable table;
  int line_number = 0;
  for (absl::string_view raw : absl::StrSplit(absl::string_view(text.data(), text.size()), '\n')) {
    ++line_number;
    absl::string_view line = absl::StripAsciiWhitespace(raw);
    if (line.empty() || line[0] == '#') continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    const std::string where = StrCat(source, ":", line_number);
    if (fields.size() < 2 || fields.size() > 3) {
      return absl::InvalidArgumentError(
          StrCat(where, ": expected 'TOKEN TENANT [user|worker]', got ", fields.size(), " fields"));
    }
    Principal principal{.tenant = std::string(fields[1]), .role = Role::kUser};
    if (fields.size() == 3) {
      if (fields[2] == "user") {
        principal.role = Role::kUser;
      } else if (fields[2] == "worker") {
        principal.role = Role::kWorker;
      } else {
        return absl::InvalidArgumentError(
            StrCat(where, ": unknown role '", fields[2], "' (expected user or worker)"));
      }
    }
    std::string token(fields[0]);
    if (table.Find(token) != nullptr) {
      return absl::InvalidArgumentError(StrCat(where, ": duplicate token"));
    }
    table.Add(std::move(token), std::move(principal));
  }
  return table;
}

absl::StatusOr<TokenTable> TokenTable::Load(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path, uint64_t{16} << 20);
  if (!text.ok()) return Annotate(text.status(), StrCat("token file '", path, "'"));
  return Parse(*text, path);
}

void TokenTable::Add(std::string token, Principal principal) {
  tokens_[std::move(token)] = std::move(principal);
}

const Principal* TokenTable::Find(std::string_view token) const {
  auto it = tokens_.find(absl::string_view(token.data(), token.size()));
  return it == tokens_.end() ? nullptr : &it->second;
}

std::vector<std::string> TokenTable::UserTenants() const {
  std::vector<std::string> tenants;
  for (const auto& [token, principal] : tokens_) {
    if (principal.role == Role::kUser) tenants.push_back(principal.tenant);
  }
  std::sort(tenants.begin(), tenants.end());
  tenants.erase(std::unique(tenants.begin(), tenants.end()), tenants.end());
  return tenants;
}

std::string RandomToken() {
  std::array<unsigned char, 32> bytes{};
  // getentropy draws from the kernel's CSPRNG and cannot fail for <= 256 bytes unless the
  // syscall is missing, which Linux >= 3.17 has.
  if (getentropy(bytes.data(), bytes.size()) != 0) {
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      [[maybe_unused]] ssize_t n = read(fd, bytes.data(), bytes.size());
      close(fd);
    }
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

absl::StatusOr<Principal> Authenticator::Authenticate(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata, Role required) const {
  if (!tokens_.has_value()) {
    return Principal{.tenant = std::string(kDefaultTenant), .role = required};
  }
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return absl::UnauthenticatedError("missing 'authorization: Bearer <token>' metadata");
  }
  std::string_view value(it->second.data(), it->second.size());
  if (value.substr(0, kBearer.size()) != kBearer) {
    return absl::UnauthenticatedError("authorization metadata is not 'Bearer <token>'");
  }
  const Principal* principal = tokens_->Find(value.substr(kBearer.size()));
  if (principal == nullptr) return absl::UnauthenticatedError("unknown bearer token");
  if (principal->role != required) {
    return absl::UnauthenticatedError(StrCat("this call needs a ", RoleName(required),
                                             " token; the token given is a ",
                                             RoleName(principal->role), " token"));
  }
  return *principal;
}

}  // namespace mp::service
