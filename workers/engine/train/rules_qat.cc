// Rules of the fake-quantization ops of quantization-aware training (qat.h has the math):
// FakeQuantize (activations, learned clipping range) and FakeQuantizeWeight (per-channel
// symmetric weights). Both are in the private domain kQatDomain and have their own (scalar)
// forward; exec never runs them.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/quant/qparams.h"
#include "workers/engine/train/qat.h"
#include "workers/engine/train/rules.h"

namespace mp::train::internal {
namespace {

absl::Status ValidateFakeQuantize(const ir::Node& node, int64_t /*opset*/) {
  if (node.num_inputs() != 3 || !node.input(0).valid() || !node.input(1).valid() ||
      !node.input(2).valid()) {
    return absl::InvalidArgumentError(StrCat(
        node.Describe(), ": FakeQuantize takes 3 inputs (x, lo, hi), got ", node.num_inputs()));
  }
  ASSIGN_OR_RETURN(std::string scheme, node.GetString("scheme", "uint8_asymmetric"));
  ASSIGN_OR_RETURN(float unit, node.GetFloat("unit", 1.0f));
  if (!(unit > 0) || !std::isfinite(unit)) {
    return absl::InvalidArgumentError(
        StrCat(node.Describe(), ": attribute unit must be finite and > 0, got ", unit));
  }
  auto parsed = quant::ParseActivationScheme(scheme);
  if (!parsed.ok()) return Annotate(parsed.status(), StrCat(node.Describe(), ": attribute scheme"));
  return absl::OkStatus();
}

absl::Status ValidateFakeQuantizeWeight(const ir::Node& node, int64_t /*opset*/) {
  if (node.num_inputs() != 1 || !node.input(0).valid()) {
    return absl::InvalidArgumentError(
        StrCat(node.Describe(), ": FakeQuantizeWeight takes 1 input, got ", node.num_inputs()));
  }
  ASSIGN_OR_RETURN(int64_t axis, node.GetInt("axis", -1));
  ASSIGN_OR_RETURN(int64_t reduce, node.GetInt("reduce_range", 0));
  if (axis < -1 || (reduce != 0 && reduce != 1)) {
    return absl::InvalidArgumentError(StrCat(
        node.Describe(), ": axis ", axis, " must be >= -1 and reduce_range 0 or 1, got ", reduce));
  }
  return absl::OkStatus();
}

// The bounds of a FakeQuantize node: unit * (finite float32 scalars).
absl::StatusOr<quant::Range> Bounds(const ir::Node& node, std::span<const Tensor> inputs) {
  ASSIGN_OR_RETURN(const float unit, node.GetFloat("unit", 1.0f));
  float b[2] = {0, 0};
  for (int k = 0; k < 2; ++k) {
    const Tensor& t = inputs[static_cast<size_t>(k + 1)];
    if (t.dtype() != DType::kFloat32 || t.num_elements() != 1 ||
        !std::isfinite(t.data<float>()[0])) {
      return absl::InvalidArgumentError(StrCat(node.Describe(), ": ", k == 0 ? "lo" : "hi",
                                               " must be a finite float32 scalar, got ",
                                               t.DebugString()));
    }
    b[k] = unit * t.data<float>()[0];
  }
  return quant::Range{b[0], b[1]};
}

struct ActivationQuant {
  quant::QParams p;
  double ds_dlo = 0, ds_dhi = 0;  // of the scale, zp held (qat.h)
  float unit = 1;                 // bound = unit * input
};

absl::StatusOr<ActivationQuant> Prepare(const ir::Node& node, std::span<const Tensor> inputs) {
  if (inputs[0].dtype() != DType::kFloat32) {
    return absl::InvalidArgumentError(StrCat(
        node.Describe(), ": x is ", tensor::DTypeName(inputs[0].dtype()), ", expected float32"));
  }
  ASSIGN_OR_RETURN(const quant::Range r, Bounds(node, inputs));
  ASSIGN_OR_RETURN(std::string name, node.GetString("scheme", "uint8_asymmetric"));
  ASSIGN_OR_RETURN(const quant::ActivationScheme scheme, quant::ParseActivationScheme(name));
  ActivationQuant a;
  ASSIGN_OR_RETURN(a.unit, node.GetFloat("unit", 1.0f));
  a.p = quant::ActivationQParams(r, scheme);
  // As ActivationQParams: the range widened to include 0; a degenerate one (nominal scale
  // below 1e-30) falls back to scale 1, which does not move with the bounds.
  const double lo = std::min(double(r.min), 0.0), hi = std::max(double(r.max), 0.0);
  if (scheme == quant::ActivationScheme::kUint8Asymmetric) {
    if (static_cast<float>((hi - lo) / 255.0) >= 1e-30f) {
      a.ds_dlo = r.min < 0 ? -1.0 / 255.0 : 0.0;
      a.ds_dhi = r.max > 0 ? 1.0 / 255.0 : 0.0;
    }
  } else if (static_cast<float>(std::max(-lo, hi) / 127.0) >= 1e-30f) {
    if (-lo > hi) {
      a.ds_dlo = -1.0 / 127.0;  // s = -lo / 127
    } else {
      a.ds_dhi = 1.0 / 127.0;  // s = hi / 127 (hi > 0 here)
    }
  }
  return a;
}

absl::Status FakeQuantizeForward(ForwardContext& ctx) {
  ASSIGN_OR_RETURN(const ActivationQuant a, Prepare(ctx.node, ctx.inputs));
  const Tensor& x = ctx.inputs[0];
  Tensor y = ZerosLike(x.shape());
  const float* px = x.data<float>();
  float* py = y.mutable_data<float>();
  ParallelElements(ctx.pool, x.num_elements(), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) py[i] = quant::FakeQuantize(px[i], a.p);
  });
  (*ctx.outputs)[0] = std::move(y);
  return absl::OkStatus();
}

absl::Status FakeQuantizeBackward(BackwardContext& ctx) {
  ASSIGN_OR_RETURN(const ActivationQuant a, Prepare(ctx.node, ctx.inputs));
  const Tensor& x = ctx.inputs[0];
  const Tensor g = OutputGradOrZeros(ctx, 0);
  const float* px = x.data<float>();
  const float* pg = g.data<float>();
  const int64_t n = x.num_elements();
  // Blocks of a fixed size: per-block partial sums added in block order, so dL/ds does not
  // depend on the thread count.
  constexpr int64_t kBlock = 4096;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> partial(static_cast<size_t>(blocks), 0.0);
  Tensor dx;
  float* pdx = nullptr;
  if (ctx.needs_input_grad[0]) {
    dx = ZerosLike(x.shape());
    pdx = dx.mutable_data<float>();
  }
  // QuantizeValue clamps x / s to [qmin - zp, qmax - zp] before rounding (float division,
  // as ONNX QuantizeLinear): elements outside are the clamped ones.
  const int32_t zp = a.p.zero_point;
  const float vmin = static_cast<float>(a.p.qmin() - zp),
              vmax = static_cast<float>(a.p.qmax() - zp);
  auto run = [&](int64_t bb, int64_t be) {
    for (int64_t blk = bb; blk < be; ++blk) {
      double sum = 0;
      const int64_t end = std::min(n, (blk + 1) * kBlock);
      for (int64_t i = blk * kBlock; i < end; ++i) {
        const float v = px[i] / a.p.scale;
        if (v >= vmin && v <= vmax) {
          if (pdx != nullptr) pdx[i] = pg[i];
        } else {
          sum += double(pg[i]) * double(v > vmax ? vmax : vmin);  // (q - zp) of the clamp
        }
      }
      partial[static_cast<size_t>(blk)] = sum;
    }
  };
  if (ctx.pool == nullptr || blocks < 2) {
    run(0, blocks);
  } else {
    ctx.pool->ParallelFor(blocks, 1, run);
  }
  double ds = 0;
  for (double s : partial) ds += s;
  if (pdx != nullptr) (*ctx.input_grads)[0] = std::move(dx);
  if (ctx.needs_input_grad[1]) {
    (*ctx.input_grads)[1] = Tensor::FromVector<float>(ctx.inputs[1].shape(),
                                                      {static_cast<float>(ds * a.ds_dlo * a.unit)});
  }
  if (ctx.needs_input_grad[2]) {
    (*ctx.input_grads)[2] = Tensor::FromVector<float>(ctx.inputs[2].shape(),
                                                      {static_cast<float>(ds * a.ds_dhi * a.unit)});
  }
  return absl::OkStatus();
}

absl::Status FakeQuantizeWeightForward(ForwardContext& ctx) {
  const Tensor& w = ctx.inputs[0];
  ASSIGN_OR_RETURN(const int64_t axis, ctx.node.GetInt("axis", -1));
  ASSIGN_OR_RETURN(const int64_t reduce, ctx.node.GetInt("reduce_range", 0));
  ASSIGN_OR_RETURN(
      quant::QuantizedWeight q,
      quant::QuantizeWeight(w, static_cast<int>(axis), reduce != 0, ctx.node.Describe()));
  int64_t channels = 1, inner = w.num_elements();
  if (axis >= 0) {
    channels = w.shape().dim(static_cast<int>(axis));
    inner = 1;
    for (int d = static_cast<int>(axis) + 1; d < w.rank(); ++d) inner *= w.shape().dim(d);
  }
  Tensor y = ZerosLike(w.shape());
  const int8_t* pq = q.data.data<int8_t>();
  float* py = y.mutable_data<float>();
  for (int64_t i = 0; i < w.num_elements(); ++i) {
    const int64_t c = inner == 0 ? 0 : (i / inner) % channels;
    py[i] = float(pq[i]) * q.scales[static_cast<size_t>(c)];
  }
  (*ctx.outputs)[0] = std::move(y);
  return absl::OkStatus();
}

absl::Status FakeQuantizeWeightBackward(BackwardContext& ctx) {
  (*ctx.input_grads)[0] = OutputGradOrZeros(ctx, 0).Clone();
  return absl::OkStatus();
}

}  // namespace

void RegisterQatRules(RuleTable* table) {
  table->Register({.op_type = kFakeQuantizeOp,
                   .domain = kQatDomain,
                   .differentiable_inputs = 0b111,
                   .validate = &ValidateFakeQuantize,
                   .forward = &FakeQuantizeForward,
                   .backward = &FakeQuantizeBackward});
  table->Register({.op_type = kFakeQuantizeWeightOp,
                   .domain = kQatDomain,
                   .validate = &ValidateFakeQuantizeWeight,
                   .forward = &FakeQuantizeWeightForward,
                   .backward = &FakeQuantizeWeightBackward});
}

}  // namespace mp::train::internal
