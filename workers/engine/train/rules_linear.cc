// Backward rules of Gemm and MatMul (all products through kernels::Sgemm, which splits over
// independent output blocks: bit-identical for any thread count).
//
// Gemm: Y = alpha * op(A) op(B) + beta * C:
//   d op(A) = alpha * dY op(B)^T,  d op(B) = alpha * op(A)^T dY,  dC = beta * sum_bcast(dY).
// MatMul (numpy semantics, 1-D operands promoted then squeezed, batch dims broadcast):
//   dA[a(b)] += dY[b] B[b']^T,  dB[b'(b)] += A[a(b)]^T dY[b], summed over output batches b
//   in row-major order (fixed order: deterministic).
#include <vector>

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/exec/op.h"
#include "workers/engine/kernels/gemm.h"
#include "workers/engine/train/rules.h"

namespace mp::train::internal {
namespace {

using kernels::Sgemm;

absl::Status GemmBackward(BackwardContext& ctx) {
  ASSIGN_OR_RETURN(int64_t trans_a, ctx.node.GetInt("transA", 0));
  ASSIGN_OR_RETURN(int64_t trans_b, ctx.node.GetInt("transB", 0));
  ASSIGN_OR_RETURN(float alpha, ctx.node.GetFloat("alpha", 1.0f));
  ASSIGN_OR_RETURN(float beta, ctx.node.GetFloat("beta", 1.0f));
  const Tensor& a = ctx.inputs[0];
  const Tensor& b = ctx.inputs[1];
  const Tensor dy = OutputGradOrZeros(ctx, 0);
  const int64_t m = dy.shape().dim(0), n = dy.shape().dim(1);
  const int64_t k = trans_a ? a.shape().dim(0) : a.shape().dim(1);
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  const float* pdy = dy.data<float>();
  auto& g = *ctx.input_grads;
  if (ctx.needs_input_grad[0]) {
    Tensor da = ZerosLike(a.shape());
    float* out = da.mutable_data<float>();
    if (!trans_a) {  // da [M, K] = alpha * dY op(B)^T
      if (!trans_b) {
        Sgemm(false, true, m, k, n, alpha, pdy, n, pb, n, 0.0f, out, k, ctx.pool);
      } else {
        Sgemm(false, false, m, k, n, alpha, pdy, n, pb, k, 0.0f, out, k, ctx.pool);
      }
    } else {  // da [K, M] = alpha * op(B) dY^T
      if (!trans_b) {
        Sgemm(false, true, k, m, n, alpha, pb, n, pdy, n, 0.0f, out, m, ctx.pool);
      } else {
        Sgemm(true, true, k, m, n, alpha, pb, k, pdy, n, 0.0f, out, m, ctx.pool);
      }
    }
    g[0] = std::move(da);
  }
  if (ctx.needs_input_grad[1]) {
    Tensor db = ZerosLike(b.shape());
    float* out = db.mutable_data<float>();
    if (!trans_b) {  // db [K, N] = alpha * op(A)^T dY
      if (!trans_a) {
        Sgemm(true, false, k, n, m, alpha, pa, k, pdy, n, 0.0f, out, n, ctx.pool);
      } else {
        Sgemm(false, false, k, n, m, alpha, pa, m, pdy, n, 0.0f, out, n, ctx.pool);
      }
    } else {  // db [N, K] = alpha * dY^T op(A)
      if (!trans_a) {
        Sgemm(true, false, n, k, m, alpha, pdy, n, pa, k, 0.0f, out, k, ctx.pool);
      } else {
        Sgemm(true, true, n, k, m, alpha, pdy, n, pa, m, 0.0f, out, k, ctx.pool);
      }
    }
    g[1] = std::move(db);
  }
  if (ctx.needs_input_grad.size() > 2 && ctx.needs_input_grad[2]) {
    Tensor dc = ReduceToShape(dy, ctx.inputs[2].shape());
    if (beta != 1.0f || dc.SharesBufferWith(dy)) {
      dc = dc.Clone();
      float* p = dc.mutable_data<float>();
      for (int64_t i = 0; i < dc.num_elements(); ++i) p[i] *= beta;
    }
    g[2] = std::move(dc);
  }
  return absl::OkStatus();
}

absl::Status MatMulBackward(BackwardContext& ctx) {
  const Tensor& a = ctx.inputs[0];
  const Tensor& b = ctx.inputs[1];
  const Tensor dy = OutputGradOrZeros(ctx, 0);
  std::vector<int64_t> ad = a.shape().dims(), bd = b.shape().dims();
  if (ad.size() == 1) ad.insert(ad.begin(), 1);
  if (bd.size() == 1) bd.push_back(1);
  const int64_t m = ad[ad.size() - 2], k = ad.back(), n = bd.back();
  const std::vector<int64_t> a_batch(ad.begin(), ad.end() - 2), b_batch(bd.begin(), bd.end() - 2);
  const Shape sa(a_batch), sb(b_batch);
  const Shape shapes[2] = {sa, sb};
  ASSIGN_OR_RETURN(Shape out_batch, exec::BroadcastShapes(ctx.node, shapes));
  const std::vector<int64_t> stride_a = exec::BroadcastStrides(sa, out_batch);
  const std::vector<int64_t> stride_b = exec::BroadcastStrides(sb, out_batch);
  const int rank = out_batch.rank();
  const int64_t batches = out_batch.num_elements();
  Tensor da, db;
  if (ctx.needs_input_grad[0]) da = ZerosLike(a.shape());
  if (ctx.needs_input_grad[1]) db = ZerosLike(b.shape());
  std::vector<int64_t> idx(static_cast<size_t>(rank), 0);
  for (int64_t bi = 0; bi < batches; ++bi) {
    int64_t ia = 0, ib = 0;
    for (int d = 0; d < rank; ++d) {
      ia += idx[static_cast<size_t>(d)] * stride_a[static_cast<size_t>(d)];
      ib += idx[static_cast<size_t>(d)] * stride_b[static_cast<size_t>(d)];
    }
    const float* pdy = dy.data<float>() + bi * m * n;
    const float* pa = a.data<float>() + ia * m * k;
    const float* pb = b.data<float>() + ib * k * n;
    if (da.defined()) {
      Sgemm(false, true, m, k, n, 1.0f, pdy, n, pb, n, 1.0f, da.mutable_data<float>() + ia * m * k,
            k, ctx.pool);
    }
    if (db.defined()) {
      Sgemm(true, false, k, n, m, 1.0f, pa, k, pdy, n, 1.0f, db.mutable_data<float>() + ib * k * n,
            n, ctx.pool);
    }
    for (int d = rank - 1; d >= 0; --d) {
      if (++idx[static_cast<size_t>(d)] < out_batch.dim(d)) break;
      idx[static_cast<size_t>(d)] = 0;
    }
  }
  if (da.defined()) (*ctx.input_grads)[0] = std::move(da);
  if (db.defined()) (*ctx.input_grads)[1] = std::move(db);
  return absl::OkStatus();
}

}  // namespace

void RegisterLinearRules(RuleTable* table) {
  table->Register({.op_type = "Gemm",
                   .differentiable_inputs = 0b111,
                   .no_decay_inputs = 0b100,
                   .backward = &GemmBackward});
  table->Register(
      {.op_type = "MatMul", .differentiable_inputs = 0b11, .backward = &MatMulBackward});
}

}  // namespace mp::train::internal
