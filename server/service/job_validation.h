// Validation of a submitted JobSpec (the service's half; the queue checks priority,
// max_attempts and the idempotency key).
//
// Checks, each failing with INVALID_ARGUMENT naming the field (or NOT_FOUND naming the id):
//   * spec.kind is set; SEARCH (no options message yet) is UNIMPLEMENTED;
//   * spec.model_id is a well-formed id of one of the tenant's models;
//   * the options oneof matches the kind (inspect: none or `inspect`; ptq, prune, distill,
//     compose: their message required);
//   * PTQ: the referenced datasets exist for the tenant (calibration required for mode
//     "static"), eval labels only with eval data, and every option is in its documented
//     range (calibrator, percentile, activation_scheme, target, max_accuracy_drop, mode,
//     sample counts, latency_batches);
//   * PRUNE / DISTILL / COMPOSE: every option in its documented range (e.g.
//     "spec.prune.sparsity: must be in [0, 1), got 1.5"), training samples and labels given
//     together and required when the job trains (recover != "none"; always for distill),
//     eval labels only with eval data, holdout only with training data and without eval
//     data; COMPOSE's nested prune/ptq carry no dataset ids of their own; the datasets (and
//     distill's student model) exist for the tenant.
// Returns the input blobs by role: "model", and when set "calibration", "eval",
// "eval_labels", "train", "train_labels", "student" — recorded in Job.inputs for replay and
// handed to the worker.
#ifndef MP_SERVER_SERVICE_JOB_VALIDATION_H_
#define MP_SERVER_SERVICE_JOB_VALIDATION_H_

#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "modelpress/v1/job.pb.h"
#include "server/store/store.h"

namespace mp::service {

absl::StatusOr<std::map<std::string, modelpress::v1::BlobRef>> ValidateJobSpec(
    store::Store& store, std::string_view tenant, const modelpress::v1::JobSpec& spec);

// Range checks of PtqSpec alone (no store access).
absl::Status ValidatePtqOptions(const modelpress::v1::PtqSpec& ptq);

// Option checks of PruneSpec, DistillSpec, ComposeSpec alone (no store access): ranges,
// names, which datasets are required together (job_validation_compress.cc).
absl::Status ValidatePruneOptions(const modelpress::v1::PruneSpec& prune);
absl::Status ValidateDistillOptions(const modelpress::v1::DistillSpec& distill);
absl::Status ValidateComposeOptions(const modelpress::v1::ComposeSpec& compose);

}  // namespace mp::service

#endif  // MP_SERVER_SERVICE_JOB_VALIDATION_H_
