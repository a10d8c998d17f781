#include "common/status.h"
#include "workers/engine/pipeline/ptq.h"
#include "workers/runtime/recipes.h"

namespace mp::runtime {

namespace v1 = ::modelpress::v1;

absl::StatusOr<RecipeOutput> RunPtqJob(const LeasedJob& job, pipeline::JobContext& context) {
  if (!job.spec.has_ptq()) {
    return absl::InvalidArgumentError("ptq job: spec.ptq is not set");
  }
  ASSIGN_OR_RETURN(pipeline::PtqOptions options,
                   PtqOptionsFromProto(job.spec.ptq(), job.spec.seed(), job.inputs));
  ASSIGN_OR_RETURN(pipeline::JobResult result, pipeline::RunPtq(options, context));
  RecipeOutput out;
  out.result = std::move(result);
  return out;
}

RecipeTable DefaultRecipes() {
  return {{v1::JOB_KIND_INSPECT, &RunInspectJob},
          {v1::JOB_KIND_PTQ, &RunPtqJob},
          {v1::JOB_KIND_PRUNE, &RunPruneJob},
          {v1::JOB_KIND_DISTILL, &RunDistillJob},
          {v1::JOB_KIND_COMPOSE, &RunComposeJob}};
}

}  // namespace mp::runtime
