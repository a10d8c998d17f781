// Operators that create tensors from attributes or constant inputs: Constant,
// ConstantOfShape, Range. Their outputs never depend on input data, so the session folds
// them at Create/plan time; each still has a kernel so folding runs the ordinary path.
#include <cmath>
#include <cstring>
#include <utility>

#include "common/status.h"
#include "workers/engine/exec/op_registry.h"
#include "workers/engine/exec/ops_internal.h"

namespace mp::exec {
namespace {

// Constant: exactly one of value / value_float / value_floats / value_int / value_ints.
absl::StatusOr<PreparedOp> PrepareConstant(const PrepareContext& ctx) {
  const ir::Node& node = ctx.node;
  for (const char* name : {"sparse_value", "value_string", "value_strings"}) {
    if (node.HasAttribute(name)) {
      return Unimplemented(ctx, StrCat("attribute '", name, "' is not supported"));
    }
  }
  int count = 0;
  Tensor value;
  if (node.HasAttribute("value")) {
    ++count;
    ASSIGN_OR_RETURN(value, node.GetTensor("value"));
  }
  if (node.HasAttribute("value_float")) {
    ++count;
    ASSIGN_OR_RETURN(float v, node.GetFloat("value_float"));
    value = Tensor::FromVector<float>(Shape(), {v});
  }
  if (node.HasAttribute("value_floats")) {
    ++count;
    ASSIGN_OR_RETURN(std::vector<float> v, node.GetFloats("value_floats"));
    value = Tensor::FromVector<float>(Shape({static_cast<int64_t>(v.size())}), v);
  }
  if (node.HasAttribute("value_int")) {
    ++count;
    ASSIGN_OR_RETURN(int64_t v, node.GetInt("value_int"));
    value = Tensor::FromVector<int64_t>(Shape(), {v});
  }
  if (node.HasAttribute("value_ints")) {
    ++count;
    ASSIGN_OR_RETURN(std::vector<int64_t> v, node.GetInts("value_ints"));
    value = Tensor::FromVector<int64_t>(Shape({static_cast<int64_t>(v.size())}), v);
  }
  if (count != 1) {
    return InvalidNode(node, StrCat("expected exactly one value attribute, found ", count));
  }
  if (!value.defined()) return InvalidNode(node, "attribute 'value' holds no tensor");
  PreparedOp op = internal::SingleOutput(ctx, value.dtype(), value.shape(), nullptr);
  op.outputs[0].value = std::move(value);
  return op;
}

// Fills output 0 with copies of an element's bytes.
class FillKernel : public OpKernel {
 public:
  explicit FillKernel(Tensor element) : element_(std::move(element)) {}
  absl::Status Run(RunContext& ctx) override {
    Tensor& out = ctx.outputs[0];
    const size_t esize = element_.byte_size();
    const auto* pattern = static_cast<const uint8_t*>(element_.raw_data());
    auto* dst = static_cast<uint8_t*>(out.mutable_raw_data());
    bool all_zero = true;
    for (size_t b = 0; b < esize; ++b) all_zero = all_zero && pattern[b] == 0;
    ctx.pool->ParallelFor(out.num_elements(), 16384, [&](int64_t begin, int64_t end) {
      if (all_zero) {
        std::memset(dst + begin * esize, 0, static_cast<size_t>(end - begin) * esize);
        return;
      }
      for (int64_t i = begin; i < end; ++i) std::memcpy(dst + i * esize, pattern, esize);
    });
    return absl::OkStatus();
  }

 private:
  Tensor element_;
};

absl::StatusOr<PreparedOp> PrepareConstantOfShape(const PrepareContext& ctx) {
  RETURN_IF_ERROR(RequireDType(ctx, 0, {DType::kInt64}));
  RETURN_IF_ERROR(RequireRank(ctx, 0, 1, 1));
  ASSIGN_OR_RETURN(std::vector<int64_t> dims, ConstantInts(ctx, 0));
  Tensor element = Tensor::FromVector<float>(Shape(), {0.0f});
  if (ctx.node.HasAttribute("value")) {
    ASSIGN_OR_RETURN(element, ctx.node.GetTensor("value"));
    if (element.num_elements() != 1) {
      return InvalidNode(ctx.node, StrCat("attribute 'value' must hold one element, has ",
                                          element.num_elements()));
    }
  }
  for (int64_t d : dims) {
    if (d < 0) return InvalidInput(ctx, 0, StrCat("has negative entry ", d));
  }
  ASSIGN_OR_RETURN(Shape out, MakeOutputShape(ctx, 0, element.dtype(), std::move(dims)));
  const DType dtype = element.dtype();
  return internal::SingleOutput(ctx, dtype, std::move(out),
                                std::make_unique<FillKernel>(element.Reshaped(Shape())));
}

// Range: out[i] = start + i*delta computed by repeated addition as the ONNX function body
// does (prev + delta), for i < max(ceil((limit - start) / delta), 0).
template <typename T>
class RangeKernel : public OpKernel {
 public:
  RangeKernel(T start, T delta) : start_(start), delta_(delta) {}
  absl::Status Run(RunContext& ctx) override {
    Tensor& out = ctx.outputs[0];
    T* dst = out.mutable_data<T>();
    const int64_t n = out.num_elements();
    T v = start_;
    for (int64_t i = 0; i < n; ++i) {
      dst[i] = v;
      if (i + 1 < n) v = static_cast<T>(v + delta_);  // stays within [start, limit)
    }
    return absl::OkStatus();
  }

 private:
  T start_, delta_;
};

template <typename T>
absl::StatusOr<PreparedOp> PrepareRangeT(const PrepareContext& ctx) {
  T args[3];
  for (int i = 0; i < 3; ++i) {
    const InputInfo& in = ctx.input(i);
    if (in.shape.num_elements() != 1 || in.shape.rank() > 1) {
      return InvalidInput(ctx, i, StrCat("must be a scalar, has shape ", in.shape.ToString()));
    }
    if (!in.is_constant()) {
      return NotKnownAtPlanTime(ctx, i);
    }
    args[i] = in.value->template data<T>()[0];
  }
  const T start = args[0], limit = args[1], delta = args[2];
  if (delta == T(0)) return InvalidInput(ctx, 2, "delta is 0");
  double count;
  if constexpr (std::is_floating_point_v<T>) {
    count = std::ceil(static_cast<double>(limit - start) / static_cast<double>(delta));
  } else {
    const double span = static_cast<double>(limit) - static_cast<double>(start);
    count = std::ceil(span / static_cast<double>(delta));
    // Exact integer count where double could round (|values| > 2^53).
    if (std::fabs(span) < 9e15) {
      const int64_t s = static_cast<int64_t>(limit) - static_cast<int64_t>(start);
      const int64_t d = static_cast<int64_t>(delta);
      count = static_cast<double>(s / d + ((s % d != 0 && ((s < 0) == (d < 0))) ? 1 : 0));
    }
  }
  if (!(count > 0)) count = 0;  // also NaN
  if (count > 9e18) {
    return absl::ResourceExhaustedError(
        StrCat(ctx.node.Describe(), ": output of ", count, " elements exceeds the limit"));
  }
  ASSIGN_OR_RETURN(Shape out,
                   MakeOutputShape(ctx, 0, tensor::DTypeOf<T>(), {static_cast<int64_t>(count)}));
  return internal::SingleOutput(ctx, tensor::DTypeOf<T>(), std::move(out),
                                std::make_unique<RangeKernel<T>>(start, delta));
}

absl::StatusOr<PreparedOp> PrepareRange(const PrepareContext& ctx) {
  const DType dtype = ctx.input(0).dtype;
  for (int i = 1; i < 3; ++i) {
    if (ctx.input(i).dtype != dtype) {
      return InvalidInput(ctx, i,
                          StrCat("has dtype ", tensor::DTypeName(ctx.input(i).dtype), ", expected ",
                                 tensor::DTypeName(dtype)));
    }
  }
  switch (dtype) {
    case DType::kFloat32:
      return PrepareRangeT<float>(ctx);
    case DType::kFloat64:
      return PrepareRangeT<double>(ctx);
    case DType::kInt32:
      return PrepareRangeT<int32_t>(ctx);
    case DType::kInt64:
      return PrepareRangeT<int64_t>(ctx);
    default:
      return UnsupportedDType(ctx, 0);
  }
}

}  // namespace

void RegisterGeneratorOps(OpRegistry* registry) {
  registry->Register(
      {.op_type = "Constant", .min_inputs = 0, .max_inputs = 0, .prepare = &PrepareConstant});
  registry->Register({.op_type = "ConstantOfShape",
                      .min_opset = 9,
                      .min_inputs = 1,
                      .max_inputs = 1,
                      .prepare = &PrepareConstantOfShape});
  registry->Register({.op_type = "Range",
                      .min_opset = 11,
                      .min_inputs = 3,
                      .max_inputs = 3,
                      .prepare = &PrepareRange});
}

}  // namespace mp::exec
