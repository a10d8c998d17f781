// Shared helpers of the quantized op families; see ops_quant_internal.h.
#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/exec/ops_quant_internal.h"

namespace mp::exec::internal {

kernels::QType ToQType(DType dtype) {
  return dtype == DType::kInt8 ? kernels::QType::kInt8 : kernels::QType::kUint8;
}

absl::StatusOr<kernels::QType> RequireQType(const PrepareContext& ctx, int input) {
  RETURN_IF_ERROR(RequireDType(ctx, input, {DType::kUint8, DType::kInt8}));
  return ToQType(ctx.input(input).dtype);
}

absl::StatusOr<bool> CheckQParams(const PrepareContext& ctx, int scale_input, int zp_input,
                                  int64_t channels, DType zp_dtype, std::string_view what) {
  RETURN_IF_ERROR(RequireDType(ctx, scale_input, {DType::kFloat32}));
  const Shape& s = ctx.input(scale_input).shape;
  bool per_channel = false;
  if (s.num_elements() != 1) {
    if (channels <= 0 || s.rank() != 1 || s.dim(0) != channels) {
      return InvalidInput(ctx, scale_input,
                          StrCat(what, " scale has shape ", s.ToString(), ", expected one value",
                                 channels > 0 ? StrCat(" or [", channels, "]") : std::string()));
    }
    per_channel = true;
  } else if (s.rank() > 1) {
    return InvalidInput(ctx, scale_input,
                        StrCat(what, " scale has shape ", s.ToString(), ", expected a scalar"));
  }
  if (ctx.has_input(zp_input)) {
    const InputInfo& z = ctx.input(zp_input);
    if (z.dtype != zp_dtype) {
      if (z.dtype != DType::kUint8 && z.dtype != DType::kInt8 && z.dtype != DType::kInt32) {
        return UnsupportedDType(ctx, zp_input);
      }
      return InvalidInput(ctx, zp_input,
                          StrCat(what, " zero point has dtype ", tensor::DTypeName(z.dtype),
                                 ", expected ", tensor::DTypeName(zp_dtype)));
    }
    if (z.shape.num_elements() != s.num_elements() || z.shape.rank() > 1) {
      return InvalidInput(ctx, zp_input,
                          StrCat(what, " zero point has shape ", z.shape.ToString(),
                                 ", expected the scale's ", s.ToString()));
    }
  }
  return per_channel;
}

float ScaleAt(const Tensor& scale, int64_t i) {
  return scale.num_elements() == 1 ? scale.data<float>()[0] : scale.data<float>()[i];
}

int32_t ZeroPointAt(const Tensor& zero_point, int64_t i) {
  if (!zero_point.defined()) return 0;
  const int64_t j = zero_point.num_elements() == 1 ? 0 : i;
  switch (zero_point.dtype()) {
    case DType::kUint8:
      return zero_point.data<uint8_t>()[j];
    case DType::kInt8:
      return zero_point.data<int8_t>()[j];
    case DType::kInt32:
      return zero_point.data<int32_t>()[j];
    default:
      return 0;
  }
}

std::vector<int32_t> ZeroPoints(const Tensor& zero_point, int64_t count) {
  std::vector<int32_t> out(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) out[static_cast<size_t>(i)] = ZeroPointAt(zero_point, i);
  return out;
}

std::vector<float> RequantScales(const Tensor& a_scale, const Tensor& w_scale,
                                 const Tensor& y_scale, int64_t count) {
  std::vector<float> out(static_cast<size_t>(count));
  const float a = ScaleAt(a_scale, 0), y = ScaleAt(y_scale, 0);
  for (int64_t i = 0; i < count; ++i) {
    out[static_cast<size_t>(i)] = kernels::RequantScale(a, ScaleAt(w_scale, i), y);
  }
  return out;
}

}  // namespace mp::exec::internal
