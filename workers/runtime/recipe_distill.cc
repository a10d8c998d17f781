#include "common/status.h"
#include "workers/engine/pipeline/distill.h"
#include "workers/runtime/convert_compress.h"
#include "workers/runtime/recipes.h"

namespace mp::runtime {

absl::StatusOr<RecipeOutput> RunDistillJob(const LeasedJob& job, pipeline::JobContext& context) {
  if (!job.spec.has_distill()) {
    return absl::InvalidArgumentError("distill job: spec.distill is not set");
  }
  ASSIGN_OR_RETURN(pipeline::DistillJobOptions options,
                   DistillOptionsFromProto(job.spec.distill(), job.spec.seed(), job.inputs));
  ASSIGN_OR_RETURN(pipeline::JobResult result, pipeline::RunDistillJob(options, context));
  RecipeOutput out;
  out.result = std::move(result);
  return out;
}

}  // namespace mp::runtime
