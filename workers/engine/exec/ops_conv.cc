// Conv and ConvTranspose (float32, NCHW, 1-D and 2-D) on kernels::Conv2d /
// kernels::ConvTranspose2d. A 1-D op is run as 2-D with height 1. 3-D (rank-5) inputs are
// UNIMPLEMENTED.
//
// Conv: X [N, C, *in], W [M, C/group, *k], optional B [M]; window geometry (auto_pad,
//   strides, dilations, pads) per ops_spatial.h. Y [N, M, *out].
// ConvTranspose: X [N, C, *in], W [C, M/group, *k], optional B [M]; Y [N, M, *out] with
//   out = stride*(in-1) + output_padding + dilation*(k-1) + 1 - pad_begin - pad_end.
//   With output_shape (or auto_pad SAME_*, where output_shape = in*stride) the pads are
//   derived: total = stride*(in-1) + output_padding + dilation*(k-1) + 1 - output_shape,
//   begin = total/2 (SAME_LOWER: total - total/2), end = total - begin, as ONNX Runtime and
//   the ONNX backend test data do. A negative end pad becomes extra output_padding; a
//   negative begin pad is UNIMPLEMENTED.
// The kernels read W in its ONNX layout. For Conv, a constant W is packed once at prepare
// into the GEMM's panel layout (kernels::PackedConvWeights; null for the direct path);
// ConvTranspose reads W in place.
#include <memory>
#include <utility>

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/exec/op.h"
#include "workers/engine/exec/op_registry.h"
#include "workers/engine/exec/ops_internal.h"
#include "workers/engine/exec/ops_spatial.h"
#include "workers/engine/exec/plan.h"
#include "workers/engine/kernels/conv.h"

namespace mp::exec {
namespace {

using internal::AutoPad;
using internal::IntsToString;
using internal::SetSpatial;
using internal::WindowAttrs;

class ConvKernel : public OpKernel {
 public:
  ConvKernel(kernels::Conv2dParams p, bool transpose,
             std::unique_ptr<kernels::PackedConvWeights> packed = nullptr)
      : p_(p), transpose_(transpose), packed_(std::move(packed)) {}
  absl::Status Run(RunContext& ctx) override {
    const float* bias =
        ctx.inputs.size() > 2 && ctx.inputs[2].defined() ? ctx.inputs[2].data<float>() : nullptr;
    float* y = ctx.outputs[0].mutable_data<float>();
    if (ctx.outputs[0].num_elements() == 0) return absl::OkStatus();
    if (transpose_) {
      kernels::ConvTranspose2d(p_, ctx.inputs[0].data<float>(), ctx.inputs[1].data<float>(), bias,
                               y, ctx.pool);
    } else {
      const float* residual = residual_ ? ctx.inputs[3].data<float>() : nullptr;
      kernels::Conv2d(p_, ctx.inputs[0].data<float>(), ctx.inputs[1].data<float>(), bias, y,
                      ctx.pool, packed_.get(), residual);
    }
    return absl::OkStatus();
  }

  // internal::FuseConvEpilogue.
  bool Fuse(bool residual, float act_min, float act_max) {
    if (transpose_ || fused_) return false;
    fused_ = true;
    residual_ = residual;
    p_.act_min = act_min;
    p_.act_max = act_max;
    return true;
  }

 private:
  kernels::Conv2dParams p_;
  bool transpose_;
  std::unique_ptr<kernels::PackedConvWeights> packed_;  // constant W, packed at prepare
  bool fused_ = false;                                  // an epilogue was fused in (plan_fuse.cc)
  bool residual_ = false;                               // input slot 3 is added before the clamp
};

// Shared validation: dtypes, ranks, group, bias. Returns the number of spatial axes.
absl::StatusOr<int> CheckOperands(const PrepareContext& ctx, int64_t group, int64_t out_channels) {
  for (int i = 0; i < 3; ++i) {
    if (i == 2 && !ctx.has_input(2)) continue;
    RETURN_IF_ERROR(RequireDType(ctx, i, {DType::kFloat32}));
  }
  const Shape& x = ctx.input(0).shape;
  const Shape& w = ctx.input(1).shape;
  if (x.rank() == 5) {
    return Unimplemented(ctx, "3-D convolution (input rank 5) is not supported");
  }
  RETURN_IF_ERROR(RequireRank(ctx, 0, 3, 4));
  if (w.rank() != x.rank()) {
    return InvalidInput(
        ctx, 1,
        StrCat("has ", w.rank(), " dims ", w.ToString(), ", expected ", x.rank(), " like input 0"));
  }
  if (group < 1) {
    return InvalidNode(ctx.node, StrCat("attribute 'group' = ", group, " must be >= 1"));
  }
  if (ctx.has_input(2)) {
    const Shape& b = ctx.input(2).shape;
    if (b.rank() != 1 || b.dim(0) != out_channels) {
      return InvalidInput(ctx, 2,
                          StrCat("has shape ", b.ToString(), ", expected [", out_channels, "]"));
    }
  }
  return x.rank() - 2;
}

absl::StatusOr<PreparedOp> PrepareConv(const PrepareContext& ctx) {
  ASSIGN_OR_RETURN(int64_t group, ctx.node.GetInt("group", 1));
  const Shape& x = ctx.input(0).shape;
  const Shape& w = ctx.input(1).shape;
  const int64_t m = w.rank() >= 1 ? w.dim(0) : 0;
  ASSIGN_OR_RETURN(int spatial, CheckOperands(ctx, group, m));
  const int64_t c = x.dim(1);
  if (c % group != 0 || w.dim(1) * group != c) {
    return InvalidInput(ctx, 1,
                        StrCat("has shape ", w.ToString(), ": dim 1 times group (", group,
                               ") must equal the ", c, " input channels"));
  }
  if (m % group != 0) {
    return InvalidInput(ctx, 1,
                        StrCat("has ", m, " output channels, not divisible by group ", group));
  }
  kernels::Conv2dParams p;
  ASSIGN_OR_RETURN(std::vector<int64_t> dims,
                   internal::ConvForwardGeometry(ctx, spatial, x, w, group, &p));
  ASSIGN_OR_RETURN(Shape y, MakeOutputShape(ctx, 0, DType::kFloat32, std::move(dims)));
  std::unique_ptr<kernels::PackedConvWeights> packed;
  if (ctx.input(1).is_constant() && ctx.input(1).value->num_elements() > 0) {
    packed = kernels::PackedConvWeights::Pack(p, ctx.input(1).value->data<float>());
  }
  return internal::SingleOutput(
      ctx, DType::kFloat32, y,
      std::make_unique<ConvKernel>(p, /*transpose=*/false, std::move(packed)));
}

absl::StatusOr<PreparedOp> PrepareConvTranspose(const PrepareContext& ctx) {
  const ir::Node& node = ctx.node;
  ASSIGN_OR_RETURN(int64_t group, node.GetInt("group", 1));
  const Shape& x = ctx.input(0).shape;
  const Shape& w = ctx.input(1).shape;
  const int64_t m = w.rank() >= 2 ? w.dim(1) * std::max<int64_t>(group, 1) : 0;
  ASSIGN_OR_RETURN(int spatial, CheckOperands(ctx, group, m));
  const size_t n = static_cast<size_t>(spatial);
  const int64_t c = x.dim(1);
  if (w.dim(0) != c || c % group != 0) {
    return InvalidInput(ctx, 1,
                        StrCat("has shape ", w.ToString(), ": dim 0 must equal the ", c,
                               " input channels and be divisible by group ", group));
  }
  const std::vector<int64_t> kernel(w.dims().begin() + 2, w.dims().end());
  ASSIGN_OR_RETURN(WindowAttrs attrs, internal::ReadWindowAttrs(ctx, spatial, kernel));
  ASSIGN_OR_RETURN(std::vector<int64_t> output_padding,
                   node.GetInts("output_padding", std::vector<int64_t>(n, 0)));
  if (output_padding.size() != n) {
    return InvalidNode(node, StrCat("attribute 'output_padding' has ", output_padding.size(),
                                    " values, expected ", n));
  }
  for (size_t i = 0; i < n; ++i) {
    if (output_padding[i] < 0 ||
        output_padding[i] >= std::max(attrs.strides[i], attrs.dilations[i])) {
      return InvalidNode(node, StrCat("attribute 'output_padding' = ", IntsToString(output_padding),
                                      " must be in [0, max(stride, dilation))"));
    }
  }
  const std::vector<int64_t> in(x.dims().begin() + 2, x.dims().end());
  std::vector<int64_t> target;
  if (node.HasAttribute("output_shape")) {
    ASSIGN_OR_RETURN(target, node.GetInts("output_shape"));
    if (target.size() == n + 2) target.erase(target.begin(), target.begin() + 2);
    if (target.size() != n) {
      return InvalidNode(node, StrCat("attribute 'output_shape' = ", IntsToString(target),
                                      " does not have ", n, " spatial dims"));
    }
  } else if (attrs.auto_pad == AutoPad::kSameUpper || attrs.auto_pad == AutoPad::kSameLower) {
    for (size_t i = 0; i < n; ++i) target.push_back(in[i] * attrs.strides[i]);
  } else if (attrs.auto_pad == AutoPad::kValid) {
    std::fill(attrs.pads.begin(), attrs.pads.end(), 0);
  }
  if (!target.empty()) {
    for (size_t i = 0; i < n; ++i) {
      const int64_t total = attrs.strides[i] * (in[i] - 1) + output_padding[i] +
                            attrs.dilations[i] * (attrs.kernel[i] - 1) + 1 - target[i];
      int64_t begin = attrs.auto_pad == AutoPad::kSameLower ? total - total / 2 : total / 2;
      int64_t end = total - begin;
      if (begin < 0) {
        return Unimplemented(ctx, StrCat("attribute 'output_shape' = ", IntsToString(target),
                                         " needs negative begin padding on axis ", i));
      }
      if (end < 0) {
        output_padding[i] -= end;
        end = 0;
      }
      attrs.pads[i] = begin;
      attrs.pads[n + i] = end;
    }
  }
  std::vector<int64_t> out(n);
  for (size_t i = 0; i < n; ++i) {
    out[i] =
        kernels::ConvTransposeOutputSize(in[i], attrs.kernel[i], attrs.strides[i], attrs.pads[i],
                                         attrs.pads[n + i], attrs.dilations[i], output_padding[i]);
    if (out[i] < 1) {
      return InvalidNode(node, StrCat("output spatial dim ", i, " would be ", out[i]));
    }
  }
  kernels::Conv2dParams p;
  p.batch = x.dim(0);
  p.in_channels = c;
  p.out_channels = m;
  p.group = group;
  SetSpatial(spatial, in, out, attrs, &p);
  p.output_padding_w = output_padding[n - 1];
  if (spatial == 2) p.output_padding_h = output_padding[0];
  std::vector<int64_t> dims = {x.dim(0), m};
  dims.insert(dims.end(), out.begin(), out.end());
  ASSIGN_OR_RETURN(Shape y, MakeOutputShape(ctx, 0, DType::kFloat32, std::move(dims)));
  return internal::SingleOutput(ctx, DType::kFloat32, y,
                                std::make_unique<ConvKernel>(p, /*transpose=*/true));
}

}  // namespace

bool internal::FuseConvEpilogue(OpKernel& kernel, bool residual, float act_min, float act_max) {
  auto* conv = dynamic_cast<ConvKernel*>(&kernel);
  return conv != nullptr && conv->Fuse(residual, act_min, act_max);
}

void RegisterConvOps(OpRegistry* registry) {
  registry->Register({.op_type = "Conv",
                      .domain = "",
                      .min_opset = 7,
                      .min_inputs = 2,
                      .max_inputs = 3,
                      .prepare = &PrepareConv});
  registry->Register({.op_type = "ConvTranspose",
                      .domain = "",
                      .min_opset = 7,
                      .min_inputs = 2,
                      .max_inputs = 3,
                      .prepare = &PrepareConvTranspose});
}

}  // namespace mp::exec
