#include "client/cli.h"

#include <cstdlib>
#include <functional>

#include "CLI/CLI.hpp"
#include "client/cli_flags.h"
#include "client/client.h"
#include "client/commands.h"
#include "client/exit_codes.h"
#include "common/version.h"

namespace mp::client {

namespace {

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

// The PtqSpec fields as flags of `ptq`.
void AddPtqFlags(CLI::App* cmd, PtqCommandOptions* o) {
  cmd->add_option("model", o->model, "Model id (model_...) or a local .onnx file")->required();
  cmd->add_option("--calib", o->calib, "Calibration samples: dataset id or local file")->required();
  cmd->add_option("--eval", o->eval, "Evaluation samples: dataset id or local file");
  cmd->add_option("--labels", o->labels, "Labels of the eval samples: dataset id or local file");
  AddPtqSpecFlags(cmd, &o->spec);
  cmd->add_option("--seed", o->seed, "Seed (0: the server picks one)");
}

}  // namespace

int RunCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, bool tty) {
  CLI::App app{"modelpress: upload models and data, run compression jobs, watch, download"};
  app.set_version_flag("--version", std::string(kVersion));
  app.footer(ExitCodeTable());
  app.require_subcommand(1);
  app.fallthrough();
  std::string server = EnvOr("MODELPRESS_SERVER", kDefaultServer);
  std::string token = EnvOr("MODELPRESS_TOKEN", "");
  bool json = false;
  app.add_option(
      "--server", server,
      "Server HOST:PORT (default: $MODELPRESS_SERVER or " + std::string(kDefaultServer) + ")");
  app.add_option("--token", token, "Bearer token (default: $MODELPRESS_TOKEN)");
  app.add_flag("--json", json, "Machine-readable output (proto JSON)");

  std::function<absl::Status(CommandEnv&)> run;

  UploadOptions upload;
  auto* c = app.add_subcommand("upload", "Upload an ONNX model; prints its id");
  c->add_option("file", upload.path, "The .onnx file")->required();
  c->add_option("--name", upload.name, "Name (default: the file name)");
  c->add_flag("--wait", upload.wait, "Wait for the model's inspect job");
  c->callback([&] { run = [&](CommandEnv& e) { return UploadCommand(upload, e); }; });

  UploadOptions upload_data;
  c = app.add_subcommand("upload-data", "Upload a dataset (.npy, IDX[.gz], TensorProto .pb)");
  c->add_option("file", upload_data.path, "The data file")->required();
  c->add_option("--name", upload_data.name, "Name (default: the file name)");
  c->callback([&] { run = [&](CommandEnv& e) { return UploadDataCommand(upload_data, e); }; });

  ListOptions list;
  c = app.add_subcommand("models", "List models");
  c->add_option("--limit", list.limit, "At most N")->check(CLI::Range(1, 100000));
  c->callback([&] { run = [&](CommandEnv& e) { return ModelsCommand(list, e); }; });
  c = app.add_subcommand("datasets", "List datasets");
  c->add_option("--limit", list.limit, "At most N")->check(CLI::Range(1, 100000));
  c->callback([&] { run = [&](CommandEnv& e) { return DatasetsCommand(list, e); }; });

  std::string id;
  c = app.add_subcommand("show-model", "A model and its inspection");
  c->add_option("id", id, "Model id")->required();
  c->callback([&] { run = [&](CommandEnv& e) { return ShowModelCommand(id, e); }; });

  PtqCommandOptions ptq;
  c = app.add_subcommand("ptq", "Post-training int8 quantization of a model");
  AddPtqFlags(c, &ptq);
  AddSubmitFlags(c, &ptq.submit);
  c->callback([&] { run = [&](CommandEnv& e) { return PtqCommand(ptq, e); }; });

  CompressCommands compress;
  AddCompressSubcommands(app, compress, run);

  SubmitCommandOptions submit;
  c = app.add_subcommand("submit", "Submit a JobSpec from a JSON (or YAML) file");
  c->add_option("--spec", submit.spec_path, "JobSpec in proto JSON (.json) or YAML (.yaml)")
      ->required();
  AddSubmitFlags(c, &submit.submit);
  c->callback([&] { run = [&](CommandEnv& e) { return SubmitCommand(submit, e); }; });

  JobsOptions jobs;
  c = app.add_subcommand("jobs", "List jobs");
  c->add_option("--state", jobs.states, "queued, running, succeeded, failed, cancelled, dead");
  c->add_option("--kind", jobs.kind, "inspect, ptq, prune, distill, search, compose");
  c->add_option("--model", jobs.model_id, "Only jobs of this model");
  c->add_option("--limit", jobs.limit, "At most N (default 50)")->check(CLI::Range(1, 100000));
  c->callback([&] { run = [&](CommandEnv& e) { return JobsCommand(jobs, e); }; });

  c = app.add_subcommand("show", "A job: state, metrics, artifacts, inputs");
  c->add_option("job", id, "Job id")->required();
  c->callback([&] { run = [&](CommandEnv& e) { return ShowJobCommand(id, e); }; });
  c = app.add_subcommand("watch", "Follow a job to its end (exit status: its outcome)");
  c->add_option("job", id, "Job id")->required();
  c->callback([&] { run = [&](CommandEnv& e) { return WatchCommand(id, e); }; });
  c = app.add_subcommand("cancel", "Cancel a queued or running job");
  c->add_option("job", id, "Job id")->required();
  c->callback([&] { run = [&](CommandEnv& e) { return CancelCommand(id, e); }; });

  DownloadOptions download;
  c = app.add_subcommand("download", "Download a job's artifact (verified, never half written)");
  c->add_option("job", download.job_id, "Job id")->required();
  c->add_option("--artifact", download.artifact,
                "Artifact name (default: model): model, report; compose also pruned_model; "
                "with --qat-epochs: distill also int8_model, ranges; compose also ranges");
  c->add_option("-o,--output", download.output, "Output file")->required();
  c->callback([&] { run = [&](CommandEnv& e) { return DownloadCommand(download, e); }; });

  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e, out, err);
    return code == 0 ? kExitOk : kExitUsage;
  }
  if (!run) return kExitUsage;

  std::unique_ptr<Connection> conn = Connection::Dial(server, token);
  CommandEnv env{.conn = conn.get(), .out = &out, .err = &err, .json = json, .tty = tty};
  const absl::Status status = run(env);
  if (!status.ok()) {
    err << "modelpress: error: " << std::string(status.message()) << "\n";
    return ExitCodeFor(status);
  }
  return env.job_exit;
}

}  // namespace mp::client
