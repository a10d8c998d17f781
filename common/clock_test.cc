#include "common/clock.h"

#include "gtest/gtest.h"

namespace mp {
namespace {

TEST(ClockTest, FakeClockMovesOnlyWhenTold) {
  FakeClock clock(1000);
  EXPECT_EQ(clock.NowMillis(), 1000);
  EXPECT_EQ(clock.NowMillis(), 1000);
  clock.AdvanceMillis(250);
  EXPECT_EQ(clock.NowMillis(), 1250);
  EXPECT_EQ(clock.MonotonicNanos(), 1'250'000'000);
  clock.SetMillis(5);
  EXPECT_EQ(clock.NowMillis(), 5);
}

TEST(ClockTest, SystemClockIsUnixMillisAndMonotonicDoesNotGoBack) {
  Clock* clock = SystemClock::Get();
  // 2020-01-01 < now < 2100-01-01 in Unix milliseconds.
  EXPECT_GT(clock->NowMillis(), 1'577'836'800'000);
  EXPECT_LT(clock->NowMillis(), 4'102'444'800'000);
  const int64_t a = clock->MonotonicNanos();
  const int64_t b = clock->MonotonicNanos();
  EXPECT_LE(a, b);
}

}  // namespace
}  // namespace mp
