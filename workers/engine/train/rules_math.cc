// Backward rules of the arithmetic ops exporters write for LayerNorm / GELU / attention
// (Div, Pow, Sqrt, Erf, Exp, Log, Neg, Reciprocal) and of ReduceMean / ReduceSum.
//
//   Div:  y = a / b        da = dy / b,            db = -dy * y / b
//   Pow:  y = a ^ b        da = dy * b * a^(b-1)   (the exponent is not trained)
//   Sqrt: dx = dy * 0.5 / y    Erf: dx = dy * 2/sqrt(pi) * exp(-x^2)
//   Exp:  dx = dy * y          Log: dx = dy / x      Neg: -dy    Reciprocal: -dy * y^2
//   ReduceMean / ReduceSum: dy broadcast back over the reduced axes (/ count for the mean).
// Broadcast operands get their gradients summed back (ReduceToShape).
#include <cmath>
#include <vector>

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/exec/op.h"
#include "workers/engine/kernels/elementwise.h"
#include "workers/engine/train/rules.h"

namespace mp::train::internal {
namespace {

using kernels::BinaryOp;

absl::Status DivBackward(BackwardContext& ctx) {
  const Tensor dy = OutputGradOrZeros(ctx, 0);
  const Tensor& b = ctx.inputs[1];
  const Tensor t = BroadcastBinary(BinaryOp::kDiv, dy, b, dy.shape(), ctx.pool);  // dy / b
  auto& g = *ctx.input_grads;
  if (ctx.needs_input_grad[0]) g[0] = ReduceToShape(t, ctx.inputs[0].shape());
  if (ctx.needs_input_grad[1]) {
    Tensor u = BroadcastBinary(BinaryOp::kMul, t, ctx.outputs[0], dy.shape(), ctx.pool);
    float* p = u.mutable_data<float>();
    for (int64_t i = 0; i < u.num_elements(); ++i) p[i] = -p[i];
    g[1] = ReduceToShape(u, b.shape());
  }
  return absl::OkStatus();
}

absl::Status PowBackward(BackwardContext& ctx) {
  const Tensor dy = OutputGradOrZeros(ctx, 0);
  const Tensor& a = ctx.inputs[0];
  Tensor b = ctx.inputs[1];
  if (b.dtype() != DType::kFloat32) {  // an integer exponent
    Tensor f = ZerosLike(b.shape());
    for (int64_t i = 0; i < b.num_elements(); ++i) {
      f.mutable_data<float>()[i] =
          b.dtype() == DType::kInt64   ? static_cast<float>(b.data<int64_t>()[i])
          : b.dtype() == DType::kInt32 ? static_cast<float>(b.data<int32_t>()[i])
                                       : static_cast<float>(b.data<double>()[i]);
    }
    b = std::move(f);
  }
  const Shape& out = dy.shape();
  // Broadcast copies of a and b (small tensors in the models that use Pow).
  const Tensor zeros = ZerosLike(Shape());
  const Tensor ab = BroadcastBinary(BinaryOp::kAdd, a, zeros, out, ctx.pool);
  const Tensor bb = BroadcastBinary(BinaryOp::kAdd, b, zeros, out, ctx.pool);
  const float* pa = ab.data<float>();
  const float* pb = bb.data<float>();
  const float* pdy = dy.data<float>();
  auto& g = *ctx.input_grads;
  if (ctx.needs_input_grad[0]) {
    Tensor da = ZerosLike(out);
    float* p = da.mutable_data<float>();
    for (int64_t i = 0; i < da.num_elements(); ++i) {
      p[i] = pb[i] == 2.0f ? pdy[i] * 2.0f * pa[i] : pdy[i] * pb[i] * std::pow(pa[i], pb[i] - 1.0f);
    }
    g[0] = ReduceToShape(da, a.shape());
  }
  return absl::OkStatus();
}

enum class UnaryKind { kSqrt, kErf, kExp, kLog, kNeg, kReciprocal };

absl::Status UnaryBackward(BackwardContext& ctx, UnaryKind kind) {
  const Tensor dy = OutputGradOrZeros(ctx, 0);
  const float* px = ctx.inputs[0].data<float>();
  const float* py = ctx.outputs[0].data<float>();
  const float* pdy = dy.data<float>();
  Tensor dx = ZerosLike(dy.shape());
  float* p = dx.mutable_data<float>();
  const float two_over_sqrt_pi = 1.1283791670955126f;
  ParallelElements(ctx.pool, dx.num_elements(), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      switch (kind) {
        case UnaryKind::kSqrt:
          p[i] = pdy[i] * 0.5f / py[i];
          break;
        case UnaryKind::kErf:
          p[i] = pdy[i] * two_over_sqrt_pi * std::exp(-px[i] * px[i]);
          break;
        case UnaryKind::kExp:
          p[i] = pdy[i] * py[i];
          break;
        case UnaryKind::kLog:
          p[i] = pdy[i] / px[i];
          break;
        case UnaryKind::kNeg:
          p[i] = -pdy[i];
          break;
        case UnaryKind::kReciprocal:
          p[i] = -pdy[i] * py[i] * py[i];
          break;
      }
    }
  });
  (*ctx.input_grads)[0] = std::move(dx);
  return absl::OkStatus();
}
absl::Status SqrtBackward(BackwardContext& ctx) { return UnaryBackward(ctx, UnaryKind::kSqrt); }
absl::Status ErfBackward(BackwardContext& ctx) { return UnaryBackward(ctx, UnaryKind::kErf); }
absl::Status ExpBackward(BackwardContext& ctx) { return UnaryBackward(ctx, UnaryKind::kExp); }
absl::Status LogBackward(BackwardContext& ctx) { return UnaryBackward(ctx, UnaryKind::kLog); }
absl::Status NegBackward(BackwardContext& ctx) { return UnaryBackward(ctx, UnaryKind::kNeg); }
absl::Status ReciprocalBackward(BackwardContext& ctx) {
  return UnaryBackward(ctx, UnaryKind::kReciprocal);
}

// Reduced axes of a ReduceMean / ReduceSum node for input rank `rank`.
absl::StatusOr<std::vector<bool>> ReducedAxes(const BackwardContext& ctx, int rank) {
  std::vector<int64_t> axes;
  const bool axes_input = (ctx.node.op_type() == "ReduceSum" && ctx.opset >= 13) ||
                          (ctx.node.op_type() == "ReduceMean" && ctx.opset >= 18);
  if (axes_input) {
    if (ctx.inputs.size() > 1 && ctx.inputs[1].defined()) {
      const Tensor& t = ctx.inputs[1];
      if (t.dtype() != DType::kInt64) {
        return exec::InvalidNode(ctx.node, "axes must be int64");
      }
      axes.assign(t.data<int64_t>(), t.data<int64_t>() + t.num_elements());
    }
  } else {
    ASSIGN_OR_RETURN(axes, ctx.node.GetInts("axes", std::vector<int64_t>{}));
  }
  ASSIGN_OR_RETURN(int64_t noop, ctx.node.GetInt("noop_with_empty_axes", 0));
  std::vector<bool> reduced(static_cast<size_t>(rank), axes.empty() && noop == 0);
  for (int64_t a : axes) {
    ASSIGN_OR_RETURN(int axis, exec::NormalizeAxis(ctx.node, a, rank));
    reduced[static_cast<size_t>(axis)] = true;
  }
  return reduced;
}

absl::Status ReduceBackward(BackwardContext& ctx, bool mean) {
  const Tensor& x = ctx.inputs[0];
  const Tensor dy = OutputGradOrZeros(ctx, 0);
  ASSIGN_OR_RETURN(std::vector<bool> reduced, ReducedAxes(ctx, x.rank()));
  std::vector<int64_t> kept = x.shape().dims();
  int64_t count = 1;
  for (int d = 0; d < x.rank(); ++d) {
    if (reduced[static_cast<size_t>(d)]) {
      count *= kept[static_cast<size_t>(d)];
      kept[static_cast<size_t>(d)] = 1;
    }
  }
  const Tensor scale = Tensor::FromVector(
      Shape(), std::vector<float>{mean && count > 0 ? 1.0f / static_cast<float>(count) : 1.0f});
  (*ctx.input_grads)[0] =
      BroadcastBinary(BinaryOp::kMul, dy.Reshaped(Shape(kept)), scale, x.shape(), ctx.pool);
  return absl::OkStatus();
}
absl::Status ReduceMeanBackward(BackwardContext& ctx) { return ReduceBackward(ctx, true); }
absl::Status ReduceSumBackward(BackwardContext& ctx) { return ReduceBackward(ctx, false); }

}  // namespace

void RegisterMathRules(RuleTable* table) {
  table->Register({.op_type = "Div", .differentiable_inputs = 0b11, .backward = &DivBackward});
  table->Register({.op_type = "Pow", .backward = &PowBackward});  // exponent: a constant
  table->Register({.op_type = "Sqrt", .backward = &SqrtBackward});
  table->Register({.op_type = "Erf", .backward = &ErfBackward});
  table->Register({.op_type = "Exp", .backward = &ExpBackward});
  table->Register({.op_type = "Log", .backward = &LogBackward});
  table->Register({.op_type = "Neg", .backward = &NegBackward});
  table->Register({.op_type = "Reciprocal", .backward = &ReciprocalBackward});
  table->Register({.op_type = "ReduceMean", .backward = &ReduceMeanBackward});
  table->Register({.op_type = "ReduceSum", .backward = &ReduceSumBackward});
}

}  // namespace mp::train::internal
