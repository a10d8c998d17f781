// The key figures of a finished PRUNE, DISTILL or COMPOSE job on its dashboard page: one row
// per figure (accuracy, size, MACs, latency), one column per model the job measured
// (original / pruned; teacher / student before / student after; fp32 / pruned / int8), and
// the change from the first column to the last (accuracy in points, the rest as a ratio).
// Built from Job.metrics alone (the metric names of workers/engine/pipeline/{prune,distill,
// compose}.h); a figure the job did not report is left out, a missing cell is "-". A job that
// ran quantization-aware training (DISTILL / COMPOSE with qat_epochs > 0) also gets a table of
// its int8 accuracy with plain PTQ vs with QAT (student_accuracy_int8_ptq / _int8; compose
// accuracy_int8_ptq / accuracy_int8).
#ifndef MP_SERVER_DASHBOARD_JOB_SUMMARY_H_
#define MP_SERVER_DASHBOARD_JOB_SUMMARY_H_

#include <string>

#include "modelpress/v1/job.pb.h"

namespace mp::dashboard {

// HTML ("<h2>Summary</h2><table>...") or "" for other kinds and jobs without those metrics.
std::string CompressionSummary(const modelpress::v1::Job& job);

}  // namespace mp::dashboard

#endif  // MP_SERVER_DASHBOARD_JOB_SUMMARY_H_
