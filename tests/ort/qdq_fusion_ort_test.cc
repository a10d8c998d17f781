// The fused integer path (SessionOptions::fuse_qdq, exec/qdq_fusion.h) against ONNX Runtime
// on the same QDQ model: ONNX Runtime fuses QDQ Conv / Gemm / MatMul into QLinearConv /
// QGemm / QLinearMatMul and, on this VNNI host, computes them exactly, so the quantized
// outputs must be byte-identical. Runs tests/ort/run_ort.js with node; skipped when node or
// onnxruntime-node is missing.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "common/file_util.h"
#include "gtest/gtest.h"
#include "workers/engine/data/npy.h"
#include "workers/engine/exec/qdq_test_model.h"
#include "workers/engine/exec/session.h"
#include "workers/engine/onnx/onnx.h"

namespace mp {
namespace {

namespace fs = std::filesystem;
using exec::testing::BuildQdqTestModel;
using exec::testing::QdqModelOptions;
using exec::testing::QdqTestInput;

std::string Harness() {
  const char* root = std::getenv("MP_SOURCE_DIR");
  if (root == nullptr) return "";
  const fs::path dir = fs::path(root) / "tests/ort";
  if (!fs::exists(dir / "node_modules/onnxruntime-node")) return "";
  if (std::system("node --version > /dev/null 2>&1") != 0) return "";
  return (dir / "run_ort.js").string();
}

// Runs our fused session and ONNX Runtime on the model; returns {ours, ort} "yq".
std::pair<tensor::Tensor, tensor::Tensor> RunBoth(const std::string& harness,
                                                  const QdqModelOptions& o, int64_t batch) {
  ScopedTempDir dir;
  EXPECT_TRUE(dir.Create("mp-qdq-ort-").ok());
  const std::string model_path = dir.path() + "/m.onnx", x_path = dir.path() + "/x.npy";
  const ir::Model model = BuildQdqTestModel(o);
  EXPECT_TRUE(onnx::ExportModelFile(model, model_path).ok());
  const tensor::Tensor x = QdqTestInput(batch, o.seed + 100);
  EXPECT_TRUE(data::WriteNpy(x_path, x).ok());
  auto session = exec::Session::Create(model, {.fuse_qdq = true});
  EXPECT_TRUE(session.ok()) << session.status();
  if (!session.ok()) return {};
  auto ours = (*session)->Run({{"x", x}});
  EXPECT_TRUE(ours.ok()) << ours.status();
  const std::string cmd = "node '" + harness + "' --model '" + model_path + "' --input x='" +
                          x_path + "' --output-dir '" + dir.path() + "' 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  auto ort = data::ReadNpy(dir.path() + "/yq.npy");
  EXPECT_TRUE(ort.ok()) << ort.status();
  if (!ours.ok() || !ort.ok()) return {};
  return {(*ours)[0].second, *ort};
}

TEST(QdqFusionOrtTest, FusedOutputsEqualOnnxRuntime) {
  const std::string harness = Harness();
  if (harness.empty()) GTEST_SKIP() << "node / onnxruntime-node not available";
  int compared = 0, differing = 0;
  for (uint32_t seed : {1u, 2u, 3u}) {
    for (bool int8_act : {false, true}) {
      const QdqModelOptions o{.seed = seed, .int8_activations = int8_act};
      auto [ours, ort] = RunBoth(harness, o, 16);
      ASSERT_TRUE(ours.defined() && ort.defined());
      ASSERT_EQ(ours.shape(), ort.shape());
      const auto a = ours.span<uint8_t>(), b = ort.span<uint8_t>();
      for (size_t i = 0; i < a.size(); ++i) {
        ++compared;
        if (a[i] != b[i]) {
          ++differing;
          ADD_FAILURE() << "seed " << seed << " int8 " << int8_act << " index " << i << ": ours "
                        << int(a[i]) << ", ONNX Runtime " << int(b[i]);
        }
      }
    }
  }
  std::printf("compared %d quantized outputs with ONNX Runtime, %d differ\n", compared, differing);
}

}  // namespace
}  // namespace mp
