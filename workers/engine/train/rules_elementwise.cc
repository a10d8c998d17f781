// Backward rules of the elementwise ops: activations (kernels/activation_grad.h) and the
// broadcasting Add / Sub / Mul (gradients summed back over broadcast axes).
#include <limits>

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/exec/op.h"
#include "workers/engine/kernels/activation_grad.h"
#include "workers/engine/kernels/elementwise.h"
#include "workers/engine/train/rules.h"

namespace mp::train::internal {
namespace {

using kernels::ActivationGradOp;
using kernels::ActivationGradParams;

absl::Status ActivationBackward(BackwardContext& ctx, ActivationGradOp op,
                                const ActivationGradParams& params, bool uses_output) {
  const Tensor dy = OutputGradOrZeros(ctx, 0);
  const Tensor& in = uses_output ? ctx.outputs[0] : ctx.inputs[0];
  Tensor dx = ZerosLike(in.shape());
  kernels::ActivationGrad(op, params, in.num_elements(), in.data<float>(), dy.data<float>(),
                          dx.mutable_data<float>(), ctx.pool);
  (*ctx.input_grads)[0] = std::move(dx);
  return absl::OkStatus();
}

absl::Status ReluBackward(BackwardContext& ctx) {
  return ActivationBackward(ctx, ActivationGradOp::kRelu, {}, false);
}
absl::Status SigmoidBackward(BackwardContext& ctx) {
  return ActivationBackward(ctx, ActivationGradOp::kSigmoid, {}, true);
}
absl::Status TanhBackward(BackwardContext& ctx) {
  return ActivationBackward(ctx, ActivationGradOp::kTanh, {}, true);
}
absl::Status HardSwishBackward(BackwardContext& ctx) {
  return ActivationBackward(ctx, ActivationGradOp::kHardSwish, {}, false);
}
absl::Status LeakyReluBackward(BackwardContext& ctx) {
  ActivationGradParams p;
  ASSIGN_OR_RETURN(p.alpha, ctx.node.GetFloat("alpha", 0.01f));
  return ActivationBackward(ctx, ActivationGradOp::kLeakyRelu, p, false);
}
absl::Status ClipBackward(BackwardContext& ctx) {
  ActivationGradParams p;
  if (ctx.opset < 11) {
    ASSIGN_OR_RETURN(p.lo, ctx.node.GetFloat("min", -std::numeric_limits<float>::max()));
    ASSIGN_OR_RETURN(p.hi, ctx.node.GetFloat("max", std::numeric_limits<float>::max()));
  } else {
    if (ctx.inputs.size() > 1 && ctx.inputs[1].defined()) p.lo = ctx.inputs[1].data<float>()[0];
    if (ctx.inputs.size() > 2 && ctx.inputs[2].defined()) p.hi = ctx.inputs[2].data<float>()[0];
  }
  return ActivationBackward(ctx, ActivationGradOp::kClip, p, false);
}

Tensor Negated(const Tensor& t) {
  Tensor r = t.Clone();
  float* p = r.mutable_data<float>();
  for (int64_t i = 0; i < r.num_elements(); ++i) p[i] = -p[i];
  return r;
}

absl::Status AddSubBackward(BackwardContext& ctx, bool sub) {
  const Tensor dy = OutputGradOrZeros(ctx, 0);
  auto& g = *ctx.input_grads;
  if (ctx.needs_input_grad[0]) g[0] = ReduceToShape(dy, ctx.inputs[0].shape());
  if (ctx.needs_input_grad[1]) {
    Tensor r = ReduceToShape(dy, ctx.inputs[1].shape());
    g[1] = sub ? Negated(r) : r;
  }
  return absl::OkStatus();
}
absl::Status AddBackward(BackwardContext& ctx) { return AddSubBackward(ctx, false); }
absl::Status SubBackward(BackwardContext& ctx) { return AddSubBackward(ctx, true); }

absl::Status MulBackward(BackwardContext& ctx) {
  const Tensor dy = OutputGradOrZeros(ctx, 0);
  auto& g = *ctx.input_grads;
  for (int i = 0; i < 2; ++i) {
    if (!ctx.needs_input_grad[static_cast<size_t>(i)]) continue;
    const Tensor& other = ctx.inputs[static_cast<size_t>(1 - i)];
    g[static_cast<size_t>(i)] =
        ReduceToShape(BroadcastBinary(kernels::BinaryOp::kMul, dy, other, dy.shape(), ctx.pool),
                      ctx.inputs[static_cast<size_t>(i)].shape());
  }
  return absl::OkStatus();
}

absl::Status ValidateFloatBinary(const ir::Node& node, int64_t /*opset*/) {
  if (node.HasAttribute("broadcast") || node.HasAttribute("axis")) {
    return exec::Unimplemented(node,
                               "attribute 'broadcast' (opset < 7 broadcasting) is not supported");
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterElementwiseRules(RuleTable* table) {
  table->Register({.op_type = "Relu", .backward = &ReluBackward});
  table->Register({.op_type = "LeakyRelu", .backward = &LeakyReluBackward});
  table->Register({.op_type = "Sigmoid", .backward = &SigmoidBackward});
  table->Register({.op_type = "Tanh", .backward = &TanhBackward});
  table->Register({.op_type = "HardSwish", .backward = &HardSwishBackward});
  table->Register({.op_type = "Clip", .backward = &ClipBackward});
  table->Register({.op_type = "Add",
                   .differentiable_inputs = 0b11,
                   .validate = &ValidateFloatBinary,
                   .backward = &AddBackward});
  table->Register({.op_type = "Sub",
                   .differentiable_inputs = 0b11,
                   .validate = &ValidateFloatBinary,
                   .backward = &SubBackward});
  table->Register({.op_type = "Mul",
                   .differentiable_inputs = 0b11,
                   .validate = &ValidateFloatBinary,
                   .backward = &MulBackward});
}

}  // namespace mp::train::internal
