// LeNet from scratch on Fashion-MNIST, short: two epochs on the first 10k training samples.
// A correct training stack reaches ~79.5% here (10k test samples); broken gradients, optimizer or
// init stay near chance (10%) or well below the floor.
#include "gtest/gtest.h"
#include "workers/engine/train/lenet_test_util.h"

namespace mp::train {
namespace {

TEST(LeNetSmokeTest, TwoEpochsOnTenThousandSamples) {
  auto run = testing::TrainLeNet(10'000,
                                 {.epochs = 2,
                                  .batch_size = 32,
                                  .seed = 1,
                                  .optimizer = {.kind = OptimizerKind::kAdam, .lr = 2e-3f},
                                  .schedule = {.kind = ScheduleKind::kCosine, .warmup_steps = 20}},
                                 /*init_seed=*/1, /*threads=*/2);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->test.samples, 10'000);
  EXPECT_GT(run->test.accuracy, 0.75);
}

}  // namespace
}  // namespace mp::train
