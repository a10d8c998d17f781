// `modelpress-worker prune`: prune an ONNX model locally (workers/engine/prune/prune.h), no
// fine-tuning yet:
//
//   modelpress-worker prune --model m.onnx --method structured|magnitude|nm
//       [--sparsity 0.5] [--norm l1|l2] [--scope layer|global] [--per-layer NAME=S ...]
//       [--exclude NAME ...] [--nm 2:4] [--round-to K] -o out.onnx [--report report.json]
//
// structured: removes --sparsity of each coupled channel group's output channels (a smaller
// dense model); magnitude: zeros the smallest weights (per layer or one global threshold);
// nm: keeps N of every M weights along K. The report (JSON) holds the options, the model
// statistics before and after (MACs for a batch of 1, parameters, bytes) and one entry per
// layer (channels or sparsity, and why a layer was skipped). A short summary goes to `out`.
#ifndef MP_WORKERS_LOCAL_PRUNE_COMMAND_H_
#define MP_WORKERS_LOCAL_PRUNE_COMMAND_H_

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
  std::string output_path;  // required
  std::string report_path;  // optional
};

// Registers the `prune` subcommand on `app`, parsing into `options` (which must outlive it).
CLI::App* AddPruneSubcommand(CLI::App& app, PruneCommandOptions& options);

absl::Status PruneCommand(const PruneCommandOptions& options, std::ostream& out);

}  // namespace mp::local

#endif  // MP_WORKERS_LOCAL_PRUNE_COMMAND_H_
