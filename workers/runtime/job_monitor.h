// JobMonitor: the runner's side of one leased job while it runs — the JobContext handed to
// the recipe, and one background thread that talks to the server for it.
//
// The thread is the only sender of Heartbeat and ReportProgress for the job:
//   - progress: Report() stores the latest update and returns at once; the thread sends it
//     when at least `progress_interval_ms` passed since the last one (at most 4/s by
//     default). Updates overwritten in between are dropped; Flush() always sends the last.
//   - heartbeat: every `heartbeat_interval_ms` (TTL/3) without a progress send (which renews
//     the lease too).
//   - cancellation: a reply with `cancelled` -> outcome kCancelled; ABORTED / NOT_FOUND /
//     FAILED_PRECONDITION -> kLeaseLost (another worker holds the job, or it is over). Both
//     make Report() return CANCELLED and cancelled() true. Transient errors are retried at
//     the next interval.
//   - watchdog: once the job has run `max_job_seconds`, the thread fails it (retryable) and
//     calls hard_exit(kWatchdogExitCode): a recipe stuck in a kernel cannot be stopped in
//     place, so the process exits and its supervisor restarts it clean.
//   - drain: after Drain() the job has `drain_seconds`; then the thread fails it
//     (retryable), cancels the recipe, and if the recipe has not returned within
//     `drain_grace_ms` calls hard_exit(0).
// The runner ends the job with ClaimTerminal() (true: the runner sends Complete/FailJob, and
// the thread sends nothing more; false: the monitor or the server already ended it) and then
// Stop().
//
// Time comes from `clock` (tests pass a FakeClock); the thread polls at least every 100 ms.
// Thread-safe.
#ifndef MP_WORKERS_RUNTIME_JOB_MONITOR_H_
#define MP_WORKERS_RUNTIME_JOB_MONITOR_H_

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "modelpress/v1/worker.grpc.pb.h"
#include "workers/engine/pipeline/job.h"
#include "workers/runtime/rpc.h"

namespace mp::runtime {

// Exit status of a worker whose job exceeded --max-job-seconds (EX_TEMPFAIL).
inline constexpr int kWatchdogExitCode = 75;

struct MonitorConfig {
  std::string job_id;
  int64_t epoch = 0;
  int64_t heartbeat_interval_ms = 10'000;
  int64_t progress_interval_ms = 250;
  int64_t max_job_seconds = 0;  // 0: no watchdog
  int64_t drain_seconds = 30;
  int64_t drain_grace_ms = 5'000;
  std::filesystem::path work_dir;
  int threads = 1;
  Clock* clock = nullptr;
  std::function<void(int exit_code)> hard_exit;
};

class JobMonitor final : public pipeline::JobContext {
 public:
  enum class Outcome {
    kActive,     // running; nobody has ended it
    kFinishing,  // the runner claimed the terminal call
    kCancelled,  // the server said the job was cancelled
    kLeaseLost,  // the server refused our epoch
    kWatchdog,   // failed by the watchdog
    kDrained,    // failed by the drain deadline
  };

  JobMonitor(modelpress::v1::WorkerService::StubInterface& stub, RpcConfig rpc,
             MonitorConfig config);
  ~JobMonitor() override;  // Stop()s

  void Start();
  // Sends the pending progress update (if any) and waits until it has been answered.
  void Flush();
  // Stops the thread (no flush). Idempotent.
  void Stop();
  // Starts the drain clock (idempotent).
  void Drain();
  // True exactly once, while the outcome is kActive (it becomes kFinishing): waits for an
  // RPC in flight and drops unsent progress (Flush() first to send it).
  bool ClaimTerminal();
  Outcome outcome() const;

  // pipeline::JobContext
  absl::Status Report(const pipeline::ProgressUpdate& update) override;
  bool cancelled() const override { return cancelled_.load(std::memory_order_acquire); }
  const std::filesystem::path& work_dir() const override { return config_.work_dir; }
  int num_threads() const override { return config_.threads; }
  Clock* clock() const override { return config_.clock; }

 private:
  void Loop();
  // Applies the reply of a Heartbeat / ReportProgress.
  void HandleReply(const absl::Status& status, const modelpress::v1::HeartbeatResponse& reply)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Fails the job (retryable) on behalf of the watchdog or the drain.
  void EndByMonitor(Outcome outcome, const std::string& error) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetOutcome(Outcome outcome) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  modelpress::v1::WorkerService::StubInterface& stub_;
  const RpcConfig rpc_;
  const MonitorConfig config_;
  std::atomic<bool> cancelled_{false};

  mutable absl::Mutex mu_;
  absl::CondVar cv_;
  std::thread thread_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  Outcome outcome_ ABSL_GUARDED_BY(mu_) = Outcome::kActive;
  std::optional<pipeline::ProgressUpdate> pending_ ABSL_GUARDED_BY(mu_);
  bool in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool flush_requested_ ABSL_GUARDED_BY(mu_) = false;
  int64_t start_nanos_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t last_renewal_nanos_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t last_progress_nanos_ ABSL_GUARDED_BY(mu_) = 0;
  bool progress_sent_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<int64_t> drain_start_nanos_ ABSL_GUARDED_BY(mu_);
  std::optional<int64_t> drain_failed_nanos_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mp::runtime

#endif  // MP_WORKERS_RUNTIME_JOB_MONITOR_H_
