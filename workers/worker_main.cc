// modelpress-worker: the engine process. Without a subcommand it runs the lease loop
// against a server (workers/runtime/command.h). Subcommands:
//   run   run an ONNX model on local .npy / .pb inputs (workers/local/run_command.h).
//   ptq   post-training quantization, locally (workers/local/ptq_command.h).
//   prune prune a model locally (workers/local/prune_command.h).
//   compose prune + recover + int8 PTQ, locally (workers/local/compose_command.h).
//   distill distill a smaller student from a teacher, locally (workers/local/distill_command.h).
// Exit codes: 0 success, 1 a failed command (one-line error on stderr), 2 bad usage.
#include <iostream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "workers/local/compose_command.h"
#include "workers/local/distill_command.h"
#include "workers/local/eval_command.h"
#include "workers/local/prune_command.h"
#include "workers/local/ptq_command.h"
#include "workers/local/run_command.h"
#include "workers/runtime/command.h"

namespace {

int Fail(const absl::Status& status) {
  std::cerr << "modelpress-worker: error: " << std::string(status.message()) << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"modelpress-worker: runs modelpress engine jobs"};
  app.require_subcommand(0, 1);

  mp::runtime::WorkerCommandOptions loop;  // no subcommand: the lease loop
  mp::runtime::AddWorkerCommandFlags(&app, &loop);

  mp::local::RunCommandOptions run;
  CLI::App* run_cmd = app.add_subcommand("run", "Run an ONNX model on .npy / .pb inputs");
  run_cmd->add_option("--model", run.model_path, "ONNX model file")->required();
  run_cmd->add_option("--input", run.inputs,
                      "Input file (.npy or TensorProto .pb), optionally name=FILE; repeatable");
  run_cmd->add_option("--output-dir", run.output_dir, "Directory for <output>.npy files")
      ->required();
  run_cmd->add_option("--threads", run.threads, "Kernel threads (>= 1)")
      ->check(CLI::Range(1, 1024));

  mp::local::EvalCommandOptions eval;
  CLI::App* eval_cmd =
      app.add_subcommand("eval", "Accuracy and latency of an ONNX model on local data");
  eval_cmd->add_option("--model", eval.model_path, "ONNX model file")->required();
  eval_cmd->add_option("--data", eval.data_path, "Samples: IDX (.gz) or .npy")->required();
  eval_cmd->add_option("--labels", eval.labels_path, "Labels: IDX (.gz) or .npy");
  eval_cmd->add_option("--limit", eval.limit, "Use the first N samples (-1: all)");
  eval_cmd->add_option("--batch-size", eval.batch_size, "Evaluation batch size")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  eval_cmd->add_option("--threads", eval.threads, "Kernel threads (>= 1)")
      ->check(CLI::Range(1, 1024));
  eval_cmd->add_option("--latency-batch", eval.latency_batches, "Batch sizes to time")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  eval_cmd->add_option("--iterations", eval.iterations, "Timed runs per latency batch")
      ->check(CLI::Range(1, 1000000));
  eval_cmd->add_flag("--json", eval.json, "Print one JSON object");

  mp::local::PtqCommandOptions ptq;
  CLI::App* ptq_cmd = mp::local::AddPtqSubcommand(app, ptq);

  mp::local::PruneCommandOptions prune;
  CLI::App* prune_cmd = mp::local::AddPruneSubcommand(app, prune);

  mp::local::ComposeCommandOptions compose;
  CLI::App* compose_cmd = mp::local::AddComposeSubcommand(app, compose);

  mp::local::DistillCommandOptions distill;
  CLI::App* distill_cmd = mp::local::AddDistillSubcommand(app, distill);

  CLI11_PARSE(app, argc, argv);
  if (app.get_subcommands().empty()) return mp::runtime::RunWorkerCommand(loop);

  if (eval_cmd->parsed()) {
    absl::Status status = mp::local::EvalModelCommand(eval, std::cout);
    if (!status.ok()) return Fail(status);
  }

  if (ptq_cmd->parsed()) {
    absl::Status status = mp::local::PtqCommand(ptq, std::cout, std::cerr);
    if (!status.ok()) return Fail(status);
  }

  if (prune_cmd->parsed()) {
    absl::Status status = mp::local::PruneCommand(prune, std::cout);
    if (!status.ok()) return Fail(status);
  }

  if (compose_cmd->parsed()) {
    absl::Status status = mp::local::ComposeCommand(compose, std::cout, std::cerr);
    if (!status.ok()) return Fail(status);
  }

  if (distill_cmd->parsed()) {
    absl::Status status = mp::local::DistillCommand(distill, std::cout, std::cerr);
    if (!status.ok()) return Fail(status);
  }

  if (run_cmd->parsed()) {
    absl::Status status = mp::local::RunModelCommand(run, std::cout);
    if (!status.ok()) return Fail(status);
  }
  return 0;
}
