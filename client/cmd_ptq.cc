// modelpress ptq MODEL_ID|MODEL.onnx --calib DATASET_ID|FILE [--eval ...] [--labels ...]
//               [PtqSpec flags] [submit flags] [--watch]
// Arguments that are not ids ("model_<16 hex>", "data_<16 hex>") are local files, uploaded
// first (their ids are printed on stderr).
#include "client/commands.h"
#include "client/upload.h"
#include "common/ids.h"
#include "common/status.h"

namespace mp::client {

namespace v1 = ::modelpress::v1;

namespace {

absl::StatusOr<std::string> ResolveDataset(const std::string& arg, const char* flag,
                                           CommandEnv& env) {
  if (DatasetId::Parse(arg).ok()) return arg;
  absl::StatusOr<v1::Dataset> d = UploadDatasetFile(*env.conn, arg, "");
  if (!d.ok()) return mp::Annotate(d.status(), flag);
  *env.err << "uploaded " << arg << " as " << d->id() << "\n";
  return d->id();
}

}  // namespace

absl::Status PtqCommand(const PtqCommandOptions& options, CommandEnv& env) {
  v1::JobSpec spec;
  spec.set_kind(v1::JOB_KIND_PTQ);
  spec.set_seed(options.seed);
  *spec.mutable_ptq() = options.spec;
  if (ModelId::Parse(options.model).ok()) {
    spec.set_model_id(options.model);
  } else {
    ASSIGN_OR_RETURN(v1::Model m, UploadModelFile(*env.conn, options.model, ""));
    *env.err << "uploaded " << options.model << " as " << m.id() << "\n";
    spec.set_model_id(m.id());
  }
  ASSIGN_OR_RETURN(std::string calib, ResolveDataset(options.calib, "--calib", env));
  spec.mutable_ptq()->set_calibration_dataset_id(calib);
  if (!options.eval.empty()) {
    ASSIGN_OR_RETURN(std::string eval, ResolveDataset(options.eval, "--eval", env));
    spec.mutable_ptq()->set_eval_dataset_id(eval);
  }
  if (!options.labels.empty()) {
    if (options.eval.empty()) {
      return absl::InvalidArgumentError("--labels needs --eval (labels of the eval samples)");
    }
    ASSIGN_OR_RETURN(std::string labels, ResolveDataset(options.labels, "--labels", env));
    spec.mutable_ptq()->set_eval_labels_dataset_id(labels);
  }
  return SubmitAndMaybeWatch(spec, options.submit, env);
}

}  // namespace mp::client
