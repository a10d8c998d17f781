#include "workers/engine/pipeline/job.h"

#include <gtest/gtest.h>

namespace mp::pipeline {
namespace {

TEST(EtaEstimatorTest, UnknownUntilThereIsEvidence) {
  FakeClock clock;
  EtaEstimator eta(&clock);
  EXPECT_EQ(eta.Update(0.5), -1.0);  // no time elapsed yet
  clock.AdvanceMillis(10'000);
  EXPECT_EQ(eta.Update(0.001), -1.0);  // below 1%
}

TEST(EtaEstimatorTest, ExtrapolatesTheAverageRate) {
  FakeClock clock;
  EtaEstimator eta(&clock);
  clock.AdvanceMillis(10'000);
  EXPECT_DOUBLE_EQ(eta.Update(0.25), 30.0);
  clock.AdvanceMillis(10'000);
  EXPECT_DOUBLE_EQ(eta.Update(0.8), 5.0);
  EXPECT_DOUBLE_EQ(eta.Update(1.0), 0.0);
  eta.Start();
  EXPECT_EQ(eta.Update(0.5), -1.0);
}

}  // namespace
}  // namespace mp::pipeline
