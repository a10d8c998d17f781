// Pieces shared by job_validation.cc (inspect, ptq, the JobSpec switch) and
// job_validation_compress.cc (prune, distill, compose). Not part of the service's API.
#ifndef MP_SERVER_SERVICE_JOB_VALIDATION_INTERNAL_H_
#define MP_SERVER_SERVICE_JOB_VALIDATION_INTERNAL_H_

#include <array>
#include <map>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "modelpress/v1/job.pb.h"
#include "server/store/store.h"

namespace mp::service::internal {

// The int8 deployment targets (workers/engine/quant/target.h): PtqSpec.target,
// DistillSpec.qat_target.
inline constexpr std::array<std::string_view, 3> kQuantTargets = {"x86_avx2", "x86_vnni", "arm"};

// OK if `value` is empty (the documented default) or one of `allowed`; else
// INVALID_ARGUMENT "<field>: unknown value 'x' (expected one of 'a', 'b')".
absl::Status OneOf(std::string_view field, const std::string& value,
                   std::span<const std::string_view> allowed);

// Resolves a dataset id field to its blob; INVALID_ARGUMENT if malformed, NOT_FOUND if the
// tenant has no such dataset.
absl::StatusOr<modelpress::v1::BlobRef> DatasetBlob(store::Store& store, std::string_view tenant,
                                                    std::string_view field, const std::string& id);

// Resolves a model id field to its blob (same errors as DatasetBlob).
absl::StatusOr<modelpress::v1::BlobRef> ModelBlob(store::Store& store, std::string_view tenant,
                                                  std::string_view field, const std::string& id);

// The PtqSpec range checks that do not involve its dataset ids, with messages naming
// "<prefix>.<field>" (prefix "spec.ptq" or "spec.compose.ptq").
absl::Status ValidatePtqRanges(const modelpress::v1::PtqSpec& ptq, std::string_view prefix);

// Adds the input blobs of a PRUNE, DISTILL or COMPOSE spec (already checked by
// ValidatePrune/Distill/ComposeOptions) to `inputs` by role: "train", "train_labels", "eval",
// "eval_labels", "calibration", "student".
absl::Status AddCompressionInputs(store::Store& store, std::string_view tenant,
                                  const modelpress::v1::JobSpec& spec,
                                  std::map<std::string, modelpress::v1::BlobRef>& inputs);

}  // namespace mp::service::internal

#endif  // MP_SERVER_SERVICE_JOB_VALIDATION_INTERNAL_H_
