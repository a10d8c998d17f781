// Softmax and LogSoftmax (float32) on kernels/softmax.h.
//
// Opset < 13: X is coerced to 2-D [prod(d[:axis]), prod(d[axis:])] (axis default 1, in
//   [-r, r]) and each row is normalised.
// Opset >= 13: normalised along the single axis `axis` (default -1). When it is the last
//   axis the rows are contiguous; otherwise X is transposed so the axis comes last
//   (kernels::Transpose), normalised, and transposed back.
#include <memory>
#include <numeric>

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/exec/op.h"
#include "workers/engine/exec/op_registry.h"
#include "workers/engine/exec/ops_internal.h"
#include "workers/engine/kernels/softmax.h"
#include "workers/engine/kernels/transpose.h"

namespace mp::exec {
namespace {

class SoftmaxKernel : public OpKernel {
 public:
  // `perm` empty: rows are contiguous. Otherwise perm moves the axis last and `in_dims` are
  // X's dims (for the forward transpose); `inv` undoes it.
  SoftmaxKernel(bool log, int64_t rows, int64_t n, std::vector<int64_t> in_dims,
                std::vector<int> perm)
      : log_(log), rows_(rows), n_(n), in_dims_(std::move(in_dims)), perm_(std::move(perm)) {
    if (!perm_.empty()) {
      inv_.resize(perm_.size());
      for (size_t d = 0; d < perm_.size(); ++d)
        inv_[static_cast<size_t>(perm_[d])] = static_cast<int>(d);
      for (int p : perm_) moved_dims_.push_back(in_dims_[static_cast<size_t>(p)]);
    }
  }

  absl::Status Run(RunContext& ctx) override {
    const float* x = ctx.inputs[0].data<float>();
    float* y = ctx.outputs[0].mutable_data<float>();
    if (rows_ * n_ == 0) return absl::OkStatus();
    if (perm_.empty()) {
      Rows(x, y, ctx.pool);
      return absl::OkStatus();
    }
    const int rank = static_cast<int>(perm_.size());
    std::vector<float> scratch(static_cast<size_t>(rows_ * n_));  // Run may run concurrently
    kernels::Transpose(rank, in_dims_.data(), perm_.data(), sizeof(float), x, scratch.data(),
                       ctx.pool);
    Rows(scratch.data(), scratch.data(), ctx.pool);
    kernels::Transpose(rank, moved_dims_.data(), inv_.data(), sizeof(float), scratch.data(), y,
                       ctx.pool);
    return absl::OkStatus();
  }

 private:
  void Rows(const float* x, float* y, kernels::ThreadPool* pool) {
    if (log_) {
      kernels::LogSoftmax(rows_, n_, x, y, pool);
    } else {
      kernels::Softmax(rows_, n_, x, y, pool);
    }
  }

  bool log_;
  int64_t rows_, n_;
  std::vector<int64_t> in_dims_, moved_dims_;
  std::vector<int> perm_, inv_;
};

absl::StatusOr<PreparedOp> PrepareSoftmax(const PrepareContext& ctx) {
  RETURN_IF_ERROR(RequireDType(ctx, 0, {DType::kFloat32}));
  const Shape& x = ctx.input(0).shape;
  const int rank = x.rank();
  const bool log = ctx.node.op_type() == "LogSoftmax";
  const bool coerce_2d = ctx.opset < 13;
  ASSIGN_OR_RETURN(int64_t axis_attr, ctx.node.GetInt("axis", coerce_2d ? 1 : -1));
  int64_t rows = 1, n = 1;
  std::vector<int> perm;
  if (coerce_2d) {
    // The axis may equal the rank (then every row has one element).
    if (axis_attr < -rank || axis_attr > rank) {
      return InvalidNode(ctx.node, StrCat("axis ", axis_attr, " is out of range for rank ", rank));
    }
    const int axis = static_cast<int>(axis_attr < 0 ? axis_attr + rank : axis_attr);
    for (int d = 0; d < rank; ++d) (d < axis ? rows : n) *= x.dim(d);
  } else {
    if (rank == 0) return InvalidInput(ctx, 0, "is a scalar; expected rank >= 1");
    ASSIGN_OR_RETURN(int axis, NormalizeAxis(ctx.node, axis_attr, rank));
    n = x.dim(axis);
    rows = n == 0 ? 0 : x.num_elements() / n;
    // Size-1 dims after the axis do not change the layout.
    int64_t after = 1;
    for (int d = axis + 1; d < rank; ++d) after *= x.dim(d);
    if (after != 1) {
      for (int d = 0; d < rank; ++d) {
        if (d != axis) perm.push_back(d);
      }
      perm.push_back(axis);
    }
  }
  return internal::SingleOutput(
      ctx, DType::kFloat32, x,
      std::make_unique<SoftmaxKernel>(log, rows, n, x.dims(), std::move(perm)));
}

}  // namespace

void RegisterSoftmaxOps(OpRegistry* registry) {
  for (std::string_view op : {"Softmax", "LogSoftmax"}) {
    registry->Register({.op_type = op,
                        .domain = "",
                        .min_opset = 7,
                        .min_inputs = 1,
                        .max_inputs = 1,
                        .prepare = &PrepareSoftmax});
  }
}

}  // namespace mp::exec
