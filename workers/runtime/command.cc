#include "workers/runtime/command.h"

#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "common/ids.h"
#include "common/logging.h"
#include "common/str_cat.h"
#include "common/version.h"
#include "spdlog/spdlog.h"
#include "workers/runtime/recipes.h"
#include "workers/runtime/runtime.h"

namespace mp::runtime {

absl::Status SetMemoryLimit(int64_t mb) {
  if (mb <= 0) return absl::OkStatus();
  rlimit limit{};
  if (getrlimit(RLIMIT_AS, &limit) != 0) {
    return absl::InternalError(mp::StrCat("getrlimit(RLIMIT_AS): ", std::strerror(errno)));
  }
  const rlim_t bytes = static_cast<rlim_t>(mb) << 20;
  if (limit.rlim_max != RLIM_INFINITY && bytes > limit.rlim_max) {
    return absl::InvalidArgumentError(mp::StrCat(
        "--max-memory-mb ", mb, " is above the hard limit of ", limit.rlim_max >> 20, " MiB"));
  }
  limit.rlim_cur = bytes;
  if (setrlimit(RLIMIT_AS, &limit) != 0) {
    return absl::InternalError(mp::StrCat("setrlimit(RLIMIT_AS): ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

void AddWorkerCommandFlags(CLI::App* app, WorkerCommandOptions* o) {
  app->add_option("--server", o->server, "Server HOST:PORT (default: $MODELPRESS_SERVER)");
  app->add_option("--token", o->token, "Bearer token (default: $MODELPRESS_TOKEN)");
  app->add_option("--threads", o->threads, "Kernel threads per job (0: all cores)")
      ->check(CLI::Range(0, 1024));
  app->add_option("--work-dir", o->work_dir, "Parent of per-job directories (default: $TMPDIR)");
  app->add_option("--max-memory-mb", o->max_memory_mb, "RLIMIT_AS of the process (0: none)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 30));
  app->add_option("--max-job-seconds", o->max_job_seconds,
                  "Watchdog: fail a longer job (retryable) and exit 75 (0: none)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  app->add_option("--drain-seconds", o->drain_seconds,
                  "On SIGTERM/SIGINT, how long the running job may still run")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  app->add_flag("--once", o->once, "Exit after one job");
}

namespace {

std::string FromEnv(const std::string& flag, const char* name) {
  if (!flag.empty()) return flag;
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

}  // namespace

int RunWorkerCommand(const WorkerCommandOptions& options) {
  if (absl::Status s = InitLogging("worker"); !s.ok()) {
    fprintf(stderr, "modelpress-worker: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  const std::string server = FromEnv(options.server, "MODELPRESS_SERVER");
  if (server.empty()) {
    fprintf(stderr, "modelpress-worker: --server HOST:PORT (or MODELPRESS_SERVER) is required\n");
    return 2;
  }
  if (absl::Status s = SetMemoryLimit(options.max_memory_mb); !s.ok()) {
    fprintf(stderr, "modelpress-worker: %s\n", std::string(s.message()).c_str());
    return 2;
  }

  // Signals go to one thread (sigwait): block them before any other thread exists.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  WorkerOptions worker_options;
  worker_options.worker_id = WorkerId::New().value();
  worker_options.engine_version = kVersion;
  worker_options.threads = options.threads > 0
                               ? options.threads
                               : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  worker_options.work_dir = options.work_dir;
  worker_options.rpc.token = FromEnv(options.token, "MODELPRESS_TOKEN");
  worker_options.max_job_seconds = options.max_job_seconds;
  worker_options.drain_seconds = options.drain_seconds;
  worker_options.once = options.once;

  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(8 << 20);
  auto channel = grpc::CreateCustomChannel(server, grpc::InsecureChannelCredentials(), args);
  Worker worker(channel, std::move(worker_options), DefaultRecipes());

  std::atomic<bool> done{false};
  std::thread signal_thread([&] {
    const timespec poll{0, 200'000'000};
    while (!done.load()) {
      const int sig = sigtimedwait(&signals, nullptr, &poll);
      if (sig == SIGTERM || sig == SIGINT) {
        spdlog::info("received {}", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        worker.Stop();
      }
    }
  });
  const absl::Status status = worker.Run();
  done.store(true);
  signal_thread.join();
  if (!status.ok()) {
    spdlog::error("{}", std::string(status.message()));
    return 1;
  }
  return 0;
}

}  // namespace mp::runtime
