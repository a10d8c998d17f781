#include "workers/engine/train/optimizer.h"

#include <cmath>
#include <utility>

#include "common/str_cat.h"
#include "workers/engine/train/optimizer_kernels.h"

namespace mp::train {
namespace {

// Elements per thread below which a parameter is updated on the calling thread only.
constexpr int64_t kMinChunk = 16384;

absl::Status CheckRange(std::string_view field, float value, float lo, bool lo_inclusive, float hi,
                        bool hi_inclusive) {
  const bool ok = std::isfinite(value) && (lo_inclusive ? value >= lo : value > lo) &&
                  (hi_inclusive ? value <= hi : value < hi);
  if (ok) return absl::OkStatus();
  const std::string hi_text = std::isinf(hi) ? "inf" : StrCat(hi);
  return absl::InvalidArgumentError(StrCat("optimizer.", field, ": ", value, " is outside ",
                                           lo_inclusive ? "[" : "(", lo, ", ", hi_text,
                                           hi_inclusive ? "]" : ")"));
}

}  // namespace

std::string_view OptimizerKindName(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::kSgd:
      return "sgd";
    case OptimizerKind::kAdam:
      return "adam";
    case OptimizerKind::kAdamW:
      return "adamw";
  }
  return "unknown";
}

absl::StatusOr<OptimizerKind> ParseOptimizerKind(std::string_view name) {
  for (OptimizerKind k : {OptimizerKind::kSgd, OptimizerKind::kAdam, OptimizerKind::kAdamW}) {
    if (name == OptimizerKindName(k)) return k;
  }
  return absl::InvalidArgumentError(
      StrCat("optimizer: unknown kind '", name, "', expected sgd, adam or adamw"));
}

absl::Status ValidateOptimizerOptions(const OptimizerOptions& o) {
  constexpr float kInf = INFINITY;
  if (o.kind != OptimizerKind::kSgd && o.kind != OptimizerKind::kAdam &&
      o.kind != OptimizerKind::kAdamW) {
    return absl::InvalidArgumentError(
        StrCat("optimizer.kind: unknown value ", static_cast<int>(o.kind)));
  }
  if (absl::Status s = CheckRange("lr", o.lr, 0, false, kInf, false); !s.ok()) return s;
  if (absl::Status s = CheckRange("weight_decay", o.weight_decay, 0, true, kInf, false); !s.ok()) {
    return s;
  }
  if (o.kind == OptimizerKind::kSgd) {
    if (absl::Status s = CheckRange("momentum", o.momentum, 0, true, 1, false); !s.ok()) {
      return s;
    }
    if (o.nesterov && !(o.momentum > 0)) {
      return absl::InvalidArgumentError("optimizer.nesterov: requires momentum > 0");
    }
    return absl::OkStatus();
  }
  if (absl::Status s = CheckRange("beta1", o.beta1, 0, true, 1, false); !s.ok()) return s;
  if (absl::Status s = CheckRange("beta2", o.beta2, 0, true, 1, false); !s.ok()) return s;
  return CheckRange("eps", o.eps, 0, false, kInf, false);
}

absl::StatusOr<std::unique_ptr<Optimizer>> Optimizer::Create(const OptimizerOptions& options,
                                                             std::span<Parameter> params,
                                                             kernels::ThreadPool* pool) {
  if (absl::Status s = ValidateOptimizerOptions(options); !s.ok()) return s;
  std::unique_ptr<Optimizer> opt(new Optimizer(options, params, pool));
  for (const Parameter& p : params) {
    if (p.value.dtype() != tensor::DType::kFloat32 || p.grad.dtype() != tensor::DType::kFloat32 ||
        !(p.value.shape() == p.grad.shape())) {
      return absl::InvalidArgumentError(
          StrCat("parameter '", p.name, "': value ", p.value.DebugString(), " and grad ",
                 p.grad.DebugString(), " must be float32 of the same shape"));
    }
    const size_t n = static_cast<size_t>(p.value.num_elements());
    const bool needs0 = options.kind != OptimizerKind::kSgd || options.momentum > 0;
    opt->state0_.emplace_back(needs0 ? n : 0, 0.0f);
    opt->state1_.emplace_back(options.kind != OptimizerKind::kSgd ? n : 0, 0.0f);
  }
  return opt;
}

absl::Status Optimizer::SetLearningRate(float lr) {
  if (absl::Status s = CheckRange("lr", lr, 0, false, INFINITY, false); !s.ok()) return s;
  lr_ = lr;
  return absl::OkStatus();
}

void Optimizer::Step() {
  ++step_;
  const OptimizerOptions& o = options_;
  for (size_t i = 0; i < params_.size(); ++i) {
    Parameter& p = params_[i];
    const int64_t n = p.value.num_elements();
    float* value = p.value.mutable_data<float>();
    const float* grad = p.grad.data<float>();
    float* s0 = state0_[i].data();
    float* s1 = state1_[i].data();
    const float wd = p.decay ? o.weight_decay : 0.0f;
    auto run = [&](int64_t begin, int64_t end) {
      const size_t count = static_cast<size_t>(end - begin);
      if (o.kind == OptimizerKind::kSgd) {
        SgdUpdate({.lr = lr_,
                   .weight_decay = wd,
                   .momentum = o.momentum,
                   .nesterov = o.nesterov,
                   .first_step = step_ == 1},
                  count, value + begin, grad + begin, s0 ? s0 + begin : nullptr);
      } else {
        const double bc1 = 1.0 - std::pow(double(o.beta1), double(step_));
        const double bc2 = 1.0 - std::pow(double(o.beta2), double(step_));
        const bool decoupled = o.kind == OptimizerKind::kAdamW;
        AdamUpdate({.step_size = static_cast<float>(double(lr_) / bc1),
                    .bias_correction2_sqrt = static_cast<float>(std::sqrt(bc2)),
                    .beta1 = o.beta1,
                    .beta2 = o.beta2,
                    .eps = o.eps,
                    .l2 = decoupled ? 0.0f : wd,
                    .decay_factor = decoupled ? 1.0f - lr_ * wd : 1.0f},
                   count, value + begin, grad + begin, s0 + begin, s1 + begin);
      }
    };
    if (pool_ != nullptr && pool_->num_threads() > 1 && n >= 2 * kMinChunk) {
      pool_->ParallelFor(n, kMinChunk, run);
    } else {
      run(0, n);
    }
  }
}

}  // namespace mp::train
