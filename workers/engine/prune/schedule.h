// Sparsity schedules (see prune.h): pure functions from a step to a target sparsity.
#ifndef MP_WORKERS_ENGINE_PRUNE_SCHEDULE_H_
#define MP_WORKERS_ENGINE_PRUNE_SCHEDULE_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "workers/engine/prune/layers.h"

namespace mp::prune {

struct Schedule {
  enum class Kind {
    kOneShot,     // the final sparsity at every step
    kPolynomial,  // s_t = s_f + (s_i - s_f)(1 - t/n)^power; AGP (Zhu & Gupta) is power 3
  };
  Kind kind = Kind::kPolynomial;
  double initial = 0.0;  // s_i in [0, 1)
  double final = 0.5;    // s_f in [0, 1), >= initial
  int steps = 10;        // n >= 1: pruning steps (fine-tuning runs between them)
  double power = 3.0;    // > 0
};

// INVALID_ARGUMENT naming the field.
absl::Status ValidateSchedule(const Schedule& schedule);

// Target sparsity after pruning step `step` (0-based): t = min(step + 1, n), so step 0
// is the first increment above s_i and steps >= n-1 give s_f exactly (the AGP formula with
// t counted in pruning steps). For kOneShot every step gives s_f.
absl::StatusOr<double> SparsityAt(const Schedule& schedule, int step);

// Per-layer targets at `step`: each layer's final target (default `schedule.final`) follows
// the same curve from `schedule.initial` (layers whose final is below it stay at their final).
absl::StatusOr<LayerTargets> LayerTargetsAt(const Schedule& schedule, const LayerTargets& finals,
                                            int step);

}  // namespace mp::prune

#endif  // MP_WORKERS_ENGINE_PRUNE_SCHEDULE_H_
