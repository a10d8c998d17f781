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

namespace mp::local {

struct PruneCommandOptions {
  std::string model_path;             // required
  std::string method = "structured";  // structured | magnitude | nm
  double sparsity = 0.5;
  std::string norm = "l1";             // structured: l1 | l2
  std::string scope = "layer";         // magnitude: layer | global
  std::vector<std::string> per_layer;  // "NAME=S"
  std::vector<std::string> exclude;
  std::string nm = "2:4";
  int64_t round_to = 1;
  std::string schedule = "oneshot";  // oneshot | agp
  int prune_steps = 4;               // agp
  std::string output_path;           // required
  std::string report_path;           // optional
  std::string data_path, labels_path;
  std::string eval_data_path, eval_labels_path;
  std::string recover = "none";
  int epochs = 3;
  float lr = 1e-3f;
  std::string optimizer = "adam";
  float weight_decay = 0.0f;
  int64_t batch_size = 64;
  float alpha = 0.7f;
  float temperature = 4.0f;
  uint64_t seed = 0;
  int threads = 1;
  int64_t limit = 0;     // 0: all training samples
  double holdout = 0.1;  // without --eval-data: fraction of --data held out, [0, 1)
};

// Registers the `prune` subcommand on `app`, parsing into `options` (which must outlive it).
CLI::App* AddPruneSubcommand(CLI::App& app, PruneCommandOptions& options);

absl::Status PruneCommand(const PruneCommandOptions& options, std::ostream& out);

}  // namespace mp::local

#endif  // MP_WORKERS_LOCAL_PRUNE_COMMAND_H_
