// Pooling (float32, NCHW): MaxPool and AveragePool in 1-D and 2-D on kernels/pool.h (a 1-D
// pool runs as 2-D with height 1; 3-D is UNIMPLEMENTED), GlobalAveragePool and
// GlobalMaxPool over any number of spatial axes.
//
// Window geometry (auto_pad, kernel_shape, strides, dilations, pads, ceil_mode) per
// ops_spatial.h. Attributes by opset: AveragePool count_include_pad (7+), ceil_mode (10+),
// dilations (19+); MaxPool storage_order and the Indices output (8+), ceil_mode and
// dilations (10+). An attribute absent at the model's opset is simply never present, so one
// entry per op serves every opset. A requested MaxPool Indices output is UNIMPLEMENTED.
#include <memory>

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/exec/op.h"
#include "workers/engine/exec/op_registry.h"
#include "workers/engine/exec/ops_internal.h"
#include "workers/engine/exec/ops_spatial.h"
#include "workers/engine/kernels/pool.h"

namespace mp::exec {
namespace {

using internal::WindowAttrs;

class PoolKernel : public OpKernel {
 public:
  PoolKernel(kernels::Pool2dParams p, bool is_max) : p_(p), is_max_(is_max) {}
  absl::Status Run(RunContext& ctx) override {
    if (ctx.outputs[0].num_elements() == 0) return absl::OkStatus();
    const float* x = ctx.inputs[0].data<float>();
    float* y = ctx.outputs[0].mutable_data<float>();
    if (is_max_) {
      kernels::MaxPool2d(p_, x, y, ctx.pool);
    } else {
      kernels::AveragePool2d(p_, x, y, ctx.pool);
    }
    return absl::OkStatus();
  }

 private:
  kernels::Pool2dParams p_;
  bool is_max_;
};

absl::StatusOr<PreparedOp> PreparePool(const PrepareContext& ctx) {
  const ir::Node& node = ctx.node;
  const bool is_max = node.op_type() == "MaxPool";
  RETURN_IF_ERROR(RequireDType(ctx, 0, {DType::kFloat32}));
  const Shape& x = ctx.input(0).shape;
  if (x.rank() >= 5) {
    return Unimplemented(ctx, StrCat(x.rank() - 2, "-D pooling is not supported"));
  }
  RETURN_IF_ERROR(RequireRank(ctx, 0, 3, 4));
  if (is_max && ctx.has_output(1)) {
    return Unimplemented(ctx, "output 1 (Indices) is not supported");
  }
  const int spatial = x.rank() - 2;
  ASSIGN_OR_RETURN(WindowAttrs attrs, internal::ReadWindowAttrs(ctx, spatial, {}));
  ASSIGN_OR_RETURN(int64_t ceil_mode, node.GetInt("ceil_mode", 0));
  ASSIGN_OR_RETURN(int64_t count_include_pad, node.GetInt("count_include_pad", 0));
  if (is_max) {
    ASSIGN_OR_RETURN(int64_t storage_order, node.GetInt("storage_order", 0));
    if (storage_order != 0 && storage_order != 1) {
      return InvalidNode(node,
                         StrCat("attribute 'storage_order' = ", storage_order, " must be 0 or 1"));
    }
  }
  const std::vector<int64_t> in(x.dims().begin() + 2, x.dims().end());
  ASSIGN_OR_RETURN(std::vector<int64_t> out,
                   internal::ForwardOutputSizes(ctx, in, ceil_mode != 0, &attrs));
  const size_t n = static_cast<size_t>(spatial);
  for (size_t i = 0; i < n; ++i) {
    // A window must overlap the input somewhere, or MaxPool would produce -inf: reject pads
    // as large as the kernel (ONNX requires pads smaller than the kernel as well).
    const int64_t dk = attrs.dilations[i] * (attrs.kernel[i] - 1) + 1;
    if (attrs.pads[i] >= dk || attrs.pads[i + n] >= dk) {
      return InvalidNode(node, StrCat("pads ", internal::IntsToString(attrs.pads),
                                      " must be smaller than the kernel window ",
                                      internal::IntsToString(attrs.kernel)));
    }
  }
  kernels::Pool2dParams p;
  p.batch = x.dim(0);
  p.channels = x.dim(1);
  p.count_include_pad = count_include_pad != 0;
  internal::SetSpatial(spatial, in, out, attrs, &p);
  std::vector<int64_t> dims = {x.dim(0), x.dim(1)};
  dims.insert(dims.end(), out.begin(), out.end());
  ASSIGN_OR_RETURN(Shape y, MakeOutputShape(ctx, 0, DType::kFloat32, std::move(dims)));
  return internal::SingleOutput(ctx, DType::kFloat32, y, std::make_unique<PoolKernel>(p, is_max));
}

class GlobalPoolKernel : public OpKernel {
 public:
  GlobalPoolKernel(int64_t planes, int64_t spatial, bool is_max)
      : planes_(planes), spatial_(spatial), is_max_(is_max) {}
  absl::Status Run(RunContext& ctx) override {
    const float* x = ctx.inputs[0].data<float>();
    float* y = ctx.outputs[0].mutable_data<float>();
    if (is_max_) {
      kernels::GlobalMaxPool(planes_, spatial_, x, y, ctx.pool);
    } else {
      kernels::GlobalAveragePool(planes_, spatial_, x, y, ctx.pool);
    }
    return absl::OkStatus();
  }

 private:
  int64_t planes_, spatial_;
  bool is_max_;
};

absl::StatusOr<PreparedOp> PrepareGlobalPool(const PrepareContext& ctx) {
  RETURN_IF_ERROR(RequireDType(ctx, 0, {DType::kFloat32}));
  RETURN_IF_ERROR(RequireRank(ctx, 0, 3, Shape::kMaxRank));
  const Shape& x = ctx.input(0).shape;
  const int64_t planes = x.dim(0) * x.dim(1);
  const int64_t spatial = x.num_elements() / std::max<int64_t>(planes, 1);
  if (planes > 0 && spatial == 0) {
    return InvalidInput(ctx, 0, StrCat("has shape ", x.ToString(), ": empty spatial extent"));
  }
  std::vector<int64_t> dims(static_cast<size_t>(x.rank()), 1);
  dims[0] = x.dim(0);
  dims[1] = x.dim(1);
  ASSIGN_OR_RETURN(Shape y, MakeOutputShape(ctx, 0, DType::kFloat32, std::move(dims)));
  const bool is_max = ctx.node.op_type() == "GlobalMaxPool";
  return internal::SingleOutput(ctx, DType::kFloat32, y,
                                std::make_unique<GlobalPoolKernel>(planes, spatial, is_max));
}

}  // namespace

void RegisterPoolOps(OpRegistry* registry) {
  registry->Register({.op_type = "MaxPool",
                      .domain = "",
                      .min_opset = 7,
                      .min_inputs = 1,
                      .max_inputs = 1,
                      .min_outputs = 1,
                      .max_outputs = 2,
                      .prepare = &PreparePool});
  registry->Register({.op_type = "AveragePool",
                      .domain = "",
                      .min_opset = 7,
                      .min_inputs = 1,
                      .max_inputs = 1,
                      .prepare = &PreparePool});
  for (std::string_view op : {"GlobalAveragePool", "GlobalMaxPool"}) {
    registry->Register({.op_type = op,
                        .domain = "",
                        .min_opset = 7,
                        .min_inputs = 1,
                        .max_inputs = 1,
                        .prepare = &PrepareGlobalPool});
  }
}

}  // namespace mp::exec
