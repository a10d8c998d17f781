// The inspect recipe: what a model is, read without running it. The server starts one for
// every uploaded model and stores the result on the model (DESIGN.md §2: model bytes are
// parsed only inside workers).
//
// Steps: read the file -> import (onnx::ImportModelFile: the full validation of untrusted
// bytes) -> describe. Every op type is checked against the exec registry at the model's
// default-domain opset; an op the engine cannot run is listed in `unsupported_ops` (the
// model is still described: inspect reports what another job would reject).
//
// Errors: a model that fails import is INVALID_ARGUMENT (or UNIMPLEMENTED / RESOURCE_EXHAUSTED
// as the importer classifies it) with the importer's message, prefixed with the model's
// name, e.g. "model 'lenet.onnx': node 'conv3' (Conv): ...". The recipe writes no artifacts.
#ifndef MP_WORKERS_ENGINE_PIPELINE_INSPECT_H_
#define MP_WORKERS_ENGINE_PIPELINE_INSPECT_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "workers/engine/pipeline/job.h"
#include "workers/engine/tensor/tensor.h"

namespace mp::pipeline {

// A graph input or output as declared. dims[i] == -1 is unknown; dim_params[i] is its
// symbolic name ("" if none). An unknown rank has `rank_known` false and no dims.
struct TensorDescription {
  std::string name;
  tensor::DType dtype = tensor::DType::kUndefined;
  bool rank_known = true;
  std::vector<int64_t> dims;
  std::vector<std::string> dim_params;  // same length as dims
};

struct Inspection {
  int64_t ir_version = 0;
  int64_t opset = 0;            // default-domain opset
  int64_t parameter_count = 0;  // elements over all initializers (graph inputs excluded)
  int64_t model_bytes = 0;      // size of the file
  int64_t node_count = 0;
  std::vector<TensorDescription> inputs;     // graph inputs that are not initializers
  std::vector<TensorDescription> outputs;    // graph outputs
  std::map<std::string, int64_t> op_counts;  // op type -> nodes
  std::vector<std::string> unsupported_ops;  // sorted, unique
};

// Describes the model at `model`. `name` names it in errors (default: the file name; a
// runner passes the model id). Reports "load" and "done" steps through `context`; returns
// CANCELLED if the job is cancelled.
absl::StatusOr<Inspection> RunInspect(const std::filesystem::path& model, JobContext& context,
                                      std::string_view name = "");

// The figures of an Inspection as job metrics: parameter_count, model_bytes, node_count,
// opset, ir_version, unsupported_op_count.
std::vector<Metric> InspectionMetrics(const Inspection& inspection);

}  // namespace mp::pipeline

#endif  // MP_WORKERS_ENGINE_PIPELINE_INSPECT_H_
