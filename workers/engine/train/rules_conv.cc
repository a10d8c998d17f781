// Backward rules of Conv (1-D/2-D, grouped, depthwise, strided, dilated, padded) and the
// pools. Geometry comes from exec's window-attribute reader (auto_pad resolved to pads), so
// forward and backward agree by construction.
//
// Conv, per group g (x [N, C, H, W], w [M, C/G, kh, kw], y [N, M, OH, OW]):
//   dB[m]  = sum_{n, oh, ow} dY[n, m, oh, ow]                     (fixed order)
//   dW[g]  = dY[g] (M/G x N*OH*OW) * im2col(x)[g]^T              (Sgemm over all images
//            at once, images taken in fixed chunks: deterministic)
//   dX     = ConvTranspose2d(dY, w) with output_padding restoring H, W (the adjoint of Conv2d
//            w.r.t. x).
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/exec/op.h"
#include "workers/engine/exec/ops_spatial.h"
#include "workers/engine/kernels/conv.h"
#include "workers/engine/kernels/gemm.h"
#include "workers/engine/kernels/pool.h"
#include "workers/engine/kernels/pool_grad.h"
#include "workers/engine/train/rules.h"

namespace mp::train::internal {
namespace {

using exec::internal::WindowAttrs;

// Window attributes with effective pads for input `x` (rank 3 or 4); out_sizes gets the
// output spatial sizes.
absl::StatusOr<WindowAttrs> Geometry(const ir::Node& node, int64_t opset, const Shape& x,
                                     std::span<const int64_t> kernel_from_w, bool ceil_mode,
                                     std::vector<int64_t>* out_sizes) {
  std::vector<exec::InputInfo> infos(static_cast<size_t>(node.num_inputs()));
  infos[0].present = true;
  infos[0].dtype = DType::kFloat32;
  infos[0].shape = x;
  bool present[4] = {true, true, true, true};
  exec::PrepareContext ctx{.node = node,
                           .opset = opset,
                           .inputs = infos,
                           .outputs_present = std::span<const bool>(present, 1)};
  const int spatial = x.rank() - 2;
  ASSIGN_OR_RETURN(WindowAttrs attrs, exec::internal::ReadWindowAttrs(ctx, spatial, kernel_from_w));
  std::vector<int64_t> in(x.dims().begin() + 2, x.dims().end());
  ASSIGN_OR_RETURN(*out_sizes, exec::internal::ForwardOutputSizes(ctx, in, ceil_mode, &attrs));
  return attrs;
}

// Per-thread scratch buffer `slot` of at least n floats, uninitialised, kept across calls
// (so its pages stay mapped from one training step to the next).
float* Scratch(int slot, int64_t n) {
  thread_local std::vector<float> buffers[3];
  std::vector<float>& b = buffers[slot];
  if (static_cast<int64_t>(b.size()) < n) b.resize(static_cast<size_t>(n));
  return b.data();
}

absl::Status ConvBackward(BackwardContext& ctx) {
  const Tensor& x = ctx.inputs[0];
  const Tensor& w = ctx.inputs[1];
  const Tensor dy = OutputGradOrZeros(ctx, 0);
  const int spatial = x.rank() - 2;
  if (spatial < 1 || spatial > 2) {
    return exec::Unimplemented(ctx.node, StrCat(spatial, "-D convolution is not supported"));
  }
  ASSIGN_OR_RETURN(int64_t group, ctx.node.GetInt("group", 1));
  std::vector<int64_t> kernel(w.shape().dims().begin() + 2, w.shape().dims().end());
  std::vector<int64_t> out_sizes;
  ASSIGN_OR_RETURN(WindowAttrs attrs,
                   Geometry(ctx.node, ctx.opset, x.shape(), kernel, false, &out_sizes));
  kernels::Conv2dParams p;
  p.batch = x.shape().dim(0);
  p.in_channels = x.shape().dim(1);
  p.out_channels = w.shape().dim(0);
  p.group = group;
  std::vector<int64_t> in(x.shape().dims().begin() + 2, x.shape().dims().end());
  exec::internal::SetSpatial(spatial, in, out_sizes, attrs, &p);
  const int64_t hw = p.in_h * p.in_w, ohw = p.out_h * p.out_w;
  const int64_t cg = p.in_channels / group, mg = p.out_channels / group;
  const int64_t kk = cg * p.kernel_h * p.kernel_w;
  const float* pdy = dy.data<float>();
  auto& g = *ctx.input_grads;

  if (ctx.needs_input_grad.size() > 2 && ctx.needs_input_grad[2]) {
    Tensor db = ZerosLike(ctx.inputs[2].shape());
    float* out = db.mutable_data<float>();
    auto sum = [&](int64_t b, int64_t e) {
      for (int64_t m = b; m < e; ++m) {
        float s = 0.0f;
        for (int64_t n = 0; n < p.batch; ++n) {
          const float* row = pdy + (n * p.out_channels + m) * ohw;
          for (int64_t i = 0; i < ohw; ++i) s += row[i];
        }
        out[m] = s;
      }
    };
    if (ctx.pool != nullptr && p.batch * p.out_channels * ohw >= 65536) {
      ctx.pool->ParallelFor(p.out_channels, 1, sum);
    } else {
      sum(0, p.out_channels);
    }
    g[2] = std::move(db);
  }
  if (ctx.needs_input_grad[1]) {
    Tensor dw = ZerosLike(w.shape());
    // Images per chunk: bound the im2col buffer to ~8M floats.
    const int64_t per_image = std::max<int64_t>(1, kk * ohw);
    const int64_t chunk = std::clamp<int64_t>((int64_t{8} << 20) / per_image, 1, p.batch);
    float* col = Scratch(0, kk * chunk * ohw);
    float* dyg = Scratch(1, mg * chunk * ohw);
    float* dwt = Scratch(2, kk * mg);
    for (int64_t gi = 0; gi < group; ++gi) {
      float* dwg = dw.mutable_data<float>() + gi * mg * kk;
      for (int64_t n0 = 0; n0 < p.batch; n0 += chunk) {
        const int64_t nc = std::min(chunk, p.batch - n0);
        const int64_t ld = nc * ohw;
        auto fill = [&](int64_t b, int64_t e) {
          for (int64_t j = b; j < e; ++j) {
            const int64_t n = n0 + j;
            kernels::Im2Col(p, cg, x.data<float>() + (n * p.in_channels + gi * cg) * hw, 0, ohw,
                            col + j * ohw, ld);
            for (int64_t m = 0; m < mg; ++m) {
              std::memcpy(dyg + m * ld + j * ohw, pdy + (n * p.out_channels + gi * mg + m) * ohw,
                          static_cast<size_t>(ohw) * sizeof(float));
            }
          }
        };
        if (ctx.pool != nullptr && nc > 1) {
          ctx.pool->ParallelFor(nc, 1, fill);
        } else {
          fill(0, nc);
        }
        // dW[g]^T (kk x mg) = im2col (kk x ld) * dY[g]^T (ld x mg): the long operand is A.
        kernels::Sgemm(false, true, kk, mg, ld, 1.0f, col, ld, dyg, ld, n0 == 0 ? 0.0f : 1.0f, dwt,
                       mg, ctx.pool);
      }
      for (int64_t m = 0; m < mg; ++m) {
        for (int64_t t = 0; t < kk; ++t) dwg[m * kk + t] = dwt[t * mg + m];
      }
    }
    g[1] = std::move(dw);
  }
  if (ctx.needs_input_grad[0]) {
    kernels::Conv2dParams t;
    t.batch = p.batch;
    t.in_channels = p.out_channels;
    t.in_h = p.out_h;
    t.in_w = p.out_w;
    t.out_channels = p.in_channels;
    t.out_h = p.in_h;
    t.out_w = p.in_w;
    t.kernel_h = p.kernel_h;
    t.kernel_w = p.kernel_w;
    t.group = group;
    t.stride_h = p.stride_h;
    t.stride_w = p.stride_w;
    t.dilation_h = p.dilation_h;
    t.dilation_w = p.dilation_w;
    t.pad_top = p.pad_top;
    t.pad_left = p.pad_left;
    t.pad_bottom = p.pad_bottom;
    t.pad_right = p.pad_right;
    t.output_padding_h =
        p.in_h - kernels::ConvTransposeOutputSize(p.out_h, p.kernel_h, p.stride_h, p.pad_top,
                                                  p.pad_bottom, p.dilation_h, 0);
    t.output_padding_w =
        p.in_w - kernels::ConvTransposeOutputSize(p.out_w, p.kernel_w, p.stride_w, p.pad_left,
                                                  p.pad_right, p.dilation_w, 0);
    Tensor dx = ZerosLike(x.shape());
    kernels::ConvTranspose2d(t, pdy, w.data<float>(), nullptr, dx.mutable_data<float>(), ctx.pool);
    g[0] = std::move(dx);
  }
  return absl::OkStatus();
}

absl::Status PoolBackward(BackwardContext& ctx, bool max) {
  const Tensor& x = ctx.inputs[0];
  const Tensor dy = OutputGradOrZeros(ctx, 0);
  const int spatial = x.rank() - 2;
  if (spatial < 1 || spatial > 2) {
    return exec::Unimplemented(ctx.node, StrCat(spatial, "-D pooling is not supported"));
  }
  ASSIGN_OR_RETURN(int64_t ceil_mode, ctx.node.GetInt("ceil_mode", 0));
  ASSIGN_OR_RETURN(int64_t count_include_pad, ctx.node.GetInt("count_include_pad", 0));
  std::vector<int64_t> out_sizes;
  ASSIGN_OR_RETURN(WindowAttrs attrs,
                   Geometry(ctx.node, ctx.opset, x.shape(), {}, ceil_mode != 0, &out_sizes));
  kernels::Pool2dParams p;
  p.batch = x.shape().dim(0);
  p.channels = x.shape().dim(1);
  std::vector<int64_t> in(x.shape().dims().begin() + 2, x.shape().dims().end());
  exec::internal::SetSpatial(spatial, in, out_sizes, attrs, &p);
  p.count_include_pad = count_include_pad != 0;
  Tensor dx = ZerosLike(x.shape());
  if (max) {
    kernels::MaxPool2dGrad(p, x.data<float>(), dy.data<float>(), dx.mutable_data<float>(),
                           ctx.pool);
  } else {
    kernels::AveragePool2dGrad(p, dy.data<float>(), dx.mutable_data<float>(), ctx.pool);
  }
  (*ctx.input_grads)[0] = std::move(dx);
  return absl::OkStatus();
}
absl::Status MaxPoolBackward(BackwardContext& ctx) { return PoolBackward(ctx, true); }
absl::Status AveragePoolBackward(BackwardContext& ctx) { return PoolBackward(ctx, false); }

absl::Status GlobalPoolBackward(BackwardContext& ctx, bool max) {
  const Tensor& x = ctx.inputs[0];
  const Tensor dy = OutputGradOrZeros(ctx, 0);
  const int64_t planes = x.shape().dim(0) * x.shape().dim(1);
  const int64_t spatial = planes == 0 ? 0 : x.num_elements() / planes;
  Tensor dx = ZerosLike(x.shape());
  if (max) {
    kernels::GlobalMaxPoolGrad(planes, spatial, x.data<float>(), dy.data<float>(),
                               dx.mutable_data<float>(), ctx.pool);
  } else {
    kernels::GlobalAveragePoolGrad(planes, spatial, dy.data<float>(), dx.mutable_data<float>(),
                                   ctx.pool);
  }
  (*ctx.input_grads)[0] = std::move(dx);
  return absl::OkStatus();
}
absl::Status GlobalAveragePoolBackward(BackwardContext& ctx) {
  return GlobalPoolBackward(ctx, false);
}
absl::Status GlobalMaxPoolBackward(BackwardContext& ctx) { return GlobalPoolBackward(ctx, true); }

// auto_pad must be one of ONNX's values (shapes are checked at the first Forward).
absl::Status ValidateWindow(const ir::Node& node, int64_t /*opset*/) {
  ASSIGN_OR_RETURN(std::string auto_pad, node.GetString("auto_pad", "NOTSET"));
  if (auto_pad != "NOTSET" && auto_pad != "VALID" && auto_pad != "SAME_UPPER" &&
      auto_pad != "SAME_LOWER") {
    return exec::Unimplemented(
        node, StrCat("attribute 'auto_pad' value '", auto_pad, "' is not supported"));
  }
  return absl::OkStatus();
}

absl::Status ValidateMaxPool(const ir::Node& node, int64_t opset) {
  if (node.num_outputs() > 1 && node.output(1).valid()) {
    return exec::Unimplemented(node, "output 1 (Indices) is not supported");
  }
  return ValidateWindow(node, opset);
}

}  // namespace

void RegisterConvRules(RuleTable* table) {
  table->Register({.op_type = "Conv",
                   .differentiable_inputs = 0b111,
                   .no_decay_inputs = 0b100,
                   .validate = &ValidateWindow,
                   .backward = &ConvBackward});
  table->Register(
      {.op_type = "MaxPool", .validate = &ValidateMaxPool, .backward = &MaxPoolBackward});
  table->Register(
      {.op_type = "AveragePool", .validate = &ValidateWindow, .backward = &AveragePoolBackward});
  table->Register({.op_type = "GlobalAveragePool", .backward = &GlobalAveragePoolBackward});
  table->Register({.op_type = "GlobalMaxPool", .backward = &GlobalMaxPoolBackward});
}

}  // namespace mp::train::internal
