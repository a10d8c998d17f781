// mp::pipeline — job recipes: what a worker runs for each job kind. This header is the
// contract between a recipe and whoever runs it (workers/runtime for service jobs,
// workers/local for the `modelpress-worker <kind>` commands).
//
// A recipe is a function
//     absl::StatusOr<JobResult> RunX(const XOptions& options, JobContext& context);
// that reads its inputs from local files named in the options, writes its artifacts into
// context.work_dir(), and reports progress through context.Report() between steps.
//
// Contract:
//   - Progress: `fraction` is of the whole job and never decreases; `step` names the phase
//     ("calibrate", "evaluate int8", ...); `metrics` carry per-step numbers (loss, accuracy,
//     samples/s ...). Report at least once per step and at most a few times per second.
//   - Cancellation: Report() returns CANCELLED once the job is cancelled; the recipe returns
//     that status promptly (between batches at the latest) without writing more artifacts.
//     Recipes may also poll context.cancelled() inside long loops.
//   - Errors: bad input (malformed model, wrong data shape, out-of-range option) is
//     INVALID_ARGUMENT / UNIMPLEMENTED naming the culprit; the runner maps them to a FAILED
//     job that is not retried. Anything else (INTERNAL, RESOURCE_EXHAUSTED) may be retried.
//   - Determinism: same inputs + options + seed => same artifact bytes, any thread count.
//   - Artifacts: files inside work_dir(), written completely before the recipe returns
//     (AtomicWriteFile); the runner uploads them under their names ("model", "report").
#ifndef MP_WORKERS_ENGINE_PIPELINE_JOB_H_
#define MP_WORKERS_ENGINE_PIPELINE_JOB_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/clock.h"

namespace mp::pipeline {

struct Metric {
  std::string name;  // snake_case with unit suffix where it has one: "latency_ms_batch1"
  double value = 0;
};

struct ProgressUpdate {
  double fraction = 0;      // 0..1 of the whole job
  double eta_seconds = -1;  // -1 when unknown
  std::string step;         // current phase
  std::vector<Metric> metrics;
  std::string log;  // one human-readable line, may be empty
};

// Implemented by the runner.
class JobContext {
 public:
  virtual ~JobContext() = default;
  // Records progress. Returns CANCELLED once the job has been cancelled (the recipe must
  // then stop and return that status); other errors are the runner's and also stop the job.
  virtual absl::Status Report(const ProgressUpdate& update) = 0;
  virtual bool cancelled() const = 0;
  // Directory owned by this job: artifacts and scratch files go here.
  virtual const std::filesystem::path& work_dir() const = 0;
  // Kernel threads the recipe may use (>= 1).
  virtual int num_threads() const = 0;
  // Monotonic time for ETA and throughput figures.
  virtual Clock* clock() const = 0;
};

struct Artifact {
  std::string name;            // "model", "report", ...
  std::filesystem::path path;  // inside work_dir()
};

struct JobResult {
  std::vector<Metric> metrics;  // final figures, e.g. "accuracy_fp32", "model_bytes_int8"
  std::vector<Artifact> artifacts;
};

// Estimates the time left from the fraction done and the time elapsed since Start(),
// assuming the average rate so far continues: eta = elapsed * (1 - f) / f. Recipes whose
// steps have very different speeds should weight `fraction` by expected cost.
// Thread-compatible.
class EtaEstimator {
 public:
  explicit EtaEstimator(Clock* clock);
  // Restarts the clock (fraction 0 at now).
  void Start();
  // Seconds left at `fraction` (0..1), or -1 while there is too little evidence (fraction
  // below 1% or under 0.5 s elapsed).
  double Update(double fraction);

 private:
  Clock* clock_;
  int64_t start_nanos_ = 0;
};

}  // namespace mp::pipeline

#endif  // MP_WORKERS_ENGINE_PIPELINE_JOB_H_
