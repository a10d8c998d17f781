#include "workers/engine/train/schedule.h"

#include <cmath>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mp::train {
namespace {

using ::testing::HasSubstr;

TEST(ScheduleTest, Constant) {
  auto s = Schedule::Make({.kind = ScheduleKind::kConstant, .base_lr = 0.3f});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->lr(0), 0.3f);
  EXPECT_EQ(s->lr(1'000'000), 0.3f);
}

TEST(ScheduleTest, StepDecays) {
  auto s = Schedule::Make(
      {.kind = ScheduleKind::kStep, .base_lr = 1.0f, .step_size = 10, .gamma = 0.5f});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FLOAT_EQ(s->lr(0), 1.0f);
  EXPECT_FLOAT_EQ(s->lr(9), 1.0f);
  EXPECT_FLOAT_EQ(s->lr(10), 0.5f);
  EXPECT_FLOAT_EQ(s->lr(25), 0.25f);
}

TEST(ScheduleTest, CosineReachesMinLr) {
  auto s = Schedule::Make(
      {.kind = ScheduleKind::kCosine, .base_lr = 1.0f, .total_steps = 100, .min_lr = 0.1f});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FLOAT_EQ(s->lr(0), 1.0f);
  EXPECT_FLOAT_EQ(s->lr(50), 0.55f);  // halfway: (1 + cos(pi/2)) / 2 = 1/2
  EXPECT_FLOAT_EQ(s->lr(25), static_cast<float>(0.1 + 0.9 * (1 + std::cos(M_PI / 4)) / 2));
  EXPECT_FLOAT_EQ(s->lr(100), 0.1f);
  EXPECT_FLOAT_EQ(s->lr(500), 0.1f);
}

TEST(ScheduleTest, WarmupIsLinearThenHandsOver) {
  auto s = Schedule::Make({.kind = ScheduleKind::kCosine,
                           .base_lr = 0.4f,
                           .warmup_steps = 4,
                           .total_steps = 14,
                           .min_lr = 0.0f});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FLOAT_EQ(s->lr(0), 0.1f);
  EXPECT_FLOAT_EQ(s->lr(1), 0.2f);
  EXPECT_FLOAT_EQ(s->lr(3), 0.4f);
  EXPECT_FLOAT_EQ(s->lr(4), 0.4f);  // cosine starts at base
  EXPECT_FLOAT_EQ(s->lr(9), 0.2f);  // halfway through the 10 cosine steps
  EXPECT_NEAR(s->lr(14), 0.0f, 1e-7);
  auto st = Schedule::Make({.kind = ScheduleKind::kStep,
                            .base_lr = 1.0f,
                            .warmup_steps = 2,
                            .step_size = 3,
                            .gamma = 0.1f});
  ASSERT_TRUE(st.ok());
  EXPECT_FLOAT_EQ(st->lr(0), 0.5f);
  EXPECT_FLOAT_EQ(st->lr(2), 1.0f);
  EXPECT_FLOAT_EQ(st->lr(5), 0.1f);
}

TEST(ScheduleTest, RejectsOutOfRangeOptions) {
  struct Case {
    ScheduleOptions options;
    std::string message;
  };
  const Case cases[] = {
      {{.base_lr = 0.0f}, "schedule.base_lr"},
      {{.base_lr = INFINITY}, "schedule.base_lr"},
      {{.warmup_steps = -1}, "schedule.warmup_steps: -1 must be >= 0"},
      {{.kind = ScheduleKind::kStep, .step_size = 0}, "schedule.step_size: 0 must be >= 1"},
      {{.kind = ScheduleKind::kStep, .gamma = 0.0f}, "schedule.gamma: 0 is outside (0, 1]"},
      {{.kind = ScheduleKind::kStep, .gamma = 2.0f}, "schedule.gamma"},
      {{.kind = ScheduleKind::kCosine, .warmup_steps = 5, .total_steps = 5},
       "schedule.total_steps: 5 must exceed warmup_steps (5)"},
      {{.kind = ScheduleKind::kCosine, .base_lr = 0.1f, .total_steps = 5, .min_lr = 0.2f},
       "schedule.min_lr"},
  };
  for (const Case& c : cases) {
    auto s = Schedule::Make(c.options);
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << c.message;
    EXPECT_THAT(std::string(s.status().message()), HasSubstr(c.message));
  }
  EXPECT_EQ(*ParseScheduleKind("cosine"), ScheduleKind::kCosine);
  EXPECT_FALSE(ParseScheduleKind("linear").ok());
}

}  // namespace
}  // namespace mp::train
