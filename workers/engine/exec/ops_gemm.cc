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
  struct Params {
    int64_t m = 0, n = 0, k = 0;
    Shape batch;                                // broadcast batch dims
    std::vector<int64_t> a_strides, b_strides;  // per batch dim, in matrices
    bool fold = false;                          // B is one matrix: A's batch folds into M
  };
  MatMulKernel(Params p, std::unique_ptr<kernels::PackedB> packed)
      : p_(std::move(p)), packed_(std::move(packed)) {}

  absl::Status Run(RunContext& ctx) override {
    const float* a = ctx.inputs[0].data<float>();
    const float* b = ctx.inputs[1].data<float>();
    float* y = ctx.outputs[0].mutable_data<float>();
    const int64_t batches = p_.batch.num_elements();
    if (p_.k == 0) {
      std::fill(y, y + batches * p_.m * p_.n, 0.0f);
      return absl::OkStatus();
    }
    if (p_.fold) {
      Gemm(batches * p_.m, a, b, y, ctx.pool);
      return absl::OkStatus();
    }
    const int rank = p_.batch.rank();
    std::vector<int64_t> index(static_cast<size_t>(rank), 0);
    int64_t oa = 0, ob = 0;
    for (int64_t t = 0; t < batches; ++t) {
      Gemm(p_.m, a + oa * p_.m * p_.k, b + ob * p_.k * p_.n, y + t * p_.m * p_.n, ctx.pool);
      for (int d = rank - 1; d >= 0; --d) {
        const size_t du = static_cast<size_t>(d);
        oa += p_.a_strides[du];
        ob += p_.b_strides[du];
        if (++index[du] < p_.batch.dim(d)) break;
        oa -= p_.a_strides[du] * p_.batch.dim(d);
        ob -= p_.b_strides[du] * p_.batch.dim(d);
        index[du] = 0;
      }
    }
    return absl::OkStatus();
  }

 private:
  void Gemm(int64_t m, const float* a, const float* b, float* y, kernels::ThreadPool* pool) {
    if (packed_) {
      kernels::SgemmPacked(false, m, 1.0f, a, p_.k, *packed_, 0.0f, y, p_.n, pool);
    } else {
      kernels::Sgemm(false, false, m, p_.n, p_.k, 1.0f, a, p_.k, b, p_.n, 0.0f, y, p_.n, pool);
    }
  }

  Params p_;
  std::unique_ptr<kernels::PackedB> packed_;
};

absl::StatusOr<PreparedOp> PrepareMatMul(const PrepareContext& ctx) {
  for (int i = 0; i < 2; ++i) {
    RETURN_IF_ERROR(RequireDType(ctx, i, {DType::kFloat32}));
    RETURN_IF_ERROR(RequireRank(ctx, i, 1, Shape::kMaxRank));
  }
  std::vector<int64_t> a = ctx.input(0).shape.dims();
  std::vector<int64_t> b = ctx.input(1).shape.dims();
  const bool a_vec = a.size() == 1, b_vec = b.size() == 1;
  if (a_vec) a.insert(a.begin(), 1);
  if (b_vec) b.push_back(1);
  MatMulKernel::Params p;
  p.m = a[a.size() - 2];
  p.k = a[a.size() - 1];
  p.n = b[b.size() - 1];
  if (b[b.size() - 2] != p.k) {
    return InvalidInput(
        ctx, 1,
        StrCat("shape ", ctx.input(1).shape.ToString(), " has K = ", b[b.size() - 2],
               ", but input 0 ", ctx.input(0).shape.ToString(), " has K = ", p.k));
  }
  const Shape a_batch(std::vector<int64_t>(a.begin(), a.end() - 2));
  const Shape b_batch(std::vector<int64_t>(b.begin(), b.end() - 2));
  const Shape batches[2] = {a_batch, b_batch};
  ASSIGN_OR_RETURN(p.batch, BroadcastShapes(ctx.node, batches));
  p.a_strides = BroadcastStrides(a_batch, p.batch);
  p.b_strides = BroadcastStrides(b_batch, p.batch);
  p.fold = b_batch.num_elements() == 1;
  std::vector<int64_t> out = p.batch.dims();
  if (!a_vec) out.push_back(p.m);
  if (!b_vec) out.push_back(p.n);
  ASSIGN_OR_RETURN(Shape y, MakeOutputShape(ctx, 0, DType::kFloat32, std::move(out)));
  std::unique_ptr<kernels::PackedB> packed;
  if (p.fold && ctx.input(1).is_constant() && p.k > 0 && p.n > 0) {
    packed = kernels::PackedB::Pack(false, p.k, p.n, ctx.input(1).value->data<float>(), p.n);
  }
  return internal::SingleOutput(ctx, DType::kFloat32, y,
                                std::make_unique<MatMulKernel>(std::move(p), std::move(packed)));
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
