#include "server/service/service.h"

#include <chrono>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "common/status.h"
#include "common/str_cat.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "server/service/dataset_service.h"
#include "server/service/job_service.h"
#include "server/service/model_service.h"
#include "server/service/worker_service.h"
#include "spdlog/spdlog.h"

namespace mp::service {

struct GrpcServer::Services {
  explicit Services(ServiceCore* core) : models(core), datasets(core), jobs(core), workers(core) {}
  ModelServiceImpl models;
  DatasetServiceImpl datasets;
  JobServiceImpl jobs;
  WorkerServiceImpl workers;
};

namespace {

constexpr const char* kServiceNames[] = {
    "",  // the server as a whole
    "modelpress.v1.ModelService",
    "modelpress.v1.DatasetService",
    "modelpress.v1.JobService",
    "modelpress.v1.WorkerService",
};

void SetServing(grpc::Server* server, bool serving) {
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  if (health == nullptr) return;
  for (const char* name : kServiceNames) health->SetServingStatus(name, serving);
}

}  // namespace

absl::Status ParseHostPort(const std::string& text, std::string* host, int* port) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 >= text.size()) {
    return absl::InvalidArgumentError(StrCat("address '", text, "': expected HOST:PORT"));
  }
  int parsed = 0;
  if (!absl::SimpleAtoi(absl::string_view(text.data() + colon + 1, text.size() - colon - 1),
                        &parsed) ||
      parsed < 0 || parsed > 65535) {
    return absl::InvalidArgumentError(
        StrCat("address '", text, "': port must be a number in [0, 65535]"));
  }
  *host = text.substr(0, colon);
  *port = parsed;
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(const std::string& listen,
                                                              const ServerDeps& deps,
                                                              ServiceOptions options) {
  std::string host;
  int requested_port = 0;
  RETURN_IF_ERROR(ParseHostPort(listen, &host, &requested_port));

  std::unique_ptr<GrpcServer> server(new GrpcServer());
  server->core_ = std::make_unique<ServiceCore>(deps.store, deps.blobs, deps.queue, deps.clock,
                                                deps.auth, std::move(options));
  server->services_ = std::make_unique<Services>(server->core_.get());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &bound_port);
  builder.SetMaxReceiveMessageSize(kMaxReceiveMessageBytes);
  builder.RegisterService(&server->services_->models);
  builder.RegisterService(&server->services_->datasets);
  builder.RegisterService(&server->services_->jobs);
  builder.RegisterService(&server->services_->workers);
  if (deps.configure_builder) deps.configure_builder(builder);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || bound_port == 0) {
    server->core_->StopExecutor();
    return absl::UnavailableError(StrCat("cannot listen for gRPC on '", listen, "'"));
  }
  SetServing(server->server_.get(), true);
  server->port_ = bound_port;
  const bool wildcard = host.empty() || host == "0.0.0.0" || host == "[::]" || host == "::";
  server->address_ = StrCat(wildcard ? std::string("127.0.0.1") : host, ":", bound_port);
  spdlog::info("gRPC serving on {} (listen '{}')", server->address_, listen);
  return server;
}

void GrpcServer::BeginShutdown() {
  if (began_shutdown_) return;
  began_shutdown_ = true;
  SetServing(server_.get(), false);
  if (grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService()) {
    health->Shutdown();  // NOT_SERVING for everything, frozen
  }
  core_->BeginShutdown();
}

void GrpcServer::Shutdown(std::chrono::milliseconds grace) {
  if (shut_down_) return;
  BeginShutdown();
  shut_down_ = true;
  server_->Shutdown(std::chrono::system_clock::now() + grace);
  server_->Wait();
  core_->StopExecutor();
}

GrpcServer::~GrpcServer() {
  if (server_ != nullptr) Shutdown(std::chrono::milliseconds(0));
}

}  // namespace mp::service
