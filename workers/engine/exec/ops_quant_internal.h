// Helpers shared by the quantized op families (ops_quant.cc: QuantizeLinear,
// DequantizeLinear, DynamicQuantizeLinear; ops_quant_gemm.cc: MatMulInteger, QLinearMatMul;
// ops_quant_conv.cc: ConvInteger, QLinearConv). Internal to mp_engine_exec.
//
// Quantization parameters. A scale is a float32 tensor and a zero point a uint8/int8 (int32
// for DequantizeLinear of int32 data) tensor; either holds ONE value (a scalar or a
// 1-element tensor: per-tensor) or, where the op allows it, one value per channel along an
// axis (a 1-D tensor: per-axis / per-channel). An omitted zero point is 0. The values may
// be constant or computed at run time; kernels read them in Run.
#ifndef MP_WORKERS_ENGINE_EXEC_OPS_QUANT_INTERNAL_H_
#define MP_WORKERS_ENGINE_EXEC_OPS_QUANT_INTERNAL_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "workers/engine/exec/op.h"
#include "workers/engine/exec/op_registry.h"
#include "workers/engine/kernels/quantize.h"

namespace mp::exec::internal {

// uint8 -> kUint8, int8 -> kInt8 (other dtypes are the caller's error).
kernels::QType ToQType(DType dtype);

// OK if input `input` is present and uint8/int8; else UnsupportedDType / "is required".
absl::StatusOr<kernels::QType> RequireQType(const PrepareContext& ctx, int input);

// Validates a (scale, zero point) pair of inputs: scale float32, zero point (if present)
// of `zp_dtype`, both with one value, or — when `channels` > 0 — a 1-D tensor of `channels`
// values (a 1-element tensor is one value). The zero point must have as many values as the
// scale. `what` names the pair in messages ("w", "y"). Returns true when per-channel.
absl::StatusOr<bool> CheckQParams(const PrepareContext& ctx, int scale_input, int zp_input,
                                  int64_t channels, DType zp_dtype, std::string_view what);

// Value i of a scale / zero-point tensor (one value broadcast when it has one element). An
// undefined zero point reads 0.
float ScaleAt(const Tensor& scale, int64_t i);
int32_t ZeroPointAt(const Tensor& zero_point, int64_t i);
// `count` zero points as int32 (undefined -> zeros).
std::vector<int32_t> ZeroPoints(const Tensor& zero_point, int64_t count);
// ONNX Runtime's requantization multipliers for `count` channels: a_scale * w_scale[c] /
// y_scale in float32 (kernels::RequantScale), broadcasting 1-element tensors.
std::vector<float> RequantScales(const Tensor& a_scale, const Tensor& w_scale,
                                 const Tensor& y_scale, int64_t count);

// Family registration (called by RegisterQuantOps in ops_quant.cc).
void RegisterQuantGemmOps(OpRegistry* registry);
void RegisterQuantConvOps(OpRegistry* registry);

}  // namespace mp::exec::internal

#endif  // MP_WORKERS_ENGINE_EXEC_OPS_QUANT_INTERNAL_H_
