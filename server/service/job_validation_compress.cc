// Validation of PruneSpec, DistillSpec and ComposeSpec (job_validation.h), and their inputs
// by role. Zero / empty fields mean the documented default (job.proto), so a range check
// accepts 0 wherever the default stands in for it.
#include <array>
#include <cmath>
#include <cstdlib>

#include "common/status.h"
#include "common/str_cat.h"
#include "server/service/job_validation.h"
#include "server/service/job_validation_internal.h"

namespace mp::service {
namespace {

namespace v1 = ::modelpress::v1;
using internal::OneOf;

constexpr int kMaxEpochs = 1000;
constexpr int32_t kMaxBatchSize = 65536;
constexpr int kMaxLatencyIterations = 10000;
constexpr int kMaxLayerList = 4096;
constexpr int kMaxPruneSteps = 100;
constexpr int kMaxFeaturePairs = 64;

absl::Status Invalid(std::string_view prefix, std::string_view field, std::string_view what) {
  return absl::InvalidArgumentError(StrCat(prefix, ".", field, ": ", what));
}

// value in [lo, hi) (or [lo, hi] when `closed`), finite.
absl::Status InRange(std::string_view prefix, std::string_view field, double value, double lo,
                     double hi, bool closed) {
  const bool ok = std::isfinite(value) && value >= lo && (closed ? value <= hi : value < hi);
  if (ok) return absl::OkStatus();
  return Invalid(prefix, field,
                 StrCat("must be in [", lo, ", ", hi, closed ? "]" : ")", ", got ", value));
}

absl::Status IntInRange(std::string_view prefix, std::string_view field, int64_t value,
                        int64_t hi) {
  if (value >= 0 && value <= hi) return absl::OkStatus();
  return Invalid(prefix, field, StrCat("must be in [0, ", hi, "], got ", value));
}

// A double >= 0, finite (0: the default).
absl::Status NonNegative(std::string_view prefix, std::string_view field, double value) {
  if (std::isfinite(value) && value >= 0) return absl::OkStatus();
  return Invalid(prefix, field, StrCat("must be finite and >= 0, got ", value));
}

// The training options that prune (recovery) and distill share.
struct Training {
  int32_t epochs;
  int32_t batch_size;
  double lr, weight_decay, alpha, temperature;
  const std::string& optimizer;
  int32_t latency_iterations;
};

absl::Status ValidateTraining(std::string_view prefix, const Training& t) {
  static constexpr std::array<std::string_view, 3> kOptimizers = {"sgd", "adam", "adamw"};
  RETURN_IF_ERROR(IntInRange(prefix, "epochs", t.epochs, kMaxEpochs));
  RETURN_IF_ERROR(IntInRange(prefix, "batch_size", t.batch_size, kMaxBatchSize));
  RETURN_IF_ERROR(NonNegative(prefix, "lr", t.lr));
  RETURN_IF_ERROR(NonNegative(prefix, "weight_decay", t.weight_decay));
  RETURN_IF_ERROR(InRange(prefix, "alpha", t.alpha, 0, 1, /*closed=*/true));
  RETURN_IF_ERROR(NonNegative(prefix, "temperature", t.temperature));
  RETURN_IF_ERROR(OneOf(StrCat(prefix, ".optimizer"), t.optimizer, kOptimizers));
  return IntInRange(prefix, "latency_iterations", t.latency_iterations, kMaxLatencyIterations);
}

// The data fields every kind here has. `trains`: the job needs labelled training data.
struct Data {
  const std::string& train;
  const std::string& train_labels;
  const std::string& eval;
  const std::string& eval_labels;
  int64_t limit;
  double holdout;
};

absl::Status ValidateData(std::string_view prefix, const Data& d, bool trains,
                          std::string_view why) {
  if (!d.train_labels.empty() && d.train.empty()) {
    return Invalid(prefix, "train_labels_dataset_id",
                   "needs train_dataset_id (labels of which samples?)");
  }
  if (!d.train.empty() && d.train_labels.empty()) {
    return Invalid(prefix, "train_labels_dataset_id", "required with train_dataset_id");
  }
  if (trains && d.train.empty()) return Invalid(prefix, "train_dataset_id", why);
  if (!d.eval_labels.empty() && d.eval.empty()) {
    return Invalid(prefix, "eval_labels_dataset_id",
                   "needs eval_dataset_id (labels of which samples?)");
  }
  if (d.limit < 0) return Invalid(prefix, "limit", StrCat("must be >= 0, got ", d.limit));
  if (d.limit > 0 && d.train.empty()) return Invalid(prefix, "limit", "needs train_dataset_id");
  RETURN_IF_ERROR(InRange(prefix, "holdout", d.holdout, 0, 1, /*closed=*/false));
  if (d.holdout > 0 && d.train.empty()) {
    return Invalid(prefix, "holdout", "needs train_dataset_id (held out of which samples?)");
  }
  if (d.holdout > 0 && !d.eval.empty()) {
    return Invalid(prefix, "holdout", "only used without eval_dataset_id");
  }
  return absl::OkStatus();
}

// "NAME=SPARSITY" with a non-empty name and a sparsity in [0, 1).
absl::Status ValidatePerLayer(std::string_view prefix, const v1::PruneSpec& p) {
  if (p.per_layer_size() > kMaxLayerList) {
    return Invalid(prefix, "per_layer",
                   StrCat(p.per_layer_size(), " entries, at most ", kMaxLayerList));
  }
  for (int i = 0; i < p.per_layer_size(); ++i) {
    const std::string& entry = p.per_layer(i);
    const std::string field = StrCat("per_layer[", i, "]");
    const size_t eq = entry.rfind('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == entry.size()) {
      return Invalid(prefix, field, StrCat("'", entry.substr(0, 64), "' is not NAME=SPARSITY"));
    }
    char* end = nullptr;
    const std::string value = entry.substr(eq + 1);
    const double s = std::strtod(value.c_str(), &end);
    if (end != value.c_str() + value.size()) {
      return Invalid(prefix, field, StrCat("'", value.substr(0, 32), "' is not a number"));
    }
    RETURN_IF_ERROR(InRange(prefix, field, s, 0, 1, /*closed=*/false));
  }
  if (p.exclude_size() > kMaxLayerList) {
    return Invalid(prefix, "exclude",
                   StrCat(p.exclude_size(), " entries, at most ", kMaxLayerList));
  }
  return absl::OkStatus();
}

// "N:M" with 0 < N <= M <= 64.
absl::Status ValidateNm(std::string_view prefix, const std::string& nm) {
  if (nm.empty()) return absl::OkStatus();
  int n = 0, m = 0;
  char tail = 0;
  if (std::sscanf(nm.c_str(), "%d:%d%c", &n, &m, &tail) != 2 || n < 1 || m < n || m > 64) {
    return Invalid(prefix, "nm",
                   StrCat("'", nm.substr(0, 32), "' is not N:M with 1 <= N <= M <= 64"));
  }
  return absl::OkStatus();
}

// The pruning and recovery options of `p` (not its data fields).
absl::Status ValidatePruneMethod(std::string_view prefix, const v1::PruneSpec& p) {
  static constexpr std::array<std::string_view, 3> kMethods = {"structured", "magnitude", "nm"};
  static constexpr std::array<std::string_view, 2> kNorms = {"l1", "l2"};
  static constexpr std::array<std::string_view, 2> kScopes = {"layer", "global"};
  static constexpr std::array<std::string_view, 3> kRecover = {"none", "finetune", "distill"};
  static constexpr std::array<std::string_view, 2> kSchedules = {"oneshot", "agp"};
  RETURN_IF_ERROR(OneOf(StrCat(prefix, ".method"), p.method(), kMethods));
  RETURN_IF_ERROR(InRange(prefix, "sparsity", p.sparsity(), 0, 1, /*closed=*/false));
  RETURN_IF_ERROR(OneOf(StrCat(prefix, ".norm"), p.norm(), kNorms));
  RETURN_IF_ERROR(OneOf(StrCat(prefix, ".scope"), p.scope(), kScopes));
  RETURN_IF_ERROR(ValidatePerLayer(prefix, p));
  RETURN_IF_ERROR(ValidateNm(prefix, p.nm()));
  RETURN_IF_ERROR(IntInRange(prefix, "round_to", p.round_to(), 4096));
  RETURN_IF_ERROR(OneOf(StrCat(prefix, ".recover"), p.recover(), kRecover));
  RETURN_IF_ERROR(OneOf(StrCat(prefix, ".schedule"), p.schedule(), kSchedules));
  RETURN_IF_ERROR(IntInRange(prefix, "prune_steps", p.prune_steps(), kMaxPruneSteps));
  if (p.prune_steps() != 0 && p.schedule() != "agp") {
    return Invalid(prefix, "prune_steps", "only used with schedule 'agp'");
  }
  return ValidateTraining(prefix, {.epochs = p.epochs(),
                                   .batch_size = p.batch_size(),
                                   .lr = p.lr(),
                                   .weight_decay = p.weight_decay(),
                                   .alpha = p.alpha(),
                                   .temperature = p.temperature(),
                                   .optimizer = p.optimizer(),
                                   .latency_iterations = p.latency_iterations()});
}

// qat_epochs in [0, kMaxEpochs] and qat_lr finite and >= 0; qat_lr only with qat_epochs > 0.
absl::Status ValidateQat(std::string_view prefix, int32_t qat_epochs, double qat_lr) {
  RETURN_IF_ERROR(IntInRange(prefix, "qat_epochs", qat_epochs, kMaxEpochs));
  RETURN_IF_ERROR(NonNegative(prefix, "qat_lr", qat_lr));
  if (qat_lr != 0 && qat_epochs == 0) {
    return Invalid(prefix, "qat_lr", "only used with qat_epochs > 0");
  }
  return absl::OkStatus();
}

// A dataset id field that must be unset inside ComposeSpec.
absl::Status Unset(std::string_view field, const std::string& value, std::string_view use) {
  if (value.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      StrCat(field, ": must be unset in a compose job (use ", use, ")"));
}

absl::Status AddDataset(store::Store& store, std::string_view tenant, std::string_view field,
                        const std::string& id, const std::string& role,
                        std::map<std::string, v1::BlobRef>& inputs) {
  if (id.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(inputs[role], internal::DatasetBlob(store, tenant, field, id));
  return absl::OkStatus();
}

absl::Status AddData(store::Store& store, std::string_view tenant, std::string_view prefix,
                     const Data& d, std::map<std::string, v1::BlobRef>& inputs) {
  RETURN_IF_ERROR(
      AddDataset(store, tenant, StrCat(prefix, ".train_dataset_id"), d.train, "train", inputs));
  RETURN_IF_ERROR(AddDataset(store, tenant, StrCat(prefix, ".train_labels_dataset_id"),
                             d.train_labels, "train_labels", inputs));
  RETURN_IF_ERROR(
      AddDataset(store, tenant, StrCat(prefix, ".eval_dataset_id"), d.eval, "eval", inputs));
  return AddDataset(store, tenant, StrCat(prefix, ".eval_labels_dataset_id"), d.eval_labels,
                    "eval_labels", inputs);
}

template <typename Spec>
Data DataOf(const Spec& s) {
  return {s.train_dataset_id(),
          s.train_labels_dataset_id(),
          s.eval_dataset_id(),
          s.eval_labels_dataset_id(),
          s.limit(),
          s.holdout()};
}

}  // namespace

absl::Status ValidatePruneOptions(const v1::PruneSpec& prune) {
  RETURN_IF_ERROR(ValidatePruneMethod("spec.prune", prune));
  const bool recovers = !prune.recover().empty() && prune.recover() != "none";
  if (prune.schedule() == "agp" && !recovers) {
    return absl::InvalidArgumentError(
        "spec.prune.schedule: 'agp' needs recover 'finetune' or 'distill'");
  }
  return ValidateData("spec.prune", DataOf(prune), recovers,
                      StrCat("required for recover '", prune.recover(), "'"));
}

absl::Status ValidateDistillOptions(const v1::DistillSpec& d) {
  static constexpr std::string_view kPrefix = "spec.distill";
  static constexpr std::array<std::string_view, 3> kStudents = {"model", "width", "pruned"};
  RETURN_IF_ERROR(OneOf("spec.distill.student", d.student(), kStudents));
  const bool from_model =
      d.student() == "model" || (d.student().empty() && !d.student_model_id().empty());
  if (from_model && d.student_model_id().empty()) {
    return Invalid(kPrefix, "student_model_id", "required for student 'model'");
  }
  if (!from_model && !d.student_model_id().empty()) {
    return Invalid(kPrefix, "student_model_id",
                   StrCat("only used with student 'model', not '", d.student(), "'"));
  }
  RETURN_IF_ERROR(InRange(kPrefix, "width", d.width(), 0, 1, /*closed=*/true));
  if (from_model && d.width() != 0) {
    return Invalid(kPrefix, "width", "only used with student 'width' or 'pruned'");
  }
  RETURN_IF_ERROR(ValidateTraining(kPrefix, {.epochs = d.epochs(),
                                             .batch_size = d.batch_size(),
                                             .lr = d.lr(),
                                             .weight_decay = d.weight_decay(),
                                             .alpha = d.alpha(),
                                             .temperature = d.temperature(),
                                             .optimizer = d.optimizer(),
                                             .latency_iterations = d.latency_iterations()}));
  if (d.features_size() > kMaxFeaturePairs) {
    return Invalid(kPrefix, "features",
                   StrCat(d.features_size(), " entries, at most ", kMaxFeaturePairs));
  }
  for (int i = 0; i < d.features_size(); ++i) {
    const v1::DistillFeaturePair& f = d.features(i);
    const std::string field = StrCat("features[", i, "]");
    if (f.teacher_value().empty() || f.student_value().empty()) {
      return Invalid(kPrefix, field, "teacher_value and student_value are required");
    }
    RETURN_IF_ERROR(NonNegative(kPrefix, StrCat(field, ".weight"), f.weight()));
  }
  RETURN_IF_ERROR(ValidateQat(kPrefix, d.qat_epochs(), d.qat_lr()));
  RETURN_IF_ERROR(OneOf("spec.distill.qat_target", d.qat_target(), internal::kQuantTargets));
  if (!d.qat_target().empty() && d.qat_epochs() == 0) {
    return Invalid(kPrefix, "qat_target", "only used with qat_epochs > 0");
  }
  return ValidateData(kPrefix, DataOf(d), /*trains=*/true, "required (distillation trains)");
}

absl::Status ValidateComposeOptions(const v1::ComposeSpec& c) {
  static constexpr std::string_view kPrefix = "spec.compose";
  const v1::PruneSpec& p = c.prune();
  RETURN_IF_ERROR(Unset("spec.compose.prune.train_dataset_id", p.train_dataset_id(),
                        "spec.compose.train_dataset_id"));
  RETURN_IF_ERROR(Unset("spec.compose.prune.train_labels_dataset_id", p.train_labels_dataset_id(),
                        "spec.compose.train_labels_dataset_id"));
  RETURN_IF_ERROR(Unset("spec.compose.prune.eval_dataset_id", p.eval_dataset_id(),
                        "spec.compose.eval_dataset_id"));
  RETURN_IF_ERROR(Unset("spec.compose.prune.eval_labels_dataset_id", p.eval_labels_dataset_id(),
                        "spec.compose.eval_labels_dataset_id"));
  if (p.limit() != 0 || p.holdout() != 0) {
    return absl::InvalidArgumentError(
        "spec.compose.prune.limit/holdout: must be unset in a compose job (use "
        "spec.compose.limit / spec.compose.holdout)");
  }
  const v1::PtqSpec& q = c.ptq();
  RETURN_IF_ERROR(Unset("spec.compose.ptq.calibration_dataset_id", q.calibration_dataset_id(),
                        "spec.compose.calibration_dataset_id"));
  RETURN_IF_ERROR(Unset("spec.compose.ptq.eval_dataset_id", q.eval_dataset_id(),
                        "spec.compose.eval_dataset_id"));
  RETURN_IF_ERROR(Unset("spec.compose.ptq.eval_labels_dataset_id", q.eval_labels_dataset_id(),
                        "spec.compose.eval_labels_dataset_id"));
  RETURN_IF_ERROR(ValidatePruneMethod("spec.compose.prune", p));
  RETURN_IF_ERROR(internal::ValidatePtqRanges(q, "spec.compose.ptq"));
  const bool recovers = p.recover() != "none";  // empty: "distill" in a compose job
  if (p.schedule() == "agp" && !recovers) {
    return absl::InvalidArgumentError(
        "spec.compose.prune.schedule: 'agp' needs recover 'finetune' or 'distill'");
  }
  const std::string recover = p.recover().empty() ? "distill" : p.recover();
  RETURN_IF_ERROR(
      ValidateData(kPrefix, DataOf(c), recovers, StrCat("required for recover '", recover, "'")));
  const bool calibrated = q.mode().empty() || q.mode() == "static";
  if (calibrated && c.calibration_dataset_id().empty() && c.train_dataset_id().empty()) {
    return Invalid(kPrefix, "calibration_dataset_id",
                   "required (or train_dataset_id) for ptq mode 'static'");
  }
  RETURN_IF_ERROR(ValidateQat(kPrefix, c.qat_epochs(), c.qat_lr()));
  if (c.qat_epochs() > 0 && c.train_dataset_id().empty()) {
    return Invalid(kPrefix, "qat_epochs", "needs train_dataset_id (quantization-aware training)");
  }
  if (c.qat_epochs() > 0 && !calibrated) {
    return Invalid(kPrefix, "qat_epochs",
                   StrCat("needs ptq mode 'static' (int8 QDQ), not '", q.mode(), "'"));
  }
  const bool labelled_eval =
      (!c.eval_dataset_id().empty() && !c.eval_labels_dataset_id().empty()) ||
      (c.eval_dataset_id().empty() && c.holdout() > 0);
  if (q.max_accuracy_drop() > 0 && !labelled_eval) {
    return Invalid(kPrefix, "ptq.max_accuracy_drop",
                   "needs labelled evaluation data (eval_dataset_id and eval_labels_dataset_id, "
                   "or holdout)");
  }
  return absl::OkStatus();
}

namespace internal {

absl::Status AddCompressionInputs(store::Store& store, std::string_view tenant,
                                  const v1::JobSpec& spec,
                                  std::map<std::string, v1::BlobRef>& inputs) {
  switch (spec.options_case()) {
    case v1::JobSpec::kPrune:
      return AddData(store, tenant, "spec.prune", DataOf(spec.prune()), inputs);
    case v1::JobSpec::kDistill: {
      const v1::DistillSpec& d = spec.distill();
      if (!d.student_model_id().empty()) {
        ASSIGN_OR_RETURN(
            inputs["student"],
            ModelBlob(store, tenant, "spec.distill.student_model_id", d.student_model_id()));
      }
      return AddData(store, tenant, "spec.distill", DataOf(d), inputs);
    }
    case v1::JobSpec::kCompose: {
      const v1::ComposeSpec& c = spec.compose();
      RETURN_IF_ERROR(AddDataset(store, tenant, "spec.compose.calibration_dataset_id",
                                 c.calibration_dataset_id(), "calibration", inputs));
      return AddData(store, tenant, "spec.compose", DataOf(c), inputs);
    }
    default:
      return absl::OkStatus();
  }
}

}  // namespace internal
}  // namespace mp::service
