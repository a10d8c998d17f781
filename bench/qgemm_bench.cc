// mp_bench_qgemm: our exact integer GEMM (kernels::QGemm, uint8 x int8, B pre-packed as for
// weights) vs our fp32 Sgemm (B pre-packed too), one thread, M = N = K in {256, 1024}, and
// LeNet conv2's im2col GEMM at batch 64 (M = 64*144 pixels, N = 16, K = 150: A's packing
// weighs as much as the products there).
//
// Prints GOP/s (2*M*N*K / time) for QGemm on the best target (AVX3_DL = VNNI here), QGemm
// with AVX2 forced (the int16 vpmaddwd path every non-VNNI x86 runs), SgemmPacked on its best
// target, and the ratios int8 / fp32. Each number is the best of several alternating timed
// batches (>= 50 ms each), per CPU-second of the process, so background load hits every
// contender alike. Checks QGemm against QGemmReference on the 256 case.
//   mp_bench_qgemm [--quick]
// Name AVX3_DL in the output like qgemm.cc, which compiles it for VNNI.
#ifndef HWY_WANT_AVX3_DL
#define HWY_WANT_AVX3_DL
#endif

#include <time.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "hwy/targets.h"
#include "workers/engine/kernels/gemm.h"
#include "workers/engine/kernels/qgemm.h"

namespace {

using mp::kernels::QType;

double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

struct Contender {
  const char* name;
  int64_t target;  // 0 = normal dispatch
  std::function<void()> call;
  int reps = 1;
  double best = 0.0;  // GOP per CPU-second
};

void Measure(double ops, int batches, std::vector<Contender>* cs) {
  for (Contender& c : *cs) {
    hwy::SetSupportedTargetsForTest(c.target);
    c.call();
    for (;;) {
      const double t0 = CpuSeconds();
      for (int i = 0; i < c.reps; ++i) c.call();
      if (CpuSeconds() - t0 >= 0.05) break;
      c.reps *= 2;
    }
  }
  for (int b = 0; b < batches; ++b) {
    for (Contender& c : *cs) {
      hwy::SetSupportedTargetsForTest(c.target);
      const double t0 = CpuSeconds();
      for (int i = 0; i < c.reps; ++i) c.call();
      const double dt = CpuSeconds() - t0;
      c.best = std::max(c.best, ops * c.reps / dt * 1e-9);
    }
  }
  hwy::SetSupportedTargetsForTest(0);
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int batches = quick ? 2 : 7;
  std::printf("one thread; best target %s; GOP/s per CPU-second, best of %d batches\n",
              hwy::TargetName(hwy::SupportedAndGeneratedTargets()[0]), batches);
  std::printf("%14s %12s %12s %12s %12s %12s\n", "m x n x k", "u8s8_best", "u8s8_avx2", "fp32",
              "best/fp32", "avx2/fp32");
  struct Shape {
    int64_t m, n, k;
  };
  for (const Shape& sh : {Shape{256, 256, 256}, Shape{1024, 1024, 1024}, Shape{9216, 16, 150}}) {
    const int64_t m = sh.m, n = sh.n, k = sh.k;
    std::mt19937 gen(1);
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_real_distribution<float> real(-1.0f, 1.0f);
    const size_t mk = static_cast<size_t>(m * k), kn = static_cast<size_t>(k * n);
    const size_t mn = static_cast<size_t>(m * n);
    std::vector<uint8_t> a(mk), b(kn);
    for (uint8_t& v : a) v = static_cast<uint8_t>(byte(gen));
    for (uint8_t& v : b) v = static_cast<uint8_t>(byte(gen));
    std::vector<float> af(mk), bf(kn), cf(mn);
    for (float& v : af) v = real(gen);
    for (float& v : bf) v = real(gen);
    std::vector<int32_t> c(mn);
    const int32_t zb = 3;
    const auto qb = mp::kernels::PackedQB::Pack(false, k, n, b.data(), QType::kInt8, n, &zb, false);
    const auto fb = mp::kernels::PackedB::Pack(false, k, n, bf.data(), n);
    if (m != 1024) {
      std::vector<int32_t> want(mn);
      mp::kernels::QGemm(m, a.data(), QType::kUint8, k, 128, *qb, c.data(), n);
      mp::kernels::QGemmReference(false, m, n, k, a.data(), QType::kUint8, k, 128, b.data(),
                                  QType::kInt8, n, &zb, false, want.data(), n);
      if (c != want) {
        std::printf("MISMATCH: QGemm differs from QGemmReference\n");
        return 1;
      }
    }
    auto qcall = [&] { mp::kernels::QGemm(m, a.data(), QType::kUint8, k, 128, *qb, c.data(), n); };
    auto fcall = [&] {
      mp::kernels::SgemmPacked(false, m, 1.0f, af.data(), k, *fb, 0.0f, cf.data(), n);
    };
    std::vector<Contender> cs = {
        {"u8s8_best", 0, qcall}, {"u8s8_avx2", HWY_AVX2, qcall}, {"fp32", 0, fcall}};
    Measure(2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k), batches,
            &cs);
    const std::string shape = std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k);
    std::printf("%14s %12.1f %12.1f %12.1f %12.2f %12.2f\n", shape.c_str(), cs[0].best, cs[1].best,
                cs[2].best, cs[0].best / cs[2].best, cs[1].best / cs[2].best);
  }
  return 0;
}
