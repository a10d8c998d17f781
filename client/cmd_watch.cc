// modelpress watch JOB: a live progress bar on a terminal (plain lines otherwise, one JSON
// event per line with --json), then the final job; exits with the job's outcome.
#include <sys/ioctl.h>
#include <unistd.h>

#include "client/commands.h"
#include "client/exit_codes.h"
#include "client/format.h"
#include "client/watch.h"
#include "common/status.h"

namespace mp::client {

namespace v1 = ::modelpress::v1;

namespace {

int TerminalWidth() {
  winsize ws{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}

}  // namespace

absl::Status WatchCommand(const std::string& id, CommandEnv& env) {
  std::ostream& out = *env.out;
  PlainLineFilter filter;
  bool bar_drawn = false;
  const int width = env.tty ? TerminalWidth() : 80;
  auto on_event = [&](const v1::JobEvent& event) {
    if (env.json) {
      PrintJson(event, out);
    } else if (env.tty) {
      out << "\r\033[K" << RenderProgressBar(event, width) << std::flush;
      bar_drawn = true;
    } else if (filter.ShouldPrint(event)) {
      out << RenderPlainLine(event) << "\n" << std::flush;
    }
  };
  absl::StatusOr<v1::Job> job = FollowJob(*env.conn, id, on_event);
  if (bar_drawn) out << "\n";
  if (!job.ok()) return job.status();
  if (env.json) {
    PrintJson(*job, out);
  } else {
    PrintJobSummary(*job, out);
  }
  env.job_exit = ExitCodeForJobState(job->state());
  return absl::OkStatus();
}

}  // namespace mp::client
