#include "server/service/job_validation.h"

#include <array>
#include <cmath>

#include "common/ids.h"
#include "common/status.h"
#include "common/str_cat.h"
#include "server/service/job_validation_internal.h"

namespace mp::service {

namespace v1 = ::modelpress::v1;

namespace internal {

absl::Status OneOf(std::string_view field, const std::string& value,
                   std::span<const std::string_view> allowed) {
  if (value.empty()) return absl::OkStatus();
  for (std::string_view a : allowed) {
    if (value == a) return absl::OkStatus();
  }
  std::string list;
  for (std::string_view a : allowed) list += StrCat(list.empty() ? "" : ", ", "'", a, "'");
  return absl::InvalidArgumentError(
      StrCat(field, ": unknown value '", value.substr(0, 64), "' (expected one of ", list, ")"));
}

absl::StatusOr<v1::BlobRef> DatasetBlob(store::Store& store, std::string_view tenant,
                                        std::string_view field, const std::string& id) {
  absl::StatusOr<DatasetId> parsed = DatasetId::Parse(id);
  if (!parsed.ok()) return Annotate(parsed.status(), field);
  absl::StatusOr<store::DatasetRecord> record = store.GetDataset(tenant, parsed->value());
  if (absl::IsNotFound(record.status())) {
    return absl::NotFoundError(StrCat(field, ": dataset '", id, "' not found"));
  }
  if (!record.ok()) return record.status();
  return record->dataset.blob();
}

absl::StatusOr<v1::BlobRef> ModelBlob(store::Store& store, std::string_view tenant,
                                      std::string_view field, const std::string& id) {
  absl::StatusOr<ModelId> parsed = ModelId::Parse(id);
  if (!parsed.ok()) return Annotate(parsed.status(), field);
  absl::StatusOr<store::ModelRecord> record = store.GetModel(tenant, parsed->value());
  if (absl::IsNotFound(record.status())) {
    return absl::NotFoundError(StrCat(field, ": model '", id, "' not found"));
  }
  if (!record.ok()) return record.status();
  return record->model.blob();
}

constexpr int kMaxLatencyBatches = 8;
constexpr int32_t kMaxLatencyBatch = 65536;

absl::Status ValidatePtqRanges(const v1::PtqSpec& ptq, std::string_view prefix) {
  static constexpr std::array<std::string_view, 4> kCalibrators = {"minmax", "percentile",
                                                                   "entropy", "mse"};
  static constexpr std::array<std::string_view, 2> kSchemes = {"uint8_asymmetric",
                                                               "int8_symmetric"};
  static constexpr std::array<std::string_view, 4> kModes = {"static", "dynamic", "fp16", "bf16"};
  const auto field = [prefix](std::string_view name) { return StrCat(prefix, ".", name); };
  RETURN_IF_ERROR(OneOf(field("calibrator"), ptq.calibrator(), kCalibrators));
  RETURN_IF_ERROR(OneOf(field("activation_scheme"), ptq.activation_scheme(), kSchemes));
  RETURN_IF_ERROR(OneOf(field("target"), ptq.target(), kQuantTargets));
  RETURN_IF_ERROR(OneOf(field("mode"), ptq.mode(), kModes));
  if (ptq.percentile() != 0 &&
      !(std::isfinite(ptq.percentile()) && ptq.percentile() > 0 && ptq.percentile() <= 100)) {
    return absl::InvalidArgumentError(
        StrCat(field("percentile"), ": must be in (0, 100], got ", ptq.percentile()));
  }
  if (ptq.percentile() != 0 && ptq.calibrator() != "percentile") {
    return absl::InvalidArgumentError(
        StrCat(field("percentile"), ": only used with calibrator 'percentile'"));
  }
  if (!std::isfinite(ptq.max_accuracy_drop()) || ptq.max_accuracy_drop() < 0 ||
      ptq.max_accuracy_drop() > 1) {
    return absl::InvalidArgumentError(StrCat(field("max_accuracy_drop"),
                                             ": must be in [0, 1] (a fraction of accuracy), got ",
                                             ptq.max_accuracy_drop()));
  }
  if (ptq.calibration_samples() < 0) {
    return absl::InvalidArgumentError(
        StrCat(field("calibration_samples"), ": must be >= 0, got ", ptq.calibration_samples()));
  }
  if (ptq.eval_samples() < 0) {
    return absl::InvalidArgumentError(
        StrCat(field("eval_samples"), ": must be >= 0, got ", ptq.eval_samples()));
  }
  if (ptq.latency_batches_size() > kMaxLatencyBatches) {
    return absl::InvalidArgumentError(StrCat(field("latency_batches"), ": ",
                                             ptq.latency_batches_size(), " entries, at most ",
                                             kMaxLatencyBatches));
  }
  for (int i = 0; i < ptq.latency_batches_size(); ++i) {
    const int32_t b = ptq.latency_batches(i);
    if (b < 1 || b > kMaxLatencyBatch) {
      return absl::InvalidArgumentError(StrCat(
          field("latency_batches"), "[", i, "]: must be in [1, ", kMaxLatencyBatch, "], got ", b));
    }
  }
  return absl::OkStatus();
}

}  // namespace internal

absl::Status ValidatePtqOptions(const v1::PtqSpec& ptq) {
  RETURN_IF_ERROR(internal::ValidatePtqRanges(ptq, "spec.ptq"));
  if (ptq.max_accuracy_drop() > 0 &&
      (ptq.eval_dataset_id().empty() || ptq.eval_labels_dataset_id().empty())) {
    return absl::InvalidArgumentError(
        "spec.ptq.max_accuracy_drop: needs eval_dataset_id and eval_labels_dataset_id");
  }
  if (!ptq.eval_labels_dataset_id().empty() && ptq.eval_dataset_id().empty()) {
    return absl::InvalidArgumentError(
        "spec.ptq.eval_labels_dataset_id: needs eval_dataset_id (labels of which samples?)");
  }
  const bool calibrated = ptq.mode().empty() || ptq.mode() == "static";
  if (calibrated && ptq.calibration_dataset_id().empty()) {
    return absl::InvalidArgumentError(
        "spec.ptq.calibration_dataset_id: required for mode 'static'");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, v1::BlobRef>> ValidateJobSpec(store::Store& store,
                                                                   std::string_view tenant,
                                                                   const v1::JobSpec& spec) {
  std::map<std::string, v1::BlobRef> inputs;
  switch (spec.kind()) {
    case v1::JOB_KIND_INSPECT:
      if (spec.options_case() != v1::JobSpec::OPTIONS_NOT_SET &&
          spec.options_case() != v1::JobSpec::kInspect) {
        return absl::InvalidArgumentError("spec.options: kind INSPECT takes `inspect` or none");
      }
      break;
    case v1::JOB_KIND_PTQ:
      if (spec.options_case() != v1::JobSpec::kPtq) {
        return absl::InvalidArgumentError("spec.ptq: required for kind PTQ");
      }
      RETURN_IF_ERROR(ValidatePtqOptions(spec.ptq()));
      break;
    case v1::JOB_KIND_PRUNE:
      if (spec.options_case() != v1::JobSpec::kPrune) {
        return absl::InvalidArgumentError("spec.prune: required for kind PRUNE");
      }
      RETURN_IF_ERROR(ValidatePruneOptions(spec.prune()));
      break;
    case v1::JOB_KIND_DISTILL:
      if (spec.options_case() != v1::JobSpec::kDistill) {
        return absl::InvalidArgumentError("spec.distill: required for kind DISTILL");
      }
      RETURN_IF_ERROR(ValidateDistillOptions(spec.distill()));
      break;
    case v1::JOB_KIND_COMPOSE:
      if (spec.options_case() != v1::JobSpec::kCompose) {
        return absl::InvalidArgumentError("spec.compose: required for kind COMPOSE");
      }
      RETURN_IF_ERROR(ValidateComposeOptions(spec.compose()));
      break;
    case v1::JOB_KIND_UNSPECIFIED:
      return absl::InvalidArgumentError("spec.kind: must be set");
    default:
      if (!v1::JobKind_IsValid(spec.kind())) {
        return absl::InvalidArgumentError(StrCat("spec.kind: unknown kind ", spec.kind()));
      }
      return absl::UnimplementedError(StrCat("spec.kind: ", v1::JobKind_Name(spec.kind()),
                                             " jobs are not supported by this server yet"));
  }

  if (spec.model_id().empty()) return absl::InvalidArgumentError("spec.model_id: required");
  ASSIGN_OR_RETURN(inputs["model"],
                   internal::ModelBlob(store, tenant, "spec.model_id", spec.model_id()));

  if (spec.kind() == v1::JOB_KIND_PTQ) {
    const v1::PtqSpec& ptq = spec.ptq();
    if (!ptq.calibration_dataset_id().empty()) {
      ASSIGN_OR_RETURN(inputs["calibration"],
                       internal::DatasetBlob(store, tenant, "spec.ptq.calibration_dataset_id",
                                             ptq.calibration_dataset_id()));
    }
    if (!ptq.eval_dataset_id().empty()) {
      ASSIGN_OR_RETURN(
          inputs["eval"],
          internal::DatasetBlob(store, tenant, "spec.ptq.eval_dataset_id", ptq.eval_dataset_id()));
    }
    if (!ptq.eval_labels_dataset_id().empty()) {
      ASSIGN_OR_RETURN(inputs["eval_labels"],
                       internal::DatasetBlob(store, tenant, "spec.ptq.eval_labels_dataset_id",
                                             ptq.eval_labels_dataset_id()));
    }
  }
  RETURN_IF_ERROR(internal::AddCompressionInputs(store, tenant, spec, inputs));
  return inputs;
}

}  // namespace mp::service
