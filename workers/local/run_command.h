// `modelpress-worker run`: runs an ONNX model on local files, no server involved.
//
//   modelpress-worker run --model m.onnx --input x.npy [--input name=y.pb ...]
//                         --output-dir out/ [--threads N]
//
// Inputs are .npy files (data/npy.h) or ONNX TensorProto .pb files (onnx/onnx.h), chosen by
// extension. "name=path" binds to the graph input `name` when a feedable input has that
// name; any other argument is a path bound positionally, in order, to the feedable inputs
// not bound by name. A float64 .npy fed to a float32 input is converted (numpy's default
// dtype is float64). Each graph output is written as <output-dir>/<name>.npy, with the name
// sanitised to [A-Za-z0-9._-] (others become '_'; "." and ".." prefixed with '_'; clashes
// get a numeric suffix). The directory is created if missing.
//
// Errors are one line naming the culprit, e.g. "input 'x' (a.npy): dim 1 is 4, expected 3".
#ifndef MP_WORKERS_LOCAL_RUN_COMMAND_H_
#define MP_WORKERS_LOCAL_RUN_COMMAND_H_

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace mp::local {

struct RunCommandOptions {
  std::string model_path;
  std::vector<std::string> inputs;  // "path" or "name=path"
  std::string output_dir;
  int threads = 1;
};

// Runs the command; writes one line per output file to `log` ("wrote out/y.npy
// float32[1, 10]").
absl::Status RunModelCommand(const RunCommandOptions& options, std::ostream& log);

// The file-name stem for output `name` (see the header comment; clashes not handled here).
std::string SanitizeFileName(std::string_view name);

}  // namespace mp::local

#endif  // MP_WORKERS_LOCAL_RUN_COMMAND_H_
