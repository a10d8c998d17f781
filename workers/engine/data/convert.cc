#include "workers/engine/data/convert.h"

#include <cmath>

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/tensor/float16.h"

namespace mp::data {
namespace {

using tensor::DType;
using tensor::Tensor;

template <typename T, typename Fn>
void Map(const Tensor& in, Tensor* out, Fn fn) {
  const T* src = static_cast<const T*>(in.raw_data());
  float* dst = out->mutable_data<float>();
  for (int64_t i = 0; i < in.num_elements(); ++i) dst[i] = fn(src[i]);
}

template <typename T>
void Widen(const Tensor& in, Tensor* out) {
  const T* src = static_cast<const T*>(in.raw_data());
  int64_t* dst = out->mutable_data<int64_t>();
  for (int64_t i = 0; i < in.num_elements(); ++i) dst[i] = static_cast<int64_t>(src[i]);
}

}  // namespace

absl::StatusOr<Tensor> ConvertToFloat32(const Tensor& t, float divisor) {
  if (!t.defined()) return absl::InvalidArgumentError("cannot convert an undefined tensor");
  if (divisor == 0.0f || !std::isfinite(divisor)) {
    return absl::InvalidArgumentError(StrCat("divisor must be finite and non-zero, got ", divisor));
  }
  ASSIGN_OR_RETURN(Tensor out, Tensor::Allocate(DType::kFloat32, t.shape()));
  const double d = divisor;
  auto by_float = [divisor](auto x) { return static_cast<float>(x) / divisor; };
  auto by_double = [d](auto x) { return static_cast<float>(static_cast<double>(x) / d); };
  switch (t.dtype()) {
    case DType::kFloat32:
      Map<float>(t, &out, by_float);
      break;
    case DType::kFloat64:
      Map<double>(t, &out, by_double);
      break;
    case DType::kInt64:
      Map<int64_t>(t, &out, by_double);
      break;
    case DType::kInt32:
      Map<int32_t>(t, &out, by_float);
      break;
    case DType::kUint8:
      Map<uint8_t>(t, &out, by_float);
      break;
    case DType::kInt8:
      Map<int8_t>(t, &out, by_float);
      break;
    case DType::kBool:
      Map<uint8_t>(t, &out, by_float);
      break;
    case DType::kFloat16:
      Map<uint16_t>(t, &out, [divisor](uint16_t h) { return tensor::HalfToFloat(h) / divisor; });
      break;
    case DType::kBFloat16:
      Map<uint16_t>(t, &out,
                    [divisor](uint16_t h) { return tensor::BFloat16ToFloat(h) / divisor; });
      break;
    case DType::kUndefined:
      return absl::InvalidArgumentError("cannot convert an undefined tensor");
  }
  return out;
}

absl::StatusOr<Tensor> ConvertLabelsToInt64(const Tensor& t, std::string_view what) {
  if (t.dtype() == DType::kInt64) return t;
  ASSIGN_OR_RETURN(Tensor out, Tensor::Allocate(DType::kInt64, t.shape()));
  switch (t.dtype()) {
    case DType::kInt32:
      Widen<int32_t>(t, &out);
      break;
    case DType::kUint8:
      Widen<uint8_t>(t, &out);
      break;
    case DType::kInt8:
      Widen<int8_t>(t, &out);
      break;
    default:
      return absl::InvalidArgumentError(StrCat(what, ": labels must be integers (int64, int32, ",
                                               "uint8 or int8), got ",
                                               tensor::DTypeName(t.dtype())));
  }
  return out;
}

}  // namespace mp::data
