#include <chrono>

#include "client/client.h"
#include "common/str_cat.h"

namespace mp::client {

namespace v1 = ::modelpress::v1;

Connection::Connection(std::shared_ptr<grpc::ChannelInterface> channel, std::string token)
    : token_(std::move(token)),
      jobs_(v1::JobService::NewStub(channel)),
      models_(v1::ModelService::NewStub(channel)),
      datasets_(v1::DatasetService::NewStub(channel)) {}

std::unique_ptr<Connection> Connection::Dial(const std::string& server, std::string token) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(8 << 20);
  return std::make_unique<Connection>(
      grpc::CreateCustomChannel(server, grpc::InsecureChannelCredentials(), args),
      std::move(token));
}

std::unique_ptr<grpc::ClientContext> Connection::Context(int64_t timeout_ms) const {
  auto context = std::make_unique<grpc::ClientContext>();
  if (!token_.empty()) context->AddMetadata("authorization", "Bearer " + token_);
  if (timeout_ms > 0) {
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));
  }
  return context;
}

absl::Status FromGrpc(const grpc::Status& status, std::string_view what) {
  if (status.ok()) return absl::OkStatus();
  std::string message = status.error_message();
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    message += " (is modelpress-server running? see --server)";
  }
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      mp::StrCat(what, ": ", message));
}

}  // namespace mp::client
