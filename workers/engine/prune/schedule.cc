#include "workers/engine/prune/schedule.h"

#include <algorithm>
#include <cmath>

#include "common/status.h"
#include "common/str_cat.h"

namespace mp::prune {
namespace {

double Curve(const Schedule& s, double final, int step) {
  if (s.kind == Schedule::Kind::kOneShot) return final;
  const double t = std::min(static_cast<double>(step) + 1.0, static_cast<double>(s.steps));
  const double initial = std::min(s.initial, final);
  return final + (initial - final) * std::pow(1.0 - t / s.steps, s.power);
}

}  // namespace

absl::Status ValidateSchedule(const Schedule& s) {
  RETURN_IF_ERROR(CheckSparsity(s.initial, "schedule initial"));
  RETURN_IF_ERROR(CheckSparsity(s.final, "schedule final"));
  if (s.final < s.initial) {
    return absl::InvalidArgumentError(
        StrCat("schedule: final sparsity ", s.final, " is below initial ", s.initial));
  }
  if (s.steps < 1) {
    return absl::InvalidArgumentError(StrCat("schedule: steps ", s.steps, " must be >= 1"));
  }
  if (!(s.power > 0)) {
    return absl::InvalidArgumentError(StrCat("schedule: power ", s.power, " must be > 0"));
  }
  return absl::OkStatus();
}

absl::StatusOr<double> SparsityAt(const Schedule& schedule, int step) {
  RETURN_IF_ERROR(ValidateSchedule(schedule));
  if (step < 0) return absl::InvalidArgumentError(StrCat("schedule: step ", step, " < 0"));
  return Curve(schedule, schedule.final, step);
}

absl::StatusOr<LayerTargets> LayerTargetsAt(const Schedule& schedule, const LayerTargets& finals,
                                            int step) {
  RETURN_IF_ERROR(ValidateSchedule(schedule));
  if (step < 0) return absl::InvalidArgumentError(StrCat("schedule: step ", step, " < 0"));
  LayerTargets out;
  for (const auto& [name, s] : finals) {
    RETURN_IF_ERROR(CheckSparsity(s, StrCat("layer '", name, "'")));
    out.emplace_back(name, Curve(schedule, s, step));
  }
  return out;
}

}  // namespace mp::prune
