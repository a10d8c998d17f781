// `modelpress-worker eval`: accuracy and latency of an ONNX model on local data.
//
//   modelpress-worker eval --model m.onnx --data images [--labels labels] [--limit N]
//                          [--batch-size 256] [--threads N] [--latency-batch 1 ...]
//                          [--iterations 20] [--json]
//
// Data: IDX files (MNIST / Fashion-MNIST, .gz or not; images become float32 in [0, 1] with a
// channel axis, [N, 1, H, W]) or .npy (float32 kept; uint8 divided by 255; other integer
// types converted as is). When the model's single input declares static sample dims with
// the same element count as the data's (e.g. [N, 784] for [N, 1, 28, 28] images), samples
// are reshaped to it. Labels are optional: without them only latency and predictions are
// reported.
//
// Reports the model file size, parameter count, node count, top-1 accuracy (with labels)
// and, for each --latency-batch B, the latency of one batch of B samples (the first B of the
// data, repeated if the data has fewer). --json prints one JSON object instead of the table.
#ifndef MP_WORKERS_LOCAL_EVAL_COMMAND_H_
#define MP_WORKERS_LOCAL_EVAL_COMMAND_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace mp::local {

struct EvalCommandOptions {
  std::string model_path;
  std::string data_path;
  std::string labels_path;  // optional
  int64_t limit = -1;       // first N samples; -1 = all
  int64_t batch_size = 256;
  int threads = 1;
  std::vector<int64_t> latency_batches = {1, 256};
  int iterations = 20;
  bool json = false;
};

absl::Status EvalModelCommand(const EvalCommandOptions& options, std::ostream& out);

}  // namespace mp::local

#endif  // MP_WORKERS_LOCAL_EVAL_COMMAND_H_
