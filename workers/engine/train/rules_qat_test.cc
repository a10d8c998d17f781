// Tests of the fake-quantization rules (rules_qat.cc, math in qat.h): the forward equals the
// quantizer's QuantizeLinear -> DequantizeLinear, the straight-through input gradient and
// weight gradient match their definitions, and the bound gradients match finite differences
// where the function is differentiable (every element clamped: y = (q - zp) * s).
#include <cmath>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "workers/engine/quant/qparams.h"
#include "workers/engine/train/grad_test_util.h"
#include "workers/engine/train/qat.h"

namespace mp::train {
namespace {

using tensor::DType;
using tensor::Shape;
using tensor::Tensor;
using testing::CheckGradients;
using testing::FdOptions;
using testing::Random;

// y = FakeQuantize(x, lo, hi) with lo / hi float32 scalar initializers (trainable).
ir::Model FakeQuantModel(std::vector<int64_t> dims, float lo, float hi, const std::string& scheme,
                         float unit = 1.0f) {
  ir::Model m;
  m.opset_imports = {{"", 17}, {std::string(kQatDomain), 1}};
  ir::Graph& g = m.graph;
  const ir::ValueId x = g.AddValue("x", DType::kFloat32, ir::PartialShape::FromSizes(dims));
  g.AddGraphInput(x);
  const ir::ValueId l = g.AddInitializer("lo", Tensor::FromVector<float>(Shape(), {lo}));
  const ir::ValueId h = g.AddInitializer("hi", Tensor::FromVector<float>(Shape(), {hi}));
  const ir::ValueId y = g.AddValue("y", DType::kFloat32);
  g.AddNode({.name = "fq",
             .op_type = std::string(kFakeQuantizeOp),
             .domain = std::string(kQatDomain),
             .inputs = {x, l, h},
             .outputs = {y},
             .attributes = {ir::Attribute("scheme", scheme), ir::Attribute("unit", unit)}});
  g.AddGraphOutput(y);
  return m;
}

// y = FakeQuantizeWeight(w) * 1 + x (w an initializer of x's shape, so it trains).
ir::Model FakeQuantWeightModel(const Tensor& w, int axis, bool reduce_range) {
  ir::Model m;
  m.opset_imports = {{"", 17}, {std::string(kQatDomain), 1}};
  ir::Graph& g = m.graph;
  const ir::ValueId x = g.AddValue("x", DType::kFloat32, ir::PartialShape::Of(w.shape()));
  g.AddGraphInput(x);
  const ir::ValueId wv = g.AddInitializer("w", w.Clone());
  const ir::ValueId wq = g.AddValue("wq", DType::kFloat32);
  const ir::ValueId y = g.AddValue("y", DType::kFloat32);
  g.AddNode({.name = "fqw",
             .op_type = std::string(kFakeQuantizeWeightOp),
             .domain = std::string(kQatDomain),
             .inputs = {wv},
             .outputs = {wq},
             .attributes = {ir::Attribute("axis", int64_t{axis}),
                            ir::Attribute("reduce_range", int64_t{reduce_range ? 1 : 0})}});
  g.AddNode({.name = "add", .op_type = "Add", .inputs = {wq, x}, .outputs = {y}});
  g.AddGraphOutput(y);
  return m;
}

// Values in [a, b) U [c, d): every element clamped when [a, b) < lo and [c, d) > hi.
Tensor TwoSided(std::vector<int64_t> dims, uint32_t seed, float a, float b, float c, float d) {
  Tensor t = Random(dims, seed, 0.0f, 1.0f);
  float* p = t.mutable_data<float>();
  for (int64_t i = 0; i < t.num_elements(); ++i)
    p[i] = i % 2 == 0 ? a + (b - a) * p[i] : c + (d - c) * p[i];
  return t;
}

TEST(QatRuleTest, ForwardIsQuantizeDequantize) {
  for (const char* scheme : {"uint8_asymmetric", "int8_symmetric"}) {
    SCOPED_TRACE(scheme);
    const float lo = -0.7f, hi = 1.9f;
    auto graph = GradGraph::Create(FakeQuantModel({5, 67}, lo, hi, scheme));
    ASSERT_TRUE(graph.ok()) << graph.status();
    const Tensor x = Random({5, 67}, 3, -1.5f, 2.5f);
    const quant::QParams p =
        quant::ActivationQParams({lo, hi}, *quant::ParseActivationScheme(scheme));
    for (Mode mode : {Mode::kTrain, Mode::kEval}) {
      auto outs = (*graph)->Forward({{"x", x}}, mode);
      ASSERT_TRUE(outs.ok()) << outs.status();
      const float* y = (*outs)[0].second.data<float>();
      for (int64_t i = 0; i < x.num_elements(); ++i) {
        ASSERT_EQ(y[i], quant::FakeQuantize(x.data<float>()[i], p)) << i;
      }
    }
  }
}

TEST(QatRuleTest, InputGradientIsStraightThroughInsideTheRange) {
  for (const char* scheme : {"uint8_asymmetric", "int8_symmetric"}) {
    SCOPED_TRACE(scheme);
    const float lo = -0.7f, hi = 1.9f;
    auto graph = GradGraph::Create(FakeQuantModel({4, 300}, lo, hi, scheme),
                                   {.num_threads = 3, .input_gradients = true});
    ASSERT_TRUE(graph.ok()) << graph.status();
    const Tensor x = Random({4, 300}, 4, -3.0f, 3.0f);
    const Tensor g = Random({4, 300}, 5);
    ASSERT_TRUE((*graph)->Forward({{"x", x}}, Mode::kTrain).ok());
    ASSERT_TRUE((*graph)->Backward(std::vector<Tensor>{g}).ok());
    auto dx = (*graph)->InputGradient("x");
    ASSERT_TRUE(dx.ok()) << dx.status();
    const quant::QParams p =
        quant::ActivationQParams({lo, hi}, *quant::ParseActivationScheme(scheme));
    int inside = 0, outside = 0;
    for (int64_t i = 0; i < x.num_elements(); ++i) {
      const float v = x.data<float>()[i];
      const bool in = v >= p.representable_min() && v <= p.representable_max();
      (in ? inside : outside) += 1;
      ASSERT_EQ(dx->data<float>()[i], in ? g.data<float>()[i] : 0.0f) << i << " x=" << v;
    }
    EXPECT_GT(inside, 100);
    EXPECT_GT(outside, 100);
  }
}

TEST(QatRuleTest, BoundGradientsMatchFiniteDifferencesWhereClamped) {
  // uint8: lo = -1, hi = 255/64 - 1 put -lo/s at exactly 64, far from a zero-point jump
  // for the step used; both bounds move the scale.
  FdOptions fd{.step = 1e-3f, .rtol = 1e-2, .atol = 5e-3, .max_elements = 64};
  const float hi = 255.0f / 64.0f - 1.0f;
  EXPECT_GT(CheckGradients(FakeQuantModel({6, 40}, -1.0f, hi, "uint8_asymmetric"),
                           {{"x", TwoSided({6, 40}, 7, -3.0f, -1.5f, 3.5f, 6.0f)}}, fd),
            0);
  // The same range as bounds in units of 4 (QatOptions::normalized_bounds): gradients x4.
  EXPECT_GT(CheckGradients(FakeQuantModel({6, 40}, -0.25f, hi / 4, "uint8_asymmetric", 4.0f),
                           {{"x", TwoSided({6, 40}, 7, -3.0f, -1.5f, 3.5f, 6.0f)}},
                           {.step = 2.5e-4f, .rtol = 1e-2, .atol = 5e-3, .max_elements = 64}),
            0);
  // int8 symmetric: s = max(|lo|, |hi|) / 127 depends on one bound at a time.
  EXPECT_GT(CheckGradients(FakeQuantModel({6, 40}, -1.0f, 2.0f, "int8_symmetric"),
                           {{"x", TwoSided({6, 40}, 8, -4.0f, -2.5f, 2.5f, 5.0f)}}, fd),
            0);
  EXPECT_GT(CheckGradients(FakeQuantModel({6, 40}, -2.5f, 1.0f, "int8_symmetric"),
                           {{"x", TwoSided({6, 40}, 9, -5.0f, -3.0f, 2.5f, 5.0f)}}, fd),
            0);
  // A ReLU output (lo = 0, zero point 0): PACT, dL/dhi = sum of dL/dy over x > hi. lo = 0
  // sits on the kink of the widening to include 0, so it is frozen here.
  GradGraphOptions frozen_lo{.frozen = {"lo"}};
  EXPECT_GT(CheckGradients(FakeQuantModel({6, 40}, 0.0f, 2.0f, "uint8_asymmetric"),
                           {{"x", TwoSided({6, 40}, 10, -2.0f, -0.5f, 2.5f, 4.0f)}}, fd, frozen_lo),
            0);
}

TEST(QatRuleTest, BoundGradientsIgnoreUnclampedElementsAndThreads) {
  // Straight-through: elements inside the range contribute nothing to dL/dlo, dL/dhi; the
  // sums are bit-identical for any thread count.
  const Tensor x = Random({3, 9000}, 11, -2.0f, 4.0f);
  const Tensor g = Random({3, 9000}, 12);
  const float lo = -1.0f, hi = 2.0f;
  const quant::QParams p =
      quant::ActivationQParams({lo, hi}, quant::ActivationScheme::kUint8Asymmetric);
  double ds = 0;
  for (int64_t i = 0; i < x.num_elements(); ++i) {
    const float v = x.data<float>()[i] / p.scale;
    if (v > float(255 - p.zero_point)) ds += double(g.data<float>()[i]) * (255 - p.zero_point);
    if (v < float(-p.zero_point)) ds += double(g.data<float>()[i]) * (-p.zero_point);
  }
  std::vector<float> first;
  for (int threads : {1, 4}) {
    auto graph = GradGraph::Create(FakeQuantModel({3, 9000}, lo, hi, "uint8_asymmetric"),
                                   {.num_threads = threads});
    ASSERT_TRUE(graph.ok()) << graph.status();
    ASSERT_TRUE((*graph)->Forward({{"x", x}}, Mode::kTrain).ok());
    ASSERT_TRUE((*graph)->Backward(std::vector<Tensor>{g}).ok());
    ASSERT_EQ((*graph)->parameters().size(), 2u);
    const float dlo = (*graph)->parameters()[0].grad.data<float>()[0];
    const float dhi = (*graph)->parameters()[1].grad.data<float>()[0];
    EXPECT_NEAR(dlo, -ds / 255.0, 1e-3 * std::fabs(ds / 255.0) + 1e-4);
    EXPECT_NEAR(dhi, ds / 255.0, 1e-3 * std::fabs(ds / 255.0) + 1e-4);
    if (first.empty()) {
      first = {dlo, dhi};
    } else {
      EXPECT_EQ(first[0], dlo);
      EXPECT_EQ(first[1], dhi);
    }
  }
}

TEST(QatRuleTest, WeightForwardIsTheQuantizersAndGradientPassesThrough) {
  const Tensor w = Random({4, 3, 5}, 13, -0.8f, 0.8f);
  for (int axis : {-1, 0, 1}) {
    for (bool reduce : {false, true}) {
      SCOPED_TRACE(::testing::Message() << "axis " << axis << " reduce_range " << reduce);
      auto graph = GradGraph::Create(FakeQuantWeightModel(w, axis, reduce));
      ASSERT_TRUE(graph.ok()) << graph.status();
      const Tensor x = Tensor::Zeros(DType::kFloat32, w.shape());
      auto outs = (*graph)->Forward({{"x", x}}, Mode::kTrain);
      ASSERT_TRUE(outs.ok()) << outs.status();
      auto q = quant::QuantizeWeight(w, axis, reduce, "w");
      ASSERT_TRUE(q.ok()) << q.status();
      const Shape& s = w.shape();
      for (int64_t i = 0; i < w.num_elements(); ++i) {
        int64_t c = 0;
        if (axis == 0) c = i / (s.dim(1) * s.dim(2));
        if (axis == 1) c = (i / s.dim(2)) % s.dim(1);
        ASSERT_EQ((*outs)[0].second.data<float>()[i],
                  float(q->data.data<int8_t>()[i]) * q->scales[static_cast<size_t>(c)])
            << i;
      }
      const Tensor g = Random(s.dims(), 14);
      ASSERT_TRUE((*graph)->Backward(std::vector<Tensor>{g}).ok());
      const Tensor& dw = (*graph)->parameters()[0].grad;
      for (int64_t i = 0; i < w.num_elements(); ++i) {
        ASSERT_EQ(dw.data<float>()[i], g.data<float>()[i]);
      }
    }
  }
}

TEST(QatRuleTest, FrozenWeightIsFakeQuantizedOnceAndFolded) {
  // A private-domain op on constants only runs its own forward at the first Forward of a
  // shape signature; its output is then a known (folded) value for the rest of the graph.
  const Tensor w = Random({3, 4}, 15, -0.5f, 0.5f);
  auto graph = GradGraph::Create(FakeQuantWeightModel(w, 0, false), {.frozen = {"w"}});
  ASSERT_TRUE(graph.ok()) << graph.status();
  EXPECT_TRUE((*graph)->parameters().empty());
  auto q = quant::QuantizeWeight(w, 0, false, "w");
  ASSERT_TRUE(q.ok()) << q.status();
  const Tensor x = Random({3, 4}, 16);
  for (int step = 0; step < 2; ++step) {
    auto outs = (*graph)->Forward({{"x", x}}, Mode::kTrain);
    ASSERT_TRUE(outs.ok()) << outs.status();
    for (int64_t i = 0; i < w.num_elements(); ++i) {
      const float wq = float(q->data.data<int8_t>()[i]) * q->scales[static_cast<size_t>(i / 4)];
      ASSERT_EQ((*outs)[0].second.data<float>()[i], wq + x.data<float>()[i]) << i;
    }
    ASSERT_TRUE((*graph)->Backward(std::vector<Tensor>{Random({3, 4}, 17)}).ok());
  }
}

TEST(QatRuleTest, BadNodesAreClearErrors) {
  for (float unit : {0.0f, -1.0f}) {
    auto bad = GradGraph::Create(FakeQuantModel({2, 3}, -1.0f, 1.0f, "int8_symmetric", unit));
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(std::string(bad.status().message()).find("unit must be finite and > 0"),
              std::string::npos)
        << bad.status();
  }
  ir::Model m = FakeQuantModel({2, 3}, -1.0f, 1.0f, "int4");
  auto graph = GradGraph::Create(m);
  ASSERT_FALSE(graph.ok());
  EXPECT_NE(std::string(graph.status().message()).find("node 'fq'"), std::string::npos)
      << graph.status();
  // A non-scalar bound is rejected at Forward, naming the node.
  ir::Model v = FakeQuantModel({2, 3}, -1.0f, 1.0f, "uint8_asymmetric");
  v.graph.SetConstant(v.graph.FindValue("hi"), Tensor::FromVector<float>(Shape({2}), {1, 2}));
  auto g2 = GradGraph::Create(v);
  ASSERT_TRUE(g2.ok()) << g2.status();
  auto out = (*g2)->Forward({{"x", Random({2, 3}, 1)}}, Mode::kEval);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(std::string(out.status().message()).find("hi must be a finite float32 scalar"),
            std::string::npos)
      << out.status();
}

}  // namespace
}  // namespace mp::train
