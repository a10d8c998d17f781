// The static QDQ quantizer: an fp32 ir::Model plus calibrated activation ranges in, a QDQ
// model out, in the format ONNX Runtime's own QDQ quantizer writes (DESIGN.md §5), so that
// ONNX Runtime fuses it into its integer kernels (QLinearConv, QGemm, QLinearMatMul,
// QLinearAdd, ...) and our exec runs the same integer arithmetic.
//
// Layers. A layer is a node PTQ quantizes with its own parameters:
//   Conv (1-D/2-D, incl. depthwise; constant float weight), ConvTranspose (constant weight),
//   Gemm (constant B), MatMul (activation A; constant 2-D B or a second activation),
//   Add and Concat (every input a calibrated activation), GlobalAveragePool, AveragePool.
// Each selected layer gets a QuantizeLinear -> DequantizeLinear pair on each activation input
// and on its output (unless the output is a graph output: model outputs stay float32);
// constant weights become int8 initializers + DequantizeLinear (per output channel on axis 0
// for Conv, 1 for ConvTranspose with group 1, the N axis for Gemm / MatMul; per tensor when
// options say so or the model's opset is below 13, which has no per-axis DequantizeLinear);
// a bias (Conv/ConvTranspose input 2; Gemm C of shape [N] with alpha = beta = 1) becomes
// int32 with scale s_x * s_w[c] and zero point 0.
// Carried tensors. MaxPool, Reshape, Flatten, Transpose, Squeeze and Unsqueeze whose input is
// quantized get a QDQ pair on their output with the SAME parameters (so ONNX Runtime drops
// the pair and runs them on uint8/int8 data); Relu and Clip whose input is quantized get their
// own parameters.
// Fused activations. A Relu/Clip whose input is a layer's output used only by it is removed
// when quantizing its output already performs the clamp: the codes' representable range
// [(qmin - zp) s, (qmax - zp) s] lies inside the Clip range (for uint8 asymmetric ReLU
// outputs zp = 0), so Q(relu(x)) == Q(x) exactly. The layer's output then carries the
// activation's parameters (as ONNX Runtime's quantizer and its ReluQuantFusion do).
// Sharing. A quantized tensor has one QDQ pair and every consumer reads the dequantized
// value (the fake-quant semantics ONNX Runtime's fusions assume).
// Naming: <t>_quantized / <t>_dequantized values, <t>_scale / <t>_zero_point initializers,
// <t>_QuantizeLinear / <t>_DequantizeLinear nodes (made unique if taken).
#ifndef MP_WORKERS_ENGINE_QUANT_QUANTIZER_H_
#define MP_WORKERS_ENGINE_QUANT_QUANTIZER_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "workers/engine/ir/graph.h"
#include "workers/engine/quant/qparams.h"

namespace mp::quant {

using RangeMap = absl::flat_hash_map<std::string, Range>;

struct QuantizerOptions {
  ActivationScheme activations = ActivationScheme::kUint8Asymmetric;
  bool per_channel = true;
  bool reduce_range = false;  // 7-bit weights (qparams.h)
  // Layers (node names, see NameNodes) kept in fp32.
  absl::flat_hash_set<std::string> exclude;
  // When set, only these layers are quantized (per-layer sensitivity).
  std::optional<absl::flat_hash_set<std::string>> only;
};

// Gives every unnamed node, and every node whose name repeats an earlier one, the unique
// name "<op_type>_<index>" (index = position in nodes()). Deterministic; layers are
// identified by node name.
void NameNodes(ir::Graph& graph);

struct Layer {
  std::string name;  // node name
  std::string op_type;
};

// The layers QuantizeStatic would quantize with no exclusions, in node order. `model` must
// have unique node names (NameNodes). An empty list means nothing can be quantized.
std::vector<Layer> FindLayers(const ir::Model& model, const RangeMap& ranges);

struct QuantizedTensor {
  enum class Kind { kActivation, kWeight, kBias };
  Kind kind = Kind::kActivation;
  std::string name;         // the fp32 value this stands for
  std::string dequantized;  // value in the QDQ model holding dequantize(quantize(name))
  std::string layer;        // weights / biases: the layer; activations: ""
  QParams params;           // activations (weights: int8, zero point 0, scale of channel 0)
  std::vector<float> scales;
  int axis = -1;       // weights / biases: channel axis, -1 per tensor
  double sqnr_db = 0;  // weights / biases: of the dequantized constant
  double mse = 0;
};

struct QuantizeResult {
  ir::Model model;
  std::vector<std::string> layers;             // quantized layers, in node order
  std::vector<std::string> fused_activations;  // Relu / Clip nodes removed
  std::vector<QuantizedTensor> tensors;
  std::vector<std::string> notes;  // decisions worth reporting (per-tensor fallback, clamps)
};

// Quantizes `model` (node names unique, see NameNodes) with the calibrated `ranges` (by value
// name; values without a range are never quantized). UNIMPLEMENTED when the default-domain
// opset is below 10 (no QuantizeLinear) or the model already contains QuantizeLinear /
// DequantizeLinear / QLinear* / *Integer nodes (naming one); INVALID_ARGUMENT for broken
// weights (NaN / Inf). Selecting no layer returns the model unchanged (all fp32).
absl::StatusOr<QuantizeResult> QuantizeStatic(const ir::Model& model, const RangeMap& ranges,
                                              const QuantizerOptions& options);

}  // namespace mp::quant

#endif  // MP_WORKERS_ENGINE_QUANT_QUANTIZER_H_
