// QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear on kernels/quantize.h, with the
// exact arithmetic of ONNX Runtime (see quantize.h):
//
// QuantizeLinear (10+): y = saturate(rne(x / y_scale) + y_zero_point), x float32, y uint8 /
//   int8 (the zero point's dtype; without one, output_dtype (21+) or uint8). Per-tensor, or
//   from opset 13 per-axis along `axis` (default 1) with 1-D scale/zero point of dim(axis).
//   UNIMPLEMENTED: block_size != 0 (21+), float8/int4/16-bit types, non-float32 x or scale.
// DequantizeLinear (10+): y = float(x - x_zero_point) * x_scale, x uint8 / int8 / int32
//   (int32 as biases use: zero point omitted or 0). Per-axis as above.
// DynamicQuantizeLinear (11+): x float32 -> y uint8, y_scale, y_zero_point (scalars) as ONNX
//   Runtime computes them: lo = min(0, min x), hi = max(0, max x),
//   scale = hi == lo ? 1 : (hi - lo) / 255, zp = rne(clamp(0 - lo / scale, 0, 255)),
//   y = QuantizeLinear(x, scale, zp).
#include <algorithm>
#include <cmath>
#include <memory>

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/exec/op.h"
#include "workers/engine/exec/op_registry.h"
#include "workers/engine/exec/ops_internal.h"
#include "workers/engine/exec/ops_quant_internal.h"
#include "workers/engine/kernels/quantize.h"

namespace mp::exec {
namespace {

using kernels::QType;

constexpr int64_t kChunk = 1 << 15;  // elements per parallel chunk

// Calls fn(begin, count, channel) over [0, outer*channels*inner) split into runs that stay
// within one channel block, in parallel chunks of about kChunk elements.
template <class Fn>
void ForEachRun(int64_t outer, int64_t channels, int64_t inner, kernels::ThreadPool* pool,
                const Fn& fn) {
  const int64_t total = outer * channels * inner;
  const int64_t chunks = (total + kChunk - 1) / kChunk;
  auto run = [&](int64_t cb, int64_t ce) {
    const int64_t end = std::min(total, ce * kChunk);
    for (int64_t i = cb * kChunk; i < end;) {
      const int64_t block = i / inner;
      const int64_t stop = std::min(end, (block + 1) * inner);
      fn(i, stop - i, block % channels);
      i = stop;
    }
  };
  if (pool == nullptr || chunks <= 1) {
    run(0, chunks);
  } else {
    pool->ParallelFor(chunks, 1, run);
  }
}

struct AxisSplit {
  int64_t outer = 1, channels = 1, inner = 1;
};

// Reads `axis` (13+) and splits x's shape around it when the scale is per-axis.
absl::StatusOr<AxisSplit> SplitForScale(const PrepareContext& ctx, int scale_input, int zp_input) {
  const Shape& x = ctx.input(0).shape;
  AxisSplit split;
  split.inner = x.num_elements();
  const Shape& s = ctx.input(scale_input).shape;
  const bool maybe_axis = s.rank() == 1 && s.num_elements() != 1;
  if (ctx.opset >= 21) {
    ASSIGN_OR_RETURN(int64_t block_size, ctx.node.GetInt("block_size", 0));
    if (block_size != 0) {
      return Unimplemented(ctx, StrCat("attribute 'block_size' value ", block_size,
                                       " (blocked quantization) is not supported"));
    }
  }
  int64_t channels = 0;
  int axis = 0;
  if (maybe_axis) {
    if (ctx.opset < 13) {
      return InvalidInput(ctx, scale_input, "must be a scalar before opset 13");
    }
    ASSIGN_OR_RETURN(int64_t axis_attr, ctx.node.GetInt("axis", 1));
    ASSIGN_OR_RETURN(axis, NormalizeAxis(ctx.node, axis_attr, x.rank()));
    channels = x.dim(axis);
  }
  const DType zp_dtype = ctx.has_input(zp_input) ? ctx.input(zp_input).dtype : DType::kUint8;
  ASSIGN_OR_RETURN(bool per_axis,
                   internal::CheckQParams(ctx, scale_input, zp_input, channels, zp_dtype, "x"));
  if (per_axis) {
    split.outer = 1;
    for (int d = 0; d < axis; ++d) split.outer *= x.dim(d);
    split.channels = channels;
    split.inner = 1;
    for (int d = axis + 1; d < x.rank(); ++d) split.inner *= x.dim(d);
  }
  return split;
}

class QuantizeKernel : public OpKernel {
 public:
  QuantizeKernel(AxisSplit split, QType type) : split_(split), type_(type) {}
  absl::Status Run(RunContext& ctx) override {
    const float* x = ctx.inputs[0].data<float>();
    const Tensor& scale = ctx.inputs[1];
    const Tensor zp = ctx.inputs.size() > 2 ? ctx.inputs[2] : Tensor();
    uint8_t* y = static_cast<uint8_t*>(ctx.outputs[0].mutable_raw_data());
    ForEachRun(split_.outer, split_.channels, split_.inner, ctx.pool,
               [&](int64_t begin, int64_t count, int64_t c) {
                 kernels::QuantizeLinear(x + begin, count, internal::ScaleAt(scale, c),
                                         internal::ZeroPointAt(zp, c), type_, y + begin);
               });
    return absl::OkStatus();
  }

 private:
  AxisSplit split_;
  QType type_;
};

absl::StatusOr<PreparedOp> PrepareQuantize(const PrepareContext& ctx) {
  RETURN_IF_ERROR(RequireDType(ctx, 0, {DType::kFloat32}));
  DType out = DType::kUint8;
  if (ctx.has_input(2)) {
    RETURN_IF_ERROR(RequireDType(ctx, 2, {DType::kUint8, DType::kInt8}));
    out = ctx.input(2).dtype;
  } else if (ctx.opset >= 21) {
    ASSIGN_OR_RETURN(int64_t output_dtype, ctx.node.GetInt("output_dtype", 0));
    if (output_dtype == static_cast<int64_t>(DType::kInt8)) {
      out = DType::kInt8;
    } else if (output_dtype != 0 && output_dtype != static_cast<int64_t>(DType::kUint8)) {
      return Unimplemented(ctx, StrCat("attribute 'output_dtype' value ", output_dtype,
                                       " is not supported (uint8 and int8 are)"));
    }
  }
  ASSIGN_OR_RETURN(AxisSplit split, SplitForScale(ctx, 1, 2));
  return internal::SingleOutput(ctx, out, ctx.input(0).shape,
                                std::make_unique<QuantizeKernel>(split, internal::ToQType(out)));
}

class DequantizeKernel : public OpKernel {
 public:
  explicit DequantizeKernel(AxisSplit split) : split_(split) {}
  absl::Status Run(RunContext& ctx) override {
    const Tensor& x = ctx.inputs[0];
    const Tensor& scale = ctx.inputs[1];
    const Tensor zp = ctx.inputs.size() > 2 ? ctx.inputs[2] : Tensor();
    float* y = ctx.outputs[0].mutable_data<float>();
    ForEachRun(split_.outer, split_.channels, split_.inner, ctx.pool,
               [&](int64_t begin, int64_t count, int64_t c) {
                 const float s = internal::ScaleAt(scale, c);
                 const int32_t z = internal::ZeroPointAt(zp, c);
                 if (x.dtype() == DType::kInt32) {
                   kernels::DequantizeLinearInt32(x.data<int32_t>() + begin, count, s, z,
                                                  y + begin);
                 } else {
                   kernels::DequantizeLinear(static_cast<const uint8_t*>(x.raw_data()) + begin,
                                             internal::ToQType(x.dtype()), count, s, z, y + begin);
                 }
               });
    return absl::OkStatus();
  }

 private:
  AxisSplit split_;
};

absl::StatusOr<PreparedOp> PrepareDequantize(const PrepareContext& ctx) {
  RETURN_IF_ERROR(RequireDType(ctx, 0, {DType::kUint8, DType::kInt8, DType::kInt32}));
  if (ctx.has_input(2) && ctx.input(2).dtype != ctx.input(0).dtype) {
    return InvalidInput(ctx, 2,
                        StrCat("has dtype ", tensor::DTypeName(ctx.input(2).dtype), ", expected ",
                               tensor::DTypeName(ctx.input(0).dtype), " like input 0"));
  }
  ASSIGN_OR_RETURN(AxisSplit split, SplitForScale(ctx, 1, 2));
  return internal::SingleOutput(ctx, DType::kFloat32, ctx.input(0).shape,
                                std::make_unique<DequantizeKernel>(split));
}

class DynamicQuantizeKernel : public OpKernel {
 public:
  absl::Status Run(RunContext& ctx) override {
    const Tensor& xt = ctx.inputs[0];
    const float* x = xt.data<float>();
    const int64_t n = xt.num_elements();
    float lo = 0.0f, hi = 0.0f;
    for (int64_t i = 0; i < n; ++i) {
      lo = std::min(lo, x[i]);
      hi = std::max(hi, x[i]);
    }
    const float scale = hi == lo ? 1.0f : (hi - lo) / 255.0f;
    const float initial = 0.0f - lo / scale;
    const int32_t zp = static_cast<int32_t>(std::nearbyint(std::clamp(initial, 0.0f, 255.0f)));
    ForEachRun(1, 1, n, ctx.pool, [&](int64_t begin, int64_t count, int64_t) {
      kernels::QuantizeLinear(x + begin, count, scale, zp, QType::kUint8,
                              ctx.outputs[0].mutable_data<uint8_t>() + begin);
    });
    if (ctx.outputs.size() > 1 && ctx.outputs[1].defined()) {
      ctx.outputs[1].mutable_data<float>()[0] = scale;
    }
    if (ctx.outputs.size() > 2 && ctx.outputs[2].defined()) {
      ctx.outputs[2].mutable_data<uint8_t>()[0] = static_cast<uint8_t>(zp);
    }
    return absl::OkStatus();
  }
};

absl::StatusOr<PreparedOp> PrepareDynamicQuantize(const PrepareContext& ctx) {
  RETURN_IF_ERROR(RequireDType(ctx, 0, {DType::kFloat32}));
  PreparedOp op;
  op.outputs.resize(static_cast<size_t>(ctx.num_outputs()));
  op.outputs[0] = {DType::kUint8, ctx.input(0).shape, {}};
  if (ctx.num_outputs() > 1) op.outputs[1] = {DType::kFloat32, Shape(), {}};
  if (ctx.num_outputs() > 2) op.outputs[2] = {DType::kUint8, Shape(), {}};
  op.kernel = std::make_unique<DynamicQuantizeKernel>();
  return op;
}

}  // namespace

void RegisterQuantOps(OpRegistry* registry) {
  registry->Register({.op_type = "QuantizeLinear",
                      .domain = "",
                      .min_opset = 10,
                      .min_inputs = 2,
                      .max_inputs = 3,
                      .prepare = &PrepareQuantize});
  registry->Register({.op_type = "DequantizeLinear",
                      .domain = "",
                      .min_opset = 10,
                      .min_inputs = 2,
                      .max_inputs = 3,
                      .prepare = &PrepareDequantize});
  registry->Register({.op_type = "DynamicQuantizeLinear",
                      .domain = "",
                      .min_opset = 11,
                      .min_inputs = 1,
                      .max_inputs = 1,
                      .min_outputs = 3,
                      .max_outputs = 3,
                      .prepare = &PrepareDynamicQuantize});
  internal::RegisterQuantGemmOps(registry);
  internal::RegisterQuantConvOps(registry);
}

}  // namespace mp::exec
