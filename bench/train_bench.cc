// mp_bench_train: training throughput of one model on our engine (GradGraph + loss +
// optimizer), for bench/train_bench.py, which runs PyTorch beside it.
//
//   mp_bench_train --model tests/fixtures/models/lenet.onnx [--batch 128] [--threads 1]
//                  [--steps 50] [--warmup 5] [--optimizer sgd|adam] [--avx2]
//
// One step = ZeroGrad + Forward(kTrain) + softmax cross-entropy + Backward + optimizer step
// (SGD momentum 0.9, or Adam), on one fixed batch of [batch, 1, 28, 28] floats in [0, 1) and
// random labels from a fixed seed, weights re-initialised (train/init.h). Prints one JSON
// line: wall samples/s (median of 3 timed rounds of --steps steps) and samples per CPU-second
// of the whole process (all threads), which a loaded machine disturbs less.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "hwy/targets.h"
#include "workers/engine/onnx/onnx.h"
#include "workers/engine/train/fit.h"
#include "workers/engine/train/init.h"
#include "workers/engine/train/loss.h"

namespace {

double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

int Fail(const std::string& what) {
  std::fprintf(stderr, "mp_bench_train: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace mp;  // NOLINT: a benchmark main
  std::string model_path, optimizer = "sgd";
  int64_t batch = 128;
  int threads = 1, steps = 50, warmup = 5;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--avx2") {
      hwy::SetSupportedTargetsForTest(HWY_AVX2);
      continue;
    }
    if (i + 1 >= argc) return Fail("missing value for " + flag);
    const std::string value = argv[++i];
    if (flag == "--model") {
      model_path = value;
    } else if (flag == "--batch") {
      batch = std::atoll(value.c_str());
    } else if (flag == "--threads") {
      threads = std::atoi(value.c_str());
    } else if (flag == "--steps") {
      steps = std::atoi(value.c_str());
    } else if (flag == "--warmup") {
      warmup = std::atoi(value.c_str());
    } else if (flag == "--optimizer") {
      optimizer = value;
    } else {
      return Fail("unknown flag " + flag);
    }
  }
  if (model_path.empty() || batch < 1 || threads < 1 || steps < 1 || warmup < 0) {
    return Fail(
        "usage: mp_bench_train --model M.onnx [--batch B] [--threads T] [--steps N] "
        "[--warmup W] [--optimizer sgd|adam] [--avx2]");
  }
  auto model = onnx::ImportModelFile(model_path);
  if (!model.ok()) return Fail(model.status().ToString());
  if (auto s = train::InitializeParameters(*model, 1); !s.ok()) return Fail(s.status().ToString());
  auto graph = train::GradGraph::Create(*model, {.num_threads = threads});
  if (!graph.ok()) return Fail(graph.status().ToString());
  auto kind = train::ParseOptimizerKind(optimizer);
  if (!kind.ok()) return Fail(kind.status().ToString());
  train::OptimizerOptions oo{.kind = *kind, .lr = 0.01f};
  if (*kind == train::OptimizerKind::kSgd) oo.momentum = 0.9f;
  if (*kind != train::OptimizerKind::kSgd) oo.lr = 1e-3f;
  kernels::ThreadPool pool(threads);
  auto opt = train::Optimizer::Create(oo, (*graph)->parameters(), &pool);
  if (!opt.ok()) return Fail(opt.status().ToString());

  std::mt19937 gen(1);
  std::uniform_real_distribution<float> pixel(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(batch * 28 * 28));
  for (float& v : x) v = pixel(gen);
  std::vector<int64_t> y(static_cast<size_t>(batch));
  for (int64_t& v : y) v = static_cast<int64_t>(gen() % 10);
  const tensor::Tensor input = tensor::Tensor::FromVector<float>({batch, 1, 28, 28}, x);
  const tensor::Tensor labels = tensor::Tensor::FromVector<int64_t>({batch}, y);

  auto step = [&]() -> absl::Status {
    (*graph)->ZeroGrad();
    auto outs = (*graph)->Forward({{"input", input}}, train::Mode::kTrain);
    if (!outs.ok()) return outs.status();
    auto loss = train::SoftmaxCrossEntropy(outs->front().second, labels);
    if (!loss.ok()) return loss.status();
    std::vector<tensor::Tensor> grads(outs->size());
    grads[0] = std::move(loss->grad);
    if (auto s = (*graph)->Backward(grads); !s.ok()) return s;
    (*opt)->Step();
    return absl::OkStatus();
  };
  for (int i = 0; i < warmup; ++i) {
    if (auto s = step(); !s.ok()) return Fail(s.ToString());
  }
  std::vector<double> wall, cpu;
  for (int round = 0; round < 3; ++round) {
    const double c0 = CpuSeconds();
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < steps; ++i) {
      if (auto s = step(); !s.ok()) return Fail(s.ToString());
    }
    wall.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    cpu.push_back(CpuSeconds() - c0);
  }
  std::sort(wall.begin(), wall.end());
  std::sort(cpu.begin(), cpu.end());
  const double samples = double(batch) * steps;
  std::printf("{\"samples_per_s\": %.1f, \"cpu_samples_per_s\": %.1f, \"ms_per_step\": %.3f}\n",
              samples / wall[1], samples / cpu[1], wall[1] * 1e3 / steps);
  return 0;
}
