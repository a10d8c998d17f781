// Internal to mp_engine_quant: how the quantizer reads one node (quantizer.h), and the
// pieces the static, dynamic and weight-only rewrites share.
#ifndef MP_WORKERS_ENGINE_QUANT_QUANTIZER_INTERNAL_H_
#define MP_WORKERS_ENGINE_QUANT_QUANTIZER_INTERNAL_H_

#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "workers/engine/ir/graph.h"
#include "workers/engine/quant/quantizer.h"

namespace mp::quant::internal {

// How a layer's inputs are quantized.
struct LayerPlan {
  ir::NodeId node;
  std::vector<int> activation_inputs;  // slots holding calibrated activations
  int weight_input = -1;               // slot of the constant weight, or -1
  int weight_axis = -1;                // its per-channel axis (-1: per tensor only)
  int bias_input = -1;                 // slot of a bias to quantize as int32, or -1
  bool quantize_output = false;        // output 0 calibrated and not a graph output
};

// The plan if `node` is a quantizable layer (quantizer.h "Layers"), else nullopt.
std::optional<LayerPlan> AnalyzeLayer(const ir::Graph& graph, ir::NodeId node,
                                      const RangeMap& ranges);

// MaxPool, Reshape, Flatten, Transpose, Squeeze, Unsqueeze: output codes = input codes.
bool CarriesSameParams(std::string_view op_type);

// Relu: [0, +inf]. Clip: [min, max] from constant inputs (opset >= 11) or attributes;
// nullopt when a bound is not constant or `node` is neither.
std::optional<std::pair<float, float>> ClampBounds(const ir::Graph& graph, const ir::Node& node);

// UNIMPLEMENTED naming the first node (QuantizeLinear, QLinearConv, MatMulInteger, ...)
// that shows `graph` is already quantized.
absl::Status CheckNotQuantized(const ir::Graph& graph);

// A scale initializer: a float32 scalar scales[0] (per tensor) or 1-D tensor (per axis).
tensor::Tensor ScaleTensor(const std::vector<float>& scales, bool per_axis);

// The end of every rewrite: drops dead nodes, sorts topologically and verifies; a failure
// is our bug, annotated "<what> (internal error)".
absl::Status FinishRewrite(ir::Graph& graph, std::string_view what);

}  // namespace mp::quant::internal

#endif  // MP_WORKERS_ENGINE_QUANT_QUANTIZER_INTERNAL_H_
