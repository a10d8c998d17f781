// The static QDQ quantizer, dynamic and weight-only quantization on small models built in
// code, checked structurally and by running them through exec against fp32.
#include <cmath>
#include <random>

#include "gtest/gtest.h"
#include "workers/engine/exec/exec_test_util.h"
#include "workers/engine/onnx/onnx.h"
#include "workers/engine/quant/quant.h"

namespace mp::quant {
namespace {

using exec::testing::ModelBuilder;
using tensor::DType;
using tensor::Shape;
using tensor::Tensor;

Tensor Random(Shape shape, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(static_cast<size_t>(shape.num_elements()));
  for (float& x : v) x = u(rng);
  return Tensor::FromVector<float>(shape, v);
}

// x [N,1,6,6] -> Conv(2x1x3x3, pad 1) -> Relu -> MaxPool 2 -> Flatten -> Gemm(3x18, transB)
ir::Model SmallCnn(int64_t opset = 13) {
  return ModelBuilder(opset)
      .Input("x", DType::kFloat32, {-1, 1, 6, 6})
      .Const("w", Random(Shape({2, 1, 3, 3}), 1))
      .Const("b", Random(Shape({2}), 2))
      .Const("fw", Random(Shape({3, 18}), 3))
      .Const("fb", Random(Shape({3}), 4))
      .Node("Conv", {"x", "w", "b"}, {"c"},
            {ir::Attribute("pads", std::vector<int64_t>{1, 1, 1, 1})}, "conv")
      .Node("Relu", {"c"}, {"r"}, {}, "relu")
      .Node("MaxPool", {"r"}, {"p"},
            {ir::Attribute("kernel_shape", std::vector<int64_t>{2, 2}),
             ir::Attribute("strides", std::vector<int64_t>{2, 2})},
            "pool")
      .Node("Flatten", {"p"}, {"f"}, {}, "flatten")
      .Node("Gemm", {"f", "fw", "fb"}, {"y"}, {ir::Attribute("transB", int64_t{1})}, "fc")
      .Output("y")
      .Build();
}

data::Dataset Samples(int64_t n, uint32_t seed) {
  return *data::Dataset::Make(Random(Shape({n, 1, 6, 6}), seed, 0.0f, 1.0f));
}

RangeMap Calibrated(const ir::Model& model, CalibrationMethod method = CalibrationMethod::kMinMax) {
  auto session = exec::Session::Create(model);
  EXPECT_TRUE(session.ok()) << session.status();
  auto cal =
      Calibrate(**session, Samples(64, 9), {.calibrator = {.method = method}, .batch_size = 10});
  EXPECT_TRUE(cal.ok()) << cal.status();
  return cal->ranges;
}

int Count(const ir::Model& m, std::string_view op) {
  int n = 0;
  for (const ir::Node& node : m.graph.nodes()) n += node.op_type() == op;
  return n;
}

const ir::Node* Producer(const ir::Model& m, std::string_view value) {
  const ir::ValueId v = m.graph.FindValue(value);
  if (!v.valid() || !m.graph.value(v).producer().valid()) return nullptr;
  return &m.graph.node(m.graph.value(v).producer());
}

// Max |a - b| of the first output on the same samples, relative to max |a|.
double RelativeError(const ir::Model& a, const ir::Model& b) {
  auto sa = exec::Session::Create(a);
  auto sb = exec::Session::Create(b);
  EXPECT_TRUE(sa.ok()) << sa.status();
  EXPECT_TRUE(sb.ok()) << sb.status();
  const Tensor x = Samples(16, 11).samples();
  auto ya = (*sa)->Run({{"x", x}});
  auto yb = (*sb)->Run({{"x", x}});
  EXPECT_TRUE(ya.ok() && yb.ok()) << yb.status();
  double diff = 0, scale = 0;
  for (int64_t i = 0; i < (*ya)[0].second.num_elements(); ++i) {
    const float u = (*ya)[0].second.data<float>()[i], v = (*yb)[0].second.data<float>()[i];
    diff = std::max(diff, double(std::fabs(u - v)));
    scale = std::max(scale, double(std::fabs(u)));
  }
  return diff / scale;
}

TEST(CalibrateTest, ObservesInputAndEveryFloatActivation) {
  const RangeMap ranges = Calibrated(SmallCnn());
  ASSERT_TRUE(ranges.contains("x"));
  EXPECT_GE(ranges.at("x").min, 0.0f);
  EXPECT_LE(ranges.at("x").max, 1.0f);
  for (const char* name : {"c", "r", "p", "f", "y"}) EXPECT_TRUE(ranges.contains(name)) << name;
  EXPECT_EQ(ranges.at("r").min, 0.0f);
}

TEST(CalibrateTest, RejectsEmptyData) {
  auto session = exec::Session::Create(SmallCnn());
  ASSERT_TRUE(session.ok());
  auto empty = data::Dataset::Make(Tensor::Zeros(DType::kFloat32, Shape({0, 1, 6, 6})));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(Calibrate(**session, *empty, {}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(QuantizerTest, WritesQdqLikeOnnxRuntime) {
  const ir::Model model = SmallCnn();
  const RangeMap ranges = Calibrated(model);
  const std::vector<Layer> layers = FindLayers(model, ranges);
  ASSERT_EQ(layers.size(), 2u);
  EXPECT_EQ(layers[0].name, "conv");
  EXPECT_EQ(layers[1].name, "fc");
  auto q = QuantizeStatic(model, ranges, {});
  ASSERT_TRUE(q.ok()) << q.status();
  const ir::Model& m = q->model;
  EXPECT_EQ(q->fused_activations, std::vector<std::string>{"relu"});
  EXPECT_EQ(Count(m, "Relu"), 0);
  // x, conv output (carrying relu's parameters), pool output, flatten output; y stays float.
  EXPECT_EQ(Count(m, "QuantizeLinear"), 4);
  EXPECT_EQ(Count(m, "DequantizeLinear"), 4 + 4);  // + 2 weights + 2 biases
  const ir::Node* wdq = Producer(m, "w_dequantized");
  ASSERT_NE(wdq, nullptr);
  EXPECT_EQ(*wdq->GetInt("axis"), 0);
  const ir::Value& wq = m.graph.value(wdq->input(0));
  EXPECT_EQ(wq.initializer().dtype(), DType::kInt8);
  EXPECT_EQ(m.graph.value(wdq->input(1)).initializer().num_elements(), 2);
  const ir::Node* bdq = Producer(m, "b_dequantized");
  ASSERT_NE(bdq, nullptr);
  EXPECT_EQ(m.graph.value(bdq->input(0)).initializer().dtype(), DType::kInt32);
  // Bias scale = input scale * weight scale, per channel.
  const float xs = m.graph.value(m.graph.FindValue("x_scale")).initializer().data<float>()[0];
  const Tensor& ws = m.graph.value(wdq->input(1)).initializer();
  const Tensor& bs = m.graph.value(bdq->input(1)).initializer();
  EXPECT_EQ(bs.data<float>()[1], xs * ws.data<float>()[1]);
  EXPECT_EQ(*Producer(m, "fw_dequantized")->GetInt("axis"), 0);  // transB: N is axis 0
  // MaxPool and Flatten carry the same parameters as their input.
  const float cs = m.graph.value(m.graph.FindValue("c_scale")).initializer().data<float>()[0];
  EXPECT_EQ(m.graph.value(m.graph.FindValue("p_scale")).initializer().data<float>()[0], cs);
  EXPECT_EQ(m.graph.value(m.graph.FindValue("f_scale")).initializer().data<float>()[0], cs);
  EXPECT_EQ(m.graph.value(m.graph.FindValue("c_zero_point")).initializer().data<uint8_t>()[0], 0);
  EXPECT_LT(RelativeError(model, m), 0.05);
  // The result is valid ONNX for our importer (and, by the tests/ptq test, ONNX Runtime).
  auto bytes = onnx::ExportModel(m);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_TRUE(onnx::ImportModel(*bytes).ok());
}

TEST(QuantizerTest, ExcludeAndOnlySelectLayers) {
  const ir::Model model = SmallCnn();
  const RangeMap ranges = Calibrated(model);
  auto q = QuantizeStatic(model, ranges, {.exclude = {"conv"}});
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->layers, std::vector<std::string>{"fc"});
  EXPECT_EQ(Count(q->model, "Relu"), 1);  // not fused: conv is fp32
  EXPECT_EQ(q->model.graph.FindValue("w_quantized"), ir::kNoValue);
  EXPECT_EQ(Count(q->model, "QuantizeLinear"), 1);  // fc's input only
  auto only = QuantizeStatic(model, ranges, {.only = absl::flat_hash_set<std::string>{"conv"}});
  ASSERT_TRUE(only.ok());
  EXPECT_EQ(only->layers, std::vector<std::string>{"conv"});
  EXPECT_EQ(only->model.graph.FindValue("fw_quantized"), ir::kNoValue);
  auto none = QuantizeStatic(model, ranges, {.exclude = {"conv", "fc"}});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(Count(none->model, "QuantizeLinear"), 0);
}

TEST(QuantizerTest, Int8SymmetricKeepsRelu) {
  const ir::Model model = SmallCnn();
  const RangeMap ranges = Calibrated(model);
  auto q = QuantizeStatic(model, ranges, {.activations = ActivationScheme::kInt8Symmetric});
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_TRUE(q->fused_activations.empty());
  EXPECT_EQ(Count(q->model, "Relu"), 1);
  EXPECT_LT(RelativeError(model, q->model), 0.05);
}

TEST(QuantizerTest, PerTensorBelowOpset13AndErrors) {
  const ir::Model model = SmallCnn(11);
  const RangeMap ranges = Calibrated(model);
  auto q = QuantizeStatic(model, ranges, {});
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_FALSE(Producer(q->model, "w_dequantized")->HasAttribute("axis"));
  EXPECT_FALSE(q->notes.empty());
  // Already quantized.
  auto again = QuantizeStatic(q->model, ranges, {});
  EXPECT_EQ(again.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(std::string(again.status().message()).find("already quantized"), std::string::npos);
  // No QuantizeLinear before opset 10.
  ir::Model old = SmallCnn(9);
  EXPECT_EQ(QuantizeStatic(old, ranges, {}).status().code(), absl::StatusCode::kUnimplemented);
}

TEST(QuantizerTest, MlpWithNoLayersFindsNone) {
  ir::Model m = ModelBuilder(13)
                    .Input("x", DType::kFloat32, {-1, 4})
                    .Node("Relu", {"x"}, {"y"})
                    .Output("y")
                    .Build();
  EXPECT_TRUE(FindLayers(m, Calibrated(SmallCnn())).empty());
}

TEST(DynamicTest, MatMulIntegerForGemm) {
  const ir::Model model = SmallCnn();
  auto q = QuantizeDynamic(model, {});
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->layers, std::vector<std::string>{"fc"});
  EXPECT_EQ(Count(q->model, "DynamicQuantizeLinear"), 1);
  EXPECT_EQ(Count(q->model, "MatMulInteger"), 1);
  EXPECT_EQ(Count(q->model, "Gemm"), 0);
  EXPECT_EQ(Count(q->model, "Conv"), 1);
  EXPECT_LT(RelativeError(model, q->model), 0.05);
}

TEST(WeightOnlyTest, Fp16AndBf16Weights) {
  const ir::Model model = SmallCnn();
  for (DType t : {DType::kFloat16, DType::kBFloat16}) {
    auto q = ConvertWeights(model, t);
    ASSERT_TRUE(q.ok()) << q.status();
    EXPECT_EQ(Count(q->model, "Cast"), 4);
    EXPECT_EQ(q->layers.size(), 2u);
    EXPECT_LT(RelativeError(model, q->model), t == DType::kFloat16 ? 1e-3 : 2e-2);
  }
  EXPECT_EQ(ConvertWeights(SmallCnn(11), DType::kBFloat16).status().code(),
            absl::StatusCode::kUnimplemented);
}

// Head(n) is the reference of the first n rows, as ptq uses it for its sensitivity subset.
TEST(ReferenceTest, HeadIsTheReferenceOfTake) {
  auto session = exec::Session::Create(SmallCnn());
  ASSERT_TRUE(session.ok()) << session.status();
  const data::Dataset all = Samples(30, 5);
  auto full = ComputeReference(**session, all, 10);
  ASSERT_TRUE(full.ok()) << full.status();
  auto first = all.Take(20);
  ASSERT_TRUE(first.ok());
  auto part = ComputeReference(**session, *first, 10);
  ASSERT_TRUE(part.ok()) << part.status();
  const Reference head = full->Head(20);
  EXPECT_EQ(head.per_row, part->per_row);
  EXPECT_EQ(head.outputs, part->outputs);
  EXPECT_EQ(head.predictions, part->predictions);
  EXPECT_EQ(full->Head(99).outputs, full->outputs);  // n past the end keeps every row
  EXPECT_EQ(full->Head(99).rows(), 30);
}

}  // namespace
}  // namespace mp::quant
