#include "workers/engine/quant/qparams.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/kernels/quantize.h"

namespace mp::quant {
namespace {

using tensor::DType;
using tensor::Tensor;

kernels::QType ToKernel(DType t) {
  return t == DType::kUint8 ? kernels::QType::kUint8 : kernels::QType::kInt8;
}

}  // namespace

absl::StatusOr<ActivationScheme> ParseActivationScheme(std::string_view name) {
  if (name == "uint8_asymmetric") return ActivationScheme::kUint8Asymmetric;
  if (name == "int8_symmetric") return ActivationScheme::kInt8Symmetric;
  return absl::InvalidArgumentError(
      StrCat("activation scheme '", name, "' is not one of uint8_asymmetric, int8_symmetric"));
}

std::string ActivationSchemeName(ActivationScheme scheme) {
  return scheme == ActivationScheme::kUint8Asymmetric ? "uint8_asymmetric" : "int8_symmetric";
}

QParams ActivationQParams(Range range, ActivationScheme scheme) {
  const double rmin = std::min(double(range.min), 0.0);
  const double rmax = std::max(double(range.max), 0.0);
  QParams p;
  if (scheme == ActivationScheme::kInt8Symmetric) {
    p.type = DType::kInt8;
    const double absmax = std::max(std::fabs(rmin), std::fabs(rmax));
    const float scale = static_cast<float>(absmax / 127.0);
    if (!(scale >= 1e-30f) || !std::isfinite(scale)) return p;
    p.scale = scale;
    return p;
  }
  p.type = DType::kUint8;
  const float scale = static_cast<float>((rmax - rmin) / 255.0);
  if (!(scale >= 1e-30f) || !std::isfinite(scale)) return p;
  p.scale = scale;
  const double zp = std::nearbyint(0.0 - rmin / double(scale));
  p.zero_point = static_cast<int32_t>(std::clamp(zp, 0.0, 255.0));
  return p;
}

int32_t QuantizeValue(float x, const QParams& p) {
  return kernels::QuantizeOneReference(x, p.scale, p.zero_point, ToKernel(p.type));
}

float DequantizeValue(int32_t q, const QParams& p) { return float(q - p.zero_point) * p.scale; }

float FakeQuantize(float x, const QParams& p) { return DequantizeValue(QuantizeValue(x, p), p); }

absl::StatusOr<QuantizedWeight> QuantizeWeight(const Tensor& w, int axis, bool reduce_range,
                                               std::string_view name) {
  if (w.dtype() != DType::kFloat32) {
    return absl::InvalidArgumentError(
        StrCat("weight '", name, "' is ", tensor::DTypeName(w.dtype()), ", expected float32"));
  }
  if (axis < -1 || axis >= w.rank()) {
    return absl::InvalidArgumentError(
        StrCat("weight '", name, "': channel axis ", axis, " out of range for rank ", w.rank()));
  }
  const std::span<const float> x = w.span<float>();
  for (float v : x) {
    if (!std::isfinite(v)) {
      return absl::InvalidArgumentError(StrCat("weight '", name, "' has NaN or Inf values"));
    }
  }
  // View as [outer, channels, inner] with channels = dim(axis) (1 when per tensor).
  int64_t outer = 1, channels = 1, inner = 1;
  if (axis >= 0) {
    for (int d = 0; d < axis; ++d) outer *= w.shape().dim(d);
    channels = w.shape().dim(axis);
    for (int d = axis + 1; d < w.rank(); ++d) inner *= w.shape().dim(d);
  } else {
    inner = w.num_elements();
  }
  std::vector<float> absmax(static_cast<size_t>(channels), 0.0f);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t c = 0; c < channels; ++c) {
      const float* row = x.data() + (o * channels + c) * inner;
      float& m = absmax[static_cast<size_t>(c)];
      for (int64_t i = 0; i < inner; ++i) m = std::max(m, std::fabs(row[i]));
    }
  }
  const float levels = reduce_range ? 64.0f : 127.0f;
  QuantizedWeight out;
  out.axis = axis;
  out.scales.resize(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) {
    const float s = absmax[static_cast<size_t>(c)] / levels;
    out.scales[static_cast<size_t>(c)] = s > 1e-30f ? s : 1.0f;
  }
  out.data = Tensor::Zeros(DType::kInt8, w.shape());
  int8_t* q = out.data.mutable_data<int8_t>();
  ErrorStats err;
  std::vector<float> deq(static_cast<size_t>(inner));
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t c = 0; c < channels; ++c) {
      const int64_t base = (o * channels + c) * inner;
      const float s = out.scales[static_cast<size_t>(c)];
      for (int64_t i = 0; i < inner; ++i) {
        const float v = std::nearbyint(x[static_cast<size_t>(base + i)] / s);
        const int32_t qi = static_cast<int32_t>(std::clamp(v, -levels, levels));
        q[base + i] = static_cast<int8_t>(qi);
        deq[static_cast<size_t>(i)] = float(qi) * s;
      }
      err.Add(x.subspan(static_cast<size_t>(base), static_cast<size_t>(inner)), deq);
    }
  }
  out.sqnr_db = err.sqnr_db();
  out.mse = err.mse();
  return out;
}

absl::StatusOr<QuantizedBias> QuantizeBias(const Tensor& b, float x_scale,
                                           std::span<const float> w_scales, std::string_view name) {
  if (b.dtype() != DType::kFloat32 || b.rank() != 1) {
    return absl::InvalidArgumentError(
        StrCat("bias '", name, "' is ", b.DebugString(), ", expected float32 [C]"));
  }
  const int64_t c = b.num_elements();
  if (w_scales.size() != 1 && static_cast<int64_t>(w_scales.size()) != c) {
    return absl::InvalidArgumentError(StrCat(
        "bias '", name, "' has ", c, " values but the weight has ", w_scales.size(), " scales"));
  }
  QuantizedBias out;
  out.data = Tensor::Zeros(DType::kInt32, tensor::Shape({c}));
  int32_t* q = out.data.mutable_data<int32_t>();
  const float* x = b.data<float>();
  for (float s : w_scales) out.scales.push_back(x_scale * s);
  for (int64_t i = 0; i < c; ++i) {
    const float s = out.scales[out.scales.size() == 1 ? 0 : static_cast<size_t>(i)];
    if (!std::isfinite(x[i])) {
      return absl::InvalidArgumentError(StrCat("bias '", name, "' has NaN or Inf values"));
    }
    const double v = std::nearbyint(double(x[i] / s));
    const double lo = double(std::numeric_limits<int32_t>::min());
    const double hi = double(std::numeric_limits<int32_t>::max());
    if (v < lo || v > hi) ++out.clamped;
    q[i] = static_cast<int32_t>(std::clamp(v, lo, hi));
  }
  return out;
}

void ErrorStats::Add(std::span<const float> reference, std::span<const float> approx) {
  const size_t n = std::min(reference.size(), approx.size());
  for (size_t i = 0; i < n; ++i) {
    const double r = reference[i];
    const double d = r - double(approx[i]);
    signal += r * r;
    noise += d * d;
  }
  count += static_cast<int64_t>(n);
}

double ErrorStats::sqnr_db() const {
  if (noise == 0) return std::numeric_limits<double>::infinity();
  if (signal == 0) return -std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(signal / noise);
}

}  // namespace mp::quant
