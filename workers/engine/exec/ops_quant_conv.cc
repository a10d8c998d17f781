// ConvInteger and QLinearConv (NCHW, 1-D and 2-D) on kernels::QConv2d (exact int32
// accumulation; kernels/qconv.h). Window attributes (auto_pad, kernel_shape, strides,
// dilations, pads, group) as Conv (ops_spatial.h); 3-D is UNIMPLEMENTED.
//
// ConvInteger (10+): x, w, [x_zero_point], [w_zero_point] -> y int32 =
//   conv(x - x_zero_point, w - w_zero_point); x, w uint8/int8 (any combination);
//   x_zero_point one value; w_zero_point one value or one per output channel.
// QLinearConv (10+): x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale,
//   y_zero_point, [B int32] -> y = Requantize(acc + B[oc]) with multiplier
//   x_scale * w_scale[oc] / y_scale (float32, as ONNX Runtime); y's dtype that of
//   y_zero_point. w parameters one value or one per output channel.
// A constant w (with constant w_zero_point) is packed once at prepare.
#include <memory>

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/exec/op.h"
#include "workers/engine/exec/op_registry.h"
#include "workers/engine/exec/ops_internal.h"
#include "workers/engine/exec/ops_quant_internal.h"
#include "workers/engine/exec/ops_spatial.h"
#include "workers/engine/kernels/qconv.h"

namespace mp::exec::internal {
namespace {

using kernels::QType;

struct Slots {
  int x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, bias;
};
constexpr Slots kConvInteger = {0, -1, 2, 1, -1, 3, -1, -1, -1};
constexpr Slots kQLinearConv = {0, 1, 2, 3, 4, 5, 6, 7, 8};

const Tensor& Input(const RunContext& ctx, int slot) {
  static const Tensor* const kNone = new Tensor();
  if (slot < 0 || static_cast<size_t>(slot) >= ctx.inputs.size()) return *kNone;
  return ctx.inputs[static_cast<size_t>(slot)];
}

class QConvKernel : public OpKernel {
 public:
  QConvKernel(kernels::Conv2dParams p, Slots slots, bool requant, QType x_type, QType w_type,
              QType y_type, std::unique_ptr<kernels::PackedQConvWeights> packed)
      : p_(p),
        slots_(slots),
        requant_(requant),
        x_type_(x_type),
        w_type_(w_type),
        y_type_(y_type),
        packed_(std::move(packed)) {}

  absl::Status Run(RunContext& ctx) override {
    if (ctx.outputs[0].num_elements() == 0) return absl::OkStatus();
    std::unique_ptr<kernels::PackedQConvWeights> local;
    const kernels::PackedQConvWeights* w = packed_.get();
    if (w == nullptr) {
      const Tensor& wz = Input(ctx, slots_.w_zp);
      const std::vector<int32_t> zeros = ZeroPoints(wz, p_.out_channels);
      local = kernels::PackedQConvWeights::Pack(p_, Input(ctx, slots_.w).raw_data(), w_type_,
                                                zeros.data(), true);
      w = local.get();
    }
    const void* x = Input(ctx, slots_.x).raw_data();
    const int32_t zx = ZeroPointAt(Input(ctx, slots_.x_zp), 0);
    if (!requant_) {
      kernels::QConv2dInt32(p_, x, x_type_, zx, *w, ctx.outputs[0].mutable_data<int32_t>(),
                            ctx.pool);
      return absl::OkStatus();
    }
    const std::vector<float> scales =
        RequantScales(Input(ctx, slots_.x_scale), Input(ctx, slots_.w_scale),
                      Input(ctx, slots_.y_scale), p_.out_channels);
    const Tensor& bias = Input(ctx, slots_.bias);
    kernels::QConv2d(p_, x, x_type_, zx, *w, bias.defined() ? bias.data<int32_t>() : nullptr,
                     scales.data(), ZeroPointAt(Input(ctx, slots_.y_zp), 0), y_type_,
                     ctx.outputs[0].mutable_raw_data(), ctx.pool);
    return absl::OkStatus();
  }

 private:
  kernels::Conv2dParams p_;
  Slots slots_;
  bool requant_;
  QType x_type_, w_type_, y_type_;
  std::unique_ptr<kernels::PackedQConvWeights> packed_;
};

absl::StatusOr<PreparedOp> PrepareQConv(const PrepareContext& ctx, const Slots& s, bool requant) {
  ASSIGN_OR_RETURN(QType x_type, RequireQType(ctx, s.x));
  ASSIGN_OR_RETURN(QType w_type, RequireQType(ctx, s.w));
  const Shape& x = ctx.input(s.x).shape;
  const Shape& w = ctx.input(s.w).shape;
  if (x.rank() == 5) {
    return Unimplemented(ctx, "3-D convolution (input rank 5) is not supported");
  }
  RETURN_IF_ERROR(RequireRank(ctx, s.x, 3, 4));
  if (w.rank() != x.rank()) {
    return InvalidInput(ctx, s.w,
                        StrCat("has ", w.rank(), " dims ", w.ToString(), ", expected ", x.rank(),
                               " like input ", s.x));
  }
  const int spatial = x.rank() - 2;
  ASSIGN_OR_RETURN(int64_t group, ctx.node.GetInt("group", 1));
  const int64_t c = x.dim(1), m = w.dim(0);
  if (group < 1 || c % group != 0 || w.dim(1) * group != c || m % group != 0) {
    return InvalidInput(
        ctx, s.w,
        StrCat("has shape ", w.ToString(), ": with group ", group,
               " it must be [M, C/group, ...] for C = ", c, " and M divisible by group"));
  }
  QType y_type = QType::kUint8;
  if (requant) {
    ASSIGN_OR_RETURN(y_type, RequireQType(ctx, s.y_zp));
    RETURN_IF_ERROR(CheckQParams(ctx, s.x_scale, s.x_zp, 0, ctx.input(s.x).dtype, "x").status());
    RETURN_IF_ERROR(CheckQParams(ctx, s.w_scale, s.w_zp, m, ctx.input(s.w).dtype, "w").status());
    RETURN_IF_ERROR(CheckQParams(ctx, s.y_scale, s.y_zp, 0, ctx.input(s.y_zp).dtype, "y").status());
    if (ctx.has_input(s.bias)) {
      RETURN_IF_ERROR(RequireDType(ctx, s.bias, {DType::kInt32}));
      const Shape& b = ctx.input(s.bias).shape;
      if (b.rank() != 1 || b.dim(0) != m) {
        return InvalidInput(ctx, s.bias,
                            StrCat("has shape ", b.ToString(), ", expected [", m, "]"));
      }
    }
  } else {
    for (int slot : {s.x_zp, s.w_zp}) {
      if (!ctx.has_input(slot)) continue;
      const InputInfo& z = ctx.input(slot);
      const int data = slot == s.x_zp ? s.x : s.w;
      if (z.dtype != ctx.input(data).dtype) {
        return InvalidInput(ctx, slot, StrCat("zero point dtype differs from input ", data, "'s"));
      }
      const int64_t n = z.shape.num_elements();
      if (n != 1 && !(slot == s.w_zp && z.shape.rank() == 1 && n == m)) {
        return Unimplemented(ctx, StrCat("input ", slot, " (zero point) of shape ",
                                         z.shape.ToString(), " is not supported"));
      }
    }
  }
  kernels::Conv2dParams p;
  ASSIGN_OR_RETURN(std::vector<int64_t> dims, ConvForwardGeometry(ctx, spatial, x, w, group, &p));
  const DType y_dtype = requant ? ctx.input(s.y_zp).dtype : DType::kInt32;
  ASSIGN_OR_RETURN(Shape y, MakeOutputShape(ctx, 0, y_dtype, std::move(dims)));
  std::unique_ptr<kernels::PackedQConvWeights> packed;
  const bool zp_const = !ctx.has_input(s.w_zp) || ctx.input(s.w_zp).is_constant();
  if (ctx.input(s.w).is_constant() && zp_const && ctx.input(s.w).value->num_elements() > 0) {
    const Tensor zt = ctx.has_input(s.w_zp) ? *ctx.input(s.w_zp).value : Tensor();
    const std::vector<int32_t> zeros = ZeroPoints(zt, m);
    packed = kernels::PackedQConvWeights::Pack(p, ctx.input(s.w).value->raw_data(), w_type,
                                               zeros.data(), true);
  }
  return SingleOutput(
      ctx, y_dtype, y,
      std::make_unique<QConvKernel>(p, s, requant, x_type, w_type, y_type, std::move(packed)));
}

absl::StatusOr<PreparedOp> PrepareConvInteger(const PrepareContext& ctx) {
  return PrepareQConv(ctx, kConvInteger, /*requant=*/false);
}

absl::StatusOr<PreparedOp> PrepareQLinearConv(const PrepareContext& ctx) {
  return PrepareQConv(ctx, kQLinearConv, /*requant=*/true);
}

}  // namespace

void RegisterQuantConvOps(OpRegistry* registry) {
  registry->Register({.op_type = "ConvInteger",
                      .domain = "",
                      .min_opset = 10,
                      .min_inputs = 2,
                      .max_inputs = 4,
                      .prepare = &PrepareConvInteger});
  registry->Register({.op_type = "QLinearConv",
                      .domain = "",
                      .min_opset = 10,
                      .min_inputs = 8,
                      .max_inputs = 9,
                      .prepare = &PrepareQLinearConv});
}

}  // namespace mp::exec::internal
