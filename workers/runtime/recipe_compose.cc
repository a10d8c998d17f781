#include "common/status.h"
#include "workers/engine/pipeline/compose.h"
#include "workers/runtime/convert_compress.h"
#include "workers/runtime/recipes.h"

namespace mp::runtime {

absl::StatusOr<RecipeOutput> RunComposeJob(const LeasedJob& job, pipeline::JobContext& context) {
  if (!job.spec.has_compose()) {
    return absl::InvalidArgumentError("compose job: spec.compose is not set");
  }
  ASSIGN_OR_RETURN(pipeline::ComposeJobOptions options,
                   ComposeOptionsFromProto(job.spec.compose(), job.spec.seed(), job.inputs));
  ASSIGN_OR_RETURN(pipeline::JobResult result, pipeline::RunComposeJob(options, context));
  RecipeOutput out;
  out.result = std::move(result);
  return out;
}

}  // namespace mp::runtime
