// Following a job: the WatchJob stream (reconnecting after transient errors from the last
// sequence seen), and how events are rendered.
//
// On a terminal, one line redrawn in place ("\r\033[K"):
//   [#############...........]  52%  calibrate  ETA 0:12
// Otherwise (logs, pipes, tests), a plain line per event that changes the state or the step,
// carries a log line, or crosses a 10% progress boundary:
//   running   52%  calibrate  eta 0:12
#ifndef MP_CLIENT_WATCH_H_
#define MP_CLIENT_WATCH_H_

#include <functional>
#include <optional>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "client/client.h"
#include "modelpress/v1/job.pb.h"

namespace mp::client {

// The bar line for a terminal `width` columns wide (no "\r"; at most width - 1 columns).
std::string RenderProgressBar(const modelpress::v1::JobEvent& event, int width);
// The plain line (no newline).
std::string RenderPlainLine(const modelpress::v1::JobEvent& event);

// Decides which events a non-terminal output prints (see the header comment).
class PlainLineFilter {
 public:
  bool ShouldPrint(const modelpress::v1::JobEvent& event);

 private:
  std::optional<modelpress::v1::JobState> state_;
  std::string step_;
  int decile_ = -1;
};

// Streams the job's events until it is terminal, calling `on_event` for each; then returns
// the job (GetJob). Transient stream errors reconnect after the last sequence (at most 5
// times in a row).
absl::StatusOr<modelpress::v1::Job> FollowJob(
    Connection& conn, const std::string& job_id,
    const std::function<void(const modelpress::v1::JobEvent&)>& on_event);

bool IsTerminal(modelpress::v1::JobState state);

// The final report of a job: state, error, metrics table, artifacts.
void PrintJobSummary(const modelpress::v1::Job& job, std::ostream& out);

}  // namespace mp::client

#endif  // MP_CLIENT_WATCH_H_
