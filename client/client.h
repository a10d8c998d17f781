// mp::client — the `modelpress` CLI: one file per subcommand (cmd_*.cc) over a thin wrapper of
// the generated gRPC clients (Connection). The client includes only proto/ and common/ (DESIGN.md
// §3): it talks to the server through the public gRPC API, exactly as a Python client would.
//
//   modelpress [--server HOST:PORT] [--token T] [--json] <command> ...
//
// --server defaults to $MODELPRESS_SERVER, else 127.0.0.1:7070; --token to $MODELPRESS_TOKEN
// (sent as `authorization: Bearer <token>`). Commands (commands.h): upload, models,
// show-model, upload-data, datasets, ptq, submit, jobs, show, watch, cancel, download.
// Output: human tables by default; with --json, the proto messages in proto JSON form (one
// object per line for streams). Errors: one line on stderr naming the culprit
// ("model file 'x.onnx': no such file"), and the exit status of exit_codes.h.
#ifndef MP_CLIENT_CLIENT_H_
#define MP_CLIENT_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "modelpress/v1/job.grpc.pb.h"
#include "modelpress/v1/model.grpc.pb.h"

namespace mp::client {

inline constexpr char kDefaultServer[] = "127.0.0.1:7070";

// Generated clients of the three public services on one channel, and per-call contexts carrying
// the token.
class Connection {
 public:
  Connection(std::shared_ptr<grpc::ChannelInterface> channel, std::string token);
  // An insecure channel to `server` (HOST:PORT).
  static std::unique_ptr<Connection> Dial(const std::string& server, std::string token);

  // A context with the bearer token and a deadline `timeout_ms` from now (none if <= 0).
  std::unique_ptr<grpc::ClientContext> Context(int64_t timeout_ms = 60'000) const;

  modelpress::v1::JobService::StubInterface& jobs() { return *jobs_; }
  modelpress::v1::ModelService::StubInterface& models() { return *models_; }
  modelpress::v1::DatasetService::StubInterface& datasets() { return *datasets_; }

 private:
  std::string token_;
  std::unique_ptr<modelpress::v1::JobService::StubInterface> jobs_;
  std::unique_ptr<modelpress::v1::ModelService::StubInterface> models_;
  std::unique_ptr<modelpress::v1::DatasetService::StubInterface> datasets_;
};

// grpc::Status -> absl::Status with the same code; message "<what>: <server message>".
absl::Status FromGrpc(const grpc::Status& status, std::string_view what);

}  // namespace mp::client

#endif  // MP_CLIENT_CLIENT_H_
