// QDQ fusion: runs a QDQ-quantized graph (QuantizeLinear / DequantizeLinear pairs around
// float ops, DESIGN.md §5) on the exact integer kernels, as ONNX Runtime does when it
// optimises such a graph. Session::Create calls it when SessionOptions::fuse_qdq is set,
// before constant folding (which would otherwise turn DequantizeLinear(constant weights)
// into float weights).
//
// Rewrites (each only when every condition holds; anything else keeps the float
// DQ -> op -> Q path, which computes the same meaning in float32):
//
//   DQ(x) , DQ(w) [, DQ(b)] -> Conv [-> Relu] -> Q    =>  QLinearConv(x, w [, b])
//   DQ(a) , DQ(b) [, DQ(c)] -> Gemm [-> Relu] -> Q    =>  mp.internal QLinearGemm
//   DQ(a) , DQ(b) -> MatMul [-> Add(DQ(c))] [-> Relu] -> Q  =>  QLinearMatMul / QLinearGemm
//   DQ(x; s, z) -> Reshape|Flatten|Transpose|Squeeze|Unsqueeze -> Q(s, z)  =>  the op on x
//   DQ(x_i; s, z)... -> Concat -> Q(s, z)                   =>  Concat of the x_i
//
// Conditions. Activations (x, a, y): per-tensor scale and zero point, uint8 or int8.
// Weights (w, b of MatMul/Gemm): constant uint8/int8 with constant scale/zero point,
// per-tensor or per output channel (Conv: DQ axis 0; MatMul B [K, N]: axis 1; Gemm B: axis
// 1, or 0 with transB, which the rewrite folds by transposing the constant). Bias: a constant
// int32 DQ with zero point 0 and scale[c] == float32(x_scale * w_scale[c]) bit for bit (as
// quantizers write it), so the int32 bias is added to the accumulator unchanged. Every
// intermediate float value has exactly one use and is not a graph output. Gemm: alpha = 1,
// beta = 1, transA = 0. Relu is dropped only when Q's zero point is the type's minimum (then
// saturation already implements it, exactly as ONNX Runtime's Relu-removal).
//
// Semantics. The fused ops compute y = saturate(rne(float(acc + bias) * M) + y_zp) with M =
// float32(x_scale * w_scale[c]) / y_scale, exactly as ONNX Runtime's QLinearConv /
// QLinearMatMul / QGemm (the kernels in kernels/qgemm.h, qconv.h). The float QDQ path
// rounds (DQ(x) * DQ(w) summed in float, / y_scale) differently and can differ by one
// quantization step where a value falls near a rounding tie; with power-of-two scales both
// are exact and agree bit for bit. Movement rewrites are exact: Q(DQ(q)) == q.
//
// The internal op "QLinearGemm" (domain kInternalDomain) is QLinearMatMul (2-D B [K, N])
// plus an optional int32 bias input 8 ([N]); it exists only inside sessions: a fused model
// (Session::model()) must not be exported.
#ifndef MP_WORKERS_ENGINE_EXEC_QDQ_FUSION_H_
#define MP_WORKERS_ENGINE_EXEC_QDQ_FUSION_H_

#include "absl/status/statusor.h"
#include "workers/engine/ir/graph.h"

namespace mp::exec {

inline constexpr char kInternalDomain[] = "mp.internal";

struct QdqFusionStats {
  int convs = 0;      // -> QLinearConv
  int matmuls = 0;    // -> QLinearMatMul / QLinearGemm
  int movements = 0;  // data-movement ops moved onto quantized tensors
};

// Applies the rewrites above to model->graph (then removes dead nodes and re-sorts).
absl::StatusOr<QdqFusionStats> FuseQdq(ir::Model* model);

}  // namespace mp::exec

#endif  // MP_WORKERS_ENGINE_EXEC_QDQ_FUSION_H_
