// `modelpress-worker prune`: prune an ONNX model locally, optionally recovering accuracy by
// fine-tuning or distillation (the prune recipe, workers/engine/pipeline/prune.h):
//
//   modelpress-worker prune --model m.onnx --method structured|magnitude|nm
//       [--sparsity 0.5] [--norm l1|l2] [--scope layer|global] [--per-layer NAME=S ...]
//       [--exclude NAME ...] [--nm 2:4] [--round-to K] [--schedule oneshot|agp]
//       [--prune-steps 4] -o out.onnx [--report report.json]
//       [--data IMAGES --labels LABELS] [--eval-data IMAGES --eval-labels LABELS]
//       [--recover none|finetune|distill] [--epochs 3] [--lr 1e-3] [--optimizer adam]
//       [--batch-size 64] [--alpha 0.7] [--temperature 4] [--seed 0] [--threads 1]
//       [--limit N] [--holdout 0.1]
//
// Data: IDX (.gz or not, MNIST layout) or .npy (uint8 scaled by 1/255). --recover defaults
// to none (pruning only, as before); finetune / distill need --data/--labels. Evaluation
// data: --eval-data/--eval-labels if given, else the last --holdout fraction of --data
// (which is then not trained on), else none. --limit caps the training samples.
// With evaluation data the report also holds accuracy before/after, batch-1 latency and
// the per-epoch curve. --schedule agp prunes in --prune-steps steps along the AGP schedule
// with recovery between them (pipeline/prune.h). The command runs pipeline::RunPruneJob with
// a LocalContext (progress lines to `out`) and copies its artifacts to -o / --report.
//
// structured: removes --sparsity of each coupled channel group's output channels (a smaller
// dense model); magnitude: zeros the smallest weights (per layer or one global threshold);
// nm: keeps N of every M weights along K. The report (JSON) holds the options, the model
// statistics before and after (MACs for a batch of 1, parameters, bytes) and one entry per
// layer (channels or sparsity, and why a layer was skipped). A short summary goes to `out`.
#ifndef MP_WORKERS_LOCAL_PRUNE_COMMAND_H_
#define MP_WORKERS_LOCAL_PRUNE_COMMAND_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "workers/engine/pipeline/prune.h"

namespace mp::local {

struct PruneCommandOptions {
  // Model, data and recipe options (the recipe's defaults), except that without
  // --eval-data the last 10% of --data is held out for evaluation.
  pipeline::PruneJobOptions job = [] {
    pipeline::PruneJobOptions j;
    j.holdout = 0.1;
    return j;
  }();
  std::string output_path;  // required
  std::string report_path;  // optional
};

// Registers the `prune` subcommand on `app`, parsing into `options` (which must outlive it).
CLI::App* AddPruneSubcommand(CLI::App& app, PruneCommandOptions& options);

absl::Status PruneCommand(const PruneCommandOptions& options, std::ostream& out);

}  // namespace mp::local

#endif  // MP_WORKERS_LOCAL_PRUNE_COMMAND_H_
