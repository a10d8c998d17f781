#include "common/status.h"
#include "workers/engine/pipeline/inspect.h"
#include "workers/runtime/recipes.h"

namespace mp::runtime {

absl::StatusOr<RecipeOutput> RunInspectJob(const LeasedJob& job, pipeline::JobContext& context) {
  auto model = job.inputs.find("model");
  if (model == job.inputs.end()) {
    return absl::FailedPreconditionError("inspect job: the lease carries no 'model' input");
  }
  ASSIGN_OR_RETURN(pipeline::Inspection inspection,
                   pipeline::RunInspect(model->second, context, job.spec.model_id()));
  RecipeOutput out;
  out.result.metrics = pipeline::InspectionMetrics(inspection);
  out.inspection = InspectionToProto(inspection);
  return out;
}

}  // namespace mp::runtime
