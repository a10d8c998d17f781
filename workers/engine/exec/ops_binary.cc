// Broadcasting binary and variadic elementwise ops: Add, Sub, Mul, Div, Pow, PRelu, and the
// variadic Max, Min, Sum, Mean (float32 Sum / Mean; Mean = Sum / count).
//
// float32 runs on kernels::Binary (Highway). Other dtypes run a scalar broadcasting loop
// (ops_binary_loop.h): Add/Sub/Mul/Div/Max/Min on int8, uint8, int32, int64, float64 (integer
// Div truncates toward zero; a zero divisor is INVALID_ARGUMENT at run time), Pow on
// float32/int32/int64 bases with float32/int32/int64 exponents (computed in double, then
// converted to the base type, like ONNX Runtime).
//
// Opsets 7+ (the importer rejects older ones): numpy (multidirectional) broadcasting;
// PRelu's slope broadcasts to X (unidirectional). The later versions only add dtypes.
#include <algorithm>
#include <cmath>
#include <memory>

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/exec/op.h"
#include "workers/engine/exec/op_registry.h"
#include "workers/engine/exec/ops_binary_loop.h"
#include "workers/engine/exec/ops_internal.h"
#include "workers/engine/kernels/elementwise.h"

namespace mp::exec {
namespace {

using internal::BinaryLoop;
using kernels::BinaryOp;

// Broadcast layout of a binary op: output dims and per-input element strides.
struct Layout {
  Shape out;
  std::vector<int64_t> a_strides, b_strides;
};

class FloatBinaryKernel : public OpKernel {
 public:
  FloatBinaryKernel(BinaryOp op, Layout layout) : op_(op), layout_(std::move(layout)) {}
  absl::Status Run(RunContext& ctx) override {
    kernels::Binary(op_, layout_.out.rank(), layout_.out.dims().data(), ctx.inputs[0].data<float>(),
                    layout_.a_strides.data(), ctx.inputs[1].data<float>(), layout_.b_strides.data(),
                    ctx.outputs[0].mutable_data<float>(), ctx.pool);
    return absl::OkStatus();
  }

 private:
  BinaryOp op_;
  Layout layout_;
};

template <typename T>
class TypedBinaryKernel : public OpKernel {
 public:
  TypedBinaryKernel(BinaryOp op, Layout layout, std::string where)
      : op_(op), layout_(std::move(layout)), where_(std::move(where)) {}
  absl::Status Run(RunContext& ctx) override {
    if constexpr (std::is_integral_v<T>) {
      if (op_ == BinaryOp::kDiv) {
        for (T v : ctx.inputs[1].span<T>()) {
          if (v == 0) return absl::InvalidArgumentError(where_ + ": integer division by zero");
        }
      }
    }
    BinaryLoop<T, T, T>(layout_.out, ctx.inputs[0].data<T>(), layout_.a_strides,
                        ctx.inputs[1].data<T>(), layout_.b_strides,
                        ctx.outputs[0].mutable_data<T>(),
                        [op = op_](T a, T b) -> T { return internal::ApplyBinary(op, a, b); });
    return absl::OkStatus();
  }

 private:
  BinaryOp op_;
  Layout layout_;
  std::string where_;
};

// Pow with base type B and exponent type E (not both float: that takes FloatBinaryKernel).
template <typename B, typename E>
class MixedPowKernel : public OpKernel {
 public:
  explicit MixedPowKernel(Layout layout) : layout_(std::move(layout)) {}
  absl::Status Run(RunContext& ctx) override {
    BinaryLoop<B, E, B>(
        layout_.out, ctx.inputs[0].data<B>(), layout_.a_strides, ctx.inputs[1].data<E>(),
        layout_.b_strides, ctx.outputs[0].mutable_data<B>(), [](B a, E b) -> B {
          return internal::FromDouble<B>(std::pow(static_cast<double>(a), static_cast<double>(b)));
        });
    return absl::OkStatus();
  }

 private:
  Layout layout_;
};

// Max / Min / Sum / Mean over 1..N inputs, float32: folds pairwise into the output.
class FloatVariadicKernel : public OpKernel {
 public:
  // `mean`: op is kAdd and the sum is divided by the input count (ONNX Mean).
  FloatVariadicKernel(BinaryOp op, bool mean, Shape out, std::vector<std::vector<int64_t>> strides)
      : op_(op),
        mean_(mean),
        out_(std::move(out)),
        strides_(std::move(strides)),
        dense_(RowMajorStrides(out_)) {}
  absl::Status Run(RunContext& ctx) override {
    float* y = ctx.outputs[0].mutable_data<float>();
    const int rank = out_.rank();
    const int64_t* dims = out_.dims().data();
    if (ctx.inputs.size() == 1) {
      // Copy (broadcast is the identity: the output has the input's shape; Mean of one is
      // the input).
      const float* x = ctx.inputs[0].data<float>();
      std::copy(x, x + out_.num_elements(), y);
      return absl::OkStatus();
    }
    kernels::Binary(op_, rank, dims, ctx.inputs[0].data<float>(), strides_[0].data(),
                    ctx.inputs[1].data<float>(), strides_[1].data(), y, ctx.pool);
    for (size_t k = 2; k < ctx.inputs.size(); ++k) {
      kernels::Binary(op_, rank, dims, y, dense_.data(), ctx.inputs[k].data<float>(),
                      strides_[k].data(), y, ctx.pool);
    }
    if (mean_) {
      const float count = static_cast<float>(ctx.inputs.size());
      for (int64_t i = 0; i < out_.num_elements(); ++i) y[i] /= count;
    }
    return absl::OkStatus();
  }

 private:
  BinaryOp op_;
  bool mean_;
  Shape out_;
  std::vector<std::vector<int64_t>> strides_;
  std::vector<int64_t> dense_;  // out_'s row-major strides
};

template <typename T>
class TypedVariadicKernel : public OpKernel {
 public:
  TypedVariadicKernel(BinaryOp op, Shape out, std::vector<std::vector<int64_t>> strides)
      : op_(op),
        out_(std::move(out)),
        strides_(std::move(strides)),
        dense_(RowMajorStrides(out_)) {}
  absl::Status Run(RunContext& ctx) override {
    T* y = ctx.outputs[0].mutable_data<T>();
    // y = broadcast(input 0), then y = op(y, input k).
    BinaryLoop<T, T, T>(out_, ctx.inputs[0].data<T>(), strides_[0], ctx.inputs[0].data<T>(),
                        strides_[0], y, [](T a, T) { return a; });
    const bool is_max = op_ == BinaryOp::kMax;
    for (size_t k = 1; k < ctx.inputs.size(); ++k) {
      BinaryLoop<T, T, T>(out_, y, dense_, ctx.inputs[k].data<T>(), strides_[k], y,
                          [is_max](T a, T b) { return is_max ? std::max(a, b) : std::min(a, b); });
    }
    return absl::OkStatus();
  }

 private:
  BinaryOp op_;
  Shape out_;
  std::vector<std::vector<int64_t>> strides_;
  std::vector<int64_t> dense_;  // out_'s row-major strides
};

absl::StatusOr<Layout> MakeLayout(const PrepareContext& ctx, bool unidirectional) {
  const Shape& a = ctx.input(0).shape;
  const Shape& b = ctx.input(1).shape;
  const Shape shapes[2] = {a, b};
  ASSIGN_OR_RETURN(Shape out, BroadcastShapes(ctx.node, shapes));
  if (unidirectional && !(out == a)) {
    return InvalidInput(ctx, 1,
                        StrCat("shape ", ctx.input(1).shape.ToString(),
                               " does not broadcast to input 0's shape ", a.ToString()));
  }
  ASSIGN_OR_RETURN(Shape checked, MakeOutputShape(ctx, 0, ctx.input(0).dtype, out.dims()));
  Layout layout{checked, BroadcastStrides(a, checked), BroadcastStrides(b, checked)};
  return layout;
}

BinaryOp OpFor(const std::string& op_type) {
  if (op_type == "Add") return BinaryOp::kAdd;
  if (op_type == "Sub") return BinaryOp::kSub;
  if (op_type == "Mul") return BinaryOp::kMul;
  if (op_type == "Div") return BinaryOp::kDiv;
  if (op_type == "Pow") return BinaryOp::kPow;
  if (op_type == "Max") return BinaryOp::kMax;
  if (op_type == "Sum" || op_type == "Mean") return BinaryOp::kAdd;
  if (op_type == "Min") return BinaryOp::kMin;
  return BinaryOp::kPRelu;
}

template <typename B>
absl::StatusOr<std::unique_ptr<OpKernel>> MakeMixedPow(const PrepareContext& ctx, Layout layout) {
  switch (ctx.input(1).dtype) {
    case DType::kFloat32:
      return std::make_unique<MixedPowKernel<B, float>>(std::move(layout));
    case DType::kInt32:
      return std::make_unique<MixedPowKernel<B, int32_t>>(std::move(layout));
    case DType::kInt64:
      return std::make_unique<MixedPowKernel<B, int64_t>>(std::move(layout));
    default:
      return UnsupportedDType(ctx, 1);
  }
}

absl::StatusOr<PreparedOp> PrepareBinary(const PrepareContext& ctx) {
  const BinaryOp op = OpFor(ctx.node.op_type());
  const DType dtype = ctx.input(0).dtype;
  ASSIGN_OR_RETURN(Layout layout, MakeLayout(ctx, op == BinaryOp::kPRelu));
  Shape out = layout.out;
  std::unique_ptr<OpKernel> kernel;
  if (op == BinaryOp::kPow) {
    RETURN_IF_ERROR(RequireDType(ctx, 0, {DType::kFloat32, DType::kInt32, DType::kInt64}));
    RETURN_IF_ERROR(RequireDType(ctx, 1, {DType::kFloat32, DType::kInt32, DType::kInt64}));
    if (dtype == DType::kFloat32 && ctx.input(1).dtype == DType::kFloat32) {
      kernel = std::make_unique<FloatBinaryKernel>(op, std::move(layout));
    } else if (dtype == DType::kFloat32) {
      ASSIGN_OR_RETURN(kernel, MakeMixedPow<float>(ctx, std::move(layout)));
    } else if (dtype == DType::kInt32) {
      ASSIGN_OR_RETURN(kernel, MakeMixedPow<int32_t>(ctx, std::move(layout)));
    } else {
      ASSIGN_OR_RETURN(kernel, MakeMixedPow<int64_t>(ctx, std::move(layout)));
    }
    return internal::SingleOutput(ctx, dtype, out, std::move(kernel));
  }
  if (ctx.input(1).dtype != dtype) {
    return InvalidInput(ctx, 1,
                        StrCat("has dtype ", tensor::DTypeName(ctx.input(1).dtype), ", expected ",
                               tensor::DTypeName(dtype), " like input 0"));
  }
  const std::string where = ctx.node.Describe();
  switch (dtype) {
    case DType::kFloat32:
      kernel = std::make_unique<FloatBinaryKernel>(op, std::move(layout));
      break;
    case DType::kFloat64:
      kernel = std::make_unique<TypedBinaryKernel<double>>(op, std::move(layout), where);
      break;
    case DType::kInt32:
      kernel = std::make_unique<TypedBinaryKernel<int32_t>>(op, std::move(layout), where);
      break;
    case DType::kInt64:
      kernel = std::make_unique<TypedBinaryKernel<int64_t>>(op, std::move(layout), where);
      break;
    case DType::kInt8:
      kernel = std::make_unique<TypedBinaryKernel<int8_t>>(op, std::move(layout), where);
      break;
    case DType::kUint8:
      kernel = std::make_unique<TypedBinaryKernel<uint8_t>>(op, std::move(layout), where);
      break;
    default:
      return UnsupportedDType(ctx, 0);
  }
  return internal::SingleOutput(ctx, dtype, out, std::move(kernel));
}

absl::StatusOr<PreparedOp> PrepareVariadic(const PrepareContext& ctx) {
  const BinaryOp op = OpFor(ctx.node.op_type());
  const DType dtype = ctx.input(0).dtype;
  std::vector<Shape> shapes;
  for (int i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) return InvalidInput(ctx, i, "is required");
    if (ctx.input(i).dtype != dtype) {
      return InvalidInput(ctx, i,
                          StrCat("has dtype ", tensor::DTypeName(ctx.input(i).dtype), ", expected ",
                                 tensor::DTypeName(dtype)));
    }
    shapes.push_back(ctx.input(i).shape);
  }
  ASSIGN_OR_RETURN(Shape bshape, BroadcastShapes(ctx.node, shapes));
  ASSIGN_OR_RETURN(Shape out, MakeOutputShape(ctx, 0, dtype, bshape.dims()));
  std::vector<std::vector<int64_t>> strides;
  for (const Shape& s : shapes) strides.push_back(BroadcastStrides(s, out));
  std::unique_ptr<OpKernel> kernel;
  const bool mean = ctx.node.op_type() == "Mean";
  if (dtype != DType::kFloat32 && op == BinaryOp::kAdd) return UnsupportedDType(ctx, 0);
  switch (dtype) {
    case DType::kFloat32:
      kernel = std::make_unique<FloatVariadicKernel>(op, mean, out, std::move(strides));
      break;
    case DType::kFloat64:
      kernel = std::make_unique<TypedVariadicKernel<double>>(op, out, std::move(strides));
      break;
    case DType::kInt32:
      kernel = std::make_unique<TypedVariadicKernel<int32_t>>(op, out, std::move(strides));
      break;
    case DType::kInt64:
      kernel = std::make_unique<TypedVariadicKernel<int64_t>>(op, out, std::move(strides));
      break;
    case DType::kInt8:
      kernel = std::make_unique<TypedVariadicKernel<int8_t>>(op, out, std::move(strides));
      break;
    case DType::kUint8:
      kernel = std::make_unique<TypedVariadicKernel<uint8_t>>(op, out, std::move(strides));
      break;
    default:
      return UnsupportedDType(ctx, 0);
  }
  return internal::SingleOutput(ctx, dtype, out, std::move(kernel));
}

}  // namespace

void RegisterBinaryOps(OpRegistry* registry) {
  for (std::string_view op : {"Add", "Sub", "Mul", "Div", "Pow"}) {
    registry->Register({.op_type = op,
                        .domain = "",
                        .min_opset = 7,
                        .min_inputs = 2,
                        .max_inputs = 2,
                        .prepare = &PrepareBinary});
  }
  registry->Register({.op_type = "PRelu",
                      .domain = "",
                      .min_opset = 7,
                      .min_inputs = 2,
                      .max_inputs = 2,
                      .prepare = &PrepareBinary});
  for (std::string_view op : {"Max", "Min", "Sum", "Mean"}) {
    registry->Register({.op_type = op,
                        .domain = "",
                        .min_opset = 7,
                        .min_inputs = 1,
                        .max_inputs = 1 << 16,
                        .prepare = &PrepareVariadic});
  }
}

}  // namespace mp::exec
