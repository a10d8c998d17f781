// LeNet from scratch on Fashion-MNIST, the full budget: all 60k training samples, evaluated
// on the 10k test split. The bar is >= 89% test accuracy (PyTorch reaches ~91% with
// the same architecture and budget: tests/train/torch_train.py). Long: label `long` (scripts/test
// --long).
#include "gtest/gtest.h"
#include "workers/engine/train/lenet_test_util.h"

namespace mp::train {
namespace {

// The budget, shared with tests/train/torch_train.py (keep them in sync).
FitOptions FullBudget() {
  return {.epochs = 15,
          .batch_size = 64,
          .seed = 1,
          .optimizer = {.kind = OptimizerKind::kAdam, .lr = 2e-3f},
          .schedule = {.kind = ScheduleKind::kCosine, .warmup_steps = 200}};
}

TEST(LeNetFullTest, FromScratchReachesEightyNinePercent) {
  auto run = testing::TrainLeNet(-1, FullBudget(), /*init_seed=*/1, /*threads=*/2);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->test.samples, 10'000);
  EXPECT_GE(run->test.accuracy, 0.89);
}

}  // namespace
}  // namespace mp::train
