#include "common/check.h"

#include "gtest/gtest.h"

namespace mp {
namespace {

TEST(CheckTest, PassingChecksDoNothing) {
  int evaluated = 0;
  MP_CHECK(++evaluated == 1) << "never printed";
  MP_CHECK_EQ(2 + 2, 4);
  MP_CHECK_LT(1, 2);
  MP_CHECK_GE(2, 2);
  EXPECT_EQ(evaluated, 1);
}

TEST(CheckDeathTest, FailingCheckAbortsWithFileConditionAndMessage) {
  EXPECT_DEATH({ MP_CHECK(1 > 2) << "context " << 42; }, "check_test.cc:.*1 > 2.*context 42");
  EXPECT_DEATH({ MP_CHECK_EQ(3, 4) << "sizes"; }, R"(\(3 vs 4\) sizes)");
}

}  // namespace
}  // namespace mp
