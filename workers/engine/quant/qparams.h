// Quantization parameters: how a float range becomes (scale, zero point), and how weights
// and biases are quantized (DESIGN.md §5 "Quantized format out").
//
// Activations (per tensor), from a calibrated range [rmin, rmax] widened to include 0:
//   uint8 asymmetric: scale = (rmax - rmin) / 255, zero_point = rne(0 - rmin / scale) in
//                     [0, 255]  (ONNX Runtime's compute_scale_zp).
//   int8 symmetric:   scale = max(|rmin|, |rmax|) / 127, zero_point = 0; values in [-128, 127]
//                     (-128 is reachable only by saturation).
//   A degenerate range (scale < 1e-30, e.g. an all-zero tensor) gets scale 1, zero point 0.
// Weights: int8 symmetric, zero point 0, per output channel (default) or per tensor:
//   scale_c = max|W_c| / 127, q = clamp(rne(w / scale_c), -127, 127); with reduce_range
//   (7-bit weights) scale_c = max|W_c| / 64 and q in [-64, 64], so that uint8 x int8 pair sums
//   stay below 2^15 (255 * 64 * 2 = 32640): exact under x86 AVX2's saturating vpmaddubsw.
//   An all-zero channel gets scale 1.
// Bias: int32, zero point 0, scale_c = float32(s_x * s_w[c]); q = rne(b / scale_c) clamped to
//   int32 (a clamp is reported).
// Rounding: w / scale is a float32 division rounded half to even, as ONNX QuantizeLinear.
#ifndef MP_WORKERS_ENGINE_QUANT_QPARAMS_H_
#define MP_WORKERS_ENGINE_QUANT_QPARAMS_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "workers/engine/tensor/tensor.h"

namespace mp::quant {

enum class ActivationScheme { kUint8Asymmetric, kInt8Symmetric };

// "uint8_asymmetric" / "int8_symmetric"; INVALID_ARGUMENT otherwise.
absl::StatusOr<ActivationScheme> ParseActivationScheme(std::string_view name);
std::string ActivationSchemeName(ActivationScheme scheme);

struct Range {
  float min = 0;
  float max = 0;
};

// One (scale, zero point) pair of a uint8 or int8 tensor.
struct QParams {
  float scale = 1.0f;
  int32_t zero_point = 0;
  tensor::DType type = tensor::DType::kUint8;  // kUint8 or kInt8
  int32_t qmin() const { return type == tensor::DType::kUint8 ? 0 : -128; }
  int32_t qmax() const { return type == tensor::DType::kUint8 ? 255 : 127; }
  // The float range the codes represent: [(qmin - zp) * scale, (qmax - zp) * scale].
  float representable_min() const { return float(qmin() - zero_point) * scale; }
  float representable_max() const { return float(qmax() - zero_point) * scale; }
};

QParams ActivationQParams(Range range, ActivationScheme scheme);

// Quantize / dequantize one value with ONNX QuantizeLinear / DequantizeLinear semantics.
int32_t QuantizeValue(float x, const QParams& p);
float DequantizeValue(int32_t q, const QParams& p);
// x -> dequantize(quantize(x)).
float FakeQuantize(float x, const QParams& p);

// A quantized weight: int8 data of the weight's shape, one scale per channel along `axis`
// (or one scale when axis == -1), zero points all 0.
struct QuantizedWeight {
  tensor::Tensor data;  // int8
  std::vector<float> scales;
  int axis = -1;
  double sqnr_db = 0;  // of dequantize(data) against the fp32 weight
  double mse = 0;
};

// Quantizes a float32 weight. axis in [0, rank) for per-channel, -1 for per tensor.
// INVALID_ARGUMENT for a non-float32 tensor, a bad axis or non-finite values (naming `name`).
absl::StatusOr<QuantizedWeight> QuantizeWeight(const tensor::Tensor& w, int axis, bool reduce_range,
                                               std::string_view name);

struct QuantizedBias {
  tensor::Tensor data;        // int32 [C]
  std::vector<float> scales;  // x_scale * w_scale[c] (one value for per-tensor weights)
  int64_t clamped = 0;        // values clamped to the int32 range
};

// b: float32 [C]; w_scales: C values or 1.
absl::StatusOr<QuantizedBias> QuantizeBias(const tensor::Tensor& b, float x_scale,
                                           std::span<const float> w_scales, std::string_view name);

// Error of `approx` against `reference` (same length): SQNR = 10 log10(sum r^2 / sum (r-a)^2)
// in dB (+inf when exact, and 0 signal with error gives -inf), MSE = mean (r-a)^2.
struct ErrorStats {
  double signal = 0;  // sum r^2
  double noise = 0;   // sum (r - a)^2
  int64_t count = 0;
  void Add(std::span<const float> reference, std::span<const float> approx);
  double sqnr_db() const;
  double mse() const { return count == 0 ? 0.0 : noise / double(count); }
};

}  // namespace mp::quant

#endif  // MP_WORKERS_ENGINE_QUANT_QPARAMS_H_
