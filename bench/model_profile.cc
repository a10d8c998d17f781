// mp_profile_model: where one model's inference time goes, per node (exec::RunOptions::timings).
//
//   mp_profile_model --model tests/fixtures/models/resnet.onnx [--batch 256] [--threads 1]
//                    [--iters 10] [--avx2] [--fuse-qdq] [--whole] [--bench]
//
// --fuse-qdq runs a QDQ model on the exact integer kernels (SessionOptions::fuse_qdq, what the
// ptq recipe reports); without it the QDQ graph runs as written.
// --avx2 forces Highway's AVX2 target (what AVX2-only machines run). --bench times whole
// runs instead (bench/model_bench.py's "ours"): after 3 warm-up runs, one JSON line
// {"mean_ms", "p50_ms", "min_ms", "cpu_ms"} with the wall latency of Session::Run and the
// process's CPU time (all threads) per run, and "slices", the batch slices Run uses (0: the
// batch runs whole; session.h "batch slices"). --whole turns slicing off
// (SessionOptions::split_batch) for A/B runs. Per-node timings always run the batch whole.
//
// Runs the model on a deterministic input of shape [batch, <declared dims>] (symbolic dims
// = batch), once to warm up, then `iters` times, and prints each node's mean wall time and the
// calling thread's CPU time (ms; with --threads 1 the CPU time is robust to a loaded
// machine), its share of the total, and the per-op-type sums. A profiling aid for
// bench/model_bench.py (which compares whole-model latency with ONNX Runtime); it compares with
// nothing.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "hwy/targets.h"
#include "workers/engine/exec/session.h"
#include "workers/engine/onnx/onnx.h"

namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: mp_profile_model --model M.onnx [--batch B] [--threads T] [--iters N] "
               "[--avx2] [--fuse-qdq] [--whole] [--bench]\n");
  return 2;
}

double ProcessCpuMs() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// --bench: whole-run wall and CPU time.
int Bench(mp::exec::Session& session, const mp::exec::NamedTensors& feeds, int iters,
          size_t slices) {
  for (int i = 0; i < 3; ++i) {
    if (!session.Run(feeds).ok()) return 1;
  }
  std::vector<double> ms;
  const double cpu0 = ProcessCpuMs();
  for (int i = 0; i < iters; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    if (!session.Run(feeds).ok()) return 1;
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  const double cpu = (ProcessCpuMs() - cpu0) / iters;
  double sum = 0;
  for (double v : ms) sum += v;
  std::sort(ms.begin(), ms.end());
  std::printf(
      "{\"mean_ms\": %.4f, \"p50_ms\": %.4f, \"min_ms\": %.4f, \"cpu_ms\": %.4f, "
      "\"slices\": %zu}\n",
      sum / iters, ms[ms.size() / 2], ms.front(), cpu, slices);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_path;
  int64_t batch = 256;
  int threads = 1, iters = 10;
  bool bench = false;
  bool whole = false;
  bool fuse_qdq = false;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--avx2") {
      hwy::SetSupportedTargetsForTest(HWY_AVX2);
      continue;
    }
    if (flag == "--fuse-qdq") {
      fuse_qdq = true;
      continue;
    }
    if (flag == "--bench") {
      bench = true;
      continue;
    }
    if (flag == "--whole") {
      whole = true;
      continue;
    }
    if (i + 1 >= argc) return Usage();
    ++i;
    if (flag == "--model") {
      model_path = argv[i];
    } else if (flag == "--batch") {
      batch = std::atoll(argv[i]);
    } else if (flag == "--threads") {
      threads = std::atoi(argv[i]);
    } else if (flag == "--iters") {
      iters = std::atoi(argv[i]);
    } else {
      return Usage();
    }
  }
  if (model_path.empty() || batch < 1 || threads < 1 || iters < 1) return Usage();
  auto model = mp::onnx::ImportModelFile(model_path);
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", std::string(model.status().message()).c_str());
    return 1;
  }
  auto session = mp::exec::Session::Create(
      *std::move(model), {.num_threads = threads, .fuse_qdq = fuse_qdq, .split_batch = !whole});
  if (!session.ok()) {
    std::fprintf(stderr, "%s\n", std::string(session.status().message()).c_str());
    return 1;
  }
  mp::exec::NamedTensors feeds;
  for (const mp::exec::IoInfo& in : (*session)->inputs()) {
    std::vector<int64_t> dims;
    for (const mp::ir::Dim& dim : in.shape.dims()) dims.push_back(dim.known() ? dim.size : batch);
    if (!dims.empty()) dims[0] = batch;
    mp::tensor::Tensor t =
        mp::tensor::Tensor::Zeros(mp::tensor::DType::kFloat32, mp::tensor::Shape(dims));
    float* data = t.mutable_data<float>();
    uint32_t state = 12345;
    for (int64_t e = 0; e < t.num_elements(); ++e) {
      state = state * 1664525u + 1013904223u;
      data[e] = static_cast<float>(state >> 8) / 16777216.0f;
    }
    feeds.emplace_back(in.name, std::move(t));
  }
  std::vector<mp::tensor::Shape> shapes;
  for (const auto& [name, t] : feeds) shapes.push_back(t.shape());
  auto slicing = (*session)->GetBatchSlicing(shapes);
  if (!slicing.ok()) {
    std::fprintf(stderr, "%s\n", std::string(slicing.status().message()).c_str());
    return 1;
  }
  if (bench) return Bench(**session, feeds, iters, slicing->rows.size());
  if (slicing->rows.empty()) {
    std::printf("Run runs the batch whole: %s\n", slicing->whole_reason.c_str());
  } else {
    std::printf(
        "Run slices the batch into %zu slices of %lld rows; these per-node timings run "
        "it whole (--whole compares)\n",
        slicing->rows.size(), static_cast<long long>(slicing->rows.front()));
  }
  std::vector<mp::exec::NodeTiming> timings;
  if (auto warm = (*session)->Run(feeds); !warm.ok()) {
    std::fprintf(stderr, "%s\n", std::string(warm.status().message()).c_str());
    return 1;
  }
  for (int i = 0; i < iters; ++i) {
    if (!(*session)->Run(feeds, {.timings = &timings}).ok()) return 1;
  }
  const size_t steps = timings.size() / static_cast<size_t>(iters);
  std::vector<double> wall(steps, 0.0), cpu(steps, 0.0);
  double total_wall = 0, total_cpu = 0;
  for (size_t i = 0; i < timings.size(); ++i) {
    const double w = static_cast<double>(timings[i].nanos) / 1e6 / iters;
    const double c = static_cast<double>(timings[i].cpu_nanos) / 1e6 / iters;
    wall[i % steps] += w;
    cpu[i % steps] += c;
    total_wall += w;
    total_cpu += c;
  }
  std::map<std::string, std::pair<double, double>> by_type;
  std::printf("%-50s %-18s %9s %9s %6s\n", "node", "op", "wall ms", "cpu ms", "cpu %");
  for (size_t s = 0; s < steps; ++s) {
    by_type[timings[s].op_type].first += wall[s];
    by_type[timings[s].op_type].second += cpu[s];
    std::printf("%-50s %-18s %9.3f %9.3f %5.1f%%\n", timings[s].node.c_str(),
                timings[s].op_type.c_str(), wall[s], cpu[s], 100.0 * cpu[s] / total_cpu);
  }
  std::printf("\n%-18s %9s %9s %6s\n", "op", "wall ms", "cpu ms", "cpu %");
  for (const auto& [type, v] : by_type) {
    std::printf("%-18s %9.3f %9.3f %5.1f%%\n", type.c_str(), v.first, v.second,
                100.0 * v.second / total_cpu);
  }
  std::printf("%-18s %9.3f %9.3f\n", "total", total_wall, total_cpu);
  return 0;
}
