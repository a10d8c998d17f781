// Backward rules of BatchNormalization (own forward: training mode), Softmax, LogSoftmax and
// Dropout (own forward: seeded masks).
//
// BatchNormalization, per channel c over the M = N * spatial values of x[:, c]:
//   kTrain: mean, var = biased batch statistics (ONNX's training-mode definition),
//           xhat = (x - mean) / sqrt(var + eps), y = scale * xhat + B; running stats become
//           momentum * running + (1 - momentum) * batch (ONNX's momentum semantics).
//   kEval:  y = scale * (x - running_mean) / sqrt(running_var + eps) + B.
//   Backward (kTrain): dB = sum(dy), dscale = sum(dy * xhat),
//           dx = scale / sqrt(var + eps) * (dy - dB / M - xhat * dscale / M).
// Statistics accumulate in double, per channel, in a fixed order (parallel over channels).
// Softmax (y along an axis; opset < 13 coerces to 2-D at the axis): dx = y * (dy - sum(dy*y)).
// LogSoftmax: dx = dy - exp(y) * sum(dy).
// Dropout (kTrain, ratio r > 0): keep[i] = u(key, i) >= r with u a counter-based uniform
//   from the (seed, step, node) key, y = x * keep / (1 - r); dx = dy * keep / (1 - r).
//   kEval or r == 0: identity. The training_mode input is ignored: the Mode decides.
#include <cmath>
#include <cstring>
#include <vector>

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/exec/op.h"
#include "workers/engine/train/rules.h"

namespace mp::train::internal {
namespace {

void ForChannels(kernels::ThreadPool* pool, int64_t channels, int64_t work,
                 const std::function<void(int64_t, int64_t)>& fn) {
  if (pool == nullptr || pool->num_threads() == 1 || work < 32768) {
    fn(0, channels);
    return;
  }
  pool->ParallelFor(channels, 1, fn);
}

struct BnDims {
  int64_t n = 0, c = 0, s = 0;
};
BnDims BnShape(const Tensor& x) {
  BnDims d;
  d.n = x.shape().dim(0);
  d.c = x.rank() > 1 ? x.shape().dim(1) : 1;
  d.s = (d.n * d.c) == 0 ? 0 : x.num_elements() / (d.n * d.c);
  return d;
}

absl::Status ValidateBatchNorm(const ir::Node& node, int64_t opset) {
  for (int j = 1; j < node.num_outputs(); ++j) {
    if (node.output(j).valid()) {
      return exec::Unimplemented(node,
                                 StrCat("output ", j, " (running statistics) is not supported"));
    }
  }
  if (opset < 9) {
    ASSIGN_OR_RETURN(int64_t spatial, node.GetInt("spatial", 1));
    if (spatial != 1) {
      return exec::Unimplemented(
          node, StrCat("attribute 'spatial' value ", spatial, " is not supported"));
    }
  }
  if (node.num_inputs() != 5) return exec::InvalidNode(node, "expects 5 inputs");
  return absl::OkStatus();
}

absl::Status BatchNormForward(ForwardContext& ctx) {
  const Tensor& x = ctx.inputs[0];
  if (x.dtype() != DType::kFloat32 || x.rank() < 2) {
    return exec::InvalidNode(
        ctx.node, StrCat("input 0 is ", x.DebugString(), ", expected float32 of rank >= 2"));
  }
  const BnDims d = BnShape(x);
  for (int i = 1; i < 5; ++i) {
    const Tensor& t = ctx.inputs[static_cast<size_t>(i)];
    if (t.dtype() != DType::kFloat32 || t.num_elements() != d.c) {
      return exec::InvalidNode(
          ctx.node, StrCat("input ", i, " is ", t.DebugString(), ", expected float32[", d.c, "]"));
    }
  }
  ASSIGN_OR_RETURN(float eps, ctx.node.GetFloat("epsilon", 1e-5f));
  ASSIGN_OR_RETURN(float momentum, ctx.node.GetFloat("momentum", 0.9f));
  const float* px = x.data<float>();
  const float* scale = ctx.inputs[1].data<float>();
  const float* bias = ctx.inputs[2].data<float>();
  Tensor y = ZerosLike(x.shape());
  float* py = y.mutable_data<float>();
  if (ctx.mode == Mode::kEval) {
    const float* rm = ctx.inputs[3].data<float>();
    const float* rv = ctx.inputs[4].data<float>();
    ForChannels(ctx.pool, d.c, x.num_elements(), [&](int64_t b, int64_t e) {
      for (int64_t c = b; c < e; ++c) {
        const float k = scale[c] / std::sqrt(rv[c] + eps);
        const float shift = bias[c] - rm[c] * k;
        for (int64_t n = 0; n < d.n; ++n) {
          const int64_t o = (n * d.c + c) * d.s;
          for (int64_t i = 0; i < d.s; ++i) py[o + i] = px[o + i] * k + shift;
        }
      }
    });
    (*ctx.outputs)[0] = std::move(y);
    return absl::OkStatus();
  }
  Tensor mean = ZerosLike(Shape({d.c}));
  Tensor inv_std = ZerosLike(Shape({d.c}));
  Tensor var = ZerosLike(Shape({d.c}));
  float* pm = mean.mutable_data<float>();
  float* pi = inv_std.mutable_data<float>();
  float* pv = var.mutable_data<float>();
  const double count = static_cast<double>(d.n * d.s);
  ForChannels(ctx.pool, d.c, x.num_elements(), [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      double sum = 0.0;
      for (int64_t n = 0; n < d.n; ++n) {
        const float* row = px + (n * d.c + c) * d.s;
        for (int64_t i = 0; i < d.s; ++i) sum += row[i];
      }
      const double mu = count > 0 ? sum / count : 0.0;
      double sq = 0.0;
      for (int64_t n = 0; n < d.n; ++n) {
        const float* row = px + (n * d.c + c) * d.s;
        for (int64_t i = 0; i < d.s; ++i) sq += (row[i] - mu) * (row[i] - mu);
      }
      const double v = count > 0 ? sq / count : 0.0;
      pm[c] = static_cast<float>(mu);
      pv[c] = static_cast<float>(v);
      pi[c] = static_cast<float>(1.0 / std::sqrt(v + static_cast<double>(eps)));
      const float k = scale[c] * pi[c];
      const float shift = bias[c] - pm[c] * k;
      for (int64_t n = 0; n < d.n; ++n) {
        const int64_t o = (n * d.c + c) * d.s;
        for (int64_t i = 0; i < d.s; ++i) py[o + i] = px[o + i] * k + shift;
      }
    }
  });
  // Running statistics (state tensors, updated in place).
  for (int i = 3; i < 5; ++i) {
    Tensor& st = ctx.state[static_cast<size_t>(i)];
    if (!st.defined()) continue;
    float* r = st.mutable_data<float>();
    const float* cur = i == 3 ? pm : pv;
    for (int64_t c = 0; c < d.c; ++c) r[c] = momentum * r[c] + (1.0f - momentum) * cur[c];
  }
  ctx.saved->push_back(std::move(mean));
  ctx.saved->push_back(std::move(inv_std));
  (*ctx.outputs)[0] = std::move(y);
  return absl::OkStatus();
}

absl::Status BatchNormBackward(BackwardContext& ctx) {
  if (ctx.saved.size() < 2) {
    return absl::FailedPreconditionError(StrCat(ctx.node.Describe(), ": no training-mode forward"));
  }
  const Tensor& x = ctx.inputs[0];
  const Tensor dy = OutputGradOrZeros(ctx, 0);
  const BnDims d = BnShape(x);
  const float* px = x.data<float>();
  const float* pdy = dy.data<float>();
  const float* scale = ctx.inputs[1].data<float>();
  const float* pm = ctx.saved[0].data<float>();
  const float* pi = ctx.saved[1].data<float>();
  Tensor dx, dscale = ZerosLike(Shape({d.c})), dbias = ZerosLike(Shape({d.c}));
  if (ctx.needs_input_grad[0]) dx = ZerosLike(x.shape());
  float* pdx = dx.defined() ? dx.mutable_data<float>() : nullptr;
  float* pds = dscale.mutable_data<float>();
  float* pdb = dbias.mutable_data<float>();
  const double count = static_cast<double>(d.n * d.s);
  ForChannels(ctx.pool, d.c, x.num_elements(), [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      double sdy = 0.0, sdyx = 0.0;
      for (int64_t n = 0; n < d.n; ++n) {
        const int64_t o = (n * d.c + c) * d.s;
        for (int64_t i = 0; i < d.s; ++i) {
          const double xhat = (static_cast<double>(px[o + i]) - pm[c]) * pi[c];
          sdy += pdy[o + i];
          sdyx += pdy[o + i] * xhat;
        }
      }
      pdb[c] = static_cast<float>(sdy);
      pds[c] = static_cast<float>(sdyx);
      if (pdx == nullptr || count == 0) continue;
      const float k = scale[c] * pi[c];
      const float mdy = static_cast<float>(sdy / count), mdyx = static_cast<float>(sdyx / count);
      for (int64_t n = 0; n < d.n; ++n) {
        const int64_t o = (n * d.c + c) * d.s;
        for (int64_t i = 0; i < d.s; ++i) {
          const float xhat = (px[o + i] - pm[c]) * pi[c];
          pdx[o + i] = k * (pdy[o + i] - mdy - xhat * mdyx);
        }
      }
    }
  });
  auto& g = *ctx.input_grads;
  if (dx.defined()) g[0] = std::move(dx);
  if (ctx.needs_input_grad[1]) g[1] = std::move(dscale);
  if (ctx.needs_input_grad[2]) g[2] = std::move(dbias);
  return absl::OkStatus();
}

// (outer, n, inner) of the softmax axis.
absl::Status SoftmaxDims(const BackwardContext& ctx, int64_t* outer, int64_t* n, int64_t* inner) {
  const Shape& s = ctx.outputs[0].shape();
  const int rank = s.rank();
  ASSIGN_OR_RETURN(int64_t axis_attr, ctx.node.GetInt("axis", ctx.opset < 13 ? 1 : -1));
  ASSIGN_OR_RETURN(int axis, exec::NormalizeAxis(ctx.node, axis_attr, std::max(rank, 1)));
  *outer = 1;
  *n = 1;
  *inner = 1;
  for (int d = 0; d < axis; ++d) *outer *= s.dim(d);
  if (ctx.opset < 13) {
    for (int d = axis; d < rank; ++d) *n *= s.dim(d);
  } else if (rank > 0) {
    *n = s.dim(axis);
    for (int d = axis + 1; d < rank; ++d) *inner *= s.dim(d);
  }
  return absl::OkStatus();
}

absl::Status SoftmaxBackwardImpl(BackwardContext& ctx, bool log) {
  int64_t outer, n, inner;
  RETURN_IF_ERROR(SoftmaxDims(ctx, &outer, &n, &inner));
  const Tensor& y = ctx.outputs[0];
  const Tensor dy = OutputGradOrZeros(ctx, 0);
  Tensor dx = ZerosLike(y.shape());
  const float* py = y.data<float>();
  const float* pdy = dy.data<float>();
  float* pdx = dx.mutable_data<float>();
  auto rows = [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      for (int64_t j = 0; j < inner; ++j) {
        const int64_t base = o * n * inner + j;
        double s = 0.0;
        for (int64_t k = 0; k < n; ++k) {
          const int64_t i = base + k * inner;
          s += log ? pdy[i] : pdy[i] * py[i];
        }
        const float sf = static_cast<float>(s);
        for (int64_t k = 0; k < n; ++k) {
          const int64_t i = base + k * inner;
          pdx[i] = log ? pdy[i] - std::exp(py[i]) * sf : py[i] * (pdy[i] - sf);
        }
      }
    }
  };
  ForChannels(ctx.pool, outer, y.num_elements(), rows);
  (*ctx.input_grads)[0] = std::move(dx);
  return absl::OkStatus();
}
absl::Status SoftmaxBackward(BackwardContext& ctx) { return SoftmaxBackwardImpl(ctx, false); }
absl::Status LogSoftmaxBackward(BackwardContext& ctx) { return SoftmaxBackwardImpl(ctx, true); }

// Counter-based uniform in [0, 1) (24 bits) for element i under `key`.
float Uniform(uint64_t key, uint64_t i) {
  uint64_t z = key + (i + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<float>(z >> 40) * (1.0f / 16777216.0f);
}

absl::Status DropoutForward(ForwardContext& ctx) {
  const Tensor& x = ctx.inputs[0];
  float ratio = 0.5f;
  if (ctx.opset < 12) {
    ASSIGN_OR_RETURN(ratio, ctx.node.GetFloat("ratio", 0.5f));
  } else if (ctx.inputs.size() > 1 && ctx.inputs[1].defined()) {
    const Tensor& r = ctx.inputs[1];
    if (r.dtype() != DType::kFloat32 || r.num_elements() != 1) {
      return exec::InvalidNode(ctx.node,
                               StrCat("ratio is ", r.DebugString(), ", expected a float32 scalar"));
    }
    ratio = r.data<float>()[0];
  }
  if (!(ratio >= 0.0f && ratio < 1.0f)) {
    return exec::InvalidNode(ctx.node, StrCat("ratio ", ratio, " is outside [0, 1)"));
  }
  const bool drop = ctx.mode == Mode::kTrain && ratio > 0.0f;
  const int64_t count = x.num_elements();
  Tensor mask;
  if (ctx.outputs->size() > 1 && ctx.node.output(1).valid())
    mask = Tensor::Zeros(DType::kBool, x.shape());
  if (!drop) {
    (*ctx.outputs)[0] = x;
    if (mask.defined()) {
      std::memset(mask.mutable_raw_data(), 1, static_cast<size_t>(count));
      (*ctx.outputs)[1] = std::move(mask);
    }
    return absl::OkStatus();
  }
  const float keep_scale = 1.0f / (1.0f - ratio);
  Tensor mult = ZerosLike(x.shape());
  Tensor y = ZerosLike(x.shape());
  const float* px = x.data<float>();
  float* pmul = mult.mutable_data<float>();
  float* py = y.mutable_data<float>();
  bool* pmask = mask.defined() ? mask.mutable_data<bool>() : nullptr;
  const uint64_t key = ctx.seed;
  ParallelElements(ctx.pool, count, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const bool keep = Uniform(key, static_cast<uint64_t>(i)) >= ratio;
      pmul[i] = keep ? keep_scale : 0.0f;
      py[i] = px[i] * pmul[i];
      if (pmask != nullptr) pmask[i] = keep;
    }
  });
  ctx.saved->push_back(std::move(mult));
  (*ctx.outputs)[0] = std::move(y);
  if (mask.defined()) (*ctx.outputs)[1] = std::move(mask);
  return absl::OkStatus();
}

absl::Status DropoutBackward(BackwardContext& ctx) {
  const Tensor dy = OutputGradOrZeros(ctx, 0);
  if (ctx.saved.empty()) {  // identity in this forward
    (*ctx.input_grads)[0] = dy;
    return absl::OkStatus();
  }
  Tensor dx = ZerosLike(dy.shape());
  const float* pdy = dy.data<float>();
  const float* pm = ctx.saved[0].data<float>();
  float* pdx = dx.mutable_data<float>();
  ParallelElements(ctx.pool, dy.num_elements(), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) pdx[i] = pdy[i] * pm[i];
  });
  (*ctx.input_grads)[0] = std::move(dx);
  return absl::OkStatus();
}

}  // namespace

void RegisterNormRules(RuleTable* table) {
  table->Register({.op_type = "BatchNormalization",
                   .differentiable_inputs = 0b111,
                   .state_inputs = 0b11000,
                   .no_decay_inputs = 0b110,
                   .validate = &ValidateBatchNorm,
                   .forward = &BatchNormForward,
                   .backward = &BatchNormBackward});
  table->Register({.op_type = "Softmax", .backward = &SoftmaxBackward});
  table->Register({.op_type = "LogSoftmax", .backward = &LogSoftmaxBackward});
  table->Register({.op_type = "Dropout", .forward = &DropoutForward, .backward = &DropoutBackward});
}

}  // namespace mp::train::internal
