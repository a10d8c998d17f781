#include "server/main/run_server.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/file_util.h"
#include "common/metrics.h"
#include "common/status.h"
#include "nlohmann/json.hpp"
#include "server/dashboard/server_metrics.h"
#include "server/dashboard/service_hook.h"
#include "server/queue/queue.h"
#include "server/service/auth.h"
#include "server/service/service.h"
#include "server/service/supervisor.h"
#include "server/store/blob_store.h"
#include "server/store/store.h"
#include "spdlog/spdlog.h"

namespace mp::server {
namespace {

sigset_t ShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

int WaitForShutdownSignal() {
  const sigset_t set = ShutdownSignals();
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) == 0 && sig != SIGHUP) return sig;
    if (sig == SIGHUP) spdlog::info("SIGHUP ignored (send SIGTERM or SIGINT to stop)");
  }
}

absl::StatusOr<service::Authenticator> MakeAuthenticator(const ServerFlags& flags,
                                                         std::string* worker_token,
                                                         std::vector<std::string>* tenants) {
  if (flags.tokens_file.empty()) {
    spdlog::warn("no --tokens: authentication is off, every call is tenant 'default'");
    return service::Authenticator(std::nullopt);
  }
  ASSIGN_OR_RETURN(service::TokenTable table, service::TokenTable::Load(flags.tokens_file));
  *tenants = table.UserTenants();
  if (flags.local_workers > 0) {
    *worker_token = service::RandomToken();
    table.Add(*worker_token,
              service::Principal{.tenant = "local-workers", .role = service::Role::kWorker});
  }
  spdlog::info("authentication on: {} tokens from {}", table.size(), flags.tokens_file);
  return service::Authenticator(std::move(table));
}

absl::Status WriteReadyFile(const std::string& path, const std::string& grpc_address,
                            const std::string& http_address) {
  nlohmann::json ready = {
      {"grpc", grpc_address}, {"http", http_address}, {"pid", static_cast<int64_t>(getpid())}};
  return AtomicWriteFile(path, ready.dump() + "\n");
}

}  // namespace

void BlockShutdownSignals() {
  const sigset_t set = ShutdownSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

std::string ResolveWorkerBinary(const std::string& flag) {
  if (!flag.empty()) return flag;
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const std::filesystem::path dir = exe.parent_path();
    for (const std::filesystem::path& candidate :
         {dir / "modelpress-worker", dir.parent_path() / "workers" / "modelpress-worker"}) {
      if (access(candidate.c_str(), X_OK) == 0) return candidate.lexically_normal().string();
    }
  }
  return "modelpress-worker";
}

absl::Status RunServer(const ServerFlags& flags) {
  std::error_code ec;
  std::filesystem::create_directories(flags.data_dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        StrCat("--data-dir '", flags.data_dir, "': cannot create: ", ec.message()));
  }
  std::string worker_token;
  std::vector<std::string> tenants;
  ASSIGN_OR_RETURN(service::Authenticator auth, MakeAuthenticator(flags, &worker_token, &tenants));
  // Metrics: gRPC calls counted by an interceptor, HTTP and store figures by the dashboard.
  metrics::Registry registry;
  dashboard::ServerMetrics server_metrics(&registry);
  const service::HttpListenerFactory http_factory =
      dashboard::MakeHttpListenerFactory({.metrics = &server_metrics, .tenants = tenants});

  Clock* clock = SystemClock::Get();
  ASSIGN_OR_RETURN(std::unique_ptr<store::Store> db,
                   store::Store::Open({.data_dir = flags.data_dir, .clock = clock}));
  ASSIGN_OR_RETURN(std::unique_ptr<store::BlobStore> blobs,
                   store::BlobStore::Open(flags.data_dir + "/blobs"));
  queue::QueueOptions queue_options;
  queue_options.lease_ttl_ms = flags.lease_ttl_ms;
  queue_options.default_max_attempts = flags.max_attempts;
  queue_options.max_queued_per_tenant = flags.max_queued_jobs;
  ASSIGN_OR_RETURN(std::unique_ptr<queue::Queue> jobs,
                   queue::Queue::Create(db.get(), clock, queue_options));
  jobs->StartBackground();

  service::ServiceOptions options;
  options.max_upload_bytes = flags.max_upload_bytes;
  options.tenant_quota_bytes = flags.tenant_quota_bytes;
  ASSIGN_OR_RETURN(std::unique_ptr<service::GrpcServer> grpc_server,
                   service::GrpcServer::Start(flags.listen,
                                              {.store = db.get(),
                                               .blobs = blobs.get(),
                                               .queue = jobs.get(),
                                               .clock = clock,
                                               .auth = &auth,
                                               .configure_builder =
                                                   [&](grpc::ServerBuilder& builder) {
                                                     dashboard::AddMetricsInterceptor(
                                                         builder, &server_metrics);
                                                   }},
                                              options));

  std::unique_ptr<service::HttpListener> http;
  std::string http_address;
  if (flags.http != "off") {
    {
      service::HttpContext context{.store = db.get(),
                                   .blobs = blobs.get(),
                                   .queue = jobs.get(),
                                   .clock = clock,
                                   .auth = &auth,
                                   .grpc_address = grpc_server->address()};
      ASSIGN_OR_RETURN(http, http_factory(flags.http, context));
      http_address = http->address();
      spdlog::info("HTTP serving on {}", http_address);
    }
  }

  const std::chrono::milliseconds grace(flags.shutdown_grace_ms);
  std::unique_ptr<service::ProcessSupervisor> workers;
  if (flags.local_workers > 0) {
    service::SupervisorOptions supervisor;
    supervisor.command = {ResolveWorkerBinary(flags.worker_binary), "--server",
                          grpc_server->address()};
    if (flags.worker_threads > 0) {
      supervisor.command.push_back("--threads");
      supervisor.command.push_back(std::to_string(flags.worker_threads));
    }
    for (const std::string& arg : flags.worker_args) supervisor.command.push_back(arg);
    if (!worker_token.empty()) supervisor.env.emplace_back("MODELPRESS_TOKEN", worker_token);
    supervisor.count = flags.local_workers;
    workers = std::make_unique<service::ProcessSupervisor>(std::move(supervisor));
    if (absl::Status s = workers->Start(); !s.ok()) {
      grpc_server->Shutdown(std::chrono::milliseconds(0));
      if (http != nullptr) http->Stop();
      return Annotate(s, "--local-workers");
    }
    server_metrics.SetLocalWorkerRestarts([w = workers.get()] { return w->exits(); });
  }

  if (!flags.ready_file.empty()) {
    absl::Status s = WriteReadyFile(flags.ready_file, grpc_server->address(), http_address);
    if (!s.ok()) spdlog::error("--ready-file: {}", std::string(s.message()));
  }
  spdlog::info("modelpress-server ready (pid {}, {} local workers)", getpid(), flags.local_workers);

  const int sig = WaitForShutdownSignal();
  spdlog::info("{} received: shutting down (grace {} ms)", strsignal(sig), flags.shutdown_grace_ms);
  grpc_server->BeginShutdown();
  if (http != nullptr) http->Stop();
  if (workers != nullptr) workers->Stop(grace);
  grpc_server->Shutdown(grace);
  jobs->Shutdown();
  grpc_server.reset();
  jobs.reset();
  db.reset();
  if (!flags.ready_file.empty()) unlink(flags.ready_file.c_str());
  spdlog::info("modelpress-server stopped");
  return absl::OkStatus();
}

}  // namespace mp::server
