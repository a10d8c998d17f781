// Normalisation ops (float32) on kernels/softmax.h: BatchNormalization (inference form)
// and LayerNormalization.
//
// BatchNormalization: X [N, C, ...], scale / B / mean / var [C];
//   Y = (X - mean) / sqrt(var + epsilon) * scale + B per channel.
//   Opsets 7-8: `spatial` = 0 (per-activation statistics) is UNIMPLEMENTED. Opsets 7-13: the
//   extra outputs (running / saved statistics) exist only in training, so requesting any
//   is UNIMPLEMENTED. Opset 14+: training_mode = 1 is UNIMPLEMENTED (and so are its
//   running_mean / running_var outputs).
// LayerNormalization (opset 17): X [d0..dr), normalised over axes [axis, r) (axis default -1,
//   negative counts from the end); Scale and optional B broadcast to X[axis:]. Outputs Y,
//   optional Mean and InvStdDev of shape X[:axis] + [1]*(r-axis). stash_type must be 1
//   (float32 statistics; other values are UNIMPLEMENTED).
#include <memory>

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/exec/op.h"
#include "workers/engine/exec/op_registry.h"
#include "workers/engine/exec/ops_binary_loop.h"
#include "workers/engine/exec/ops_internal.h"
#include "workers/engine/kernels/softmax.h"

namespace mp::exec {
namespace {

class BatchNormKernel : public OpKernel {
 public:
  BatchNormKernel(int64_t batch, int64_t channels, int64_t spatial, float epsilon)
      : batch_(batch), channels_(channels), spatial_(spatial), epsilon_(epsilon) {}
  absl::Status Run(RunContext& ctx) override {
    kernels::BatchNormInference(batch_, channels_, spatial_, ctx.inputs[0].data<float>(),
                                ctx.inputs[1].data<float>(), ctx.inputs[2].data<float>(),
                                ctx.inputs[3].data<float>(), ctx.inputs[4].data<float>(), epsilon_,
                                ctx.outputs[0].mutable_data<float>(), ctx.pool);
    return absl::OkStatus();
  }

 private:
  int64_t batch_, channels_, spatial_;
  float epsilon_;
};

absl::StatusOr<PreparedOp> PrepareBatchNorm(const PrepareContext& ctx) {
  const ir::Node& node = ctx.node;
  ASSIGN_OR_RETURN(float epsilon, node.GetFloat("epsilon", 1e-5f));
  if (ctx.opset >= 14) {
    ASSIGN_OR_RETURN(int64_t training_mode, node.GetInt("training_mode", 0));
    if (training_mode != 0) {
      return Unimplemented(ctx, "attribute 'training_mode' value 1 is not supported");
    }
  } else if (ctx.opset <= 8) {
    ASSIGN_OR_RETURN(int64_t spatial, node.GetInt("spatial", 1));
    if (spatial != 1) {
      return Unimplemented(ctx, StrCat("attribute 'spatial' value ", spatial, " is not supported"));
    }
  }
  for (int j = 1; j < ctx.num_outputs(); ++j) {
    if (ctx.has_output(j)) {
      return Unimplemented(ctx,
                           StrCat("output ", j, " (training-mode statistics) is not supported"));
    }
  }
  for (int i = 0; i < 5; ++i) RETURN_IF_ERROR(RequireDType(ctx, i, {DType::kFloat32}));
  RETURN_IF_ERROR(RequireRank(ctx, 0, 2, Shape::kMaxRank));
  const Shape& x = ctx.input(0).shape;
  const int64_t c = x.dim(1);
  for (int i = 1; i < 5; ++i) {
    const Shape& s = ctx.input(i).shape;
    if (s.rank() != 1 || s.dim(0) != c) {
      return InvalidInput(ctx, i,
                          StrCat("has shape ", s.ToString(), ", expected [", c,
                                 "] (the channels of input 0 ", x.ToString(), ")"));
    }
  }
  const int64_t batch = x.dim(0);
  const int64_t spatial = batch * c == 0 ? 0 : x.num_elements() / (batch * c);
  return internal::SingleOutput(ctx, DType::kFloat32, x,
                                std::make_unique<BatchNormKernel>(batch, c, spatial, epsilon));
}

class LayerNormKernel : public OpKernel {
 public:
  // `param_shape` is X[axis:]; scale/bias strides broadcast them to it.
  LayerNormKernel(int64_t rows, int64_t n, float epsilon, Shape param_shape,
                  std::vector<int64_t> scale_strides, std::vector<int64_t> bias_strides)
      : rows_(rows),
        n_(n),
        epsilon_(epsilon),
        param_shape_(std::move(param_shape)),
        scale_strides_(std::move(scale_strides)),
        bias_strides_(std::move(bias_strides)) {}

  absl::Status Run(RunContext& ctx) override {
    std::vector<float> scale_buf, bias_buf;  // Run may be called concurrently (op.h)
    const float* scale = Dense(ctx.inputs[1], scale_strides_, &scale_buf);
    const float* bias = nullptr;
    if (ctx.inputs.size() > 2 && ctx.inputs[2].defined()) {
      bias = Dense(ctx.inputs[2], bias_strides_, &bias_buf);
    }
    float* mean = ctx.outputs.size() > 1 && ctx.outputs[1].defined()
                      ? ctx.outputs[1].mutable_data<float>()
                      : nullptr;
    float* inv_std = ctx.outputs.size() > 2 && ctx.outputs[2].defined()
                         ? ctx.outputs[2].mutable_data<float>()
                         : nullptr;
    kernels::LayerNorm(rows_, n_, ctx.inputs[0].data<float>(), scale, bias, epsilon_,
                       ctx.outputs[0].mutable_data<float>(), mean, inv_std, ctx.pool);
    return absl::OkStatus();
  }

 private:
  // The parameter as n_ dense values: the tensor itself when it already has n_ elements,
  // else its broadcast expansion into `buf`.
  const float* Dense(const Tensor& t, const std::vector<int64_t>& strides,
                     std::vector<float>* buf) const {
    if (t.num_elements() == n_) return t.data<float>();
    buf->resize(static_cast<size_t>(n_));
    const float* v = t.data<float>();
    internal::BinaryLoop<float, float, float>(param_shape_, v, strides, v, strides, buf->data(),
                                              [](float a, float) { return a; });
    return buf->data();
  }

  int64_t rows_, n_;
  float epsilon_;
  Shape param_shape_;
  std::vector<int64_t> scale_strides_, bias_strides_;
};

absl::StatusOr<PreparedOp> PrepareLayerNorm(const PrepareContext& ctx) {
  const ir::Node& node = ctx.node;
  ASSIGN_OR_RETURN(float epsilon, node.GetFloat("epsilon", 1e-5f));
  ASSIGN_OR_RETURN(int64_t stash_type, node.GetInt("stash_type", 1));
  if (stash_type != 1) {
    return Unimplemented(ctx,
                         StrCat("attribute 'stash_type' value ", stash_type, " is not supported"));
  }
  RETURN_IF_ERROR(RequireDType(ctx, 0, {DType::kFloat32}));
  RETURN_IF_ERROR(RequireDType(ctx, 1, {DType::kFloat32}));
  if (ctx.has_input(2)) RETURN_IF_ERROR(RequireDType(ctx, 2, {DType::kFloat32}));
  const Shape& x = ctx.input(0).shape;
  ASSIGN_OR_RETURN(int64_t axis_attr, node.GetInt("axis", -1));
  ASSIGN_OR_RETURN(int axis, NormalizeAxis(node, axis_attr, x.rank()));
  const Shape param_shape(std::vector<int64_t>(x.dims().begin() + axis, x.dims().end()));
  const int64_t n = param_shape.num_elements();
  if (n == 0)
    return InvalidInput(ctx, 0, StrCat("normalises over an empty extent ", param_shape.ToString()));
  const int64_t rows = x.num_elements() / n;
  std::vector<int64_t> strides[2];
  for (int i = 1; i <= 2; ++i) {
    if (!ctx.has_input(i)) continue;
    const Shape& s = ctx.input(i).shape;
    const Shape pair[2] = {param_shape, s};
    absl::StatusOr<Shape> b = BroadcastShapes(node, pair);
    if (!b.ok() || !(*b == param_shape)) {
      return InvalidInput(
          ctx, i,
          StrCat("has shape ", s.ToString(), ", which does not broadcast to the normalised dims ",
                 param_shape.ToString()));
    }
    strides[i - 1] = BroadcastStrides(s, param_shape);
  }
  PreparedOp op;
  op.outputs.resize(static_cast<size_t>(ctx.num_outputs()));
  op.outputs[0] = {DType::kFloat32, x, Tensor()};
  std::vector<int64_t> stat_dims(x.dims().begin(), x.dims().begin() + axis);
  stat_dims.resize(static_cast<size_t>(x.rank()), 1);
  for (int j = 1; j < ctx.num_outputs(); ++j) {
    ASSIGN_OR_RETURN(Shape s, MakeOutputShape(ctx, j, DType::kFloat32, stat_dims));
    op.outputs[static_cast<size_t>(j)] = {DType::kFloat32, s, Tensor()};
  }
  op.kernel = std::make_unique<LayerNormKernel>(rows, n, epsilon, param_shape,
                                                std::move(strides[0]), std::move(strides[1]));
  return op;
}

}  // namespace

void RegisterNormOps(OpRegistry* registry) {
  registry->Register({.op_type = "BatchNormalization",
                      .domain = "",
                      .min_opset = 7,
                      .max_opset = 13,
                      .min_inputs = 5,
                      .max_inputs = 5,
                      .min_outputs = 1,
                      .max_outputs = 5,
                      .prepare = &PrepareBatchNorm});
  registry->Register({.op_type = "BatchNormalization",
                      .domain = "",
                      .min_opset = 14,
                      .min_inputs = 5,
                      .max_inputs = 5,
                      .min_outputs = 1,
                      .max_outputs = 3,
                      .prepare = &PrepareBatchNorm});
  registry->Register({.op_type = "LayerNormalization",
                      .domain = "",
                      .min_opset = 17,
                      .min_inputs = 2,
                      .max_inputs = 3,
                      .min_outputs = 1,
                      .max_outputs = 3,
                      .prepare = &PrepareLayerNorm});
}

}  // namespace mp::exec
