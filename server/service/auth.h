// Authentication: bearer tokens mapped to a tenant and a role.
//
// Every RPC carries metadata `authorization: Bearer <token>`. The token table comes from the
// `--tokens FILE` flag, one token a line:
//
//   # comment
//   TOKEN TENANT [user|worker]      (role defaults to user)
//
// User RPCs (ModelService, DatasetService, JobService) need a user token and run in its
// tenant; WorkerService needs a worker token. Without a table, authentication is off and
// every call is tenant "default" with any role. A missing or unknown token, or a token of
// the wrong role, is UNAUTHENTICATED.
#ifndef MP_SERVER_SERVICE_AUTH_H_
#define MP_SERVER_SERVICE_AUTH_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/server_context.h"

namespace mp::service {

enum class Role { kUser, kWorker };

// Who is calling.
struct Principal {
  std::string tenant;
  Role role = Role::kUser;
};

// Tenant used for every call when authentication is off.
inline constexpr std::string_view kDefaultTenant = "default";

class TokenTable {
 public:
  // Parses the token file format above. `source` names the file in error messages; a bad
  // line is INVALID_ARGUMENT naming "<source>:<line>". A duplicate token is an error too.
  static absl::StatusOr<TokenTable> Parse(std::string_view text, std::string_view source);
  // Reads and parses `path`.
  static absl::StatusOr<TokenTable> Load(const std::string& path);

  // Adds (or replaces) a token; tokens must be non-empty and free of whitespace.
  void Add(std::string token, Principal principal);
  // The principal for `token`, or nullptr.
  const Principal* Find(std::string_view token) const;
  size_t size() const { return tokens_.size(); }
  // The distinct tenants of user tokens, sorted (the dashboard reports per tenant).
  std::vector<std::string> UserTenants() const;

 private:
  absl::flat_hash_map<std::string, Principal> tokens_;
};

// Returns a fresh random token (32 bytes from the OS as 64 hex digits).
std::string RandomToken();

class Authenticator {
 public:
  // `tokens` unset: authentication off.
  explicit Authenticator(std::optional<TokenTable> tokens) : tokens_(std::move(tokens)) {}

  bool enabled() const { return tokens_.has_value(); }

  // Authenticates the call behind `metadata` (the client's metadata) for `required`.
  absl::StatusOr<Principal> Authenticate(
      const std::multimap<grpc::string_ref, grpc::string_ref>& metadata, Role required) const;

  // Same, reading the metadata of `context`.
  absl::StatusOr<Principal> Authenticate(const grpc::ServerContextBase& context,
                                         Role required) const {
    return Authenticate(context.client_metadata(), required);
  }

 private:
  std::optional<TokenTable> tokens_;
};

}  // namespace mp::service

#endif  // MP_SERVER_SERVICE_AUTH_H_
