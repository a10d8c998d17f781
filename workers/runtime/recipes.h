// The recipes this worker runs, by job kind: the adapters from a leased job (proto spec +
// local input files) to the engine's pipeline recipes, and back to proto results.
#ifndef MP_WORKERS_RUNTIME_RECIPES_H_
#define MP_WORKERS_RUNTIME_RECIPES_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "modelpress/v1/worker.pb.h"
#include "workers/engine/pipeline/job.h"
#include "workers/runtime/convert.h"

namespace mp::runtime {

// A job as the recipe sees it: the spec and the local copies of its input blobs.
struct LeasedJob {
  std::string job_id;
  int64_t epoch = 0;
  int attempt = 0;
  modelpress::v1::JobSpec spec;
  InputFiles inputs;  // role -> verified local file
};

struct RecipeOutput {
  pipeline::JobResult result;
  std::optional<modelpress::v1::ModelInspection> inspection;  // inspect jobs
};

using Recipe =
    std::function<absl::StatusOr<RecipeOutput>(const LeasedJob& job, pipeline::JobContext&)>;
using RecipeTable = std::map<modelpress::v1::JobKind, Recipe>;

// inspect: pipeline::RunInspect on the "model" input; metrics from InspectionMetrics.
absl::StatusOr<RecipeOutput> RunInspectJob(const LeasedJob& job, pipeline::JobContext& context);
// ptq: PtqOptionsFromProto + pipeline::RunPtq.
absl::StatusOr<RecipeOutput> RunPtqJob(const LeasedJob& job, pipeline::JobContext& context);

// prune / distill / compose: {Prune,Distill,Compose}OptionsFromProto (convert_compress.h) +
// pipeline::Run{Prune,Distill,Compose}Job.
absl::StatusOr<RecipeOutput> RunPruneJob(const LeasedJob& job, pipeline::JobContext& context);
absl::StatusOr<RecipeOutput> RunDistillJob(const LeasedJob& job, pipeline::JobContext& context);
absl::StatusOr<RecipeOutput> RunComposeJob(const LeasedJob& job, pipeline::JobContext& context);

// Every kind this build runs: inspect, ptq, prune, distill, compose.
RecipeTable DefaultRecipes();

}  // namespace mp::runtime

#endif  // MP_WORKERS_RUNTIME_RECIPES_H_
