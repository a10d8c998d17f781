// Private helpers shared by queue.cc and lease.cc.
#ifndef MP_SERVER_QUEUE_QUEUE_INTERNAL_H_
#define MP_SERVER_QUEUE_QUEUE_INTERNAL_H_

#include <string>
#include <string_view>

#include "modelpress/v1/job.pb.h"
#include "server/store/store.h"

namespace mp::queue::internal {

// An event recording the job's current state, progress, ETA and step, with `log`.
inline modelpress::v1::JobEvent StateEvent(const store::JobRecord& record, int64_t now_ms,
                                           std::string_view log) {
  modelpress::v1::JobEvent event;
  event.set_unix_ms(now_ms);
  event.set_state(record.job.state());
  event.set_progress(record.job.progress());
  event.set_eta_seconds(record.job.eta_seconds());
  event.set_step(record.job.step());
  event.set_log(std::string(log));
  return event;
}

// Readable state name, e.g. "SUCCEEDED".
inline std::string StateName(modelpress::v1::JobState state) {
  std::string name = modelpress::v1::JobState_Name(state);
  constexpr std::string_view kPrefix = "JOB_STATE_";
  if (name.rfind(kPrefix, 0) == 0) name.erase(0, kPrefix.size());
  return name;
}

}  // namespace mp::queue::internal

#endif  // MP_SERVER_QUEUE_QUEUE_INTERNAL_H_
