// `modelpress-worker compose`: prune -> recover -> int8 PTQ locally (the compose recipe,
// workers/engine/pipeline/compose.h), with a report comparing the original fp32, the pruned
// fp32 and the int8 model:
//
//   modelpress-worker compose --model m.onnx --data IMAGES --labels LABELS
//       [--eval-data IMAGES --eval-labels LABELS] [--limit N] [--holdout 0.1]
//       prune flags: [--method structured|magnitude|nm] [--sparsity 0.5] [--norm l1|l2]
//         [--scope layer|global] [--per-layer NAME=S ...] [--exclude NAME ...] [--nm 2:4]
//         [--round-to K] [--schedule oneshot|agp] [--prune-steps 4]
//         [--recover distill|finetune|none] [--epochs 3] [--lr 1e-3] [--optimizer adam]
//         [--weight-decay 0] [--batch-size 64] [--alpha 0.7] [--temperature 4] [--seed 0]
//       ptq flags: [--calib SAMPLES] [--calibrator minmax|percentile|entropy|mse]
//         [--activations uint8_asymmetric|int8_symmetric] [--target x86_avx2|x86_vnni|arm]
//         [--calib-samples 512] [--latency-batch 1 --latency-batch 64]
//       qat flags: [--qat-epochs 0] [--qat-lr 0]
//       [--threads N] -o out.int8.onnx [--pruned-output pruned.onnx] [--report report.json]
//       [--quiet]
//
// Data: .npy, IDX (.gz or not) or TensorProto .pb. Calibration defaults to the first
// --calib-samples rows of --data. --qat-epochs N > 0 runs N epochs of quantization-aware
// training after recovery (its loss, at --qat-lr, default --lr / 10, for --target) and
// quantizes with the learned ranges; the table then also shows accuracy_ptq (plain PTQ of the
// recovered model). Evaluation: --eval-data if given, else the last --holdout
// of --data (not trained on), else none. Progress goes to `log` unless --quiet; the
// comparison table goes to `out`.
#ifndef MP_WORKERS_LOCAL_COMPOSE_COMMAND_H_
#define MP_WORKERS_LOCAL_COMPOSE_COMMAND_H_

#include <ostream>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "workers/engine/pipeline/compose.h"

namespace mp::local {

struct ComposeCommandOptions {
  pipeline::ComposeJobOptions compose = [] {
    pipeline::ComposeJobOptions o;
    o.holdout = 0.1;
    return o;
  }();
  std::string output_path;         // required: the int8 model
  std::string pruned_output_path;  // optional: the pruned fp32 model
  std::string report_path;         // optional
  int threads = 1;
  bool quiet = false;
};

// Registers the `compose` subcommand on `app`, parsing into `options` (which must outlive it).
CLI::App* AddComposeSubcommand(CLI::App& app, ComposeCommandOptions& options);

absl::Status ComposeCommand(const ComposeCommandOptions& options, std::ostream& out,
                            std::ostream& log);

}  // namespace mp::local

#endif  // MP_WORKERS_LOCAL_COMPOSE_COMMAND_H_
