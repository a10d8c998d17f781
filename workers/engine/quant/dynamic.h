// Dynamic quantization: int8 weights stored in the model, activation scales computed at run
// time — for MatMul / Gemm-heavy models (transformers, MLPs) where calibration is not wanted.
//
// Each MatMul with a constant float32 2-D B [K, N], and each Gemm with a constant 2-D B,
// alpha = 1, transA = 0 and C absent or (beta = 1 and broadcastable to [M, N]), becomes what
// ONNX Runtime's dynamic quantizer writes:
//     x -> DynamicQuantizeLinear -> (x_q uint8, x_scale, x_zero_point)
//     MatMulInteger(x_q, W_q int8 [K, N], x_zero_point) -> int32
//     Cast(to float) -> Mul(x_scale * w_scale[N]) [-> Add(C)] -> original output
// W_q is int8 symmetric per column (or per tensor), 7-bit with reduce_range; weight zero
// points are 0 and omitted. One DynamicQuantizeLinear per distinct activation. Needs opset
// >= 11 (UNIMPLEMENTED below).
#ifndef MP_WORKERS_ENGINE_QUANT_DYNAMIC_H_
#define MP_WORKERS_ENGINE_QUANT_DYNAMIC_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "workers/engine/ir/graph.h"
#include "workers/engine/quant/quantizer.h"

namespace mp::quant {

struct DynamicOptions {
  bool per_channel = true;
  bool reduce_range = false;
  absl::flat_hash_set<std::string> exclude;  // node names kept in fp32
};

// `model` must have unique node names (NameNodes). result.layers lists the rewritten nodes;
// result.tensors their weights. No eligible node returns the model unchanged.
absl::StatusOr<QuantizeResult> QuantizeDynamic(const ir::Model& model,
                                               const DynamicOptions& options);

}  // namespace mp::quant

#endif  // MP_WORKERS_ENGINE_QUANT_DYNAMIC_H_
