// Quantization-aware training (QAT) as a model transform: fake quantization with the
// straight-through estimator and learned clipping ranges (PACT, Choi et al. 2018), so that a
// (pruned, distilled) fp32 model is fine-tuned for the int8 model QuantizeStatic will write.
//
//   ir::Model folded = session->model(); quant::NameNodes(folded.graph);   // as pipeline/ptq
//   ASSIGN_OR_RETURN(CalibrationResult cal, quant::Calibrate(*session, calib, {...}));
//   ASSIGN_OR_RETURN(QatModel qat, InsertFakeQuant(folded, cal.ranges, {.quantizer = qopts}));
//   ASSIGN_OR_RETURN(auto graph, GradGraph::Create(qat.model));   // Fit / distill::Distill
//   ... train ...;  ASSIGN_OR_RETURN(ir::Model trained, graph->ExportModel());
//   ASSIGN_OR_RETURN(QatResult r, RemoveFakeQuant(trained));
//   quant::RangeMap ranges = cal.ranges;                           // learned ranges win
//   for (const auto& [name, range] : r.ranges) ranges[name] = range;
//   ASSIGN_OR_RETURN(auto q, quant::QuantizeStatic(r.model, ranges, qopts));
//
// What is fake-quantized: exactly what QuantizeStatic(model, initial_ranges, quantizer)
// would quantize (InsertFakeQuant runs it and reads QuantizeResult::tensors):
//   - every activation with its own parameters (layer inputs, layer outputs, Relu/Clip
//     outputs, a fused activation's output) -> FakeQuantize(x, lo, hi), lo/hi trainable
//     float32 scalar initializers "<x>_qat_lo" / "<x>_qat_hi" initialised from the range
//     (divided by the node's unit).
//     Carried tensors (MaxPool, Reshape, ... outputs that reuse their input's codes) are
//     not: fake-quantizing already quantized values with the same parameters is the identity.
//   - every weight -> FakeQuantizeWeight(w): int8 symmetric per channel on the quantizer's
//     axis (per tensor where it uses per tensor), 7-bit with reduce_range, the scale taken
//     from the current weights at every step (quant::QuantizeWeight, so the forward is
//     bit-identical to the DequantizeLinear(QuantizeLinear(w)) of the exported model).
//   - biases are not (int32 with scale s_x * s_w: their rounding error is negligible).
//
// The ops (domain kQatDomain, run only by GradGraph; rules_qat.cc):
//   FakeQuantize(x, lo, hi; scheme = "uint8_asymmetric" | "int8_symmetric", unit = 1) -> y
//     the bounds are unit * lo, unit * hi (QatOptions::normalized_bounds; below, lo and hi
//     mean these products and the gradients of the inputs are unit times those given)
//     p = quant::ActivationQParams({lo, hi}, scheme) (range widened to include 0; uint8:
//     s = (hi' - lo') / 255, zp = rne(-lo' / s); int8: s = max(|lo'|, |hi'|) / 127, zp = 0)
//     q = clamp(rne(x / s) + zp, qmin, qmax), y = (q - zp) * s   (= quant::FakeQuantize).
//   Backward (PACT; the LSQ rounding term is NOT used):
//     dL/dx  = dL/dy where rne(x / s) + zp lies in [qmin, qmax] (straight-through), else 0;
//     dL/ds  = sum over CLAMPED elements of dL/dy * (q - zp): the exact derivative of the
//              clamped outputs y = (qmin|qmax - zp) * s, zp being piecewise constant;
//              unclamped elements contribute 0 (straight-through: y is treated as x);
//     dL/dlo = dL/ds * ds/dlo, dL/dhi = dL/ds * ds/dhi with ds/dlo = -1/255 [lo < 0],
//              ds/dhi = 1/255 [hi > 0] (uint8); int8: 1/127 times the sign of whichever of
//              lo', hi' has the larger magnitude (hi on ties); 0 when the range is degenerate.
//     For a ReLU output (lo = 0, zp = 0) this is PACT exactly: dL/dhi = sum over x > hi.
//   FakeQuantizeWeight(w; axis = -1, reduce_range = 0) -> y = dequantize(quantize(w));
//     dL/dw = dL/dy (straight-through; symmetric weights with s = max|w_c| / levels are
//     never clamped).
#ifndef MP_WORKERS_ENGINE_TRAIN_QAT_H_
#define MP_WORKERS_ENGINE_TRAIN_QAT_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "workers/engine/ir/graph.h"
#include "workers/engine/quant/quantizer.h"

namespace mp::train {

inline constexpr std::string_view kQatDomain = "ai.modelpress.train";
inline constexpr std::string_view kFakeQuantizeOp = "FakeQuantize";
inline constexpr std::string_view kFakeQuantizeWeightOp = "FakeQuantizeWeight";

struct QatOptions {
  // The quantizer QuantizeStatic will run afterwards: activation scheme, per-channel weights,
  // reduce_range (7-bit weights, e.g. for quant::ResolveTarget("x86_avx2")), exclusions.
  quant::QuantizerOptions quantizer = {};
  // Train each activation's bounds in units of (a power of two near) its initial range
  // width: FakeQuantize's lo = unit * input 1, hi = unit * input 2. Adam-style optimizers
  // step every parameter by about lr whatever its scale, so without this a range of width
  // 20 would move 20x more slowly, relative to its size, than a range of width 1.
  bool normalized_bounds = true;
};

struct QatModel {
  ir::Model model;  // the input with FakeQuantize / FakeQuantizeWeight nodes (trains)
  std::vector<std::string> activations;  // fake-quantized activation values, graph order
  std::vector<std::string> weights;      // fake-quantized weights
};

// Rewrites `fp32` (node names unique, see quant::NameNodes; ranges as quant::Calibrate
// returns them). Errors: those of QuantizeStatic (UNIMPLEMENTED for an unsupported opset or
// an already quantized model); INVALID_ARGUMENT when nothing would be quantized or a range
// is not finite with min <= max (naming the value).
absl::StatusOr<QatModel> InsertFakeQuant(const ir::Model& fp32,
                                         const quant::RangeMap& initial_ranges,
                                         const QatOptions& options);

struct QatResult {
  ir::Model model;         // the plain fp32 graph of the input, with the trained weights
  quant::RangeMap ranges;  // learned [min(lo, 0), max(hi, 0)] per fake-quantized activation
};

// Removes the fake-quantization nodes of a (trained) QatModel: every consumer reads x again;
// the lo/hi initializers become `ranges`. INVALID_ARGUMENT naming the node when a bound is
// not a finite float32 scalar initializer.
absl::StatusOr<QatResult> RemoveFakeQuant(const ir::Model& trained);

}  // namespace mp::train

#endif  // MP_WORKERS_ENGINE_TRAIN_QAT_H_
