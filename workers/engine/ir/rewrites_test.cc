#include "workers/engine/ir/rewrites.h"

#include <cmath>
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "workers/engine/ir/test_util.h"
#include "workers/engine/ir/verify.h"

namespace mp::ir {
namespace {

using ::mp::ir::testing::Add;
using ::mp::ir::testing::Input;
using ::mp::ir::testing::NodeNames;
using tensor::Shape;
using tensor::Tensor;
using ::testing::ElementsAre;

Tensor Random(Shape shape, std::mt19937& rng, float lo = -1, float hi = 1) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(shape.num_elements()));
  for (float& x : v) x = dist(rng);
  return Tensor::FromVector<float>(std::move(shape), v);
}

const Tensor& Const(const Graph& g, ValueId v) { return g.value(v).initializer(); }

// Reference 2-D convolution, NCHW, stride 1, no padding, group 1; bias may be undefined.
std::vector<float> Conv(const Tensor& x, const Tensor& w, const Tensor& b) {
  const int64_t c = x.shape().dim(1), h = x.shape().dim(2), wd = x.shape().dim(3);
  const int64_t m = w.shape().dim(0), kh = w.shape().dim(2), kw = w.shape().dim(3);
  const int64_t oh = h - kh + 1, ow = wd - kw + 1;
  std::vector<float> y(static_cast<size_t>(m * oh * ow));
  for (int64_t o = 0; o < m; ++o)
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) {
        double acc = b.defined() ? b.data<float>()[o] : 0.0;
        for (int64_t ci = 0; ci < c; ++ci)
          for (int64_t a = 0; a < kh; ++a)
            for (int64_t bb = 0; bb < kw; ++bb)
              acc += double{x.data<float>()[(ci * h + i + a) * wd + j + bb]} *
                     w.data<float>()[((o * c + ci) * kh + a) * kw + bb];
        y[static_cast<size_t>((o * oh + i) * ow + j)] = static_cast<float>(acc);
      }
  return y;
}

// Inference BatchNormalization over channel-major data with `per` elements per channel.
std::vector<float> BatchNorm(std::vector<float> y, size_t per, const Tensor& scale,
                             const Tensor& bias, const Tensor& mean, const Tensor& var, float eps,
                             bool channel_last = false) {
  const size_t m = static_cast<size_t>(scale.num_elements());
  for (size_t i = 0; i < y.size(); ++i) {
    const size_t ch = channel_last ? i % m : i / per;
    y[i] = static_cast<float>((y[i] - mean.data<float>()[ch]) /
                                  std::sqrt(double{var.data<float>()[ch]} + eps) *
                                  scale.data<float>()[ch] +
                              bias.data<float>()[ch]);
  }
  return y;
}

void AddBnParams(Graph& g, std::mt19937& rng, int64_t m) {
  g.AddInitializer("scale", Random(Shape{m}, rng, 0.5f, 2));
  g.AddInitializer("bias", Random(Shape{m}, rng));
  g.AddInitializer("mean", Random(Shape{m}, rng));
  g.AddInitializer("var", Random(Shape{m}, rng, 0.1f, 3));
}

class ConvBnTest : public ::testing::TestWithParam<bool> {};

TEST_P(ConvBnTest, FoldMatchesReference) {
  const bool with_bias = GetParam();
  std::mt19937 rng(7);
  Model model;
  Graph& g = model.graph;
  Input(g, "x");
  g.AddInitializer("W", Random(Shape{3, 2, 2, 2}, rng));
  if (with_bias) g.AddInitializer("B", Random(Shape{3}, rng));
  AddBnParams(g, rng, 3);
  Add(g, "conv", "Conv", {"x", "W", with_bias ? "B" : ""}, {"c"});
  Add(g, "bn", "BatchNormalization", {"c", "scale", "bias", "mean", "var"}, {"y"},
      {Attribute("epsilon", 1e-3f)});
  g.AddGraphOutput(g.FindValue("y"));

  const Tensor x = Random(Shape{1, 2, 4, 5}, rng);
  const Tensor w0 = Const(g, g.FindValue("W"));
  const Tensor b0 = with_bias ? Const(g, g.FindValue("B")) : Tensor();
  const std::vector<float> expected = BatchNorm(
      Conv(x, w0, b0), 3 * 4, Const(g, g.FindValue("scale")), Const(g, g.FindValue("bias")),
      Const(g, g.FindValue("mean")), Const(g, g.FindValue("var")), 1e-3f);

  auto folded = FoldBatchNormalization(model);
  ASSERT_TRUE(folded.ok()) << folded.status();
  EXPECT_EQ(*folded, 1);
  ASSERT_TRUE(Verify(g).ok()) << Verify(g);
  EXPECT_THAT(NodeNames(g), ElementsAre("conv"));
  const Node& conv = g.node(NodeId{0});
  EXPECT_EQ(g.value(conv.output(0)).name(), "y");  // output name preserved
  EXPECT_EQ(g.value(conv.input(1)).name(), "W");   // private weights updated in place
  ASSERT_TRUE(conv.input(2).valid());
  // Old BN parameters and the intermediate are gone.
  for (const char* gone : {"scale", "bias", "mean", "var", "c"}) {
    EXPECT_FALSE(g.FindValue(gone).valid()) << gone;
  }
  const std::vector<float> got = Conv(x, Const(g, conv.input(1)), Const(g, conv.input(2)));
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expected[i], 1e-4) << i;
}

INSTANTIATE_TEST_SUITE_P(Bias, ConvBnTest, ::testing::Bool());

// Y = alpha * A op(B) + beta * C, A [R, K].
std::vector<float> Gemm(const Tensor& a, const Tensor& b, bool trans_b, float alpha, float beta,
                        const Tensor& c) {
  const int64_t r = a.shape().dim(0), k = a.shape().dim(1);
  const int64_t n = trans_b ? b.shape().dim(0) : b.shape().dim(1);
  std::vector<float> y(static_cast<size_t>(r * n));
  for (int64_t i = 0; i < r; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0;
      for (int64_t t = 0; t < k; ++t)
        acc +=
            double{a.data<float>()[i * k + t]} * b.data<float>()[trans_b ? j * k + t : t * n + j];
      double cv = 0;
      if (c.defined()) {
        cv = c.num_elements() == 1                    ? c.data<float>()[0]
             : c.rank() == 2 && c.shape().dim(0) == r ? c.data<float>()[i * n + j]
                                                      : c.data<float>()[j];
      }
      y[static_cast<size_t>(i * n + j)] = static_cast<float>(alpha * acc + beta * cv);
    }
  return y;
}

struct GemmCase {
  bool trans_b;
  std::vector<int64_t> c_shape;  // empty = no C; {0} = scalar
};

class GemmBnTest : public ::testing::TestWithParam<GemmCase> {};

TEST_P(GemmBnTest, FoldMatchesReference) {
  const GemmCase& p = GetParam();
  std::mt19937 rng(11);
  const int64_t r = 3, k = 5, n = 4;
  Model model;
  Graph& g = model.graph;
  Input(g, "a");
  g.AddInitializer("Wg", Random(p.trans_b ? Shape{n, k} : Shape{k, n}, rng));
  Tensor c;
  if (!p.c_shape.empty()) {
    c = Random(p.c_shape == std::vector<int64_t>{0} ? Shape{} : Shape(p.c_shape), rng);
    g.AddInitializer("C", c);
  }
  AddBnParams(g, rng, n);
  Add(g, "fc", "Gemm", {"a", "Wg", c.defined() ? "C" : ""}, {"h"},
      {Attribute("transB", int64_t{p.trans_b}), Attribute("alpha", 0.5f), Attribute("beta", 2.0f)});
  Add(g, "bn", "BatchNormalization", {"h", "scale", "bias", "mean", "var"}, {"y"});
  g.AddGraphOutput(g.FindValue("y"));

  const Tensor a = Random(Shape{r, k}, rng);
  const std::vector<float> expected =
      BatchNorm(Gemm(a, Const(g, g.FindValue("Wg")), p.trans_b, 0.5f, 2.0f, c), 0,
                Const(g, g.FindValue("scale")), Const(g, g.FindValue("bias")),
                Const(g, g.FindValue("mean")), Const(g, g.FindValue("var")), 1e-5f,
                /*channel_last=*/true);
  auto folded = FoldBatchNormalization(model);
  ASSERT_TRUE(folded.ok()) << folded.status();
  ASSERT_EQ(*folded, 1);
  ASSERT_TRUE(Verify(g).ok()) << Verify(g);
  const Node& fc = g.node(NodeId{0});
  EXPECT_EQ(*fc.GetFloat("beta"), 1.0f);
  const std::vector<float> got =
      Gemm(a, Const(g, fc.input(1)), p.trans_b, *fc.GetFloat("alpha"), 1.0f, Const(g, fc.input(2)));
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expected[i], 1e-4) << i;
}

INSTANTIATE_TEST_SUITE_P(Shapes, GemmBnTest,
                         ::testing::Values(GemmCase{false, {}}, GemmCase{true, {}},
                                           GemmCase{true, {4}}, GemmCase{false, {1, 4}},
                                           GemmCase{true, {0}}, GemmCase{false, {3, 4}}));

TEST(FoldBatchNormTest, SkipsIllegalSites) {
  std::mt19937 rng(3);
  Model model;
  Graph& g = model.graph;
  Input(g, "x");
  g.AddInitializer("W", Random(Shape{3, 2, 1, 1}, rng));
  AddBnParams(g, rng, 3);
  Add(g, "conv", "Conv", {"x", "W"}, {"c"});
  Add(g, "bn", "BatchNormalization", {"c", "scale", "bias", "mean", "var"}, {"y"});
  Add(g, "peek", "Relu", {"c"}, {"z"});  // conv output has another consumer
  g.AddGraphOutput(g.FindValue("y"));
  g.AddGraphOutput(g.FindValue("z"));
  EXPECT_EQ(*FoldBatchNormalization(model), 0);

  Model training;
  Graph& t = training.graph;
  Input(t, "x");
  t.AddInitializer("W", Random(Shape{3, 2, 1, 1}, rng));
  AddBnParams(t, rng, 3);
  Add(t, "conv", "Conv", {"x", "W"}, {"c"});
  Add(t, "bn", "BatchNormalization", {"c", "scale", "bias", "mean", "var"}, {"y"},
      {Attribute("training_mode", int64_t{1})});
  t.AddGraphOutput(t.FindValue("y"));
  EXPECT_EQ(*FoldBatchNormalization(training), 0);

  // A mistyped attribute is an error naming the node.
  t.mutable_node(NodeId{1}).SetAttribute(Attribute("epsilon", std::string("x")));
  auto bad = FoldBatchNormalization(training);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()),
              ::testing::HasSubstr("node 'bn' (BatchNormalization): attribute 'epsilon'"));
}

TEST(FoldBatchNormTest, SharedWeightsGetFreshConstant) {
  std::mt19937 rng(5);
  Model model;
  Graph& g = model.graph;
  Input(g, "x");
  g.AddInitializer("W", Random(Shape{2, 2, 1, 1}, rng));
  AddBnParams(g, rng, 2);
  Add(g, "conv", "Conv", {"x", "W"}, {"c"});
  Add(g, "bn", "BatchNormalization", {"c", "scale", "bias", "mean", "var"}, {"y"});
  Add(g, "conv2", "Conv", {"x", "W"}, {"y2"});
  g.AddGraphOutput(g.FindValue("y"));
  g.AddGraphOutput(g.FindValue("y2"));
  const Tensor w_before = Const(g, g.FindValue("W")).Clone();
  ASSERT_EQ(*FoldBatchNormalization(model), 1);
  ASSERT_TRUE(Verify(g).ok()) << Verify(g);
  const Node& conv = g.node(NodeId{0});
  EXPECT_EQ(g.value(conv.input(1)).name(), "W_bnfold");
  const Tensor& w_after = Const(g, g.FindValue("W"));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(w_after.data<float>()[i], w_before.data<float>()[i]);
}

TEST(RemoveIdentityLikeTest, RemovesIdentityAndInferenceDropout) {
  Model model;
  Graph& g = model.graph;
  Input(g, "x");
  g.AddInitializer("no", Tensor::FromVector<bool>(Shape{}, {false}));
  Add(g, "relu", "Relu", {"x"}, {"r"});
  Add(g, "id", "Identity", {"r"}, {"i"});
  Add(g, "drop", "Dropout", {"i", "", "no"}, {"d", "mask"});
  Add(g, "neg", "Neg", {"d"}, {"n"});
  Add(g, "out_id", "Identity", {"n"}, {"out"});
  g.AddGraphOutput(g.FindValue("out"));
  auto removed = RemoveIdentityLikeNodes(model);
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 3);
  ASSERT_TRUE(Verify(g).ok()) << Verify(g);
  EXPECT_THAT(NodeNames(g), ElementsAre("relu", "neg"));
  EXPECT_EQ(g.node(NodeId{1}).input(0), g.FindValue("r"));
  EXPECT_EQ(g.value(g.node(NodeId{1}).output(0)).name(), "out");
  EXPECT_FALSE(g.FindValue("mask").valid());
}

TEST(RemoveIdentityLikeTest, KeepsWhatItCannotRemove) {
  Model model;
  Graph& g = model.graph;
  Input(g, "x");
  g.AddInitializer("yes", Tensor::FromVector<bool>(Shape{}, {true}));
  Add(g, "pass", "Identity", {"x"}, {"y"});             // graph input -> graph output
  Add(g, "train", "Dropout", {"x", "", "yes"}, {"d"});  // training mode
  Add(g, "masked", "Dropout", {"x"}, {"e", "m"});       // mask is a graph output
  g.AddGraphOutput(g.FindValue("y"));
  g.AddGraphOutput(g.FindValue("d"));
  g.AddGraphOutput(g.FindValue("m"));
  g.AddGraphOutput(g.FindValue("e"));
  EXPECT_EQ(*RemoveIdentityLikeNodes(model), 0);
  EXPECT_EQ(g.num_nodes(), 3);
}

TEST(SimplifyTest, RunsAllAndVerifies) {
  std::mt19937 rng(9);
  Model model;
  Graph& g = model.graph;
  Input(g, "x");
  g.AddInitializer("W", Random(Shape{3, 2, 1, 1}, rng));
  AddBnParams(g, rng, 3);
  Add(g, "conv", "Conv", {"x", "W"}, {"c0"});
  Add(g, "id", "Identity", {"c0"}, {"c"});
  Add(g, "bn", "BatchNormalization", {"c", "scale", "bias", "mean", "var"}, {"y"});
  Add(g, "unused", "Relu", {"x"}, {"u"});
  g.AddGraphOutput(g.FindValue("y"));
  auto n = SimplifyForInference(model);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 3);
  EXPECT_THAT(NodeNames(g), ElementsAre("conv"));
}

}  // namespace
}  // namespace mp::ir
