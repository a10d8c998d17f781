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
  ASSIGN_OR_RETURN(std::string calib,
                   ResolveDatasetArg(*env.conn, options.calib, "--calib", *env.err));
  spec.mutable_ptq()->set_calibration_dataset_id(calib);
  if (!options.eval.empty()) {
    ASSIGN_OR_RETURN(std::string eval,
                     ResolveDatasetArg(*env.conn, options.eval, "--eval", *env.err));
    spec.mutable_ptq()->set_eval_dataset_id(eval);
  }
  if (!options.labels.empty()) {
    if (options.eval.empty()) {
      return absl::InvalidArgumentError("--labels needs --eval (labels of the eval samples)");
    }
    ASSIGN_OR_RETURN(std::string labels,
                     ResolveDatasetArg(*env.conn, options.labels, "--labels", *env.err));
    spec.mutable_ptq()->set_eval_labels_dataset_id(labels);
  }
  return SubmitAndMaybeWatch(spec, options.submit, env);
}

}  // namespace mp::client
