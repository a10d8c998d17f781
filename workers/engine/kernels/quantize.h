// Linear (de)quantization and requantization kernels: the element-wise arithmetic of the
// ONNX QuantizeLinear / DequantizeLinear ops and of the output stage of QLinearConv /
// QLinearMatMul, computed exactly as ONNX Runtime's MLAS does it (so results are bit-equal):
//
//   Quantize:   q = clamp(rne(x / scale), qmin - zp, qmax - zp) + zp
//               with x / scale a float32 DIVISION (not a multiply by 1/scale), rne =
//               round half to even, NaN -> qmin (MLAS clamps with maxps/minps, which return
//               the bound for NaN). Equal to saturate(rne(x / scale) + zp).
//   Dequantize: x = float(q - zp) * scale   (q - zp in int32, one float32 multiply).
//   Requantize: q = clamp(rne(float(acc + bias) * scale), qmin - zp, qmax - zp) + zp
//               with acc + bias in int32 and one float32 multiply; scale is the caller's
//               float32 multiplier (ONNX Runtime uses x_scale * w_scale / y_scale, computed
//               in float32 left to right; see RequantScale).
//
// qmin/qmax: uint8 [0, 255], int8 [-128, 127]. Zero points are given as int32 in range of
// the type. All functions take a count and raw pointers and are Highway-vectorised with a
// scalar path for the tails; results are identical on every target.
#ifndef MP_WORKERS_ENGINE_KERNELS_QUANTIZE_H_
#define MP_WORKERS_ENGINE_KERNELS_QUANTIZE_H_

#include <cstdint>

namespace mp::kernels {

// Element type of a quantized operand.
enum class QType : uint8_t { kUint8, kInt8 };

inline constexpr int32_t QMin(QType t) { return t == QType::kUint8 ? 0 : -128; }
inline constexpr int32_t QMax(QType t) { return t == QType::kUint8 ? 255 : 127; }
// Element `i` of a uint8 (kUint8) or int8 (kInt8) array as int32.
inline int32_t QLoad(const void* p, QType t, int64_t i) {
  return t == QType::kUint8 ? static_cast<const uint8_t*>(p)[i] : static_cast<const int8_t*>(p)[i];
}

// ONNX Runtime's requantization multiplier: float32(a_scale * w_scale) / y_scale.
inline float RequantScale(float a_scale, float w_scale, float y_scale) {
  return a_scale * w_scale / y_scale;
}

// out[i] = Quantize(x[i]) for i < n (see the file comment). out is uint8/int8 per `type`.
void QuantizeLinear(const float* x, int64_t n, float scale, int32_t zero_point, QType type,
                    void* out);

// out[i] = float(q[i] - zero_point) * scale.
void DequantizeLinear(const void* q, QType type, int64_t n, float scale, int32_t zero_point,
                      float* out);
// int32 input (biases): out[i] = float(q[i] - zero_point) * scale, the difference in int32
// (ONNX requires zero_point 0 here).
void DequantizeLinearInt32(const int32_t* q, int64_t n, float scale, int32_t zero_point,
                           float* out);

// out[i] = Requantize(acc[i] + bias) with one scale (per-tensor / one channel).
void Requantize(const int32_t* acc, int64_t n, int32_t bias, float scale, int32_t zero_point,
                QType type, void* out);
// out[i] = Requantize(acc[i] + bias[i]) with multiplier scale[i] (per element: a row of a
// GEMM with per-column parameters); bias may be null (0).
void RequantizePerElement(const int32_t* acc, int64_t n, const int32_t* bias, const float* scale,
                          int32_t zero_point, QType type, void* out);

// Scalar definitions the tests compare against.
int32_t QuantizeOneReference(float x, float scale, int32_t zero_point, QType type);
int32_t RequantizeOneReference(int32_t acc, float scale, int32_t zero_point, QType type);

}  // namespace mp::kernels

#endif  // MP_WORKERS_ENGINE_KERNELS_QUANTIZE_H_
