// Clock: the injectable source of time (DESIGN.md §4 rule 11).
//
// Every component that reads time takes a Clock*; production passes SystemClock, tests a
// FakeClock they advance by hand, so no test sleeps to make time pass. Times are integer
// Unix milliseconds, as stored in the database (DESIGN.md §6).
#ifndef MP_COMMON_CLOCK_H_
#define MP_COMMON_CLOCK_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace mp {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time in Unix milliseconds.
  virtual int64_t NowMillis() = 0;
  // Monotonic time in nanoseconds from an arbitrary origin; for measuring durations.
  virtual int64_t MonotonicNanos() = 0;
};

// The real clock. Thread-safe; Get() returns a process-wide instance.
class SystemClock final : public Clock {
 public:
  static SystemClock* Get();
  int64_t NowMillis() override;
  int64_t MonotonicNanos() override;
};

// A clock that moves only when told. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_millis = 1'700'000'000'000)
      : now_nanos_(start_millis * 1'000'000) {}
  int64_t NowMillis() override;
  int64_t MonotonicNanos() override;
  void AdvanceMillis(int64_t millis);
  void SetMillis(int64_t millis);

 private:
  absl::Mutex mu_;
  int64_t now_nanos_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mp

#endif  // MP_COMMON_CLOCK_H_
