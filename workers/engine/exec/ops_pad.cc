// Pad: opsets 2..10 read 'pads' / 'value' attributes; opset >= 11 reads inputs pads,
// constant_value? and (opset 18) axes?. pads = [begin_0..begin_{r-1}, end_0..end_{r-1}]
// over the padded axes; negative entries crop. Output dim d = in_d + begin_d + end_d.
// For output index o on dim d the source is i = o - begin_d; outside [0, in_d):
//   constant: the value (default 0); edge: clamp(i); reflect: mirror without repeating the
//   border (in_d == 1 reads index 0); wrap (opset 19): i mod in_d.
#include <algorithm>
#include <cstring>
#include <utility>

#include "common/status.h"
#include "workers/engine/exec/op_registry.h"
#include "workers/engine/exec/ops_internal.h"

namespace mp::exec {
namespace {

enum class PadMode { kConstant, kEdge, kReflect, kWrap };

// Source index for output index `o` of an axis, or -1 for the constant value.
int64_t SourceIndex(int64_t o, int64_t begin, int64_t size, PadMode mode) {
  int64_t i = o - begin;
  if (i >= 0 && i < size) return i;
  switch (mode) {
    case PadMode::kConstant:
      return -1;
    case PadMode::kEdge:
      return std::clamp<int64_t>(i, 0, size - 1);
    case PadMode::kWrap:
      return ((i % size) + size) % size;
    case PadMode::kReflect: {
      if (size == 1) return 0;
      const int64_t period = 2 * (size - 1);
      i = ((i % period) + period) % period;
      return i < size ? i : period - i;
    }
  }
  return -1;
}

class PadKernel : public OpKernel {
 public:
  PadKernel(std::vector<int64_t> begins, PadMode mode, Tensor value)
      : begins_(std::move(begins)), mode_(mode), value_(std::move(value)) {}
  absl::Status Run(RunContext& ctx) override {
    const Tensor& in = ctx.inputs[0];
    Tensor& out = ctx.outputs[0];
    if (out.num_elements() == 0) return absl::OkStatus();
    const int rank = out.rank();
    const size_t esize = tensor::DTypeSize(out.dtype());
    const auto* src = static_cast<const uint8_t*>(in.raw_data());
    auto* dst = static_cast<uint8_t*>(out.mutable_raw_data());
    const auto* fill = static_cast<const uint8_t*>(value_.raw_data());
    const std::vector<int64_t> in_strides = RowMajorStrides(in.shape());
    if (rank == 0) {
      std::memcpy(dst, src, esize);
      return absl::OkStatus();
    }
    const int64_t inner = out.shape().dim(rank - 1);
    std::vector<int64_t> inner_map(static_cast<size_t>(inner));
    for (int64_t o = 0; o < inner; ++o) {
      inner_map[static_cast<size_t>(o)] =
          SourceIndex(o, begins_[static_cast<size_t>(rank - 1)], in.shape().dim(rank - 1), mode_);
    }
    const int64_t rows = out.num_elements() / inner;
    ctx.pool->ParallelFor(rows, std::max<int64_t>(1, 4096 / inner), [&](int64_t b, int64_t e) {
      for (int64_t row = b; row < e; ++row) {
        int64_t rem = row, base = 0;
        bool constant = false;
        for (int d = rank - 2; d >= 0; --d) {
          const int64_t o = rem % out.shape().dim(d);
          rem /= out.shape().dim(d);
          const int64_t i =
              SourceIndex(o, begins_[static_cast<size_t>(d)], in.shape().dim(d), mode_);
          if (i < 0) constant = true;
          base += i * in_strides[static_cast<size_t>(d)];
        }
        uint8_t* to = dst + static_cast<size_t>(row * inner) * esize;
        for (int64_t o = 0; o < inner; ++o) {
          const int64_t i = inner_map[static_cast<size_t>(o)];
          const uint8_t* from =
              (constant || i < 0) ? fill : src + static_cast<size_t>(base + i) * esize;
          std::memcpy(to + static_cast<size_t>(o) * esize, from, esize);
        }
      }
    });
    return absl::OkStatus();
  }

 private:
  std::vector<int64_t> begins_;
  PadMode mode_;
  Tensor value_;
};

absl::StatusOr<PreparedOp> PreparePad(const PrepareContext& ctx) {
  const Shape& in = ctx.input(0).shape;
  const DType dtype = ctx.input(0).dtype;
  const int rank = in.rank();
  ASSIGN_OR_RETURN(std::string mode_name, ctx.node.GetString("mode", "constant"));
  PadMode mode;
  if (mode_name == "constant") {
    mode = PadMode::kConstant;
  } else if (mode_name == "edge") {
    mode = PadMode::kEdge;
  } else if (mode_name == "reflect") {
    mode = PadMode::kReflect;
  } else if (mode_name == "wrap" && ctx.opset >= 19) {
    mode = PadMode::kWrap;
  } else {
    return Unimplemented(ctx, StrCat("attribute 'mode' value '", mode_name, "' is not supported"));
  }
  std::vector<int64_t> pads;
  std::vector<int64_t> axes;
  Tensor value = Tensor::Zeros(dtype, Shape());
  if (ctx.opset >= 11) {
    ASSIGN_OR_RETURN(pads, ConstantInts(ctx, 1));
    if (ctx.has_input(2)) {
      if (!ctx.input(2).is_constant()) return NotKnownAtPlanTime(ctx, 2);
      const Tensor& v = *ctx.input(2).value;
      if (v.dtype() != dtype || v.num_elements() != 1) {
        return InvalidInput(
            ctx, 2,
            StrCat("must be one ", tensor::DTypeName(dtype), " element, got ", v.DebugString()));
      }
      value = v.Reshaped(Shape());
    }
    if (ctx.has_input(3)) {
      ASSIGN_OR_RETURN(axes, ConstantInts(ctx, 3));
    }
  } else {
    ASSIGN_OR_RETURN(pads, ctx.node.GetInts("pads"));
    ASSIGN_OR_RETURN(float v, ctx.node.GetFloat("value", 0.0f));
    if (dtype != DType::kFloat32) return UnsupportedDType(ctx, 0);
    value = Tensor::FromVector<float>(Shape(), {v});
  }
  if (axes.empty()) {
    for (int d = 0; d < rank; ++d) axes.push_back(d);
  }
  if (pads.size() != 2 * axes.size()) {
    return InvalidNode(ctx.node,
                       StrCat("pads has ", pads.size(), " entries, expected ", 2 * axes.size()));
  }
  std::vector<int64_t> begins(static_cast<size_t>(rank), 0), ends(static_cast<size_t>(rank), 0);
  for (size_t k = 0; k < axes.size(); ++k) {
    ASSIGN_OR_RETURN(int axis, NormalizeAxis(ctx.node, axes[k], rank, "axes entry"));
    begins[static_cast<size_t>(axis)] = pads[k];
    ends[static_cast<size_t>(axis)] = pads[k + axes.size()];
  }
  std::vector<int64_t> dims;
  for (int d = 0; d < rank; ++d) {
    const int64_t b = begins[static_cast<size_t>(d)], e = ends[static_cast<size_t>(d)];
    if (std::abs(b) > (int64_t{1} << 40) || std::abs(e) > (int64_t{1} << 40)) {
      return InvalidNode(ctx.node, StrCat("pad ", b, "/", e, " on axis ", d, " is too large"));
    }
    const int64_t size = in.dim(d) + b + e;
    if (size < 0) {
      return InvalidNode(ctx.node,
                         StrCat("pads crop axis ", d, " of ", in.ToString(), " below zero"));
    }
    if (mode != PadMode::kConstant && in.dim(d) == 0 && size > 0) {
      return InvalidInput(
          ctx, 0, StrCat("axis ", d, " is empty: nothing to pad from in mode '", mode_name, "'"));
    }
    dims.push_back(size);
  }
  ASSIGN_OR_RETURN(Shape out, MakeOutputShape(ctx, 0, dtype, dims));
  return internal::SingleOutput(ctx, dtype, std::move(out),
                                std::make_unique<PadKernel>(std::move(begins), mode, value));
}

}  // namespace

void RegisterPadOps(OpRegistry* registry) {
  registry->Register({.op_type = "Pad",
                      .min_opset = 2,
                      .max_opset = 10,
                      .min_inputs = 1,
                      .max_inputs = 1,
                      .prepare = &PreparePad});
  registry->Register({.op_type = "Pad",
                      .min_opset = 11,
                      .min_inputs = 2,
                      .max_inputs = 4,
                      .prepare = &PreparePad});
}

}  // namespace mp::exec
