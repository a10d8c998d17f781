// mp_bench_qgemm: our exact integer GEMM (kernels::QGemm, uint8 x int8, B pre-packed as for
// weights) vs our fp32 Sgemm (B pre-packed too), one thread, M = N = K in {256, 1024}.
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

void Measure(int64_t size, int batches, std::vector<Contender>* cs) {
  const double ops =
      2.0 * static_cast<double>(size) * static_cast<double>(size) * static_cast<double>(size);
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
  std::printf("%6s %12s %12s %12s %12s %12s\n", "size", "u8s8_best", "u8s8_avx2", "fp32",
              "best/fp32", "avx2/fp32");
  for (int64_t size : {int64_t{256}, int64_t{1024}}) {
    std::mt19937 gen(1);
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_real_distribution<float> real(-1.0f, 1.0f);
    const size_t nn = static_cast<size_t>(size * size);
    std::vector<uint8_t> a(nn), b(nn);
    for (uint8_t& v : a) v = static_cast<uint8_t>(byte(gen));
    for (uint8_t& v : b) v = static_cast<uint8_t>(byte(gen));
    std::vector<float> af(nn), bf(nn), cf(nn);
    for (float& v : af) v = real(gen);
    for (float& v : bf) v = real(gen);
    std::vector<int32_t> c(nn);
    const int32_t zb = 3;
    const auto qb =
        mp::kernels::PackedQB::Pack(false, size, size, b.data(), QType::kInt8, size, &zb, false);
    const auto fb = mp::kernels::PackedB::Pack(false, size, size, bf.data(), size);
    if (size == 256) {
      std::vector<int32_t> want(nn);
      mp::kernels::QGemm(size, a.data(), QType::kUint8, size, 128, *qb, c.data(), size);
      mp::kernels::QGemmReference(false, size, size, size, a.data(), QType::kUint8, size, 128,
                                  b.data(), QType::kInt8, size, &zb, false, want.data(), size);
      if (c != want) {
        std::printf("MISMATCH: QGemm differs from QGemmReference\n");
        return 1;
      }
    }
    auto qcall = [&] {
      mp::kernels::QGemm(size, a.data(), QType::kUint8, size, 128, *qb, c.data(), size);
    };
    auto fcall = [&] {
      mp::kernels::SgemmPacked(false, size, 1.0f, af.data(), size, *fb, 0.0f, cf.data(), size);
    };
    std::vector<Contender> cs = {
        {"u8s8_best", 0, qcall}, {"u8s8_avx2", HWY_AVX2, qcall}, {"fp32", 0, fcall}};
    Measure(size, batches, &cs);
    std::printf("%6lld %12.1f %12.1f %12.1f %12.2f %12.2f\n", static_cast<long long>(size),
                cs[0].best, cs[1].best, cs[2].best, cs[0].best / cs[2].best,
                cs[1].best / cs[2].best);
  }
  return 0;
}
