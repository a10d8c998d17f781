// The `modelpress-worker` lease-loop command (no subcommand): flags -> Worker, process
// limits, signals.
//
//   modelpress-worker --server HOST:PORT [--token T] [--threads N] [--work-dir DIR]
//                     [--max-memory-mb M] [--max-job-seconds S] [--drain-seconds S] [--once]
//
// --server defaults to $MODELPRESS_SERVER, --token to $MODELPRESS_TOKEN. --max-memory-mb
// sets RLIMIT_AS (address space, so it also bounds what a hostile model can make the
// parser allocate; not usable under AddressSanitizer, which reserves terabytes of address
// space). --max-job-seconds is a wall-time watchdog (see runtime.h). SIGTERM / SIGINT
// drain: stop leasing, let the running job finish for up to --drain-seconds, then fail it
// as retryable; exit 0.
// Exit status: 0 after a drain or --once; 2 bad usage (no server); 75 the watchdog fired.
#ifndef MP_WORKERS_RUNTIME_COMMAND_H_
#define MP_WORKERS_RUNTIME_COMMAND_H_

#include <cstdint>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"

namespace mp::runtime {

struct WorkerCommandOptions {
  std::string server;  // HOST:PORT; empty: $MODELPRESS_SERVER
  std::string token;   // empty: $MODELPRESS_TOKEN
  int threads = 0;     // 0: hardware concurrency
  std::string work_dir;
  int64_t max_memory_mb = 0;  // 0: no limit
  int64_t max_job_seconds = 0;
  int64_t drain_seconds = 30;
  bool once = false;
};

// Adds the flags above to `app` (the top level of modelpress-worker), writing into `options`.
void AddWorkerCommandFlags(CLI::App* app, WorkerCommandOptions* options);

// Sets RLIMIT_AS to `mb` MiB (0: leaves it). INVALID_ARGUMENT if above the hard limit.
absl::Status SetMemoryLimit(int64_t mb);

// Runs the lease loop until SIGTERM/SIGINT (or one job with --once). Returns the process
// exit status.
int RunWorkerCommand(const WorkerCommandOptions& options);

}  // namespace mp::runtime

#endif  // MP_WORKERS_RUNTIME_COMMAND_H_
