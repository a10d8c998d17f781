// The fixture models exported by PyTorch (tests/fixtures/models, README there) must give the
// outputs ONNX Runtime and PyTorch give on the same 64 Fashion-MNIST test images, within
// 1e-4, and the same bytes for any thread count.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "workers/engine/data/npy.h"
#include "workers/engine/exec/session.h"
#include "workers/engine/onnx/onnx.h"

namespace mp {
namespace {

using tensor::Shape;
using tensor::Tensor;

std::string Fixture(const std::string& rel) {
  const char* root = std::getenv("MP_SOURCE_DIR");
  return std::string(root != nullptr ? root : ".") + "/tests/fixtures/" + rel;
}

Tensor Load(const std::string& rel) {
  auto t = data::ReadNpy(Fixture(rel));
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : Tensor();
}

// Runs `model` on the 64 images (reshaped to the model's input rank) with `threads`.
Tensor RunModel(const std::string& model, int threads) {
  auto imported = onnx::ImportModelFile(Fixture("models/" + model + ".onnx"));
  EXPECT_TRUE(imported.ok()) << imported.status();
  if (!imported.ok()) return {};
  auto session = exec::Session::Create(*std::move(imported), {.num_threads = threads});
  EXPECT_TRUE(session.ok()) << model << ": " << session.status();
  if (!session.ok()) return {};
  Tensor images = Load("data/images_64.npy");  // float32 [64, 1, 28, 28]
  const exec::IoInfo& input = (*session)->inputs().at(0);
  if (input.shape.has_rank() && input.shape.rank() == 2) images = images.Reshaped(Shape{64, 784});
  auto outs = (*session)->Run({{input.name, images}});
  EXPECT_TRUE(outs.ok()) << model << ": " << outs.status();
  return outs.ok() ? (*outs)[0].second : Tensor();
}

void ExpectClose(const Tensor& ours, const Tensor& ref, const std::string& what) {
  ASSERT_TRUE(ours.defined()) << what;
  ASSERT_EQ(ours.shape(), ref.shape()) << what;
  const float* a = ours.data<float>();
  const float* b = ref.data<float>();
  double worst = 0;
  for (int64_t i = 0; i < ours.num_elements(); ++i) {
    const double err = std::fabs(double(a[i]) - double(b[i]));
    worst = std::max(worst, err / std::max(1.0, std::fabs(double(b[i]))));
  }
  EXPECT_LE(worst, 1e-4) << what << ": worst error " << worst;
}

class FixtureParityTest : public ::testing::TestWithParam<std::string> {};

TEST_P(FixtureParityTest, MatchesOnnxRuntimeAndPyTorch) {
  const std::string model = GetParam();
  Tensor ours = RunModel(model, 1);
  ExpectClose(ours, Load("data/" + model + "_ort_out.npy"), model + " vs ONNX Runtime");
  ExpectClose(ours, Load("data/" + model + "_torch_out.npy"), model + " vs PyTorch");
}

TEST_P(FixtureParityTest, SameBytesForAnyThreadCount) {
  const std::string model = GetParam();
  Tensor one = RunModel(model, 1);
  Tensor two = RunModel(model, 2);
  Tensor three = RunModel(model, 3);
  ASSERT_TRUE(one.defined() && two.defined() && three.defined());
  EXPECT_EQ(std::memcmp(one.raw_data(), two.raw_data(), one.byte_size()), 0) << model;
  EXPECT_EQ(std::memcmp(one.raw_data(), three.raw_data(), one.byte_size()), 0) << model;
}

// 256 images (the 64 four times) run in batch slices where the model allows (session.h):
// every block of 64 must still match ONNX Runtime, on 2 threads.
TEST_P(FixtureParityTest, SlicedBatchOf256MatchesOnnxRuntime) {
  const std::string model = GetParam();
  auto imported = onnx::ImportModelFile(Fixture("models/" + model + ".onnx"));
  ASSERT_TRUE(imported.ok()) << imported.status();
  auto session = exec::Session::Create(*std::move(imported), {.num_threads = 2});
  ASSERT_TRUE(session.ok()) << session.status();
  const Tensor images = Load("data/images_64.npy");
  const exec::IoInfo& input = (*session)->inputs().at(0);
  const bool flat = input.shape.has_rank() && input.shape.rank() == 2;
  Tensor batch =
      Tensor::Zeros(tensor::DType::kFloat32, flat ? Shape{256, 784} : Shape{256, 1, 28, 28});
  for (int copy = 0; copy < 4; ++copy) {
    std::memcpy(static_cast<char*>(batch.mutable_raw_data()) + copy * images.byte_size(),
                images.raw_data(), images.byte_size());
  }
  auto slicing = (*session)->GetBatchSlicing({batch.shape()});
  ASSERT_TRUE(slicing.ok()) << slicing.status();
  if (model == "resnet" || model == "mobilenet") {
    EXPECT_GT(slicing->rows.size(), 1u) << model << " runs whole: " << slicing->whole_reason;
  }
  auto outs = (*session)->Run({{input.name, batch}});
  ASSERT_TRUE(outs.ok()) << outs.status();
  const Tensor& out = (*outs)[0].second;
  const Tensor ref = Load("data/" + model + "_ort_out.npy");
  ASSERT_EQ(out.num_elements(), 4 * ref.num_elements());
  for (int copy = 0; copy < 4; ++copy) {
    const Tensor block = Tensor::View(out, out.dtype(), ref.shape(), copy * ref.byte_size());
    ExpectClose(block, ref, model + " images " + std::to_string(64 * copy) + ".. vs ONNX Runtime");
  }
}

std::string ModelName(const ::testing::TestParamInfo<std::string>& param) { return param.param; }

INSTANTIATE_TEST_SUITE_P(Models, FixtureParityTest,
                         ::testing::Values("mlp", "lenet", "resnet", "mobilenet", "transformer"),
                         ModelName);

}  // namespace
}  // namespace mp
