// Unary elementwise ops: Relu, LeakyRelu, Sigmoid, Tanh, Clip, HardSigmoid, HardSwish, Erf,
// Gelu, Exp, Log, Sqrt, Neg, Abs, Reciprocal.
//
// float32 runs on kernels::Unary (accuracy bounds in kernels/elementwise.h). Relu, Neg, Abs
// and Clip also accept int8, uint8, int32, int64 (scalar loops; Neg/Abs wrap on the minimum).
//
// Opset differences handled here:
//   Clip < 11: `min` / `max` attributes (defaults -FLT_MAX / FLT_MAX);
//   Clip >= 11: optional inputs 1 (min) and 2 (max), one-element tensors of X's dtype read
//              at run time (defaults: the dtype's lowest / max);
//   Gelu (opset 20): `approximate` = "none" (erf form) or "tanh".
// Entries start at opset 7 (the importer's floor), except Erf (9), HardSwish (14) and
// Gelu (20), where the op itself appears; later versions only add dtypes.
#include <cstring>
#include <limits>
#include <memory>
#include <type_traits>

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/exec/op.h"
#include "workers/engine/exec/op_registry.h"
#include "workers/engine/exec/ops_internal.h"
#include "workers/engine/kernels/elementwise.h"

namespace mp::exec {
namespace {

using kernels::UnaryOp;
using kernels::UnaryParams;

// Reads the one-element Clip bound in input `i` (if present) as a T.
template <typename T>
absl::Status ReadBound(const RunContext& ctx, size_t i, const std::string& where, T* bound) {
  if (i >= ctx.inputs.size() || !ctx.inputs[i].defined()) return absl::OkStatus();
  const Tensor& t = ctx.inputs[i];
  if (t.num_elements() != 1) {
    return absl::InvalidArgumentError(StrCat(where, ": input ", i, " (clip ",
                                             i == 1 ? "min" : "max", ") has shape ",
                                             t.shape().ToString(), ", expected one element"));
  }
  *bound = t.data<T>()[0];
  return absl::OkStatus();
}

class FloatUnaryKernel : public OpKernel {
 public:
  FloatUnaryKernel(UnaryOp op, UnaryParams params, bool clip_inputs, std::string where)
      : op_(op), params_(params), clip_inputs_(clip_inputs), where_(std::move(where)) {}
  absl::Status Run(RunContext& ctx) override {
    UnaryParams p = params_;
    if (clip_inputs_) {
      RETURN_IF_ERROR(ReadBound<float>(ctx, 1, where_, &p.alpha));
      RETURN_IF_ERROR(ReadBound<float>(ctx, 2, where_, &p.beta));
    }
    const Tensor& x = ctx.inputs[0];
    kernels::Unary(op_, p, x.num_elements(), x.data<float>(), ctx.outputs[0].mutable_data<float>(),
                   ctx.pool);
    return absl::OkStatus();
  }

 private:
  UnaryOp op_;
  UnaryParams params_;
  bool clip_inputs_;
  std::string where_;
};

// Relu / Neg / Abs / Clip on an integer type.
template <typename T>
class IntUnaryKernel : public OpKernel {
 public:
  IntUnaryKernel(UnaryOp op, T lo, T hi, bool clip_inputs, std::string where)
      : op_(op), lo_(lo), hi_(hi), clip_inputs_(clip_inputs), where_(std::move(where)) {}
  absl::Status Run(RunContext& ctx) override {
    T lo = lo_, hi = hi_;
    if (clip_inputs_) {
      RETURN_IF_ERROR(ReadBound<T>(ctx, 1, where_, &lo));
      RETURN_IF_ERROR(ReadBound<T>(ctx, 2, where_, &hi));
    }
    using U = std::make_unsigned_t<T>;
    const std::span<const T> x = ctx.inputs[0].span<T>();
    T* y = ctx.outputs[0].mutable_data<T>();
    for (size_t i = 0; i < x.size(); ++i) {
      const T v = x[i];
      switch (op_) {
        case UnaryOp::kRelu:
          y[i] = v < 0 ? T{0} : v;
          break;
        case UnaryOp::kNeg:
          y[i] = static_cast<T>(static_cast<U>(U{0} - static_cast<U>(v)));
          break;
        case UnaryOp::kAbs:
          y[i] = v < 0 ? static_cast<T>(static_cast<U>(U{0} - static_cast<U>(v))) : v;
          break;
        default:
          y[i] = std::min(std::max(v, lo), hi);
          break;
      }
    }
    return absl::OkStatus();
  }

 private:
  UnaryOp op_;
  T lo_, hi_;
  bool clip_inputs_;
  std::string where_;
};

template <typename T>
std::unique_ptr<OpKernel> MakeIntKernel(UnaryOp op, bool clip_inputs, std::string where) {
  return std::make_unique<IntUnaryKernel<T>>(op, std::numeric_limits<T>::lowest(),
                                             std::numeric_limits<T>::max(), clip_inputs,
                                             std::move(where));
}

struct UnaryEntry {
  std::string_view op_type;
  UnaryOp op;
  int64_t min_opset;
};

constexpr UnaryEntry kEntries[] = {
    {"Relu", UnaryOp::kRelu, 7},
    {"LeakyRelu", UnaryOp::kLeakyRelu, 7},
    {"Sigmoid", UnaryOp::kSigmoid, 7},
    {"Tanh", UnaryOp::kTanh, 7},
    {"HardSigmoid", UnaryOp::kHardSigmoid, 7},
    {"HardSwish", UnaryOp::kHardSwish, 14},
    {"Erf", UnaryOp::kErf, 9},
    {"Gelu", UnaryOp::kGelu, 20},
    {"Exp", UnaryOp::kExp, 7},
    {"Log", UnaryOp::kLog, 7},
    {"Sqrt", UnaryOp::kSqrt, 7},
    {"Neg", UnaryOp::kNeg, 7},
    {"Abs", UnaryOp::kAbs, 7},
    {"Reciprocal", UnaryOp::kReciprocal, 7},
};

UnaryOp OpFor(std::string_view op_type) {
  for (const UnaryEntry& e : kEntries) {
    if (e.op_type == op_type) return e.op;
  }
  return UnaryOp::kClip;
}

absl::StatusOr<PreparedOp> PrepareUnary(const PrepareContext& ctx) {
  const ir::Node& node = ctx.node;
  UnaryOp op = OpFor(node.op_type());
  UnaryParams params;
  const bool clip_inputs = op == UnaryOp::kClip && ctx.opset >= 11;
  switch (op) {
    case UnaryOp::kLeakyRelu: {
      ASSIGN_OR_RETURN(params.alpha, node.GetFloat("alpha", 0.01f));
      break;
    }
    case UnaryOp::kHardSigmoid: {
      ASSIGN_OR_RETURN(params.alpha, node.GetFloat("alpha", 0.2f));
      ASSIGN_OR_RETURN(params.beta, node.GetFloat("beta", 0.5f));
      break;
    }
    case UnaryOp::kGelu: {
      absl::StatusOr<std::string> approximate = node.GetString("approximate", "none");
      if (!approximate.ok()) return approximate.status();
      if (*approximate == "tanh") {
        op = UnaryOp::kGeluTanh;
      } else if (*approximate != "none") {
        return Unimplemented(
            ctx, StrCat("attribute 'approximate' value '", *approximate, "' is not supported"));
      }
      break;
    }
    case UnaryOp::kClip: {
      if (!clip_inputs) {
        ASSIGN_OR_RETURN(params.alpha, node.GetFloat("min", std::numeric_limits<float>::lowest()));
        ASSIGN_OR_RETURN(params.beta, node.GetFloat("max", std::numeric_limits<float>::max()));
      } else {
        params.alpha = std::numeric_limits<float>::lowest();
        params.beta = std::numeric_limits<float>::max();
        for (int i = 1; i <= 2; ++i) {
          if (!ctx.has_input(i)) continue;
          if (ctx.input(i).dtype != ctx.input(0).dtype) {
            return InvalidInput(
                ctx, i,
                StrCat("has dtype ", tensor::DTypeName(ctx.input(i).dtype), ", expected ",
                       tensor::DTypeName(ctx.input(0).dtype), " like input 0"));
          }
          if (ctx.input(i).shape.num_elements() != 1) {
            return InvalidInput(
                ctx, i, StrCat("has shape ", ctx.input(i).shape.ToString(), ", expected a scalar"));
          }
        }
      }
      break;
    }
    default:
      break;
  }
  const DType dtype = ctx.input(0).dtype;
  const Shape& shape = ctx.input(0).shape;
  const bool int_ok =
      op == UnaryOp::kRelu || op == UnaryOp::kNeg || op == UnaryOp::kAbs || op == UnaryOp::kClip;
  std::string where = node.Describe();
  std::unique_ptr<OpKernel> kernel;
  if (dtype == DType::kFloat32) {
    kernel = std::make_unique<FloatUnaryKernel>(op, params, clip_inputs, std::move(where));
  } else if (int_ok && dtype == DType::kInt8) {
    kernel = MakeIntKernel<int8_t>(op, clip_inputs, std::move(where));
  } else if (int_ok && dtype == DType::kUint8) {
    kernel = MakeIntKernel<uint8_t>(op, clip_inputs, std::move(where));
  } else if (int_ok && dtype == DType::kInt32) {
    kernel = MakeIntKernel<int32_t>(op, clip_inputs, std::move(where));
  } else if (int_ok && dtype == DType::kInt64) {
    kernel = MakeIntKernel<int64_t>(op, clip_inputs, std::move(where));
  } else {
    return UnsupportedDType(ctx, 0);
  }
  if (op == UnaryOp::kClip && !clip_inputs && dtype != DType::kFloat32) {
    return UnsupportedDType(ctx, 0);  // Clip < 11 is float-only in ONNX
  }
  return internal::SingleOutput(ctx, dtype, shape, std::move(kernel));
}

}  // namespace

void RegisterUnaryOps(OpRegistry* registry) {
  for (const UnaryEntry& e : kEntries) {
    registry->Register({.op_type = e.op_type,
                        .domain = "",
                        .min_opset = e.min_opset,
                        .min_inputs = 1,
                        .max_inputs = 1,
                        .prepare = &PrepareUnary});
  }
  registry->Register({.op_type = "Clip",
                      .domain = "",
                      .min_opset = 7,
                      .max_opset = 10,
                      .min_inputs = 1,
                      .max_inputs = 1,
                      .prepare = &PrepareUnary});
  registry->Register({.op_type = "Clip",
                      .domain = "",
                      .min_opset = 11,
                      .min_inputs = 1,
                      .max_inputs = 3,
                      .prepare = &PrepareUnary});
}

}  // namespace mp::exec
