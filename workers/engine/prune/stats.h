// Model statistics for reports: MACs per layer, parameters, sparsity (see prune.h).
#ifndef MP_WORKERS_ENGINE_PRUNE_STATS_H_
#define MP_WORKERS_ENGINE_PRUNE_STATS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "workers/engine/ir/graph.h"
#include "workers/engine/tensor/tensor.h"

namespace mp::prune {

// One Conv / Gemm / MatMul node.
struct LayerStats {
  std::string layer;  // node name, else the weight's name, else the output's name
  std::string op_type;
  int64_t macs = 0;     // multiply-accumulates for the given input shapes (dense count)
  int64_t weights = 0;  // elements of a constant weight (0 if the weight is computed)
  int64_t zeros = 0;    // zero elements of a float32 constant weight
  double sparsity() const { return weights == 0 ? 0.0 : double(zeros) / double(weights); }
};

struct ModelStats {
  std::vector<LayerStats> layers;  // node order
  int64_t macs = 0;                // sum over `layers` (Conv/Gemm/MatMul dominate the cost)
  int64_t parameters = 0;          // elements of every initializer
  int64_t parameter_bytes = 0;     // bytes of every initializer
  int64_t zero_parameters = 0;     // zero elements of float32 initializers
};

// Statistics of `model` for `input_shapes` (graph inputs in order; empty = declared shapes
// with unknown dims set to 1). Shapes come from exec::Session::InferTypes, so a model the
// engine cannot run is an error here.
absl::StatusOr<ModelStats> ComputeStats(const ir::Model& model,
                                        const std::vector<tensor::Shape>& input_shapes = {});

}  // namespace mp::prune

#endif  // MP_WORKERS_ENGINE_PRUNE_STATS_H_
