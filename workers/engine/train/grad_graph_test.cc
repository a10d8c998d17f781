// GradGraph on whole models (the PyTorch-exported fixtures) and its error contract.
#include "workers/engine/train/grad_graph.h"

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "workers/engine/exec/exec_test_util.h"
#include "workers/engine/exec/session.h"
#include "workers/engine/onnx/onnx.h"
#include "workers/engine/train/grad_test_util.h"
#include "workers/engine/train/train.h"

namespace mp::train {
namespace {

using exec::testing::ModelBuilder;
using ir::Attribute;
using tensor::DType;
using tensor::Tensor;
using testing::CheckGradients;
using testing::FdOptions;
using testing::Random;

ir::Model LoadFixture(const std::string& name) {
  const char* root = std::getenv("MP_SOURCE_DIR");
  const std::string dir = root != nullptr ? root : ".";
  auto model = onnx::ImportModelFile(dir + "/tests/fixtures/models/" + name + ".onnx");
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *model : ir::Model();
}

Tensor Images(int64_t n, uint32_t seed) { return Random({n, 1, 28, 28}, seed, 0.0f, 1.0f); }

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

class FixtureTest : public ::testing::TestWithParam<const char*> {};

TEST_P(FixtureTest, EvalForwardMatchesSession) {
  const ir::Model model = LoadFixture(GetParam());
  auto g = GradGraph::Create(model, {.num_threads = 2});
  ASSERT_TRUE(g.ok()) << g.status();
  auto session = exec::Session::Create(model, {.num_threads = 2});
  ASSERT_TRUE(session.ok()) << session.status();
  const Tensor x = Images(5, 1);
  auto got = (*g)->Forward({{"input", x}}, Mode::kEval);
  ASSERT_TRUE(got.ok()) << got.status();
  auto want = (*session)->Run({{"input", x}});
  ASSERT_TRUE(want.ok());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].first, "logits");
  const Tensor& a = (*got)[0].second;
  ASSERT_EQ(a.shape(), (*want)[0].second.shape());
  for (int64_t i = 0; i < a.num_elements(); ++i) {
    EXPECT_NEAR(a.data<float>()[i], (*want)[0].second.data<float>()[i], 1e-4) << i;
  }
}

TEST_P(FixtureTest, GradientsMatchFiniteDifferences) {
  FdOptions opt;
  opt.max_elements = 6;
  opt.min_pass_fraction = 0.9;
  opt.step = 1e-3f;
  opt.rtol = 3e-2;
  opt.atol = 5e-3;
  EXPECT_GT(CheckGradients(LoadFixture(GetParam()), {{"input", Images(3, 2)}}, opt), 0);
}

TEST_P(FixtureTest, ThreadCountsGiveIdenticalBytes) {
  const ir::Model model = LoadFixture(GetParam());
  const Tensor x = Images(9, 3);
  const Tensor dy = Random({9, 10}, 4);
  std::vector<std::vector<Tensor>> grads;
  std::vector<Tensor> outs;
  for (int threads : {1, 2, 3}) {
    auto g = GradGraph::Create(model, {.num_threads = threads, .input_gradients = true});
    ASSERT_TRUE(g.ok()) << g.status();
    auto y = (*g)->Forward({{"input", x}}, Mode::kTrain);
    ASSERT_TRUE(y.ok()) << y.status();
    ASSERT_TRUE((*g)->Backward(std::vector<Tensor>{dy}).ok());
    outs.push_back((*y)[0].second);
    grads.emplace_back();
    for (const Parameter& p : (*g)->parameters()) grads.back().push_back(p.grad);
    grads.back().push_back(*(*g)->InputGradient("input"));
  }
  for (size_t t = 1; t < grads.size(); ++t) {
    EXPECT_EQ(0, std::memcmp(outs[0].raw_data(), outs[t].raw_data(), outs[0].byte_size()));
    ASSERT_EQ(grads[0].size(), grads[t].size());
    for (size_t k = 0; k < grads[0].size(); ++k) {
      EXPECT_EQ(
          0, std::memcmp(grads[0][k].raw_data(), grads[t][k].raw_data(), grads[0][k].byte_size()))
          << "gradient " << k << " differs with " << t + 1 << " threads";
    }
  }
}

TEST_P(FixtureTest, ExportRoundTripsUpdatedParameters) {
  const ir::Model model = LoadFixture(GetParam());
  auto g = GradGraph::Create(model);
  ASSERT_TRUE(g.ok());
  ASSERT_FALSE((*g)->parameters().empty());
  const Tensor x = Images(4, 5);
  // One SGD-like step in place, and a kTrain pass (updates BN running stats).
  ASSERT_TRUE((*g)->Forward({{"input", x}}, Mode::kTrain).ok());
  ASSERT_TRUE((*g)->Backward(std::vector<Tensor>{Random({4, 10}, 6)}).ok());
  for (Parameter& p : (*g)->parameters()) {
    float* v = p.value.mutable_data<float>();
    for (int64_t i = 0; i < p.value.num_elements(); ++i) v[i] -= 0.01f * p.grad.data<float>()[i];
  }
  auto eval = (*g)->Forward({{"input", x}}, Mode::kEval);
  ASSERT_TRUE(eval.ok());
  auto exported = (*g)->ExportModel();
  ASSERT_TRUE(exported.ok());
  auto bytes = onnx::ExportModel(*exported);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  auto reimported = onnx::ImportModel(*bytes);
  ASSERT_TRUE(reimported.ok()) << reimported.status();
  auto session = exec::Session::Create(*reimported);
  ASSERT_TRUE(session.ok()) << session.status();
  auto want = (*session)->Run({{"input", x}});
  ASSERT_TRUE(want.ok());
  const Tensor& a = (*eval)[0].second;
  const Tensor& b = (*want)[0].second;
  bool changed = false;
  auto before = exec::Session::Create(model);
  auto old = (*before)->Run({{"input", x}});
  for (int64_t i = 0; i < a.num_elements(); ++i) {
    EXPECT_NEAR(a.data<float>()[i], b.data<float>()[i], 1e-4);
    changed = changed || std::fabs(b.data<float>()[i] - (*old)[0].second.data<float>()[i]) > 1e-4;
  }
  EXPECT_TRUE(changed) << "the exported model does not carry the updated parameters";
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FixtureTest,
                         ::testing::Values("mlp", "lenet", "resnet", "mobilenet", "transformer"));

TEST(GradGraphTest, ParametersAndDecay) {
  const ir::Model model = LoadFixture("lenet");
  auto g = GradGraph::Create(model);
  ASSERT_TRUE(g.ok());
  int weights = 0, biases = 0;
  for (const Parameter& p : (*g)->parameters()) {
    EXPECT_EQ(p.grad.shape(), p.value.shape());
    (p.decay ? weights : biases)++;
    EXPECT_EQ(p.decay, p.value.rank() > 1) << p.name;
  }
  EXPECT_EQ(weights, 5);  // 2 conv + 3 fc
  EXPECT_EQ(biases, 5);
  // Frozen initializers are not parameters; their gradient is not computed.
  auto frozen = GradGraph::Create(model, {.frozen = {(*g)->parameters()[0].name}});
  ASSERT_TRUE(frozen.ok());
  EXPECT_EQ((*frozen)->parameters().size(), 9u);
  auto bad = GradGraph::Create(model, {.frozen = {"nope"}});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Msg(bad.status()), "frozen name 'nope' is not an initializer of the model");
}

TEST(GradGraphTest, ZeroGradAndAccumulation) {
  ModelBuilder b;
  b.Input("x", DType::kFloat32, {2, 3})
      .Const("w", Random({3, 2}, 1))
      .Node("MatMul", {"x", "w"}, {"y"})
      .Output("y");
  auto g = GradGraph::Create(b.Build());
  ASSERT_TRUE(g.ok());
  const Tensor x = Random({2, 3}, 2), dy = Random({2, 2}, 3);
  ASSERT_TRUE((*g)->Forward({{"x", x}}, Mode::kTrain).ok());
  ASSERT_TRUE((*g)->Backward(std::vector<Tensor>{dy}).ok());
  const Tensor once = (*g)->parameters()[0].grad.Clone();
  ASSERT_TRUE((*g)->Backward(std::vector<Tensor>{dy}).ok());
  for (int i = 0; i < 6; ++i) {
    EXPECT_FLOAT_EQ((*g)->parameters()[0].grad.data<float>()[i], 2 * once.data<float>()[i]);
  }
  (*g)->ZeroGrad();
  for (int i = 0; i < 6; ++i) EXPECT_EQ((*g)->parameters()[0].grad.data<float>()[i], 0.0f);
}

TEST(GradGraphTest, ExtraOutputsTakeGradients) {
  ModelBuilder b;
  b.Input("x", DType::kFloat32, {3, 4})
      .Const("w1", Random({4, 5}, 1))
      .Node("MatMul", {"x", "w1"}, {"h"})
      .Node("Tanh", {"h"}, {"t"})
      .Const("w2", Random({5, 2}, 2))
      .Node("MatMul", {"t", "w2"}, {"y"})
      .Output("y");
  GradGraphOptions opts;
  opts.extra_outputs = {"t"};
  EXPECT_GT(CheckGradients(b.Build(), {{"x", Random({3, 4}, 3)}}, {}, opts), 0);
  auto bad = GradGraph::Create(b.Build(), {.extra_outputs = {"zz"}});
  EXPECT_EQ(Msg(bad.status()), "extra output 'zz' is not a value of the graph");
}

TEST(GradGraphTest, ConstantSubgraphsAreFolded) {
  // A Shape -> Gather -> Concat -> Reshape chain as exporters write it (no rules needed).
  ModelBuilder b;
  b.Input("x", DType::kFloat32, {-1, 2, 3})
      .Node("Shape", {"x"}, {"s"})
      .Const("i0", Tensor::FromVector(tensor::Shape({}), std::vector<int64_t>{0}))
      .Node("Gather", {"s", "i0"}, {"n"}, {Attribute("axis", int64_t{0})})
      .Const("ax", Tensor::FromVector(tensor::Shape({1}), std::vector<int64_t>{0}))
      .Node("Unsqueeze", {"n", "ax"}, {"n1"})
      .Const("m1", Tensor::FromVector(tensor::Shape({1}), std::vector<int64_t>{-1}))
      .Node("Concat", {"n1", "m1"}, {"shape"}, {Attribute("axis", int64_t{0})})
      .Node("Reshape", {"x", "shape"}, {"r"})
      .Const("w", Random({6, 2}, 1))
      .Node("MatMul", {"r", "w"}, {"y"})
      .Output("y");
  EXPECT_GT(CheckGradients(b.Build(), {{"x", Random({4, 2, 3}, 2)}}), 0);
}

TEST(GradGraphTest, OpWithoutRuleIsUnimplemented) {
  ModelBuilder b;
  b.Input("x", DType::kFloat32, {2, 3})
      .Const("s", Random({3}, 1))
      .Node("LayerNormalization", {"x", "s"}, {"y"}, {}, "ln")
      .Output("y");
  auto g = GradGraph::Create(b.Build());
  EXPECT_EQ(g.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(Msg(g.status()),
            "node 'ln' (LayerNormalization): op LayerNormalization has no "
            "backward rule");
}

TEST(GradGraphTest, UnsupportedAttributesAndDtypes) {
  ModelBuilder b;
  b.Input("x", DType::kFloat32, {1, 1, 4, 4})
      .Node("MaxPool", {"x"}, {"y", "idx"}, {Attribute("kernel_shape", std::vector<int64_t>{2, 2})},
            "pool")
      .Output("y");
  auto g = GradGraph::Create(b.Build());
  EXPECT_EQ(g.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(Msg(g.status()), "node 'pool' (MaxPool): output 1 (Indices) is not supported");
  ModelBuilder c;
  c.Input("x", DType::kFloat32, {1, 1, 4, 4})
      .Const("w", Random({1, 1, 3, 3}, 1))
      .Node("Conv", {"x", "w"}, {"y"}, {Attribute("auto_pad", std::string("SAME_MIDDLE"))}, "c1")
      .Output("y");
  auto cg = GradGraph::Create(c.Build());
  EXPECT_EQ(cg.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(Msg(cg.status()),
            "node 'c1' (Conv): attribute 'auto_pad' value 'SAME_MIDDLE' is not "
            "supported");
  ModelBuilder i;
  i.Input("ids", DType::kInt64, {2}).Node("Identity", {"ids"}, {"y"}).Output("y");
  auto ig = GradGraph::Create(i.Build());
  EXPECT_EQ(ig.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(Msg(ig.status()), "input 'ids' is int64: training supports float32 models only");
}

TEST(GradGraphTest, FeedAndBackwardErrors) {
  auto g = GradGraph::Create(LoadFixture("mlp"));
  ASSERT_TRUE(g.ok());
  GradGraph& gg = **g;
  EXPECT_EQ(gg.Backward(std::vector<Tensor>{Tensor()}).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(gg.InputGradient("input").status().code(), absl::StatusCode::kFailedPrecondition);
  auto wrong = gg.Forward({{"input", Random({2, 1, 28, 27}, 1)}}, Mode::kTrain);
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(Msg(wrong.status()).find("input 'input': dim 3 is 27, expected 28"), std::string::npos)
      << wrong.status();
  EXPECT_EQ(Msg(gg.Forward({}, Mode::kTrain).status()), "missing input 'input'");
  EXPECT_EQ(Msg(gg.Forward({{"inp", Images(1, 1)}}, Mode::kTrain).status()), "unknown input 'inp'");
  // A kEval Forward keeps nothing for Backward.
  ASSERT_TRUE(gg.Forward({{"input", Images(2, 1)}}, Mode::kEval).ok());
  EXPECT_EQ(gg.Backward(std::vector<Tensor>{Random({2, 10}, 1)}).code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(gg.Forward({{"input", Images(2, 1)}}, Mode::kTrain).ok());
  absl::Status count = gg.Backward(std::vector<Tensor>{});
  EXPECT_EQ(count.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Msg(count),
            "Backward: got 0 output gradients, expected 1 (graph outputs then extra outputs)");
  absl::Status shape = gg.Backward(std::vector<Tensor>{Random({2, 9}, 1)});
  EXPECT_EQ(shape.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Msg(shape),
            "Backward: gradient of output 'logits' is float32[2, 9], expected float32[2, 10]");
  EXPECT_EQ(gg.InputGradient("nope").status().code(), absl::StatusCode::kNotFound);
  // An undefined gradient means zero.
  ASSERT_TRUE(gg.Backward(std::vector<Tensor>{Tensor()}).ok());
  for (const Parameter& p : gg.parameters()) {
    for (int64_t i = 0; i < p.grad.num_elements(); ++i) ASSERT_EQ(p.grad.data<float>()[i], 0.0f);
  }
}

}  // namespace
}  // namespace mp::train
