// modelpress prune MODEL [--data D --labels L] [--eval-data E --eval-labels EL] [flags]
// modelpress distill TEACHER --data D --labels L [--student S | --student-width W] [flags]
// modelpress compose MODEL --data D --labels L [--calib C] [prune and ptq flags]
// Arguments that are not ids ("model_<16 hex>", "data_<16 hex>") are local files, uploaded
// first (their ids are printed on stderr); the server validates the rest of the spec.
#include "client/commands.h"
#include "client/upload.h"
#include "common/status.h"

namespace mp::client {

namespace v1 = ::modelpress::v1;

namespace {

// Resolves the data arguments (uploading local files) into the spec's dataset id fields.
// Labels without their samples are a usage error.
template <typename Spec>
absl::Status ResolveData(const TrainingDataArgs& args, Spec* spec, CommandEnv& env) {
  if (!args.labels.empty() && args.data.empty()) {
    return absl::InvalidArgumentError("--labels needs --data (labels of the training samples)");
  }
  if (!args.eval_labels.empty() && args.eval_data.empty()) {
    return absl::InvalidArgumentError("--eval-labels needs --eval-data");
  }
  Connection& conn = *env.conn;
  if (!args.data.empty()) {
    ASSIGN_OR_RETURN(std::string id, ResolveDatasetArg(conn, args.data, "--data", *env.err));
    spec->set_train_dataset_id(id);
  }
  if (!args.labels.empty()) {
    ASSIGN_OR_RETURN(std::string id, ResolveDatasetArg(conn, args.labels, "--labels", *env.err));
    spec->set_train_labels_dataset_id(id);
  }
  if (!args.eval_data.empty()) {
    ASSIGN_OR_RETURN(std::string id,
                     ResolveDatasetArg(conn, args.eval_data, "--eval-data", *env.err));
    spec->set_eval_dataset_id(id);
  }
  if (!args.eval_labels.empty()) {
    ASSIGN_OR_RETURN(std::string id,
                     ResolveDatasetArg(conn, args.eval_labels, "--eval-labels", *env.err));
    spec->set_eval_labels_dataset_id(id);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status PruneCommand(const PruneCommandOptions& options, CommandEnv& env) {
  v1::JobSpec spec;
  spec.set_kind(v1::JOB_KIND_PRUNE);
  spec.set_seed(options.seed);
  *spec.mutable_prune() = options.spec;
  ASSIGN_OR_RETURN(std::string model, ResolveModelArg(*env.conn, options.model, "model", *env.err));
  spec.set_model_id(model);
  RETURN_IF_ERROR(ResolveData(options.data, spec.mutable_prune(), env));
  return SubmitAndMaybeWatch(spec, options.submit, env);
}

absl::Status DistillCommand(const DistillCommandOptions& options, CommandEnv& env) {
  v1::JobSpec spec;
  spec.set_kind(v1::JOB_KIND_DISTILL);
  spec.set_seed(options.seed);
  *spec.mutable_distill() = options.spec;
  ASSIGN_OR_RETURN(std::string teacher,
                   ResolveModelArg(*env.conn, options.teacher, "teacher", *env.err));
  spec.set_model_id(teacher);
  if (!options.student_model.empty()) {
    ASSIGN_OR_RETURN(std::string student,
                     ResolveModelArg(*env.conn, options.student_model, "--student", *env.err));
    spec.mutable_distill()->set_student_model_id(student);
  }
  RETURN_IF_ERROR(ResolveData(options.data, spec.mutable_distill(), env));
  return SubmitAndMaybeWatch(spec, options.submit, env);
}

absl::Status ComposeCommand(const ComposeCommandOptions& options, CommandEnv& env) {
  v1::JobSpec spec;
  spec.set_kind(v1::JOB_KIND_COMPOSE);
  spec.set_seed(options.seed);
  *spec.mutable_compose() = options.spec;
  ASSIGN_OR_RETURN(std::string model, ResolveModelArg(*env.conn, options.model, "model", *env.err));
  spec.set_model_id(model);
  RETURN_IF_ERROR(ResolveData(options.data, spec.mutable_compose(), env));
  if (!options.calib.empty()) {
    ASSIGN_OR_RETURN(std::string calib,
                     ResolveDatasetArg(*env.conn, options.calib, "--calib", *env.err));
    spec.mutable_compose()->set_calibration_dataset_id(calib);
  }
  return SubmitAndMaybeWatch(spec, options.submit, env);
}

}  // namespace mp::client
