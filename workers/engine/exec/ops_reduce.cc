// ReduceMean, ReduceSum, ReduceMax, ReduceMin (float32) on kernels/reduce.h.
//
// Axes come from the `axes` attribute before the opset where they became input 1
// (ReduceSum: 13, the others: 18) and from input 1 from then on; the input
// must be known at plan time (a constant or computed from shapes), otherwise the output
// shape is data-dependent and the node is UNIMPLEMENTED. No axes (absent or empty) reduce
// everything, or nothing when noop_with_empty_axes = 1 (an input-form attribute). Axes are
// normalised (negative counts from the end); duplicates are INVALID_ARGUMENT.
// keepdims (default 1) keeps reduced dims as 1.
//
// Execution: the reduced axes are grouped into maximal runs of adjacent axes; each run is
// one kernels::Reduce over an [outer, run, inner] view, applied from the last run to the
// first through scratch buffers (Mean of equal-sized groups composes exactly; Sum's order
// differs from a single pass only by rounding).
#include <algorithm>
#include <memory>

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/exec/op.h"
#include "workers/engine/exec/op_registry.h"
#include "workers/engine/exec/ops_internal.h"
#include "workers/engine/kernels/reduce.h"

namespace mp::exec {
namespace {

using kernels::ReduceOp;

// One pass: reduce the middle axis of an [outer, reduce, inner] view.
struct Pass {
  int64_t outer, reduce, inner;
};

class ReduceKernel : public OpKernel {
 public:
  ReduceKernel(ReduceOp op, std::vector<Pass> passes) : op_(op), passes_(std::move(passes)) {}
  absl::Status Run(RunContext& ctx) override {
    const float* x = ctx.inputs[0].data<float>();
    float* y = ctx.outputs[0].mutable_data<float>();
    if (passes_.empty()) {  // nothing reduced: a copy
      std::copy(x, x + ctx.inputs[0].num_elements(), y);
      return absl::OkStatus();
    }
    const float* src = x;
    std::vector<float> buf_a, buf_b;  // Run may be called concurrently (op.h)
    for (size_t i = 0; i < passes_.size(); ++i) {
      const Pass& p = passes_[i];
      float* dst = y;
      if (i + 1 < passes_.size()) {
        std::vector<float>& buf = i % 2 == 0 ? buf_a : buf_b;
        buf.resize(static_cast<size_t>(p.outer * p.inner));
        dst = buf.data();
      }
      kernels::Reduce(op_, p.outer, p.reduce, p.inner, src, dst, ctx.pool);
      src = dst;
    }
    return absl::OkStatus();
  }

 private:
  ReduceOp op_;
  std::vector<Pass> passes_;
};

// The opset from which `op_type` takes axes as input 1.
int64_t AxesInputOpset(const std::string& op_type) { return op_type == "ReduceSum" ? 13 : 18; }

absl::StatusOr<PreparedOp> PrepareReduce(const PrepareContext& ctx) {
  const ir::Node& node = ctx.node;
  const std::string& op_type = node.op_type();
  const ReduceOp op = op_type == "ReduceSum"    ? ReduceOp::kSum
                      : op_type == "ReduceMean" ? ReduceOp::kMean
                      : op_type == "ReduceMax"  ? ReduceOp::kMax
                                                : ReduceOp::kMin;
  RETURN_IF_ERROR(RequireDType(ctx, 0, {DType::kFloat32}));
  const Shape& x = ctx.input(0).shape;
  const int rank = x.rank();
  ASSIGN_OR_RETURN(int64_t keepdims, node.GetInt("keepdims", 1));
  std::vector<int64_t> axes;
  bool noop_if_empty = false;
  if (ctx.opset >= AxesInputOpset(op_type)) {
    ASSIGN_OR_RETURN(int64_t noop, node.GetInt("noop_with_empty_axes", 0));
    noop_if_empty = noop != 0;
    if (ctx.has_input(1)) {
      if (!ctx.input(1).is_constant()) {
        return Unimplemented(ctx, "input 1 (axes) that depends on input data is not supported");
      }
      ASSIGN_OR_RETURN(axes, ConstantInts(ctx, 1));
    }
  } else {
    ASSIGN_OR_RETURN(axes, node.GetInts("axes", {}));
  }
  std::vector<bool> reduced(static_cast<size_t>(rank), false);
  if (axes.empty()) {
    if (!noop_if_empty) std::fill(reduced.begin(), reduced.end(), true);
  }
  for (int64_t a : axes) {
    ASSIGN_OR_RETURN(int axis, NormalizeAxis(node, a, rank, "axes entry"));
    if (reduced[static_cast<size_t>(axis)]) {
      return InvalidNode(node, StrCat("axes entry ", a, " repeats axis ", axis));
    }
    reduced[static_cast<size_t>(axis)] = true;
  }
  std::vector<int64_t> out_dims;
  for (int d = 0; d < rank; ++d) {
    if (!reduced[static_cast<size_t>(d)]) {
      out_dims.push_back(x.dim(d));
    } else if (keepdims != 0) {
      out_dims.push_back(1);
    }
  }
  // Runs of adjacent reduced axes; a run of size 1 is the identity and is skipped (a
  // size-0 run is kept: the kernel gives 0 / NaN / -inf / +inf for it).
  std::vector<Pass> passes;
  std::vector<int64_t> cur(x.dims());  // dims of the tensor as passes shrink it
  for (int d = rank - 1; d >= 0;) {
    if (!reduced[static_cast<size_t>(d)]) {
      --d;
      continue;
    }
    int begin = d;
    while (begin > 0 && reduced[static_cast<size_t>(begin - 1)]) --begin;
    Pass p{1, 1, 1};
    for (int k = 0; k < begin; ++k) p.outer *= cur[static_cast<size_t>(k)];
    for (int k = begin; k <= d; ++k) p.reduce *= cur[static_cast<size_t>(k)];
    for (int k = d + 1; k < rank; ++k) p.inner *= cur[static_cast<size_t>(k)];
    if (p.reduce != 1) passes.push_back(p);
    for (int k = begin; k <= d; ++k) cur[static_cast<size_t>(k)] = 1;
    d = begin - 1;
  }
  ASSIGN_OR_RETURN(Shape y, MakeOutputShape(ctx, 0, DType::kFloat32, std::move(out_dims)));
  return internal::SingleOutput(ctx, DType::kFloat32, y,
                                std::make_unique<ReduceKernel>(op, std::move(passes)));
}

}  // namespace

void RegisterReduceOps(OpRegistry* registry) {
  registry->Register({.op_type = "ReduceSum",
                      .domain = "",
                      .min_opset = 7,
                      .max_opset = 12,
                      .min_inputs = 1,
                      .max_inputs = 1,
                      .prepare = &PrepareReduce});
  registry->Register({.op_type = "ReduceSum",
                      .domain = "",
                      .min_opset = 13,
                      .min_inputs = 1,
                      .max_inputs = 2,
                      .prepare = &PrepareReduce});
  for (std::string_view op : {"ReduceMean", "ReduceMax", "ReduceMin"}) {
    registry->Register({.op_type = op,
                        .domain = "",
                        .min_opset = 7,
                        .max_opset = 17,
                        .min_inputs = 1,
                        .max_inputs = 1,
                        .prepare = &PrepareReduce});
    registry->Register({.op_type = op,
                        .domain = "",
                        .min_opset = 18,
                        .min_inputs = 1,
                        .max_inputs = 2,
                        .prepare = &PrepareReduce});
  }
}

}  // namespace mp::exec
