#include "workers/runtime/convert_compress.h"

#include <filesystem>
#include <string>

#include "common/status.h"
#include "common/str_cat.h"

namespace mp::runtime {

namespace v1 = ::modelpress::v1;
namespace fs = std::filesystem;

namespace {

// The local file of `role` when the spec names its dataset (`id` non-empty), else an empty
// path.
absl::StatusOr<fs::path> Input(const InputFiles& files, const std::string& role,
                               std::string_view field, const std::string& id) {
  if (id.empty()) return fs::path();
  auto it = files.find(role);
  if (it == files.end()) {
    return absl::FailedPreconditionError(
        StrCat(field, " is set but the lease carries no '", role, "' input"));
  }
  return it->second;
}

absl::StatusOr<fs::path> Model(const InputFiles& files, std::string_view kind) {
  auto it = files.find("model");
  if (it == files.end()) {
    return absl::FailedPreconditionError(StrCat(kind, " job: the lease carries no 'model' input"));
  }
  return it->second;
}

// The data fields the three specs share, into the job options (which name them alike).
template <typename Spec, typename JobOptions>
absl::Status SetData(const Spec& spec, std::string_view kind, const InputFiles& files,
                     JobOptions& o) {
  ASSIGN_OR_RETURN(
      o.data, Input(files, "train", StrCat(kind, ".train_dataset_id"), spec.train_dataset_id()));
  ASSIGN_OR_RETURN(o.labels, Input(files, "train_labels", StrCat(kind, ".train_labels_dataset_id"),
                                   spec.train_labels_dataset_id()));
  ASSIGN_OR_RETURN(o.eval_data,
                   Input(files, "eval", StrCat(kind, ".eval_dataset_id"), spec.eval_dataset_id()));
  ASSIGN_OR_RETURN(o.eval_labels,
                   Input(files, "eval_labels", StrCat(kind, ".eval_labels_dataset_id"),
                         spec.eval_labels_dataset_id()));
  if (spec.limit() < 0) {
    return absl::InvalidArgumentError(StrCat(kind, ".limit: ", spec.limit(), " is negative"));
  }
  o.limit = spec.limit();
  o.holdout = spec.holdout();
  return absl::OkStatus();
}

absl::Status NonNegative(std::string_view field, int64_t value) {
  if (value >= 0) return absl::OkStatus();
  return absl::InvalidArgumentError(StrCat(field, ": ", value, " is negative"));
}

template <typename T>
void SetIf(const std::string& value, T& out) {
  if (!value.empty()) out = value;
}

}  // namespace

absl::Status ApplyPruneSpec(const v1::PruneSpec& spec, std::string_view field,
                            pipeline::PruneRecipeOptions& o) {
  const auto name = [field](std::string_view f) { return StrCat(field, ".", f); };
  SetIf(spec.method(), o.method);
  if (spec.sparsity() != 0) o.sparsity = spec.sparsity();
  SetIf(spec.norm(), o.norm);
  SetIf(spec.scope(), o.scope);
  if (spec.per_layer_size() > 0)
    o.per_layer.assign(spec.per_layer().begin(), spec.per_layer().end());
  if (spec.exclude_size() > 0) o.exclude.assign(spec.exclude().begin(), spec.exclude().end());
  SetIf(spec.nm(), o.nm);
  RETURN_IF_ERROR(NonNegative(name("round_to"), spec.round_to()));
  if (spec.round_to() != 0) o.round_to = spec.round_to();
  SetIf(spec.schedule(), o.schedule);
  RETURN_IF_ERROR(NonNegative(name("prune_steps"), spec.prune_steps()));
  if (spec.prune_steps() != 0) o.prune_steps = spec.prune_steps();
  SetIf(spec.recover(), o.recover);
  RETURN_IF_ERROR(NonNegative(name("epochs"), spec.epochs()));
  if (spec.epochs() != 0) o.epochs = spec.epochs();
  RETURN_IF_ERROR(NonNegative(name("batch_size"), spec.batch_size()));
  if (spec.batch_size() != 0) o.batch_size = spec.batch_size();
  if (spec.lr() != 0) o.lr = static_cast<float>(spec.lr());
  SetIf(spec.optimizer(), o.optimizer);
  if (spec.weight_decay() != 0) o.weight_decay = static_cast<float>(spec.weight_decay());
  if (spec.has_alpha()) o.alpha = static_cast<float>(spec.alpha());  // 0 is CE only
  if (spec.temperature() != 0) o.temperature = static_cast<float>(spec.temperature());
  if (spec.skip_epoch_eval()) o.eval_each_epoch = false;
  RETURN_IF_ERROR(NonNegative(name("latency_iterations"), spec.latency_iterations()));
  if (spec.latency_iterations() != 0) o.latency_iterations = spec.latency_iterations();
  if (spec.skip_latency()) o.latency_iterations = 0;
  return absl::OkStatus();
}

absl::StatusOr<pipeline::PruneJobOptions> PruneOptionsFromProto(const v1::PruneSpec& spec,
                                                                uint64_t seed,
                                                                const InputFiles& files) {
  pipeline::PruneJobOptions o;
  ASSIGN_OR_RETURN(o.model, Model(files, "prune"));
  RETURN_IF_ERROR(SetData(spec, "prune", files, o));
  RETURN_IF_ERROR(ApplyPruneSpec(spec, "prune", o.recipe));
  o.recipe.seed = seed;
  return o;
}

absl::StatusOr<pipeline::DistillJobOptions> DistillOptionsFromProto(const v1::DistillSpec& spec,
                                                                    uint64_t seed,
                                                                    const InputFiles& files) {
  pipeline::DistillJobOptions o;
  ASSIGN_OR_RETURN(o.teacher, Model(files, "distill"));
  ASSIGN_OR_RETURN(o.student,
                   Input(files, "student", "distill.student_model_id", spec.student_model_id()));
  RETURN_IF_ERROR(SetData(spec, "distill", files, o));
  pipeline::DistillRecipeOptions& r = o.recipe;
  // The student source: explicit, else "model" when a student model is named.
  if (!spec.student().empty()) {
    r.student = spec.student();
  } else if (!spec.student_model_id().empty()) {
    r.student = "model";
  }
  if (spec.width() != 0) r.width = spec.width();
  if (spec.has_alpha()) r.alpha = static_cast<float>(spec.alpha());  // 0 is CE + features
  if (spec.temperature() != 0) r.temperature = static_cast<float>(spec.temperature());
  RETURN_IF_ERROR(NonNegative("distill.epochs", spec.epochs()));
  if (spec.epochs() != 0) r.epochs = spec.epochs();
  RETURN_IF_ERROR(NonNegative("distill.batch_size", spec.batch_size()));
  if (spec.batch_size() != 0) r.batch_size = spec.batch_size();
  if (spec.lr() != 0) r.lr = static_cast<float>(spec.lr());
  SetIf(spec.optimizer(), r.optimizer);
  if (spec.weight_decay() != 0) r.weight_decay = static_cast<float>(spec.weight_decay());
  r.baseline = spec.baseline();
  RETURN_IF_ERROR(NonNegative("distill.latency_iterations", spec.latency_iterations()));
  if (spec.latency_iterations() != 0) r.latency_iterations = spec.latency_iterations();
  if (spec.skip_latency()) r.latency_iterations = 0;
  for (const v1::DistillFeaturePair& f : spec.features()) {
    r.features.push_back({.teacher_value = f.teacher_value(),
                          .student_value = f.student_value(),
                          .weight = f.weight() != 0 ? static_cast<float>(f.weight()) : 1.0f});
  }
  RETURN_IF_ERROR(NonNegative("distill.qat_epochs", spec.qat_epochs()));
  r.qat_epochs = spec.qat_epochs();
  r.qat_lr = static_cast<float>(spec.qat_lr());  // 0: the recipe's lr / 10
  r.qat_target = spec.qat_target();
  r.seed = seed;
  return o;
}

absl::StatusOr<pipeline::ComposeJobOptions> ComposeOptionsFromProto(const v1::ComposeSpec& spec,
                                                                    uint64_t seed,
                                                                    const InputFiles& files) {
  pipeline::ComposeJobOptions o;
  ASSIGN_OR_RETURN(o.model, Model(files, "compose"));
  RETURN_IF_ERROR(SetData(spec, "compose", files, o));
  ASSIGN_OR_RETURN(o.calibration, Input(files, "calibration", "compose.calibration_dataset_id",
                                        spec.calibration_dataset_id()));
  RETURN_IF_ERROR(ApplyPruneSpec(spec.prune(), "compose.prune", o.prune));
  o.prune.seed = seed;
  // PtqSpec carries no dataset ids here (the service checks), so only its options are
  // taken; the recipe fills the model / calibration / eval paths.
  const int64_t default_calibration_samples = o.ptq.calibration_samples;
  absl::StatusOr<pipeline::PtqOptions> ptq = PtqOptionsFromProto(spec.ptq(), seed, files);
  if (!ptq.ok()) return Annotate(ptq.status(), "compose");
  o.ptq = *std::move(ptq);
  o.ptq.model.clear();
  if (spec.ptq().calibration_samples() == 0) {
    o.ptq.calibration_samples = default_calibration_samples;
  }
  RETURN_IF_ERROR(NonNegative("compose.qat_epochs", spec.qat_epochs()));
  o.qat_epochs = spec.qat_epochs();
  o.qat_lr = static_cast<float>(spec.qat_lr());  // 0: prune.lr / 10
  return o;
}

}  // namespace mp::runtime
