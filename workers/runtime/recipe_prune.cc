#include "common/status.h"
#include "workers/engine/pipeline/prune.h"
#include "workers/runtime/convert_compress.h"
#include "workers/runtime/recipes.h"

namespace mp::runtime {

absl::StatusOr<RecipeOutput> RunPruneJob(const LeasedJob& job, pipeline::JobContext& context) {
  if (!job.spec.has_prune()) {
    return absl::InvalidArgumentError("prune job: spec.prune is not set");
  }
  ASSIGN_OR_RETURN(pipeline::PruneJobOptions options,
                   PruneOptionsFromProto(job.spec.prune(), job.spec.seed(), job.inputs));
  ASSIGN_OR_RETURN(pipeline::JobResult result, pipeline::RunPruneJob(options, context));
  RecipeOutput out;
  out.result = std::move(result);
  return out;
}

}  // namespace mp::runtime
