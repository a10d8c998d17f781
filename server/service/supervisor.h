// ProcessSupervisor: keeps N copies of a child process running (the local workers).
//
// The server spawns `--local-workers N` copies of `modelpress-worker --server HOST:PORT`
// and restarts any that exits, after a backoff that doubles with each quick death (from
// `min_backoff` up to `max_backoff`; a child that lived `stable_after` resets it), so a
// crash loop costs little CPU. The command is injectable so tests supervise /bin/sleep.
//
// Mechanics: children are started with fork + execv (the child only makes async-signal-safe
// calls: signal mask and SIGPIPE reset, PR_SET_PDEATHSIG so a killed server takes its
// workers along, close_range(CLOEXEC) so no server fd such as the database leaks into a
// worker). Each child is watched through a pidfd on the supervisor's own Boost.Asio thread:
// no SIGCHLD handler is installed and only our own pids are reaped (waitpid(pid)), so other
// children of the process are never stolen. Without pidfd support (Linux < 5.3) the thread
// polls waitpid(pid, WNOHANG) every 200 ms instead.
//
// Stop() sends SIGTERM to every child, waits up to `grace` for them to exit, SIGKILLs the
// rest, reaps them all and joins the thread.
#ifndef MP_SERVER_SERVICE_SUPERVISOR_H_
#define MP_SERVER_SERVICE_SUPERVISOR_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace mp::service {

struct SupervisorOptions {
  // argv of the child; command[0] is a path, or a bare name looked up on PATH at Start().
  std::vector<std::string> command;
  // Environment variables set in the children (on top of the server's own environment).
  std::vector<std::pair<std::string, std::string>> env;
  int count = 1;
  std::chrono::milliseconds min_backoff{250};
  std::chrono::milliseconds max_backoff{30000};
  std::chrono::milliseconds stable_after{10000};
};

class ProcessSupervisor {
 public:
  explicit ProcessSupervisor(SupervisorOptions options);
  ProcessSupervisor(const ProcessSupervisor&) = delete;
  ProcessSupervisor& operator=(const ProcessSupervisor&) = delete;
  // Stops (grace 5 s) if still running.
  ~ProcessSupervisor();

  // Resolves the command (NOT_FOUND naming it if it is not an executable file), spawns
  // `count` children and starts the supervising thread. Call once.
  absl::Status Start();

  // Terminates the children (SIGTERM, then SIGKILL after `grace`), reaps them and joins the
  // thread. Idempotent.
  void Stop(std::chrono::milliseconds grace);

  // Pids of the children alive now (slots waiting out a backoff are omitted).
  std::vector<pid_t> Pids() const;
  // Children that exited while the supervisor was running (each is restarted).
  int64_t exits() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mp::service

#endif  // MP_SERVER_SERVICE_SUPERVISOR_H_
