// Test helper: train the LeNet-style fixture (tests/fixtures/models/lenet.onnx) from scratch
// on Fashion-MNIST (/usr/share/datasets/fashion-mnist) and evaluate it on the test split.
// Shared by the smoke test (default ctest run) and the full run (label `long`).
#ifndef MP_WORKERS_ENGINE_TRAIN_LENET_TEST_UTIL_H_
#define MP_WORKERS_ENGINE_TRAIN_LENET_TEST_UTIL_H_

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/statusor.h"
#include "common/status.h"
#include "workers/engine/train/fashion_test_util.h"
#include "workers/engine/train/fit.h"
#include "workers/engine/train/init.h"

namespace mp::train::testing {

struct LeNetRun {
  FitResult fit;
  EvalMetrics test;
  double seconds = 0;  // wall time of Fit (training + per-epoch test evaluation)
};

// Trains on the first `train_limit` training samples (-1: all 60k) with `options`, weights
// initialised by InitializeParameters(seed = init_seed), evaluating on the 10k test split
// after every epoch (printed as it goes).
inline absl::StatusOr<LeNetRun> TrainLeNet(int64_t train_limit, const FitOptions& options,
                                           uint64_t init_seed, int threads) {
  const data::Dataset train = FashionMnist("train", train_limit);
  const data::Dataset test = FashionMnist("t10k");
  ir::Model model = FixtureModel("lenet.onnx");
  RETURN_IF_ERROR(InitializeParameters(model, init_seed).status());
  ASSIGN_OR_RETURN(auto graph, GradGraph::Create(model, {.num_threads = threads}));
  LeNetRun run;
  const auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(run.fit, Fit(*graph, train, &test, options, [](const FitProgress& p) {
                     if (p.event == FitProgress::Event::kEpoch) {
                       std::printf(
                           "epoch %d: train loss %.4f acc %.4f | test loss %.4f acc %.4f | "
                           "lr %.5f | %.0f samples/s\n",
                           p.epoch + 1, p.loss, p.accuracy, p.val->loss, p.val->accuracy, p.lr,
                           p.samples_per_second);
                       std::fflush(stdout);
                     }
                     return absl::OkStatus();
                   }));
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  run.test = *run.fit.epochs.back().val;
  std::printf("LeNet: %zu epochs, test accuracy %.4f, %.1f s\n", run.fit.epochs.size(),
              run.test.accuracy, run.seconds);
  return run;
}

}  // namespace mp::train::testing

#endif  // MP_WORKERS_ENGINE_TRAIN_LENET_TEST_UTIL_H_
