// `modelpress-worker ptq`: the ptq recipe (workers/engine/pipeline/ptq.h) run locally, with
// no server:
//
//   modelpress-worker ptq --model m.onnx --calib calib.npy [--eval x.npy --labels y.npy]
//       [--calibrator minmax|percentile|entropy|mse] [--percentile 99.99]
//       [--activations uint8_asymmetric|int8_symmetric] [--per-tensor-weights]
//       [--target x86_avx2|x86_vnni|arm] [--reduce-range] [--mode static|dynamic|fp16|bf16]
//       [--max-accuracy-drop 0.01] [--calib-samples N] [--eval-samples N]
//       [--latency-batch 1 --latency-batch 64] [--no-sensitivity] [--threads N]
//       -o out.onnx [--report report.json] [--quiet]
//
// Data files: .npy, IDX (.gz or not) or TensorProto .pb (see ptq.h). The recipe runs in a
// scratch directory; its artifacts are then copied to -o and --report (written atomically).
// Progress goes to stderr (one line per step) unless --quiet; a short summary goes to `out`.
#ifndef MP_WORKERS_LOCAL_PTQ_COMMAND_H_
#define MP_WORKERS_LOCAL_PTQ_COMMAND_H_

#include <ostream>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "workers/engine/pipeline/ptq.h"

namespace mp::local {

struct PtqCommandOptions {
  pipeline::PtqOptions ptq;
  std::string output_path;  // required
  std::string report_path;  // optional
  int threads = 1;
  bool quiet = false;
};

// Registers the `ptq` subcommand on `app`, parsing into `options` (which must outlive it).
CLI::App* AddPtqSubcommand(CLI::App& app, PtqCommandOptions& options);

absl::Status PtqCommand(const PtqCommandOptions& options, std::ostream& out, std::ostream& log);

}  // namespace mp::local

#endif  // MP_WORKERS_LOCAL_PTQ_COMMAND_H_
