// MatMulInteger and QLinearMatMul on kernels::QGemm (exact int32 accumulation).
//
// Both follow numpy matmul shapes like MatMul (ops_gemm.cc): 1-D operands are promoted and
// the promoted axis dropped, batch dims broadcast, and a 2-D B lets A's batch fold into M.
//
// MatMulInteger (10+): Y int32 = (A - a_zero_point) * (B - b_zero_point); A, B uint8/int8
//   (any combination); a_zero_point one value (per-row: UNIMPLEMENTED, as in ONNX Runtime);
//   b_zero_point one value or one per column ([N]).
// QLinearMatMul (10+): inputs a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale,
//   y_zero_point; Y = Requantize((A - za) * (B - zb)) with multiplier a_scale * b_scale[n] /
//   y_scale (float32, as ONNX Runtime), Y's dtype that of y_zero_point. a and y parameters
//   one value; b's one value or one per column.
// mp.internal QLinearGemm (qdq_fusion.h): QLinearMatMul plus an optional int32 bias [N]
//   (input 8) added to the accumulator before requantization.
// A constant 2-D B (with constant zero point) is packed once at prepare.
#include <memory>

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/exec/op.h"
#include "workers/engine/exec/op_registry.h"
#include "workers/engine/exec/ops_internal.h"
#include "workers/engine/exec/ops_quant_internal.h"
#include "workers/engine/exec/qdq_fusion.h"
#include "workers/engine/kernels/qgemm.h"

namespace mp::exec::internal {
namespace {

using kernels::QType;

// Input slots of the two ops (-1 = absent).
struct Slots {
  int a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp, bias;
};
constexpr Slots kMatMulInteger = {0, -1, 2, 1, -1, 3, -1, -1, -1};
constexpr Slots kQLinearMatMul = {0, 1, 2, 3, 4, 5, 6, 7, -1};
constexpr Slots kQLinearGemm = {0, 1, 2, 3, 4, 5, 6, 7, 8};

const Tensor& Input(const RunContext& ctx, int slot) {
  static const Tensor* const kNone = new Tensor();
  if (slot < 0 || static_cast<size_t>(slot) >= ctx.inputs.size()) return *kNone;
  return ctx.inputs[static_cast<size_t>(slot)];
}

class QMatMulKernel : public OpKernel {
 public:
  struct Params {
    Slots slots;
    bool requant = false;  // QLinearMatMul
    MatMulShape shape;
    QType a_type = QType::kUint8, b_type = QType::kUint8, y_type = QType::kUint8;
  };
  QMatMulKernel(Params p, std::unique_ptr<kernels::PackedQB> packed)
      : p_(std::move(p)), packed_(std::move(packed)) {}

  absl::Status Run(RunContext& ctx) override {
    const MatMulShape& s = p_.shape;
    const Tensor& a = Input(ctx, p_.slots.a);
    const Tensor& b = Input(ctx, p_.slots.b);
    const int32_t za = ZeroPointAt(Input(ctx, p_.slots.a_zp), 0);
    const std::vector<int32_t> zb = ZeroPoints(Input(ctx, p_.slots.b_zp), s.n);
    const bool zb_per_column = Input(ctx, p_.slots.b_zp).num_elements() > 1;
    const int64_t rows = s.batch.num_elements() * s.m;  // output rows over all batches
    std::vector<int32_t> scratch;
    int32_t* acc = nullptr;
    if (p_.requant) {
      scratch.resize(static_cast<size_t>(rows * s.n));
      acc = scratch.data();
    }
    std::vector<float> scales;
    if (p_.requant) {
      scales = RequantScales(Input(ctx, p_.slots.a_scale), Input(ctx, p_.slots.b_scale),
                             Input(ctx, p_.slots.y_scale), s.n);
    }
    const int32_t zy = p_.requant ? ZeroPointAt(Input(ctx, p_.slots.y_zp), 0) : 0;
    const uint8_t* ab = static_cast<const uint8_t*>(a.raw_data());
    const uint8_t* bb = static_cast<const uint8_t*>(b.raw_data());
    uint8_t* yb = static_cast<uint8_t*>(ctx.outputs[0].mutable_raw_data());
    // One GEMM of `m` rows: A at a_off elements, B matrix index b_index, output rows at row0.
    auto gemm = [&](int64_t m, int64_t a_off, int64_t b_index, int64_t row0) {
      int32_t* c = p_.requant ? acc + row0 * s.n : reinterpret_cast<int32_t*>(yb) + row0 * s.n;
      if (packed_) {
        kernels::QGemm(m, ab + a_off, p_.a_type, s.k, za, *packed_, c, s.n, ctx.pool);
      } else {
        kernels::QGemm(false, m, s.n, s.k, ab + a_off, p_.a_type, s.k, za, bb + b_index * s.k * s.n,
                       p_.b_type, s.n, zb.data(), zb_per_column, c, s.n, ctx.pool);
      }
    };
    if (s.fold) {
      gemm(rows, 0, 0, 0);
    } else {
      ForEachMatMulBatch(
          s, [&](int64_t t, int64_t ia, int64_t ib) { gemm(s.m, ia * s.m * s.k, ib, t * s.m); });
    }
    if (p_.requant) {
      const Tensor& bias = Input(ctx, p_.slots.bias);
      const int32_t* bias_data = bias.defined() ? bias.data<int32_t>() : nullptr;
      for (int64_t r = 0; r < rows; ++r) {
        kernels::RequantizePerElement(acc + r * s.n, s.n, bias_data, scales.data(), zy, p_.y_type,
                                      yb + r * s.n);
      }
    }
    return absl::OkStatus();
  }

 private:
  Params p_;
  std::unique_ptr<kernels::PackedQB> packed_;
};

absl::StatusOr<PreparedOp> PrepareQMatMul(const PrepareContext& ctx, const Slots& s, bool requant) {
  QMatMulKernel::Params p;
  p.slots = s;
  p.requant = requant;
  ASSIGN_OR_RETURN(p.a_type, RequireQType(ctx, s.a));
  ASSIGN_OR_RETURN(p.b_type, RequireQType(ctx, s.b));
  RETURN_IF_ERROR(RequireRank(ctx, s.a, 1, Shape::kMaxRank));
  RETURN_IF_ERROR(RequireRank(ctx, s.b, 1, Shape::kMaxRank));
  ASSIGN_OR_RETURN(p.shape, GetMatMulShape(ctx, s.a, s.b));
  const int64_t n = p.shape.n;
  if (s.bias >= 0 && ctx.has_input(s.bias)) {
    RETURN_IF_ERROR(RequireDType(ctx, s.bias, {DType::kInt32}));
    const Shape& bs = ctx.input(s.bias).shape;
    if (bs.rank() != 1 || bs.dim(0) != n) {
      return InvalidInput(ctx, s.bias, StrCat("has shape ", bs.ToString(), ", expected [", n, "]"));
    }
  }
  if (requant) {
    ASSIGN_OR_RETURN(p.y_type, RequireQType(ctx, s.y_zp));
    RETURN_IF_ERROR(CheckQParams(ctx, s.a_scale, s.a_zp, 0, ctx.input(s.a).dtype, "a").status());
    RETURN_IF_ERROR(CheckQParams(ctx, s.b_scale, s.b_zp, n, ctx.input(s.b).dtype, "b").status());
    RETURN_IF_ERROR(CheckQParams(ctx, s.y_scale, s.y_zp, 0, ctx.input(s.y_zp).dtype, "y").status());
  } else {
    if (ctx.has_input(s.a_zp)) {
      const InputInfo& z = ctx.input(s.a_zp);
      if (z.dtype != ctx.input(s.a).dtype) {
        return InvalidInput(ctx, s.a_zp, "a zero point dtype differs from input 0's");
      }
      if (z.shape.num_elements() != 1) {
        return Unimplemented(ctx, StrCat("input ", s.a_zp, " (a_zero_point) of shape ",
                                         z.shape.ToString(), ": only one value is supported"));
      }
    }
    if (ctx.has_input(s.b_zp)) {
      const InputInfo& z = ctx.input(s.b_zp);
      if (z.dtype != ctx.input(s.b).dtype) {
        return InvalidInput(ctx, s.b_zp, "b zero point dtype differs from input 1's");
      }
      if (z.shape.num_elements() != 1 && !(z.shape.rank() == 1 && z.shape.dim(0) == n)) {
        return Unimplemented(
            ctx, StrCat("input ", s.b_zp, " (b_zero_point) of shape ", z.shape.ToString(),
                        ": one value or [", n, "] is supported"));
      }
    }
  }
  const DType y_dtype = requant ? ctx.input(s.y_zp).dtype : DType::kInt32;
  ASSIGN_OR_RETURN(Shape y, MakeOutputShape(ctx, 0, y_dtype, p.shape.out));
  std::unique_ptr<kernels::PackedQB> packed;
  const bool zp_const = !ctx.has_input(s.b_zp) || ctx.input(s.b_zp).is_constant();
  if (p.shape.fold && ctx.input(s.b).is_constant() && zp_const && n > 0) {
    Tensor zp_tensor = ctx.has_input(s.b_zp) ? *ctx.input(s.b_zp).value : Tensor();
    const std::vector<int32_t> zb = ZeroPoints(zp_tensor, n);
    packed = kernels::PackedQB::Pack(false, p.shape.k, n, ctx.input(s.b).value->raw_data(),
                                     p.b_type, n, zb.data(), true);
  }
  return SingleOutput(ctx, y_dtype, y,
                      std::make_unique<QMatMulKernel>(std::move(p), std::move(packed)));
}

absl::StatusOr<PreparedOp> PrepareMatMulInteger(const PrepareContext& ctx) {
  return PrepareQMatMul(ctx, kMatMulInteger, /*requant=*/false);
}

absl::StatusOr<PreparedOp> PrepareQLinearMatMul(const PrepareContext& ctx) {
  return PrepareQMatMul(ctx, kQLinearMatMul, /*requant=*/true);
}

absl::StatusOr<PreparedOp> PrepareQLinearGemm(const PrepareContext& ctx) {
  return PrepareQMatMul(ctx, kQLinearGemm, /*requant=*/true);
}

}  // namespace

void RegisterQuantGemmOps(OpRegistry* registry) {
  registry->Register({.op_type = "MatMulInteger",
                      .domain = "",
                      .min_opset = 10,
                      .min_inputs = 2,
                      .max_inputs = 4,
                      .prepare = &PrepareMatMulInteger});
  registry->Register({.op_type = "QLinearMatMul",
                      .domain = "",
                      .min_opset = 10,
                      .min_inputs = 8,
                      .max_inputs = 8,
                      .prepare = &PrepareQLinearMatMul});
  // Internal (qdq_fusion.h): QLinearMatMul + optional int32 bias [N] as input 8, added to
  // the accumulator before requantization.
  registry->Register({.op_type = "QLinearGemm",
                      .domain = kInternalDomain,
                      .min_opset = 1,
                      .min_inputs = 8,
                      .max_inputs = 9,
                      .prepare = &PrepareQLinearGemm});
}

}  // namespace mp::exec::internal
