// mp::runtime — the worker's side of the service: the lease loop (DESIGN.md §2, §6).
//
// A Worker repeatedly long-polls WorkerService.LeaseJob and runs each job it gets to the
// end (job_runner.h): fetch the input blobs (sha256 verified), convert the JobSpec to engine
// options (convert.h: the only place proto meets the engine), run the recipe (recipes.h)
// with a JobMonitor as its JobContext (job_monitor.h: heartbeats every TTL/3, rate-limited
// progress, cancellation from the heartbeat reply, the --max-job-seconds watchdog and the
// drain deadline), put the artifacts, CompleteJob / FailJob.
//
// Robustness: a server that is unavailable (or refuses the token) is retried with
// exponential backoff and jitter, forever; the worker never crashes on anything the server
// or the model says. One job at a time per process.
//
// Shutdown: Stop() (the SIGTERM/SIGINT handler of command.h calls it) stops leasing at once
// (an outstanding LeaseJob is cancelled); a running job gets `drain_seconds` to finish, then
// it is failed as retryable and Run() returns.
//
// Resource limits (command.h): --max-memory-mb sets RLIMIT_AS for the whole process; the
// watchdog fails a job that runs longer than --max-job-seconds (wall time) as retryable and
// exits the process with status 75 so its supervisor (the server, or Kubernetes) restarts a
// clean one.
#ifndef MP_WORKERS_RUNTIME_RUNTIME_H_
#define MP_WORKERS_RUNTIME_RUNTIME_H_

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "modelpress/v1/worker.grpc.pb.h"
#include "workers/runtime/recipes.h"
#include "workers/runtime/rpc.h"

namespace mp::runtime {

class JobMonitor;

struct WorkerOptions {
  std::string worker_id;           // a WorkerId ("worker_<16 hex>")
  std::string engine_version;      // recorded in each job (common/version.h)
  int threads = 1;                 // kernel threads per job
  std::filesystem::path work_dir;  // parent of the per-job directories; empty: $TMPDIR
  RpcConfig rpc;
  int64_t lease_wait_ms = 10'000;  // LeaseJob long-poll budget
  int64_t max_job_seconds = 0;     // watchdog; 0: none
  int64_t drain_seconds = 30;
  int64_t drain_grace_ms = 5'000;  // after a failed drain, before hard_exit(0)
  int64_t progress_interval_ms = 250;
  int64_t min_heartbeat_ms = 1'000;  // clamp of TTL/3 (clock skew must not make it spin)
  int64_t max_heartbeat_ms = 30'000;
  int64_t backoff_initial_ms = 200;
  int64_t backoff_max_ms = 10'000;
  int max_terminal_attempts = 5;  // CompleteJob / FailJob tries on transient errors
  bool once = false;              // return after one job
  Clock* clock = SystemClock::Get();
  // Ends the process (watchdog, stuck drain); tests replace it.
  std::function<void(int exit_code)> hard_exit = [](int code) { std::_Exit(code); };
};

class Worker {
 public:
  Worker(std::shared_ptr<grpc::ChannelInterface> channel, WorkerOptions options,
         RecipeTable recipes);
  ~Worker();

  // The lease loop; returns after Stop() (once the current job ended or was drained) or,
  // with `once`, after one job.
  absl::Status Run();
  // Thread-safe; returns at once.
  void Stop();
  // Jobs run to an end so far (for --once and tests).
  int jobs_run() const;

 private:
  void Track(JobMonitor* monitor);
  // Waits `ms` or until Stop(); false if stopping.
  bool WaitOrStop(int64_t ms);

  std::unique_ptr<modelpress::v1::WorkerService::StubInterface> stub_;
  const WorkerOptions options_;
  const RecipeTable recipes_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* lease_call_ ABSL_GUARDED_BY(mu_) = nullptr;
  JobMonitor* monitor_ ABSL_GUARDED_BY(mu_) = nullptr;
  int jobs_run_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace mp::runtime

#endif  // MP_WORKERS_RUNTIME_RUNTIME_H_
