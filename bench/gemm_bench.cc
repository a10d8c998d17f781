// mp_bench_gemm: Sgemm (best Highway target, and AVX2 forced) vs OpenBLAS cblas_sgemm.
//
// For M = N = K in {64, 256, 1024} and threads in {1, 2} prints GFLOP/s (2*M*N*K / time) of
// each and the ratio ours / OpenBLAS. Each number is the best of several timed batches of
// calls (batches last >= 50 ms, contenders alternate), which filters out noise from other
// processes on the machine. On a loaded machine the wall-clock numbers mostly measure the
// scheduler; the cpu_* ratios (GFLOP per CPU-second, best batch) compare the code itself.
// Also checks that both libraries agree on the result (max relative
// difference).
//   mp_bench_gemm [--quick]
#include <cblas.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <thread>
#include <vector>

#include "hwy/targets.h"
#include "workers/engine/kernels/gemm.h"
#include "workers/engine/kernels/parallel.h"

namespace {

using Clock = std::chrono::steady_clock;

double ProcessCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// One contender: a call to time, and an optional setup run before each of its batches.
struct Contender {
  std::function<void()> call;
  std::function<void()> before = [] {};
  int reps = 1;
  double best_gflops = 0.0;      // wall clock
  double best_cpu_gflops = 0.0;  // per second of process CPU time (robust to preemption)
};

// Times the contenders in alternating batches (each batch lasts >= 50 ms) and keeps each
// one's best GFLOP/s, so a burst of load from other processes hits all of them alike.
void Measure(int64_t size, int batches, std::vector<Contender>* contenders) {
  const double flops = 2.0 * size * size * size;
  for (Contender& c : *contenders) {
    c.before();
    c.call();  // warm up caches, buffers and threads
    for (;;) {
      const auto t0 = Clock::now();
      for (int i = 0; i < c.reps; ++i) c.call();
      if (std::chrono::duration<double>(Clock::now() - t0).count() >= 0.05) break;
      c.reps *= 2;
    }
  }
  for (int b = 0; b < batches; ++b) {
    for (Contender& c : *contenders) {
      c.before();
      const double cpu0 = ProcessCpuSeconds();
      const auto t0 = Clock::now();
      for (int i = 0; i < c.reps; ++i) c.call();
      const double s = std::chrono::duration<double>(Clock::now() - t0).count();
      const double cpu = ProcessCpuSeconds() - cpu0;
      c.best_gflops = std::max(c.best_gflops, flops * c.reps / s * 1e-9);
      c.best_cpu_gflops = std::max(c.best_cpu_gflops, flops * c.reps / cpu * 1e-9);
    }
  }
}

// max |x - y| / max |y|.
double MaxRelDiff(const std::vector<float>& x, const std::vector<float>& y) {
  double diff = 0.0, scale = 1e-30;
  for (size_t i = 0; i < x.size(); ++i) {
    diff = std::max(diff, std::fabs(double{x[i]} - y[i]));
    scale = std::max(scale, std::fabs(double{y[i]}));
  }
  return diff / scale;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int batches = quick ? 3 : 7;
  constexpr int64_t kAvx2 = HWY_AVX2;
  const bool have_avx2 = (hwy::SupportedTargets() & kAvx2) != 0;
  std::printf(
      "OpenBLAS core: %s; Highway best target: %s\n", openblas_get_corename(),
      hwy::TargetName(static_cast<uint32_t>(hwy::SupportedTargets() & -hwy::SupportedTargets())));
  std::printf("GFLOP/s by wall clock; cpu_* columns: ratios of GFLOP/s per CPU-second\n");
  std::printf("%6s %3s %10s %10s %10s %7s %10s %9s %14s %10s\n", "size", "thr", "ours", "ours_avx2",
              "openblas", "ratio", "ratio_avx2", "cpu_ratio", "cpu_ratio_avx2", "maxreldiff");
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (int64_t size : {64, 256, 1024}) {
    const size_t elems = static_cast<size_t>(size * size);
    std::vector<float> a(elems), b(elems), c_ours(elems), c_blas(elems);
    for (float& v : a) v = dist(rng);
    for (float& v : b) v = dist(rng);
    for (int threads : {1, 2}) {
      mp::kernels::ThreadPool pool(threads);
      auto ours = [&] {
        mp::kernels::Sgemm(false, false, size, size, size, 1.0f, a.data(), size, b.data(), size,
                           0.0f, c_ours.data(), size, &pool);
      };
      openblas_set_num_threads(threads);
      auto blas = [&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, size, size, size, 1.0f, a.data(),
                    size, b.data(), size, 0.0f, c_blas.data(), size);
      };
      std::vector<Contender> contenders(3);
      contenders[0].call = ours;
      // OpenBLAS workers keep spinning for a while after a call (stealing the second core
      // from whoever runs next): with two threads, let them go to sleep before each batch.
      auto settle = [threads] {
        if (threads > 1) std::this_thread::sleep_for(std::chrono::milliseconds(150));
      };
      contenders[0].before = [settle] {
        hwy::SetSupportedTargetsForTest(0);
        settle();
      };
      contenders[1].call = ours;
      contenders[1].before = [settle] {
        hwy::SetSupportedTargetsForTest(kAvx2);
        settle();
      };
      contenders[2].before = settle;
      contenders[2].call = blas;
      if (!have_avx2) contenders.erase(contenders.begin() + 1);
      Measure(size, batches, &contenders);
      hwy::SetSupportedTargetsForTest(0);
      const double g_ours = contenders[0].best_gflops;
      const double g_avx2 = have_avx2 ? contenders[1].best_gflops : 0.0;
      const double g_blas = contenders.back().best_gflops;
      const double cpu_ours = contenders[0].best_cpu_gflops;
      const double cpu_avx2 = have_avx2 ? contenders[1].best_cpu_gflops : 0.0;
      const double cpu_blas = contenders.back().best_cpu_gflops;
      std::printf("%6lld %3d %10.1f %10.1f %10.1f %7.2f %10.2f %9.2f %14.2f %10.2e\n",
                  static_cast<long long>(size), threads, g_ours, g_avx2, g_blas, g_ours / g_blas,
                  g_avx2 / g_blas, cpu_ours / cpu_blas, cpu_avx2 / cpu_blas,
                  MaxRelDiff(c_ours, c_blas));
      std::fflush(stdout);
    }
  }
  return 0;
}
