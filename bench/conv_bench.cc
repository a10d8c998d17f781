// mp_bench_conv: single-threaded Conv2d per layer vs ONNX Runtime on the same single-Conv
// model, in one run.
//
// For each layer (LeNet, Fashion-MNIST ResNet, ResNet-18/50 and MobileNet shapes) prints our
// best time per call on the best compiled Highway target and with AVX2 forced (what Zen3
// users run), with the weights prepacked once as the exec ops do. When node and
// tests/ort/node_modules exist, the layers are also written as ONNX models (bench/
// conv_models.py with /usr/bin/python3, into a temp dir), timed with ONNX Runtime (bench/
// conv_ort.js, one thread, best of 200) and the ratio ort_us / our_us is printed (> 1: we are
// faster). Our time is the best of several >= 20 ms batches; cpu_us is process CPU time per
// call in the best batch, which is robust to preemption on a loaded machine.
//   mp_bench_conv [--quick] [--no-ort] [--only SUBSTRING]
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/file_util.h"
#include "common/str_cat.h"
#include "hwy/targets.h"
#include "workers/engine/kernels/conv.h"

namespace {

using mp::kernels::Conv2dParams;

struct Layer {
  const char* name;
  int64_t n, cin, h, w, cout, k, stride, pad, group;
};

constexpr Layer kLayers[] = {
    {"lenet1_b64", 64, 1, 28, 28, 6, 5, 1, 0, 1},
    {"lenet2_b64", 64, 6, 12, 12, 16, 5, 1, 0, 1},
    {"fm_res32", 1, 32, 28, 28, 32, 3, 1, 1, 1},
    {"fm_res32_b32", 32, 32, 28, 28, 32, 3, 1, 1, 1},
    {"fm_res64", 1, 64, 14, 14, 64, 3, 1, 1, 1},
    {"r18_stem", 1, 3, 224, 224, 64, 7, 2, 3, 1},
    {"r18_c2", 1, 64, 56, 56, 64, 3, 1, 1, 1},
    {"r18_c5", 1, 512, 7, 7, 512, 3, 1, 1, 1},
    {"r50_1x1", 1, 256, 56, 56, 64, 1, 1, 0, 1},
    {"r18_ds", 1, 128, 28, 28, 256, 1, 2, 0, 1},
    {"dw3x3", 1, 128, 56, 56, 128, 3, 1, 1, 128},
    {"dw3x3s2", 1, 128, 56, 56, 128, 3, 2, 1, 128},
    // The fixture models' layers at batch 256 (bench/model_bench.py's large batch).
    {"lenet1_b256", 256, 1, 28, 28, 6, 5, 1, 2, 1},
    {"lenet2_b256", 256, 6, 14, 14, 16, 5, 1, 0, 1},
    {"res16_b256", 256, 16, 28, 28, 16, 3, 1, 1, 1},
    {"res32s2_b256", 256, 16, 28, 28, 32, 3, 2, 1, 1},
    {"res32_b256", 256, 32, 14, 14, 32, 3, 1, 1, 1},
    {"res64_b256", 256, 64, 7, 7, 64, 3, 1, 1, 1},
    {"res_ds32_b256", 256, 16, 28, 28, 32, 1, 2, 0, 1},
    {"res_ds64_b256", 256, 32, 14, 14, 64, 1, 2, 0, 1},
    {"mb_pw_b256", 256, 16, 14, 14, 64, 1, 1, 0, 1},
    {"mb_dw_b256", 256, 64, 14, 14, 64, 3, 1, 1, 64},
    {"mb_dws2_b256", 256, 64, 14, 14, 64, 3, 2, 1, 64},
    {"mb_dw7_b256", 256, 96, 7, 7, 96, 3, 1, 1, 96},
    {"mb_dw7s2_b256", 256, 96, 7, 7, 96, 3, 2, 1, 96},
    {"mb_dw4_b256", 256, 128, 4, 4, 128, 3, 1, 1, 128},
};

double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

Conv2dParams Params(const Layer& l) {
  Conv2dParams p;
  p.batch = l.n;
  p.in_channels = l.cin;
  p.in_h = l.h;
  p.in_w = l.w;
  p.out_channels = l.cout;
  p.kernel_h = p.kernel_w = l.k;
  p.stride_h = p.stride_w = l.stride;
  p.group = l.group;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = l.pad;
  p.out_h = mp::kernels::ConvOutputSize(l.h, l.k, l.stride, l.pad, l.pad, 1);
  p.out_w = mp::kernels::ConvOutputSize(l.w, l.k, l.stride, l.pad, l.pad, 1);
  return p;
}

struct Timing {
  double wall_us = 1e18, cpu_us = 1e18;
};

// Best-of-`batches` time per call of Conv2d on the currently selected target.
Timing TimeLayer(const Layer& l, int batches) {
  const Conv2dParams p = Params(l);
  std::vector<float> x(l.n * l.cin * l.h * l.w), w(l.cout * (l.cin / l.group) * l.k * l.k),
      b(l.cout, 0.0f), y(l.n * l.cout * p.out_h * p.out_w);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 13) * 0.1f - 0.6f;
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i % 7) * 0.01f - 0.03f;
  const std::unique_ptr<mp::kernels::PackedConvWeights> packed =
      mp::kernels::PackedConvWeights::Pack(p, w.data());
  auto call = [&] { Conv2d(p, x.data(), w.data(), b.data(), y.data(), nullptr, packed.get()); };
  call();
  int reps = 1;
  for (;;) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; ++i) call();
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() >= 0.02) {
      break;
    }
    reps *= 2;
  }
  Timing best;
  for (int r = 0; r < batches; ++r) {
    const double c0 = CpuSeconds();
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; ++i) call();
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best.wall_us = std::min(best.wall_us, wall * 1e6 / reps);
    best.cpu_us = std::min(best.cpu_us, (CpuSeconds() - c0) * 1e6 / reps);
  }
  return best;
}

// ORT's best time per layer name, or an empty map when node / onnxruntime-node is missing.
std::map<std::string, double> TimeOrt(const char* only) {
  std::map<std::string, double> result;
  const char* src = std::getenv("MP_SOURCE_DIR");
  const std::string root = src ? src : MP_SOURCE_DIR_DEFAULT;
  const std::string ort_dir = root + "/tests/ort/node_modules/onnxruntime-node";
  if (std::system(mp::StrCat("test -d ", ort_dir, " && command -v node >/dev/null").c_str()) != 0) {
    std::printf("(ORT comparison skipped: node or %s missing)\n", ort_dir.c_str());
    return result;
  }
  mp::ScopedTempDir dir;
  if (!dir.Create("mp-conv-bench-").ok()) return result;
  std::string specs, shapes;
  for (const Layer& l : kLayers) {
    if (std::strstr(l.name, only) == nullptr) continue;
    specs += mp::StrCat(" ", l.name, ",", l.n, ",", l.cin, ",", l.h, ",", l.w, ",", l.cout, ",",
                        l.k, ",", l.stride, ",", l.pad, ",", l.group);
    shapes += mp::StrCat(" ", l.name, ":", l.n, ",", l.cin, ",", l.h, ",", l.w);
  }
  const std::string gen =
      mp::StrCat("/usr/bin/python3 ", root, "/bench/conv_models.py ", dir.path(), specs);
  if (std::system(gen.c_str()) != 0) {
    std::printf("(ORT comparison skipped: model generation failed)\n");
    return result;
  }
  const std::string run =
      mp::StrCat("node ", root, "/bench/conv_ort.js ", ort_dir, " ", dir.path(), shapes);
  FILE* out = popen(run.c_str(), "r");
  if (out == nullptr) return result;
  char name[128];
  double us;
  while (std::fscanf(out, "%127s %lf", name, &us) == 2) result[name] = us;
  pclose(out);
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false, ort = true;
  const char* only = "";  // layers whose name contains it
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    if (std::strcmp(argv[i], "--no-ort") == 0) ort = false;
    if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc) only = argv[++i];
  }
  const int batches = quick ? 3 : 7;
  const std::map<std::string, double> ort_us =
      ort ? TimeOrt(only) : std::map<std::string, double>{};
  const int64_t best_target = hwy::SupportedTargets();
  const std::vector<int64_t> targets = hwy::SupportedAndGeneratedTargets();
  const bool has_avx2 = std::find(targets.begin(), targets.end(), HWY_AVX2) != targets.end();
  std::printf("%-13s %9s %9s %7s | %9s %9s %7s | %9s  (us per call, 1 thread)\n", "layer",
              hwy::TargetName(static_cast<int64_t>(1) << hwy::Num0BitsBelowLS1Bit_Nonzero64(
                                  static_cast<uint64_t>(best_target))),
              "cpu", "ort/us", "AVX2", "cpu", "ort/us", "ORT");
  for (const Layer& l : kLayers) {
    if (std::strstr(l.name, only) == nullptr) continue;
    hwy::SetSupportedTargetsForTest(0);
    const Timing best = TimeLayer(l, batches);
    Timing avx2;
    if (has_avx2) {
      hwy::SetSupportedTargetsForTest(HWY_AVX2);
      avx2 = TimeLayer(l, batches);
      hwy::SetSupportedTargetsForTest(0);
    }
    const auto it = ort_us.find(l.name);
    const double o = it == ort_us.end() ? 0.0 : it->second;
    std::printf("%-13s %9.1f %9.1f %7.2f | %9.1f %9.1f %7.2f | %9.1f\n", l.name, best.wall_us,
                best.cpu_us, o > 0 ? o / best.wall_us : 0.0, has_avx2 ? avx2.wall_us : 0.0,
                has_avx2 ? avx2.cpu_us : 0.0, o > 0 && has_avx2 ? o / avx2.wall_us : 0.0, o);
  }
  return 0;
}
