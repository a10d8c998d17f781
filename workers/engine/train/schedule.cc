#include "workers/engine/train/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "common/str_cat.h"

namespace mp::train {

std::string_view ScheduleKindName(ScheduleKind kind) {
  switch (kind) {
    case ScheduleKind::kConstant:
      return "constant";
    case ScheduleKind::kStep:
      return "step";
    case ScheduleKind::kCosine:
      return "cosine";
  }
  return "unknown";
}

absl::StatusOr<ScheduleKind> ParseScheduleKind(std::string_view name) {
  for (ScheduleKind k : {ScheduleKind::kConstant, ScheduleKind::kStep, ScheduleKind::kCosine}) {
    if (name == ScheduleKindName(k)) return k;
  }
  return absl::InvalidArgumentError(
      StrCat("schedule: unknown kind '", name, "', expected constant, step or cosine"));
}

absl::Status ValidateScheduleOptions(const ScheduleOptions& o) {
  if (!std::isfinite(o.base_lr) || !(o.base_lr > 0)) {
    return absl::InvalidArgumentError(
        StrCat("schedule.base_lr: ", o.base_lr, " must be finite and > 0"));
  }
  if (o.warmup_steps < 0) {
    return absl::InvalidArgumentError(
        StrCat("schedule.warmup_steps: ", o.warmup_steps, " must be >= 0"));
  }
  switch (o.kind) {
    case ScheduleKind::kConstant:
      return absl::OkStatus();
    case ScheduleKind::kStep:
      if (o.step_size < 1) {
        return absl::InvalidArgumentError(
            StrCat("schedule.step_size: ", o.step_size, " must be >= 1"));
      }
      if (!std::isfinite(o.gamma) || !(o.gamma > 0) || o.gamma > 1) {
        return absl::InvalidArgumentError(
            StrCat("schedule.gamma: ", o.gamma, " is outside (0, 1]"));
      }
      return absl::OkStatus();
    case ScheduleKind::kCosine:
      if (o.total_steps <= o.warmup_steps) {
        return absl::InvalidArgumentError(StrCat("schedule.total_steps: ", o.total_steps,
                                                 " must exceed warmup_steps (", o.warmup_steps,
                                                 ")"));
      }
      if (!std::isfinite(o.min_lr) || o.min_lr < 0 || o.min_lr > o.base_lr) {
        return absl::InvalidArgumentError(
            StrCat("schedule.min_lr: ", o.min_lr, " is outside [0, base_lr = ", o.base_lr, "]"));
      }
      return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      StrCat("schedule.kind: unknown value ", static_cast<int>(o.kind)));
}

absl::StatusOr<Schedule> Schedule::Make(const ScheduleOptions& options) {
  if (absl::Status s = ValidateScheduleOptions(options); !s.ok()) return s;
  return Schedule(options);
}

float Schedule::lr(int64_t step) const {
  const ScheduleOptions& o = options_;
  step = std::max<int64_t>(step, 0);
  const double base = o.base_lr;
  if (step < o.warmup_steps) {
    return static_cast<float>(base * double(step + 1) / double(o.warmup_steps));
  }
  const int64_t s = step - o.warmup_steps;
  switch (o.kind) {
    case ScheduleKind::kConstant:
      return o.base_lr;
    case ScheduleKind::kStep:
      return static_cast<float>(base * std::pow(double(o.gamma), double(s / o.step_size)));
    case ScheduleKind::kCosine: {
      const int64_t t = o.total_steps - o.warmup_steps;
      const double frac = double(std::min(s, t)) / double(t);
      return static_cast<float>(o.min_lr + (base - o.min_lr) *
                                               (1.0 + std::cos(std::numbers::pi * frac)) / 2.0);
    }
  }
  return o.base_lr;
}

}  // namespace mp::train
