// proto -> engine options of the training job kinds: PruneSpec, DistillSpec and ComposeSpec
// (job.proto) -> pipeline::PruneJobOptions, DistillJobOptions, ComposeJobOptions.
//
// As for PTQ (convert.h), proto3 zero values mean "the documented default": a field left 0 /
// "" keeps the recipe struct's default (sparsity 0 -> 0.5, epochs 0 -> the recipe's, ...;
// COMPOSE keeps its own defaults: recover "distill", ptq.calibration_samples 512). alpha is
// proto3 optional: unset keeps the recipe's 0.7, an explicit 0 reaches the recipe as 0. Values
// the proto can hold but an option cannot (a negative count) are INVALID_ARGUMENT naming the
// field; the recipe validates the rest. JobSpec.seed is the recipes' seed; threads come from
// the JobContext.
//
// Input files by role (server/service/job_validation.h): "model" (the model, the teacher
// for distill), "train", "train_labels", "eval", "eval_labels", "calibration" (compose),
// "student" (distill). A role the spec names but the lease did not carry is
// FAILED_PRECONDITION naming the field.
#ifndef MP_WORKERS_RUNTIME_CONVERT_COMPRESS_H_
#define MP_WORKERS_RUNTIME_CONVERT_COMPRESS_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "modelpress/v1/job.pb.h"
#include "workers/engine/pipeline/compose.h"
#include "workers/engine/pipeline/distill.h"
#include "workers/engine/pipeline/prune.h"
#include "workers/runtime/convert.h"

namespace mp::runtime {

absl::StatusOr<pipeline::PruneJobOptions> PruneOptionsFromProto(
    const modelpress::v1::PruneSpec& spec, uint64_t seed, const InputFiles& files);

absl::StatusOr<pipeline::DistillJobOptions> DistillOptionsFromProto(
    const modelpress::v1::DistillSpec& spec, uint64_t seed, const InputFiles& files);

absl::StatusOr<pipeline::ComposeJobOptions> ComposeOptionsFromProto(
    const modelpress::v1::ComposeSpec& spec, uint64_t seed, const InputFiles& files);

// Sets the pruning / recovery fields of `options` that `spec` sets (non-zero / non-empty),
// leaving the others as they are. `field` prefixes error messages ("prune").
absl::Status ApplyPruneSpec(const modelpress::v1::PruneSpec& spec, std::string_view field,
                            pipeline::PruneRecipeOptions& options);

}  // namespace mp::runtime

#endif  // MP_WORKERS_RUNTIME_CONVERT_COMPRESS_H_
