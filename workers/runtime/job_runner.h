// JobRunner: runs one leased job to its end and tells the server how it ended.
//
//   1. kind without a recipe -> FailJob(retryable=false, "kind X is not supported by this
//      worker");
//   2. a fresh directory under work_dir; a JobMonitor (heartbeats from here on);
//   3. FetchBlob every input into <dir>/inputs/<role><ext> (sha256 and size verified; <ext>
//      from the content's magic bytes: .onnx for "model", else .npy / .idx.gz / .idx / .pb,
//      as the engine's readers pick the format from the extension);
//   4. the recipe, with the monitor as its JobContext (std::bad_alloc, e.g. under
//      --max-memory-mb, becomes RESOURCE_EXHAUSTED);
//   5. Flush the last progress; PutBlob each artifact; CompleteJob with metrics, artifacts
//      and (inspect) the inspection.
// Failure mapping: INVALID_ARGUMENT / UNIMPLEMENTED / FAILED_PRECONDITION / OUT_OF_RANGE
// from anything above -> FailJob(retryable=false) with the message (the job is wrong); any
// other error -> FailJob(retryable=true). A job the server cancelled, or whose lease was
// lost (ABORTED), is dropped silently: the server already moved it on. Complete/FailJob
// are retried on transient errors a few times; the lease's expiry is the final backstop.
// The job directory is removed at the end.
#ifndef MP_WORKERS_RUNTIME_JOB_RUNNER_H_
#define MP_WORKERS_RUNTIME_JOB_RUNNER_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "modelpress/v1/worker.grpc.pb.h"
#include "workers/runtime/job_monitor.h"
#include "workers/runtime/recipes.h"
#include "workers/runtime/runtime.h"

namespace mp::runtime {

// The error codes a recipe (or input fetch) returns for a job that cannot succeed anywhere.
bool IsPermanentJobError(const absl::Status& status);

// "prune" for JOB_KIND_PRUNE.
std::string KindName(modelpress::v1::JobKind kind);

class JobRunner {
 public:
  // `track` is called with the job's monitor when it starts and with nullptr when it ends,
  // so the worker can Drain() it.
  JobRunner(modelpress::v1::WorkerService::StubInterface& stub, const WorkerOptions& options,
            const RecipeTable& recipes, std::function<void(JobMonitor*)> track);

  void Run(const modelpress::v1::LeaseJobResponse& lease);

 private:
  // Sends FailJob / CompleteJob, retrying transient errors.
  void Fail(const std::string& job_id, int64_t epoch, const absl::Status& error);
  void Complete(const modelpress::v1::CompleteJobRequest& request);
  // Fetches the inputs, runs the recipe, uploads the artifacts; fills `request`.
  absl::Status Execute(const modelpress::v1::LeaseJobResponse& lease, const Recipe& recipe,
                       const std::string& dir, JobMonitor& monitor,
                       modelpress::v1::CompleteJobRequest* request);

  modelpress::v1::WorkerService::StubInterface& stub_;
  const WorkerOptions& options_;
  const RecipeTable& recipes_;
  std::function<void(JobMonitor*)> track_;
};

}  // namespace mp::runtime

#endif  // MP_WORKERS_RUNTIME_JOB_RUNNER_H_
