// modelpress upload MODEL.onnx [--name N] [--wait]
// modelpress upload-data FILE [--name N]
// Print the new id (or, with --json, the stored Model / Dataset).
#include "client/commands.h"
#include "client/exit_codes.h"
#include "client/format.h"
#include "client/upload.h"
#include "client/watch.h"
#include "common/status.h"

namespace mp::client {

namespace v1 = ::modelpress::v1;

absl::Status UploadCommand(const UploadOptions& options, CommandEnv& env) {
  ASSIGN_OR_RETURN(v1::Model model, UploadModelFile(*env.conn, options.path, options.name));
  if (options.wait && !model.inspect_job_id().empty()) {
    ASSIGN_OR_RETURN(v1::Job job,
                     FollowJob(*env.conn, model.inspect_job_id(), [](const v1::JobEvent&) {}));
    if (job.state() != v1::JOB_STATE_SUCCEEDED) {
      *env.err << "model " << model.id() << ": inspect job " << job.id() << " "
               << StateName(job.state()) << (job.error().empty() ? "" : ": ") << job.error()
               << "\n";
      env.job_exit = ExitCodeForJobState(job.state());
    }
    v1::GetModelRequest get;
    get.set_id(model.id());
    auto context = env.conn->Context();
    RETURN_IF_ERROR(FromGrpc(env.conn->models().GetModel(context.get(), get, &model),
                             mp::StrCat("get model ", model.id())));
  }
  if (env.json) {
    PrintJson(model, *env.out);
  } else {
    *env.out << model.id() << "\n";
  }
  return absl::OkStatus();
}

absl::Status UploadDataCommand(const UploadOptions& options, CommandEnv& env) {
  ASSIGN_OR_RETURN(v1::Dataset dataset, UploadDatasetFile(*env.conn, options.path, options.name));
  if (env.json) {
    PrintJson(dataset, *env.out);
  } else {
    *env.out << dataset.id() << "\n";
  }
  return absl::OkStatus();
}

}  // namespace mp::client
