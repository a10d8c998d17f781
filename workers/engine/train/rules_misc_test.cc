// Finite-difference tests of the elementwise, shape and normalisation backward rules, and
// the Dropout mask checks.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "workers/engine/exec/exec_test_util.h"
#include "workers/engine/train/grad_test_util.h"

namespace mp::train {
namespace {

using exec::testing::ModelBuilder;
using ir::Attribute;
using tensor::DType;
using tensor::Tensor;
using testing::CheckGradients;
using testing::FdOptions;
using testing::Random;

ir::Model Unary(const std::string& op, std::vector<int64_t> dims, std::vector<Attribute> attrs = {},
                std::vector<std::string> extra_inputs = {}) {
  ModelBuilder b;
  b.Input("x", DType::kFloat32, dims);
  std::vector<std::string> in = {"x"};
  for (const std::string& e : extra_inputs) in.push_back(e);
  return b.Node(op, in, {"y"}, std::move(attrs)).Output("y").Build();
}

TEST(ActivationRuleTest, MatchesFiniteDifferences) {
  const std::vector<int64_t> dims = {3, 17};
  // Inputs at least 0.05 from the kinks at 0 (step 0.01).
  const Tensor x = Random(dims, 1, -2.0f, 2.0f, 0.05f);
  for (const char* op : {"Relu", "Sigmoid", "Tanh"}) {
    SCOPED_TRACE(op);
    EXPECT_GT(CheckGradients(Unary(op, dims), {{"x", x}}), 0);
  }
  EXPECT_GT(CheckGradients(Unary("LeakyRelu", dims, {Attribute("alpha", 0.2f)}), {{"x", x}}), 0);
  // HardSwish: kinks at +-3; inputs in (-5, 5) kept 0.05 away from them.
  Tensor hs = Random(dims, 2, -5.0f, 5.0f);
  for (int64_t i = 0; i < hs.num_elements(); ++i) {
    float& v = hs.mutable_data<float>()[i];
    if (std::fabs(std::fabs(v) - 3.0f) < 0.05f) v = v < 0 ? -3.1f : 3.1f;
  }
  EXPECT_GT(CheckGradients(Unary("HardSwish", dims), {{"x", hs}}), 0);
  // Clip (opset 11+: bounds as constant inputs) with kinks at -0.5 and 0.7.
  ModelBuilder b;
  b.Input("x", DType::kFloat32, dims)
      .Const("lo", Tensor::FromVector(tensor::Shape({}), std::vector<float>{-0.5f}))
      .Const("hi", Tensor::FromVector(tensor::Shape({}), std::vector<float>{0.7f}))
      .Node("Clip", {"x", "lo", "hi"}, {"y"})
      .Output("y");
  Tensor cx = Random(dims, 3, -1.5f, 1.5f);
  for (int64_t i = 0; i < cx.num_elements(); ++i) {
    float& v = cx.mutable_data<float>()[i];
    if (std::fabs(v + 0.5f) < 0.05f || std::fabs(v - 0.7f) < 0.05f) v += 0.1f;
  }
  EXPECT_GT(CheckGradients(b.Build(), {{"x", cx}}), 0);
}

TEST(BinaryRuleTest, BroadcastingAddSubMul) {
  struct Case {
    std::vector<int64_t> a, b;
  };
  const std::vector<Case> cases = {{{2, 3, 4}, {2, 3, 4}},
                                   {{2, 3, 4}, {4}},
                                   {{2, 1, 4}, {3, 1}},
                                   {{3}, {2, 1, 3}},
                                   {{2, 3}, {}}};
  for (const char* op : {"Add", "Sub", "Mul"}) {
    for (const Case& c : cases) {
      SCOPED_TRACE(::testing::Message() << op << " ranks " << c.a.size() << "," << c.b.size());
      ModelBuilder b;
      b.Input("a", DType::kFloat32, c.a)
          .Input("b", DType::kFloat32, c.b)
          .Node(op, {"a", "b"}, {"y"})
          .Output("y");
      EXPECT_GT(CheckGradients(b.Build(), {{"a", Random(c.a, 1)}, {"b", Random(c.b, 2)}}), 0);
    }
  }
  // A parameter operand (bias) and the same value on both sides (x * x).
  ModelBuilder b;
  b.Input("x", DType::kFloat32, {2, 5})
      .Const("bias", Random({5}, 3))
      .Node("Add", {"x", "bias"}, {"t"})
      .Node("Mul", {"t", "t"}, {"y"})
      .Output("y");
  EXPECT_GT(CheckGradients(b.Build(), {{"x", Random({2, 5}, 4)}}), 0);
}

TEST(ShapeRuleTest, FlattenReshapeTransposeConcat) {
  {
    ModelBuilder b;
    b.Input("x", DType::kFloat32, {2, 3, 2, 2})
        .Node("Flatten", {"x"}, {"f"}, {Attribute("axis", int64_t{2})})
        .Const("shape", Tensor::FromVector(tensor::Shape({2}), std::vector<int64_t>{4, -1}))
        .Node("Reshape", {"f", "shape"}, {"r"})
        .Const("w", Random({6, 2}, 5))
        .Node("MatMul", {"r", "w"}, {"y"})
        .Output("y");
    EXPECT_GT(CheckGradients(b.Build(), {{"x", Random({2, 3, 2, 2}, 1)}}), 0);
  }
  {
    ModelBuilder b;
    b.Input("x", DType::kFloat32, {2, 3, 4})
        .Node("Transpose", {"x"}, {"y"}, {Attribute("perm", std::vector<int64_t>{1, 2, 0})})
        .Output("y");
    EXPECT_GT(CheckGradients(b.Build(), {{"x", Random({2, 3, 4}, 2)}}), 0);
  }
  {
    ModelBuilder b;
    b.Input("a", DType::kFloat32, {2, 2, 3})
        .Input("b", DType::kFloat32, {2, 1, 3})
        .Const("c", Random({2, 3, 3}, 6))
        .Node("Concat", {"a", "b", "c"}, {"y"}, {Attribute("axis", int64_t{-2})})
        .Output("y");
    EXPECT_GT(CheckGradients(b.Build(), {{"a", Random({2, 2, 3}, 3)}, {"b", Random({2, 1, 3}, 4)}}),
              0);
  }
}

TEST(SoftmaxRuleTest, AxesAndOpsets) {
  for (int64_t opset : {11, 13}) {
    for (int64_t axis : {0, 1, -1}) {
      for (const char* op : {"Softmax", "LogSoftmax"}) {
        SCOPED_TRACE(::testing::Message() << op << " opset " << opset << " axis " << axis);
        ModelBuilder b(opset);
        b.Input("x", DType::kFloat32, {2, 3, 4})
            .Node(op, {"x"}, {"y"}, {Attribute("axis", axis)})
            .Output("y");
        EXPECT_GT(CheckGradients(b.Build(), {{"x", Random({2, 3, 4}, 1, -2.0f, 2.0f)}}), 0);
      }
    }
  }
}

ir::Model BatchNormModel(std::vector<int64_t> x_dims, float momentum) {
  const int64_t c = x_dims[1];
  ModelBuilder b;
  b.Input("x", DType::kFloat32, x_dims)
      .Const("scale", Random({c}, 2, 0.5f, 1.5f))
      .Const("bias", Random({c}, 3))
      .Const("mean", Random({c}, 4))
      .Const("var", Random({c}, 5, 0.5f, 1.5f))
      .Node("BatchNormalization", {"x", "scale", "bias", "mean", "var"}, {"y"},
            {Attribute("epsilon", 1e-3f), Attribute("momentum", momentum)})
      .Output("y");
  return b.Build();
}

TEST(BatchNormRuleTest, TrainingModeMatchesFiniteDifferences) {
  for (const std::vector<int64_t>& dims :
       {std::vector<int64_t>{4, 3, 2, 3}, std::vector<int64_t>{6, 4}}) {
    SCOPED_TRACE(dims.size());
    FdOptions opt;
    opt.step = 5e-3f;
    EXPECT_GT(
        CheckGradients(BatchNormModel(dims, 0.9f), {{"x", Random(dims, 1, -2.0f, 2.0f)}}, opt), 0);
  }
}

TEST(BatchNormRuleTest, RunningStatisticsAndEvalMode) {
  const std::vector<int64_t> dims = {4, 2, 3};
  const ir::Model model = BatchNormModel(dims, 0.75f);
  auto g = GradGraph::Create(model);
  ASSERT_TRUE(g.ok()) << g.status();
  // Parameters are scale and bias only; mean and var are state.
  ASSERT_EQ((*g)->parameters().size(), 2u);
  EXPECT_EQ((*g)->parameters()[0].name, "scale");
  EXPECT_FALSE((*g)->parameters()[0].decay);
  EXPECT_EQ((*g)->StateNames(), (std::vector<std::string>{"mean", "var"}));
  const Tensor x = Random(dims, 7, -2.0f, 2.0f);
  ASSERT_TRUE((*g)->Forward({{"x", x}}, Mode::kTrain).ok());
  auto exported = (*g)->ExportModel();
  ASSERT_TRUE(exported.ok());
  const ir::Graph& eg = exported->graph;
  const float* mean = eg.value(eg.FindValue("mean")).initializer().data<float>();
  const float* var = eg.value(eg.FindValue("var")).initializer().data<float>();
  const float* mean0 = model.graph.value(model.graph.FindValue("mean")).initializer().data<float>();
  const float* var0 = model.graph.value(model.graph.FindValue("var")).initializer().data<float>();
  const float* px = x.data<float>();
  for (int c = 0; c < 2; ++c) {
    double s = 0, sq = 0;
    for (int n = 0; n < 4; ++n) {
      for (int i = 0; i < 3; ++i) s += px[(n * 2 + c) * 3 + i];
    }
    const double mu = s / 12;
    for (int n = 0; n < 4; ++n) {
      for (int i = 0; i < 3; ++i) sq += std::pow(px[(n * 2 + c) * 3 + i] - mu, 2);
    }
    EXPECT_NEAR(mean[c], 0.75 * mean0[c] + 0.25 * mu, 1e-5);
    EXPECT_NEAR(var[c], 0.75 * var0[c] + 0.25 * sq / 12, 1e-5);
  }
  // kEval uses the (updated) running statistics and matches exec on the exported model.
  auto eval = (*g)->Forward({{"x", x}}, Mode::kEval);
  ASSERT_TRUE(eval.ok());
  auto session = exec::Session::Create(*exported);
  ASSERT_TRUE(session.ok());
  auto ref = (*session)->Run({{"x", x}});
  ASSERT_TRUE(ref.ok());
  for (int64_t i = 0; i < x.num_elements(); ++i) {
    EXPECT_NEAR((*eval)[0].second.data<float>()[i], (*ref)[0].second.data<float>()[i], 1e-5);
  }
}

ir::Model DropoutModel(float ratio) {
  ModelBuilder b;
  b.Input("x", DType::kFloat32, {8, 64})
      .Const("ratio", Tensor::FromVector(tensor::Shape({}), std::vector<float>{ratio}))
      .Const("w", Random({64, 4}, 9))
      .Node("Dropout", {"x", "ratio"}, {"d", "mask"})
      .Node("MatMul", {"d", "w"}, {"y"})
      .Output("y")
      .Output("mask");
  return b.Build();
}

TEST(DropoutRuleTest, RatioZeroMatchesFiniteDifferences) {
  EXPECT_GT(CheckGradients(DropoutModel(0.0f), {{"x", Random({8, 64}, 1)}}), 0);
}

TEST(DropoutRuleTest, SeededMaskScalesAndRoutesGradients) {
  const Tensor x = Random({8, 64}, 1, 0.5f, 1.0f);
  auto run = [&](uint64_t seed, int threads, int steps) {
    auto g = GradGraph::Create(DropoutModel(0.25f),
                               {.num_threads = threads, .seed = seed, .input_gradients = true});
    EXPECT_TRUE(g.ok());
    exec::NamedTensors outs;
    for (int s = 0; s < steps; ++s) outs = *(*g)->Forward({{"x", x}}, Mode::kTrain);
    Tensor dy = Random({8, 4}, 3);
    EXPECT_TRUE((*g)->Backward(std::vector<Tensor>{dy, Tensor()}).ok());
    return std::make_pair(outs[1].second, *(*g)->InputGradient("x"));
  };
  const auto [mask, dx] = run(42, 1, 1);
  const bool* m = mask.data<bool>();
  int kept = 0;
  for (int64_t i = 0; i < mask.num_elements(); ++i) kept += m[i] ? 1 : 0;
  EXPECT_GT(kept, 512 * 0.65);
  EXPECT_LT(kept, 512 * 0.85);
  // Dropped elements get no gradient.
  for (int64_t i = 0; i < mask.num_elements(); ++i) {
    if (!m[i]) {
      EXPECT_EQ(dx.data<float>()[i], 0.0f);
    }
  }
  // Same seed and step: same mask, for any thread count; another seed or step: another.
  const auto [mask2, dx2] = run(42, 3, 1);
  EXPECT_EQ(0, std::memcmp(mask.raw_data(), mask2.raw_data(), mask.byte_size()));
  EXPECT_EQ(0, std::memcmp(dx.raw_data(), dx2.raw_data(), dx.byte_size()));
  const auto [mask3, dx3] = run(43, 1, 1);
  EXPECT_NE(0, std::memcmp(mask.raw_data(), mask3.raw_data(), mask.byte_size()));
  const auto [mask4, dx4] = run(42, 1, 2);
  EXPECT_NE(0, std::memcmp(mask.raw_data(), mask4.raw_data(), mask.byte_size()));
  // kEval: identity, all-true mask.
  auto g = GradGraph::Create(DropoutModel(0.25f));
  auto eval = (*g)->Forward({{"x", x}}, Mode::kEval);
  ASSERT_TRUE(eval.ok());
  for (int64_t i = 0; i < 512; ++i) EXPECT_TRUE((*eval)[1].second.data<bool>()[i]);
}

}  // namespace
}  // namespace mp::train
