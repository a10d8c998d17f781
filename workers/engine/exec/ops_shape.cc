// Shape-only operators: the output is the input's bytes under a new shape (Reshape, Flatten,
// Squeeze, Unsqueeze, Identity, Dropout in inference), or a value computed from shapes alone
// (Shape, Size), which Prepare returns as a plan-time constant.
#include <algorithm>
#include <optional>
#include <utility>

#include "common/status.h"
#include "workers/engine/exec/op_registry.h"
#include "workers/engine/exec/ops_internal.h"

namespace mp::exec {
namespace {

using internal::CopyOp;

// Reshape: opset >= 5 reads the target shape from input 1; opsets 1..4 from attribute
// 'shape'. Entry 0 copies the input dim (unless allowzero, opset 14), -1 (at most one) is
// inferred from the element count.
absl::StatusOr<PreparedOp> PrepareReshape(const PrepareContext& ctx) {
  const Shape& in = ctx.input(0).shape;
  std::vector<int64_t> target;
  if (ctx.opset >= 5) {
    RETURN_IF_ERROR(RequireRank(ctx, 1, 1, 1));
    ASSIGN_OR_RETURN(target, ConstantInts(ctx, 1));
  } else {
    ASSIGN_OR_RETURN(target, ctx.node.GetInts("shape"));
  }
  ASSIGN_OR_RETURN(int64_t allowzero, ctx.node.GetInt("allowzero", 0));
  if (allowzero != 0 && allowzero != 1) {
    return Unimplemented(ctx, StrCat("attribute 'allowzero' value ", allowzero,
                                     " is not supported (expected 0 or 1)"));
  }
  int infer = -1;
  int64_t known = 1;
  bool has_zero = false;
  for (size_t i = 0; i < target.size(); ++i) {
    int64_t& d = target[i];
    if (d == -1) {
      if (infer >= 0) return InvalidInput(ctx, 1, "has more than one -1 entry");
      infer = static_cast<int>(i);
      continue;
    }
    if (d == 0 && allowzero == 0) {
      if (static_cast<int>(i) >= in.rank()) {
        return InvalidInput(
            ctx, 1, StrCat("entry ", i, " is 0 but the data has only ", in.rank(), " dims"));
      }
      d = in.dim(static_cast<int>(i));
    }
    if (d < 0) return InvalidInput(ctx, 1, StrCat("entry ", i, " is negative: ", d));
    if (d == 0) has_zero = true;
    if (d != 0 && known > (int64_t{1} << 62) / d) {
      return InvalidInput(ctx, 1, "product of the target shape overflows");
    }
    known *= d;
  }
  if (infer >= 0) {
    if (has_zero) {
      if (in.num_elements() != 0 || allowzero) {
        return InvalidInput(ctx, 1, "cannot infer -1 with a zero dim in the target shape");
      }
      target[static_cast<size_t>(infer)] = 0;
    } else if (in.num_elements() % known != 0) {
      return InvalidInput(ctx, 1,
                          StrCat("cannot reshape ", in.ToString(), " (", in.num_elements(),
                                 " elements) with -1 inferred"));
    } else {
      target[static_cast<size_t>(infer)] = in.num_elements() / known;
    }
  }
  ASSIGN_OR_RETURN(Shape out, MakeOutputShape(ctx, 0, ctx.input(0).dtype, target));
  if (out.num_elements() != in.num_elements()) {
    return InvalidInput(ctx, 1,
                        StrCat("cannot reshape ", in.ToString(), " to ", out.ToString(),
                               ": element counts differ"));
  }
  return CopyOp(ctx, ctx.input(0).dtype, std::move(out));
}

absl::StatusOr<PreparedOp> PrepareFlatten(const PrepareContext& ctx) {
  const Shape& in = ctx.input(0).shape;
  ASSIGN_OR_RETURN(int64_t axis, ctx.node.GetInt("axis", 1));
  if (axis < -in.rank() || axis > in.rank()) {
    return InvalidNode(ctx.node,
                       StrCat("attribute 'axis' ", axis, " is out of range for rank ", in.rank()));
  }
  if (axis < 0) axis += in.rank();
  std::vector<int64_t> outer(in.dims().begin(), in.dims().begin() + axis);
  std::vector<int64_t> inner(in.dims().begin() + axis, in.dims().end());
  ASSIGN_OR_RETURN(int64_t rows, tensor::CheckedNumElements(outer));
  ASSIGN_OR_RETURN(int64_t cols, tensor::CheckedNumElements(inner));
  return CopyOp(ctx, ctx.input(0).dtype, Shape({rows, cols}));
}

// Axes from attribute 'axes' (opset < 13) or input 1 (opset >= 13); nullopt when absent.
absl::StatusOr<std::optional<std::vector<int64_t>>> ReadAxes(const PrepareContext& ctx) {
  if (ctx.opset >= 13) {
    if (!ctx.has_input(1)) return std::optional<std::vector<int64_t>>();
    ASSIGN_OR_RETURN(std::vector<int64_t> axes, ConstantInts(ctx, 1));
    return std::optional<std::vector<int64_t>>(std::move(axes));
  }
  if (!ctx.node.HasAttribute("axes")) return std::optional<std::vector<int64_t>>();
  ASSIGN_OR_RETURN(std::vector<int64_t> axes, ctx.node.GetInts("axes"));
  return std::optional<std::vector<int64_t>>(std::move(axes));
}

// Normalises axes against `rank`; INVALID_ARGUMENT on out-of-range or repeated axes.
absl::StatusOr<std::vector<bool>> AxisMask(const ir::Node& node, std::span<const int64_t> axes,
                                           int rank) {
  std::vector<bool> mask(static_cast<size_t>(rank), false);
  for (int64_t a : axes) {
    ASSIGN_OR_RETURN(int axis, NormalizeAxis(node, a, rank, "axes entry"));
    if (mask[static_cast<size_t>(axis)]) {
      return InvalidNode(node, StrCat("axes entry ", a, " is repeated"));
    }
    mask[static_cast<size_t>(axis)] = true;
  }
  return mask;
}

absl::StatusOr<PreparedOp> PrepareSqueeze(const PrepareContext& ctx) {
  const Shape& in = ctx.input(0).shape;
  ASSIGN_OR_RETURN(auto axes, ReadAxes(ctx));
  std::vector<int64_t> out;
  if (!axes.has_value()) {
    for (int64_t d : in.dims()) {
      if (d != 1) out.push_back(d);
    }
  } else {
    ASSIGN_OR_RETURN(std::vector<bool> mask, AxisMask(ctx.node, *axes, in.rank()));
    for (int d = 0; d < in.rank(); ++d) {
      if (!mask[static_cast<size_t>(d)]) {
        out.push_back(in.dim(d));
      } else if (in.dim(d) != 1) {
        return InvalidInput(
            ctx, 0,
            StrCat("cannot squeeze dim ", d, " of size ", in.dim(d), " in ", in.ToString()));
      }
    }
  }
  return CopyOp(ctx, ctx.input(0).dtype, Shape(std::move(out)));
}

absl::StatusOr<PreparedOp> PrepareUnsqueeze(const PrepareContext& ctx) {
  const Shape& in = ctx.input(0).shape;
  ASSIGN_OR_RETURN(auto axes, ReadAxes(ctx));
  if (!axes.has_value()) return InvalidNode(ctx.node, "axes are required");
  const int out_rank = in.rank() + static_cast<int>(axes->size());
  if (out_rank > Shape::kMaxRank) {
    return InvalidNode(ctx.node, StrCat("output rank ", out_rank, " exceeds ", Shape::kMaxRank));
  }
  ASSIGN_OR_RETURN(std::vector<bool> mask, AxisMask(ctx.node, *axes, out_rank));
  std::vector<int64_t> out;
  int next = 0;
  for (int d = 0; d < out_rank; ++d) {
    out.push_back(mask[static_cast<size_t>(d)] ? 1 : in.dim(next++));
  }
  return CopyOp(ctx, ctx.input(0).dtype, Shape(std::move(out)));
}

absl::StatusOr<PreparedOp> PrepareIdentity(const PrepareContext& ctx) {
  return CopyOp(ctx, ctx.input(0).dtype, ctx.input(0).shape);
}

// Fills output 1 (Dropout's mask) with ones of its dtype.
class DropoutKernel : public OpKernel {
 public:
  absl::Status Run(RunContext& ctx) override {
    internal::CopyKernel copy;
    RETURN_IF_ERROR(copy.Run(ctx));
    if (ctx.outputs.size() > 1 && ctx.outputs[1].defined()) {
      Tensor& mask = ctx.outputs[1];
      if (mask.dtype() == DType::kBool) {
        std::fill_n(mask.mutable_data<bool>(), mask.num_elements(), true);
      } else if (mask.dtype() == DType::kFloat32) {
        std::fill_n(mask.mutable_data<float>(), mask.num_elements(), 1.0f);
      } else {
        return absl::InternalError("unexpected Dropout mask dtype");
      }
    }
    return absl::OkStatus();
  }
};

// Inference Dropout: identity. The optional mask is all true (opset >= 10: bool; before: the
// data type, float only). training_mode (opset 12) must be absent or a constant false.
absl::StatusOr<PreparedOp> PrepareDropout(const PrepareContext& ctx) {
  if (ctx.opset >= 12 && ctx.has_input(2)) {
    const InputInfo& info = ctx.input(2);
    if (!info.is_constant() || info.value->dtype() != DType::kBool ||
        info.value->num_elements() != 1) {
      return Unimplemented(ctx, "input 2 ('training_mode') must be a constant bool scalar");
    }
    if (info.value->data<bool>()[0]) {
      return Unimplemented(ctx, "training_mode=true is not supported (inference only)");
    }
  }
  if (ctx.opset < 7) {
    ASSIGN_OR_RETURN(int64_t is_test, ctx.node.GetInt("is_test", 0));
    if (is_test == 0 && ctx.has_output(1)) {
      return Unimplemented(ctx, "attribute 'is_test' value 0 (training) is not supported");
    }
  }
  const DType dtype = ctx.input(0).dtype;
  PreparedOp op =
      internal::SingleOutput(ctx, dtype, ctx.input(0).shape, std::make_unique<DropoutKernel>());
  if (ctx.has_output(1)) {
    DType mask = ctx.opset >= 10 ? DType::kBool : dtype;
    if (mask != DType::kBool && mask != DType::kFloat32) return UnsupportedDType(ctx, 0);
    op.outputs[1].dtype = mask;
    op.outputs[1].shape = ctx.input(0).shape;
  }
  return op;
}

// Shape (start/end since opset 15, clamped like Slice). Output known at plan time.
absl::StatusOr<PreparedOp> PrepareShape(const PrepareContext& ctx) {
  const Shape& in = ctx.input(0).shape;
  const int64_t rank = in.rank();
  ASSIGN_OR_RETURN(int64_t start, ctx.node.GetInt("start", 0));
  ASSIGN_OR_RETURN(int64_t end, ctx.node.GetInt("end", rank));
  auto clamp = [rank](int64_t v) { return std::clamp(v < 0 ? v + rank : v, int64_t{0}, rank); };
  start = clamp(start);
  end = clamp(end);
  std::vector<int64_t> dims;
  for (int64_t d = start; d < end; ++d) dims.push_back(in.dim(static_cast<int>(d)));
  const int64_t count = static_cast<int64_t>(dims.size());
  PreparedOp op = internal::SingleOutput(ctx, DType::kInt64, Shape({count}), nullptr);
  op.outputs[0].value = Tensor::FromVector<int64_t>(Shape({count}), dims);
  return op;
}

absl::StatusOr<PreparedOp> PrepareSize(const PrepareContext& ctx) {
  PreparedOp op = internal::SingleOutput(ctx, DType::kInt64, Shape(), nullptr);
  op.outputs[0].value = Tensor::FromVector<int64_t>(Shape(), {ctx.input(0).shape.num_elements()});
  return op;
}

}  // namespace

void RegisterShapeOps(OpRegistry* registry) {
  registry->Register({.op_type = "Reshape",
                      .min_opset = 1,
                      .max_opset = 4,
                      .min_inputs = 1,
                      .max_inputs = 1,
                      .prepare = &PrepareReshape});
  registry->Register({.op_type = "Reshape",
                      .min_opset = 5,
                      .min_inputs = 2,
                      .max_inputs = 2,
                      .prepare = &PrepareReshape});
  registry->Register(
      {.op_type = "Flatten", .min_inputs = 1, .max_inputs = 1, .prepare = &PrepareFlatten});
  registry->Register({.op_type = "Squeeze",
                      .max_opset = 12,
                      .min_inputs = 1,
                      .max_inputs = 1,
                      .prepare = &PrepareSqueeze});
  registry->Register({.op_type = "Squeeze",
                      .min_opset = 13,
                      .min_inputs = 1,
                      .max_inputs = 2,
                      .prepare = &PrepareSqueeze});
  registry->Register({.op_type = "Unsqueeze",
                      .max_opset = 12,
                      .min_inputs = 1,
                      .max_inputs = 1,
                      .prepare = &PrepareUnsqueeze});
  registry->Register({.op_type = "Unsqueeze",
                      .min_opset = 13,
                      .min_inputs = 2,
                      .max_inputs = 2,
                      .prepare = &PrepareUnsqueeze});
  registry->Register(
      {.op_type = "Identity", .min_inputs = 1, .max_inputs = 1, .prepare = &PrepareIdentity});
  registry->Register({.op_type = "Dropout",
                      .min_inputs = 1,
                      .max_inputs = 3,
                      .min_outputs = 1,
                      .max_outputs = 2,
                      .prepare = &PrepareDropout});
  registry->Register(
      {.op_type = "Shape", .min_inputs = 1, .max_inputs = 1, .prepare = &PrepareShape});
  registry->Register(
      {.op_type = "Size", .min_inputs = 1, .max_inputs = 1, .prepare = &PrepareSize});
}

}  // namespace mp::exec
