// Backward rules of the data-movement ops: Identity, Flatten, Reshape, Squeeze, Unsqueeze
// (the gradient is dy viewed with x's shape), Transpose (dy transposed by the inverse
// permutation), Concat (dy split along the axis) and Gather (dy scattered back, +=).
#include <cstring>
#include <numeric>

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/exec/op.h"
#include "workers/engine/kernels/transpose.h"
#include "workers/engine/train/rules.h"

namespace mp::train::internal {
namespace {

absl::Status ReshapeLikeBackward(BackwardContext& ctx) {
  const Tensor dy = OutputGradOrZeros(ctx, 0);
  (*ctx.input_grads)[0] = dy.Reshaped(ctx.inputs[0].shape());
  return absl::OkStatus();
}

absl::Status TransposeBackward(BackwardContext& ctx) {
  const Tensor dy = OutputGradOrZeros(ctx, 0);
  const int rank = dy.rank();
  std::vector<int64_t> perm;
  ASSIGN_OR_RETURN(perm, ctx.node.GetInts("perm", std::vector<int64_t>{}));
  if (perm.empty()) {
    perm.resize(static_cast<size_t>(rank));
    for (int d = 0; d < rank; ++d) perm[static_cast<size_t>(d)] = rank - 1 - d;
  }
  // y = transpose(x, perm): y dim d = x dim perm[d]. dx = transpose(dy, inv), inv[perm[d]] = d.
  std::vector<int> inv(static_cast<size_t>(rank));
  for (int d = 0; d < rank; ++d) inv[static_cast<size_t>(perm[static_cast<size_t>(d)])] = d;
  Tensor dx = ZerosLike(ctx.inputs[0].shape());
  if (rank == 0) {
    dx.mutable_data<float>()[0] = dy.data<float>()[0];
  } else {
    kernels::Transpose(rank, dy.shape().dims().data(), inv.data(), sizeof(float), dy.raw_data(),
                       dx.mutable_raw_data(), ctx.pool);
  }
  (*ctx.input_grads)[0] = std::move(dx);
  return absl::OkStatus();
}

absl::Status ValidateTranspose(const ir::Node& node, int64_t /*opset*/) {
  ASSIGN_OR_RETURN(std::vector<int64_t> perm, node.GetInts("perm", std::vector<int64_t>{}));
  if (static_cast<int>(perm.size()) > kernels::kMaxTransposeRank) {
    return exec::Unimplemented(node, "attribute 'perm' has more than 8 axes");
  }
  return absl::OkStatus();
}

absl::Status ConcatBackward(BackwardContext& ctx) {
  const Tensor dy = OutputGradOrZeros(ctx, 0);
  const int rank = dy.rank();
  ASSIGN_OR_RETURN(int64_t axis_attr, ctx.node.GetInt("axis"));
  ASSIGN_OR_RETURN(int axis, exec::NormalizeAxis(ctx.node, axis_attr, rank));
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= dy.shape().dim(d);
  for (int d = axis + 1; d < rank; ++d) inner *= dy.shape().dim(d);
  const int64_t row = dy.shape().dim(axis) * inner;
  const float* src = dy.data<float>();
  int64_t offset = 0;
  for (size_t i = 0; i < ctx.inputs.size(); ++i) {
    const Tensor& x = ctx.inputs[i];
    if (!x.defined()) continue;
    const int64_t chunk = x.shape().dim(axis) * inner;
    if (ctx.needs_input_grad[i]) {
      Tensor dx = ZerosLike(x.shape());
      float* dst = dx.mutable_data<float>();
      for (int64_t o = 0; o < outer; ++o) {
        std::memcpy(dst + o * chunk, src + o * row + offset,
                    static_cast<size_t>(chunk) * sizeof(float));
      }
      (*ctx.input_grads)[i] = std::move(dx);
    }
    offset += chunk;
  }
  return absl::OkStatus();
}

// Gather along `axis`: dx[o, idx[k], i] += dy[o, k, i] (k in index order: repeated indices
// accumulate deterministically).
absl::Status GatherBackward(BackwardContext& ctx) {
  const Tensor& x = ctx.inputs[0];
  const Tensor& indices = ctx.inputs[1];
  const Tensor dy = OutputGradOrZeros(ctx, 0);
  ASSIGN_OR_RETURN(int64_t axis_attr, ctx.node.GetInt("axis", 0));
  ASSIGN_OR_RETURN(int axis, exec::NormalizeAxis(ctx.node, axis_attr, x.rank()));
  std::vector<int64_t> idx(static_cast<size_t>(indices.num_elements()));
  for (size_t k = 0; k < idx.size(); ++k) {
    idx[k] =
        indices.dtype() == DType::kInt64 ? indices.data<int64_t>()[k] : indices.data<int32_t>()[k];
  }
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= x.shape().dim(d);
  for (int d = axis + 1; d < x.rank(); ++d) inner *= x.shape().dim(d);
  const int64_t len = x.shape().dim(axis);
  const int64_t n = static_cast<int64_t>(idx.size());
  Tensor dx = ZerosLike(x.shape());
  float* pdx = dx.mutable_data<float>();
  const float* pdy = dy.data<float>();
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t k = 0; k < n; ++k) {
      int64_t j = idx[static_cast<size_t>(k)];
      if (j < 0) j += len;
      if (j < 0 || j >= len) {
        return exec::InvalidNode(ctx.node, StrCat("index ", idx[static_cast<size_t>(k)],
                                                  " is out of range for axis size ", len));
      }
      float* dst = pdx + (o * len + j) * inner;
      const float* src = pdy + (o * n + k) * inner;
      for (int64_t i = 0; i < inner; ++i) dst[i] += src[i];
    }
  }
  (*ctx.input_grads)[0] = std::move(dx);
  return absl::OkStatus();
}

}  // namespace

void RegisterShapeRules(RuleTable* table) {
  table->Register({.op_type = "Identity", .backward = &ReshapeLikeBackward});
  table->Register({.op_type = "Flatten", .backward = &ReshapeLikeBackward});
  table->Register({.op_type = "Reshape", .backward = &ReshapeLikeBackward});
  table->Register({.op_type = "Squeeze", .backward = &ReshapeLikeBackward});
  table->Register({.op_type = "Unsqueeze", .backward = &ReshapeLikeBackward});
  table->Register({.op_type = "Gather", .backward = &GatherBackward});
  table->Register(
      {.op_type = "Transpose", .validate = &ValidateTranspose, .backward = &TransposeBackward});
  table->Register(
      {.op_type = "Concat", .differentiable_inputs = 0xFFFFFFFFu, .backward = &ConcatBackward});
}

}  // namespace mp::train::internal
