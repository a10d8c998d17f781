// Learning-rate schedules: a pure function lr(step) of the 0-based optimizer step.
//
// With W = warmup_steps, B = base_lr and s = step - W (the step after warm-up):
//   warm-up (step < W):  lr = B * (step + 1) / W          (linear, reaching B at step W - 1)
//   constant:            lr = B
//   step:                lr = B * gamma^floor(s / step_size)        (torch StepLR)
//   cosine:              lr = min_lr + (B - min_lr) * (1 + cos(pi * min(s, T) / T)) / 2,
//                        T = total_steps - W  (torch CosineAnnealingLR without restarts;
//                        min_lr from step total_steps on)
// Every value is computed from `step` alone in double, then rounded to float, so resuming
// at any step gives the same rates.
#ifndef MP_WORKERS_ENGINE_TRAIN_SCHEDULE_H_
#define MP_WORKERS_ENGINE_TRAIN_SCHEDULE_H_

#include <cstdint>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mp::train {

enum class ScheduleKind { kConstant, kStep, kCosine };

// "constant", "step", "cosine".
std::string_view ScheduleKindName(ScheduleKind kind);
absl::StatusOr<ScheduleKind> ParseScheduleKind(std::string_view name);

struct ScheduleOptions {
  ScheduleKind kind = ScheduleKind::kConstant;
  float base_lr = 0.01f;     // finite, > 0
  int64_t warmup_steps = 0;  // >= 0
  int64_t step_size = 1;     // step: >= 1
  float gamma = 0.1f;        // step: finite, in (0, 1]
  int64_t total_steps = 0;   // cosine: > warmup_steps
  float min_lr = 0.0f;       // cosine: finite, in [0, base_lr]
};

// OK, or INVALID_ARGUMENT naming the field: "schedule.gamma: 0 is outside (0, 1]".
absl::Status ValidateScheduleOptions(const ScheduleOptions& options);

class Schedule {
 public:
  // Validates the options.
  static absl::StatusOr<Schedule> Make(const ScheduleOptions& options);
  // The learning rate at 0-based step `step` (>= 0; negative steps are treated as 0).
  float lr(int64_t step) const;
  const ScheduleOptions& options() const { return options_; }

 private:
  explicit Schedule(const ScheduleOptions& options) : options_(options) {}
  ScheduleOptions options_;
};

}  // namespace mp::train

#endif  // MP_WORKERS_ENGINE_TRAIN_SCHEDULE_H_
