// The subcommands of `modelpress`, one file each (cmd_<name>.cc). Each takes its options
// and the CommandEnv, prints its result, and returns OK or the error (exit_codes.h maps
// it); commands that end with a job's outcome return it in `job_exit`.
#ifndef MP_CLIENT_COMMANDS_H_
#define MP_CLIENT_COMMANDS_H_

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/client.h"
#include "modelpress/v1/job.pb.h"
#include "modelpress/v1/model.pb.h"

namespace mp::client {

struct CommandEnv {
  Connection* conn = nullptr;
  std::ostream* out = nullptr;  // results
  std::ostream* err = nullptr;  // progress notes and errors
  bool json = false;            // --json
  bool tty = false;             // stdout is a terminal (live progress bar)
  int job_exit = 0;             // set by commands that wait for a job (exit_codes.h)
};

// ---- models and datasets (cmd_upload.cc, cmd_models.cc, cmd_datasets.cc) -----------------
struct UploadOptions {
  std::string path;
  std::string name;   // default: the file name
  bool wait = false;  // upload: wait for the model's inspect job
};
absl::Status UploadCommand(const UploadOptions& options, CommandEnv& env);
absl::Status UploadDataCommand(const UploadOptions& options, CommandEnv& env);

struct ListOptions {
  int limit = 50;
};
absl::Status ModelsCommand(const ListOptions& options, CommandEnv& env);
absl::Status ShowModelCommand(const std::string& id, CommandEnv& env);
absl::Status DatasetsCommand(const ListOptions& options, CommandEnv& env);

// ---- jobs (cmd_ptq.cc, cmd_submit.cc, cmd_jobs.cc, cmd_watch.cc, cmd_download.cc) --------
struct SubmitOptions {
  int32_t priority = 0;
  std::string idempotency_key;
  int32_t max_attempts = 0;
  bool watch = false;
};

struct PtqCommandOptions {
  std::string model;             // model id, or a local .onnx file (uploaded first)
  std::string calib;             // dataset id, or a local file (uploaded first)
  std::string eval;              // optional, same
  std::string labels;            // optional, same
  modelpress::v1::PtqSpec spec;  // every other PtqSpec field, from flags
  uint64_t seed = 0;
  SubmitOptions submit;
};
absl::Status PtqCommand(const PtqCommandOptions& options, CommandEnv& env);

// ---- training job kinds (cmd_compress.cc) --------------------------------------------------
// Data arguments of prune / distill / compose: dataset ids or local files (uploaded first);
// empty = not given.
struct TrainingDataArgs {
  std::string data, labels;            // training samples and their labels
  std::string eval_data, eval_labels;  // evaluation samples and their labels
};

struct PruneCommandOptions {
  std::string model;  // model id, or a local .onnx file (uploaded first)
  TrainingDataArgs data;
  modelpress::v1::PruneSpec spec;  // every other PruneSpec field, from flags
  uint64_t seed = 0;
  SubmitOptions submit;
};
absl::Status PruneCommand(const PruneCommandOptions& options, CommandEnv& env);

struct DistillCommandOptions {
  std::string teacher;        // model id, or a local .onnx file (uploaded first)
  std::string student_model;  // --student: the student (id or file); implies student "model"
  TrainingDataArgs data;
  modelpress::v1::DistillSpec spec;
  uint64_t seed = 0;
  SubmitOptions submit;
};
absl::Status DistillCommand(const DistillCommandOptions& options, CommandEnv& env);

struct ComposeCommandOptions {
  std::string model;
  TrainingDataArgs data;
  std::string calib;  // optional calibration samples (default: the training data)
  modelpress::v1::ComposeSpec spec;
  uint64_t seed = 0;
  SubmitOptions submit;
};
absl::Status ComposeCommand(const ComposeCommandOptions& options, CommandEnv& env);

struct SubmitCommandOptions {
  std::string spec_path;  // JobSpec in proto JSON (.json) or YAML (.yaml / .yml)
  SubmitOptions submit;
};
absl::Status SubmitCommand(const SubmitCommandOptions& options, CommandEnv& env);
// Parses a JobSpec file (JSON, or YAML converted to JSON); INVALID_ARGUMENT naming the file.
absl::StatusOr<modelpress::v1::JobSpec> ReadJobSpec(const std::string& path);

struct JobsOptions {
  std::vector<std::string> states;  // "queued", "running", ... or JOB_STATE_*
  std::string kind;                 // "ptq", ... or JOB_KIND_*
  std::string model_id;
  int limit = 50;
};
absl::Status JobsCommand(const JobsOptions& options, CommandEnv& env);
absl::Status ShowJobCommand(const std::string& id, CommandEnv& env);
absl::Status CancelCommand(const std::string& id, CommandEnv& env);

// Follows the job's events to its end, then prints the final job; sets env.job_exit.
absl::Status WatchCommand(const std::string& id, CommandEnv& env);

struct DownloadOptions {
  std::string job_id;
  std::string artifact = "model";
  std::string output;  // -o FILE
};
absl::Status DownloadCommand(const DownloadOptions& options, CommandEnv& env);

// ---- shared helpers ------------------------------------------------------------------------
// Submits `spec`; prints the job id (or the Job as JSON); with options.watch, watches it.
absl::Status SubmitAndMaybeWatch(const modelpress::v1::JobSpec& spec, const SubmitOptions& options,
                                 CommandEnv& env);

}  // namespace mp::client

#endif  // MP_CLIENT_COMMANDS_H_
