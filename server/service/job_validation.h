// Validation of a submitted JobSpec (the service's half; the queue checks priority,
// max_attempts and the idempotency key).
//
// Checks, each failing with INVALID_ARGUMENT naming the field (or NOT_FOUND naming the id):
//   * spec.kind is set; kinds without an options message yet (PRUNE, DISTILL, SEARCH,
//     COMPOSE) are UNIMPLEMENTED;
//   * spec.model_id is a well-formed id of one of the tenant's models;
//   * the options oneof matches the kind (inspect: none or `inspect`; ptq: `ptq` required);
//   * PTQ: the referenced datasets exist for the tenant (calibration required for mode
//     "static"), eval labels only with eval data, and every option is in its documented
//     range (calibrator, percentile, activation_scheme, target, max_accuracy_drop, mode,
//     sample counts, latency_batches).
// Returns the input blobs by role: "model", and for PTQ "calibration", "eval",
// "eval_labels" when set — recorded in Job.inputs for replay and handed to the worker.
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

}  // namespace mp::service

#endif  // MP_SERVER_SERVICE_JOB_VALIDATION_H_
