// Slice: opsets 1..9 read starts/ends/axes from attributes; opset >= 10 from inputs
// (starts, ends, axes?, steps?). Per sliced axis with dim d and step s (s != 0):
//   start, end: negative values add d; then for s > 0 clamp to [0, d] (both), for s < 0
//   clamp start to [0, d-1] and end to [-1, d-1]; the axis keeps
//   max(0, ceil((end - start) / s)) elements start, start+s, ...
// The result is a strided view of the input (offset + per-dim stride x step), copied.
#include <algorithm>
#include <utility>

#include "common/status.h"
#include "workers/engine/exec/op_registry.h"
#include "workers/engine/exec/ops_internal.h"

namespace mp::exec {
namespace {

class SliceKernel : public OpKernel {
 public:
  SliceKernel(int64_t offset, std::vector<int64_t> strides)
      : offset_(offset), strides_(std::move(strides)) {}
  absl::Status Run(RunContext& ctx) override {
    const Tensor& in = ctx.inputs[0];
    Tensor& out = ctx.outputs[0];
    internal::StridedCopy(in.raw_data(), offset_, strides_, out.shape(),
                          tensor::DTypeSize(in.dtype()), out.mutable_raw_data(), ctx.pool);
    return absl::OkStatus();
  }

 private:
  int64_t offset_;
  std::vector<int64_t> strides_;
};

// Reads starts/ends/axes/steps; input form (opset >= 10) or attribute form.
absl::Status ReadSliceArgs(const PrepareContext& ctx, std::vector<int64_t>* starts,
                           std::vector<int64_t>* ends, std::vector<int64_t>* axes,
                           std::vector<int64_t>* steps) {
  if (ctx.opset >= 10) {
    for (int i = 1; i < 5; ++i) {
      if (ctx.has_input(i)) RETURN_IF_ERROR(RequireRank(ctx, i, 1, 1));
    }
    ASSIGN_OR_RETURN(*starts, ConstantInts(ctx, 1));
    ASSIGN_OR_RETURN(*ends, ConstantInts(ctx, 2));
    if (ctx.has_input(3)) {
      ASSIGN_OR_RETURN(*axes, ConstantInts(ctx, 3));
    }
    if (ctx.has_input(4)) {
      ASSIGN_OR_RETURN(*steps, ConstantInts(ctx, 4));
    }
  } else {
    ASSIGN_OR_RETURN(*starts, ctx.node.GetInts("starts"));
    ASSIGN_OR_RETURN(*ends, ctx.node.GetInts("ends"));
    ASSIGN_OR_RETURN(*axes, ctx.node.GetInts("axes", {}));
  }
  if (starts->size() != ends->size()) {
    return InvalidNode(
        ctx.node, StrCat("starts has ", starts->size(), " entries but ends has ", ends->size()));
  }
  if (axes->empty()) {
    for (size_t i = 0; i < starts->size(); ++i) axes->push_back(static_cast<int64_t>(i));
  }
  if (steps->empty()) steps->assign(starts->size(), 1);
  if (axes->size() != starts->size() || steps->size() != starts->size()) {
    return InvalidNode(ctx.node, StrCat("starts has ", starts->size(), " entries but axes has ",
                                        axes->size(), " and steps ", steps->size()));
  }
  return absl::OkStatus();
}

absl::StatusOr<PreparedOp> PrepareSlice(const PrepareContext& ctx) {
  const Shape& in = ctx.input(0).shape;
  std::vector<int64_t> starts, ends, axes, steps;
  RETURN_IF_ERROR(ReadSliceArgs(ctx, &starts, &ends, &axes, &steps));
  const int rank = in.rank();
  std::vector<int64_t> dims = in.dims();
  const std::vector<int64_t> in_strides = RowMajorStrides(in);
  std::vector<int64_t> strides = in_strides;
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  int64_t offset = 0;
  for (size_t i = 0; i < starts.size(); ++i) {
    ASSIGN_OR_RETURN(int axis, NormalizeAxis(ctx.node, axes[i], rank, "axes entry"));
    if (seen[static_cast<size_t>(axis)]) {
      return InvalidNode(ctx.node, StrCat("axes entry ", axes[i], " is repeated"));
    }
    seen[static_cast<size_t>(axis)] = true;
    const int64_t d = in.dim(axis);
    if (d == 0) {
      if (steps[i] == 0) return InvalidNode(ctx.node, StrCat("steps entry ", i, " is 0"));
      continue;  // nothing to slice; the dim stays 0
    }
    if (steps[i] == 0) return InvalidNode(ctx.node, StrCat("steps entry ", i, " is 0"));
    // |step| > d selects at most one element; clamping keeps stride arithmetic in range.
    const int64_t step = std::clamp<int64_t>(steps[i], -(d + 1), d + 1);
    int64_t start = starts[i], end = ends[i];
    if (start < 0) start += d;
    if (end < 0) end += d;
    int64_t count;
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, d);
      end = std::clamp<int64_t>(end, 0, d);
      count = end > start ? (end - start - 1) / step + 1 : 0;
    } else {
      start = std::clamp<int64_t>(start, 0, d - 1);
      end = std::clamp<int64_t>(end, -1, d - 1);
      count = start > end ? (start - end - 1) / -step + 1 : 0;
    }
    dims[static_cast<size_t>(axis)] = count;
    if (count > 0) offset += start * in_strides[static_cast<size_t>(axis)];
    strides[static_cast<size_t>(axis)] = in_strides[static_cast<size_t>(axis)] * step;
  }
  Shape out(std::move(dims));
  if (out.num_elements() == 0) offset = 0;
  return internal::SingleOutput(ctx, ctx.input(0).dtype, std::move(out),
                                std::make_unique<SliceKernel>(offset, std::move(strides)));
}

}  // namespace

void RegisterSliceOps(OpRegistry* registry) {
  registry->Register({.op_type = "Slice",
                      .max_opset = 9,
                      .min_inputs = 1,
                      .max_inputs = 1,
                      .prepare = &PrepareSlice});
  registry->Register({.op_type = "Slice",
                      .min_opset = 10,
                      .min_inputs = 3,
                      .max_inputs = 5,
                      .prepare = &PrepareSlice});
}

}  // namespace mp::exec
