#include "common/clock.h"

#include <chrono>

namespace mp {

SystemClock* SystemClock::Get() {
  static SystemClock* const clock = new SystemClock();
  return clock;
}

int64_t SystemClock::NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t SystemClock::MonotonicNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t FakeClock::NowMillis() {
  absl::MutexLock lock(&mu_);
  return now_nanos_ / 1'000'000;
}

int64_t FakeClock::MonotonicNanos() {
  absl::MutexLock lock(&mu_);
  return now_nanos_;
}

void FakeClock::AdvanceMillis(int64_t millis) {
  absl::MutexLock lock(&mu_);
  now_nanos_ += millis * 1'000'000;
}

void FakeClock::SetMillis(int64_t millis) {
  absl::MutexLock lock(&mu_);
  now_nanos_ = millis * 1'000'000;
}

}  // namespace mp
