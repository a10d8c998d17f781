#include "server/dashboard/data.h"

#include <algorithm>

namespace mp::dashboard {
namespace {

bool IsTerminal(v1::JobState state) {
  return state == v1::JOB_STATE_SUCCEEDED || state == v1::JOB_STATE_FAILED ||
         state == v1::JOB_STATE_CANCELLED || state == v1::JOB_STATE_DEAD;
}

}  // namespace

const std::vector<double>& JobDurationBuckets() {
  static const std::vector<double>* const kBuckets =
      new std::vector<double>{0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600};
  return *kBuckets;
}

void JobStats::AddJob(const v1::Job& job) {
  const v1::JobKind kind = job.spec().kind();
  ++by_kind_state[{kind, job.state()}];
  ++submitted[kind];
  attempts[kind] += job.attempts();
  if (!IsTerminal(job.state()) || job.started_unix_ms() <= 0 ||
      job.finished_unix_ms() < job.started_unix_ms()) {
    return;
  }
  const double seconds =
      static_cast<double>(job.finished_unix_ms() - job.started_unix_ms()) / 1000.0;
  const std::vector<double>& bounds = JobDurationBuckets();
  Durations& d = durations[kind];
  if (d.counts.empty()) d.counts.assign(bounds.size() + 1, 0);
  // `le` is inclusive: a value equal to a bound belongs to that bound's bucket.
  const size_t i =
      static_cast<size_t>(std::lower_bound(bounds.begin(), bounds.end(), seconds) - bounds.begin());
  ++d.counts[i];
  d.sum_seconds += seconds;
}

}  // namespace mp::dashboard
