// Gemm and MatMul (float32) on kernels::Sgemm.
//
// Gemm: Y[M, N] = alpha * op(A) * op(B) + beta * C, A and B rank 2, op = transpose when
//   transA / transB; C (optional from opset 11, required before) broadcasts
//   unidirectionally to [M, N]. A constant B is packed once at prepare (kernels::PackedB).
//   Y is filled with broadcast C, then Sgemm accumulates with beta.
// MatMul: numpy matmul. A 1-D A is [1, K] (the M axis is dropped from the result), a 1-D B
//   is [K, 1] (the N axis is dropped); leading batch dims broadcast. When B is 2-D the batch
//   of A folds into M (one GEMM), and a constant 2-D B is packed once.
#include <memory>

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/exec/op.h"
#include "workers/engine/exec/op_registry.h"
#include "workers/engine/exec/ops_internal.h"
#include "workers/engine/kernels/gemm.h"

namespace mp::exec {
namespace {

class GemmKernel : public OpKernel {
 public:
  struct Params {
    bool trans_a = false, trans_b = false;
    int64_t m = 0, n = 0, k = 0;
    float alpha = 1, beta = 0;
    bool has_c = false;
    std::vector<int64_t> c_strides;  // C's element strides over [M, N] (0 = broadcast)
  };
  GemmKernel(Params p, std::unique_ptr<kernels::PackedB> packed)
      : p_(std::move(p)), packed_(std::move(packed)) {}

  absl::Status Run(RunContext& ctx) override {
    float* y = ctx.outputs[0].mutable_data<float>();
    float beta = 0.0f;
    if (p_.has_c && p_.beta != 0.0f) {
      const float* c = ctx.inputs[2].data<float>();
      for (int64_t i = 0; i < p_.m; ++i) {
        for (int64_t j = 0; j < p_.n; ++j) {
          y[i * p_.n + j] = c[i * p_.c_strides[0] + j * p_.c_strides[1]];
        }
      }
      beta = p_.beta;
    }
    if (p_.k == 0) {  // empty sum: Y = beta * C
      for (int64_t i = 0; i < p_.m * p_.n; ++i) y[i] = beta == 0.0f ? 0.0f : beta * y[i];
      return absl::OkStatus();
    }
    const float* a = ctx.inputs[0].data<float>();
    const int64_t lda = p_.trans_a ? p_.m : p_.k;
    if (packed_) {
      kernels::SgemmPacked(p_.trans_a, p_.m, p_.alpha, a, lda, *packed_, beta, y, p_.n, ctx.pool);
    } else {
      const int64_t ldb = p_.trans_b ? p_.k : p_.n;
      kernels::Sgemm(p_.trans_a, p_.trans_b, p_.m, p_.n, p_.k, p_.alpha, a, lda,
                     ctx.inputs[1].data<float>(), ldb, beta, y, p_.n, ctx.pool);
    }
    return absl::OkStatus();
  }

 private:
  Params p_;
  std::unique_ptr<kernels::PackedB> packed_;
};

absl::StatusOr<PreparedOp> PrepareGemm(const PrepareContext& ctx) {
  const ir::Node& node = ctx.node;
  GemmKernel::Params p;
  ASSIGN_OR_RETURN(int64_t trans_a, node.GetInt("transA", 0));
  ASSIGN_OR_RETURN(int64_t trans_b, node.GetInt("transB", 0));
  ASSIGN_OR_RETURN(p.alpha, node.GetFloat("alpha", 1.0f));
  ASSIGN_OR_RETURN(p.beta, node.GetFloat("beta", 1.0f));
  p.trans_a = trans_a != 0;
  p.trans_b = trans_b != 0;
  for (int i = 0; i < 2; ++i) {
    RETURN_IF_ERROR(RequireDType(ctx, i, {DType::kFloat32}));
    RETURN_IF_ERROR(RequireRank(ctx, i, 2, 2));
  }
  const Shape& a = ctx.input(0).shape;
  const Shape& b = ctx.input(1).shape;
  p.m = p.trans_a ? a.dim(1) : a.dim(0);
  p.k = p.trans_a ? a.dim(0) : a.dim(1);
  p.n = p.trans_b ? b.dim(0) : b.dim(1);
  const int64_t kb = p.trans_b ? b.dim(1) : b.dim(0);
  if (kb != p.k) {
    return InvalidInput(
        ctx, 1,
        StrCat("shape ", b.ToString(), " (transB=", trans_b, ") has K = ", kb, ", but input 0 ",
               a.ToString(), " (transA=", trans_a, ") has K = ", p.k));
  }
  if (ctx.has_input(2)) {
    RETURN_IF_ERROR(RequireDType(ctx, 2, {DType::kFloat32}));
    RETURN_IF_ERROR(RequireRank(ctx, 2, 0, 2));
    const Shape& c = ctx.input(2).shape;
    const Shape target({p.m, p.n});
    const Shape pair[2] = {target, c};
    absl::StatusOr<Shape> out = BroadcastShapes(node, pair);
    if (!out.ok() || !(*out == target)) {
      return InvalidInput(
          ctx, 2, StrCat("shape ", c.ToString(), " does not broadcast to [", p.m, ", ", p.n, "]"));
    }
    p.has_c = true;
    p.c_strides = BroadcastStrides(c, target);
  } else if (ctx.opset < 11) {
    return InvalidInput(ctx, 2, "is required before opset 11");
  }
  ASSIGN_OR_RETURN(Shape y, MakeOutputShape(ctx, 0, DType::kFloat32, {p.m, p.n}));
  std::unique_ptr<kernels::PackedB> packed;
  if (ctx.input(1).is_constant() && p.k > 0 && p.n > 0) {
    packed = kernels::PackedB::Pack(p.trans_b, p.k, p.n, ctx.input(1).value->data<float>(),
                                    p.trans_b ? p.k : p.n);
  }
  return internal::SingleOutput(ctx, DType::kFloat32, y,
                                std::make_unique<GemmKernel>(std::move(p), std::move(packed)));
}

class MatMulKernel : public OpKernel {
 public:
  MatMulKernel(internal::MatMulShape s, std::unique_ptr<kernels::PackedB> packed)
      : s_(std::move(s)), packed_(std::move(packed)) {}

  absl::Status Run(RunContext& ctx) override {
    const float* a = ctx.inputs[0].data<float>();
    const float* b = ctx.inputs[1].data<float>();
    float* y = ctx.outputs[0].mutable_data<float>();
    const int64_t batches = s_.batch.num_elements();
    if (s_.k == 0) {
      std::fill(y, y + batches * s_.m * s_.n, 0.0f);
      return absl::OkStatus();
    }
    if (s_.fold) {
      Gemm(batches * s_.m, a, b, y, ctx.pool);
      return absl::OkStatus();
    }
    internal::ForEachMatMulBatch(s_, [&](int64_t t, int64_t ia, int64_t ib) {
      Gemm(s_.m, a + ia * s_.m * s_.k, b + ib * s_.k * s_.n, y + t * s_.m * s_.n, ctx.pool);
    });
    return absl::OkStatus();
  }

 private:
  void Gemm(int64_t m, const float* a, const float* b, float* y, kernels::ThreadPool* pool) {
    if (packed_) {
      kernels::SgemmPacked(false, m, 1.0f, a, s_.k, *packed_, 0.0f, y, s_.n, pool);
    } else {
      kernels::Sgemm(false, false, m, s_.n, s_.k, 1.0f, a, s_.k, b, s_.n, 0.0f, y, s_.n, pool);
    }
  }

  internal::MatMulShape s_;
  std::unique_ptr<kernels::PackedB> packed_;
};

absl::StatusOr<PreparedOp> PrepareMatMul(const PrepareContext& ctx) {
  for (int i = 0; i < 2; ++i) {
    RETURN_IF_ERROR(RequireDType(ctx, i, {DType::kFloat32}));
    RETURN_IF_ERROR(RequireRank(ctx, i, 1, Shape::kMaxRank));
  }
  ASSIGN_OR_RETURN(internal::MatMulShape s, internal::GetMatMulShape(ctx, 0, 1));
  ASSIGN_OR_RETURN(Shape y, MakeOutputShape(ctx, 0, DType::kFloat32, s.out));
  std::unique_ptr<kernels::PackedB> packed;
  if (s.fold && ctx.input(1).is_constant() && s.k > 0 && s.n > 0) {
    packed = kernels::PackedB::Pack(false, s.k, s.n, ctx.input(1).value->data<float>(), s.n);
  }
  return internal::SingleOutput(ctx, DType::kFloat32, y,
                                std::make_unique<MatMulKernel>(std::move(s), std::move(packed)));
}

}  // namespace

void RegisterGemmOps(OpRegistry* registry) {
  registry->Register({.op_type = "Gemm",
                      .domain = "",
                      .min_opset = 7,
                      .min_inputs = 2,
                      .max_inputs = 3,
                      .prepare = &PrepareGemm});
  registry->Register({.op_type = "MatMul",
                      .domain = "",
                      .min_opset = 7,
                      .min_inputs = 2,
                      .max_inputs = 2,
                      .prepare = &PrepareMatMul});
}

}  // namespace mp::exec
