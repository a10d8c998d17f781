// Cast (and CastLike) between float32, float64, float16, bfloat16, int64, int32, int8, uint8 and
// bool.
//   float -> int: NaN becomes 0, values outside the target range saturate, others truncate
//     toward zero (ONNX leaves out-of-range undefined; we pick a defined, portable rule);
//   int -> int: two's-complement wrap (static_cast);
//   x -> bool: x != 0; bool -> x: 0 or 1;
//   -> float16/bfloat16: via float32, round to nearest even (tensor/float16.h).
// Opset 19's 'saturate' attribute only concerns float8 types, which are not supported.
#include <cmath>
#include <limits>
#include <type_traits>

#include "common/status.h"
#include "workers/engine/exec/op_registry.h"
#include "workers/engine/exec/ops_internal.h"
#include "workers/engine/tensor/float16.h"

namespace mp::exec {
namespace {

struct Half {
  uint16_t bits;
};
struct BF16 {
  uint16_t bits;
};

template <typename T>
float ToFloat(T v) {
  if constexpr (std::is_same_v<T, Half>) {
    return tensor::HalfToFloat(v.bits);
  } else if constexpr (std::is_same_v<T, BF16>) {
    return tensor::BFloat16ToFloat(v.bits);
  } else {
    return static_cast<float>(v);
  }
}

template <typename To, typename From>
To Convert(From v) {
  if constexpr (std::is_same_v<From, Half> || std::is_same_v<From, BF16>) {
    return Convert<To, float>(ToFloat(v));
  } else if constexpr (std::is_same_v<To, Half>) {
    return Half{tensor::FloatToHalf(static_cast<float>(v))};
  } else if constexpr (std::is_same_v<To, BF16>) {
    return BF16{tensor::FloatToBFloat16(static_cast<float>(v))};
  } else if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else if constexpr (std::is_integral_v<To> && std::is_floating_point_v<From>) {
    if (std::isnan(v)) return To(0);
    // Saturate: compare in long double so the bounds are exact for int64.
    const long double x = static_cast<long double>(v);
    if (x <= static_cast<long double>(std::numeric_limits<To>::min())) {
      return std::numeric_limits<To>::min();
    }
    if (x >= static_cast<long double>(std::numeric_limits<To>::max())) {
      return std::numeric_limits<To>::max();
    }
    return static_cast<To>(v);
  } else {
    return static_cast<To>(v);
  }
}

template <typename To, typename From>
void CastLoop(const Tensor& in, Tensor& out, kernels::ThreadPool* pool) {
  const auto* src = static_cast<const From*>(in.raw_data());
  auto* dst = static_cast<To*>(out.mutable_raw_data());
  pool->ParallelFor(in.num_elements(), 16384, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) dst[i] = Convert<To, From>(src[i]);
  });
}

// Calls fn(T{}) with the C++ type for `dtype`; false if unsupported.
template <typename Fn>
bool VisitDType(DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::kFloat32:
      fn(float{});
      return true;
    case DType::kFloat64:
      fn(double{});
      return true;
    case DType::kFloat16:
      fn(Half{});
      return true;
    case DType::kBFloat16:
      fn(BF16{});
      return true;
    case DType::kInt64:
      fn(int64_t{});
      return true;
    case DType::kInt32:
      fn(int32_t{});
      return true;
    case DType::kInt8:
      fn(int8_t{});
      return true;
    case DType::kUint8:
      fn(uint8_t{});
      return true;
    case DType::kBool:
      fn(bool{});
      return true;
    default:
      return false;
  }
}

class CastKernel : public OpKernel {
 public:
  absl::Status Run(RunContext& ctx) override {
    const Tensor& in = ctx.inputs[0];
    Tensor& out = ctx.outputs[0];
    if (in.dtype() == out.dtype()) {
      internal::ParallelCopy(in.raw_data(), out.mutable_raw_data(),
                             static_cast<int64_t>(in.byte_size()), ctx.pool);
      return absl::OkStatus();
    }
    VisitDType(in.dtype(), [&](auto from) {
      VisitDType(out.dtype(),
                 [&](auto to) { CastLoop<decltype(to), decltype(from)>(in, out, ctx.pool); });
    });
    return absl::OkStatus();
  }
};

absl::StatusOr<PreparedOp> PrepareCast(const PrepareContext& ctx) {
  ASSIGN_OR_RETURN(int64_t to, ctx.node.GetInt("to"));
  if (!tensor::IsKnownDType(static_cast<int32_t>(to)) ||
      !VisitDType(static_cast<DType>(to), [](auto) {})) {
    return Unimplemented(ctx, StrCat("attribute 'to' value ", to, " is not a supported dtype"));
  }
  if (!VisitDType(ctx.input(0).dtype, [](auto) {})) return UnsupportedDType(ctx, 0);
  return internal::SingleOutput(ctx, static_cast<DType>(to), ctx.input(0).shape,
                                std::make_unique<CastKernel>());
}

// CastLike (opset 15): Cast to the dtype of input 1 (whose data is unused).
absl::StatusOr<PreparedOp> PrepareCastLike(const PrepareContext& ctx) {
  if (!VisitDType(ctx.input(0).dtype, [](auto) {})) return UnsupportedDType(ctx, 0);
  if (!VisitDType(ctx.input(1).dtype, [](auto) {})) return UnsupportedDType(ctx, 1);
  return internal::SingleOutput(ctx, ctx.input(1).dtype, ctx.input(0).shape,
                                std::make_unique<CastKernel>());
}

}  // namespace

void RegisterCastOps(OpRegistry* registry) {
  registry->Register({.op_type = "Cast",
                      .min_opset = 6,
                      .min_inputs = 1,
                      .max_inputs = 1,
                      .prepare = &PrepareCast});
  registry->Register({.op_type = "CastLike",
                      .min_opset = 15,
                      .min_inputs = 2,
                      .max_inputs = 2,
                      .prepare = &PrepareCastLike});
}

}  // namespace mp::exec
