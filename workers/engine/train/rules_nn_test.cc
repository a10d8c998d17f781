// Finite-difference tests of the Conv, pooling, Gemm and MatMul backward rules: one node
// with its data as graph inputs and its weights as initializers (trainable parameters).
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "workers/engine/exec/exec_test_util.h"
#include "workers/engine/train/grad_test_util.h"

namespace mp::train {
namespace {

using exec::testing::ModelBuilder;
using ir::Attribute;
using tensor::Tensor;
using testing::CheckGradients;
using testing::Distinct;
using testing::FdOptions;
using testing::Random;

struct ConvCase {
  std::string name;
  std::vector<int64_t> x, w;
  std::vector<Attribute> attrs;
  bool bias = true;
};

TEST(ConvRuleTest, MatchesFiniteDifferences) {
  const std::vector<ConvCase> cases = {
      {"plain", {2, 3, 6, 5}, {4, 3, 3, 3}, {}},
      {"padded strided",
       {2, 2, 7, 6},
       {3, 2, 3, 2},
       {Attribute("pads", std::vector<int64_t>{1, 0, 2, 1}),
        Attribute("strides", std::vector<int64_t>{2, 2})}},
      {"grouped dilated",
       {1, 4, 7, 7},
       {6, 2, 2, 3},
       {Attribute("group", int64_t{2}), Attribute("dilations", std::vector<int64_t>{2, 1}),
        Attribute("pads", std::vector<int64_t>{1, 1, 1, 1})}},
      {"depthwise",
       {2, 3, 5, 5},
       {3, 1, 3, 3},
       {Attribute("group", int64_t{3}), Attribute("pads", std::vector<int64_t>{1, 1, 1, 1})},
       false},
      {"same upper stride 2",
       {1, 2, 5, 6},
       {2, 2, 3, 3},
       {Attribute("auto_pad", std::string("SAME_UPPER")),
        Attribute("strides", std::vector<int64_t>{2, 2})}},
      {"1-D", {2, 3, 9}, {2, 3, 3}, {Attribute("pads", std::vector<int64_t>{1, 2})}},
      {"1x1", {3, 4, 3, 3}, {5, 4, 1, 1}, {}},
  };
  for (const ConvCase& c : cases) {
    SCOPED_TRACE(c.name);
    ModelBuilder b;
    b.Input("x", tensor::DType::kFloat32, c.x).Const("w", Random(c.w, 2));
    std::vector<std::string> in = {"x", "w"};
    if (c.bias) {
      b.Const("b", Random({c.w[0]}, 3));
      in.push_back("b");
    }
    b.Node("Conv", in, {"y"}, c.attrs).Output("y");
    EXPECT_GT(CheckGradients(b.Build(), {{"x", Random(c.x, 1)}}), 0);
  }
}

struct PoolCase {
  std::string name;
  std::string op;
  std::vector<int64_t> x;
  std::vector<Attribute> attrs;
};

TEST(PoolRuleTest, MatchesFiniteDifferences) {
  const std::vector<PoolCase> cases = {
      {"max 2x2",
       "MaxPool",
       {2, 3, 6, 6},
       {Attribute("kernel_shape", std::vector<int64_t>{2, 2}),
        Attribute("strides", std::vector<int64_t>{2, 2})}},
      {"max overlapping padded ceil",
       "MaxPool",
       {1, 2, 7, 6},
       {Attribute("kernel_shape", std::vector<int64_t>{3, 3}),
        Attribute("strides", std::vector<int64_t>{2, 2}),
        Attribute("pads", std::vector<int64_t>{1, 1, 1, 1}), Attribute("ceil_mode", int64_t{1})}},
      {"average pads excluded",
       "AveragePool",
       {2, 2, 5, 6},
       {Attribute("kernel_shape", std::vector<int64_t>{3, 3}),
        Attribute("strides", std::vector<int64_t>{2, 2}),
        Attribute("pads", std::vector<int64_t>{1, 1, 1, 1})}},
      {"average pads included",
       "AveragePool",
       {2, 2, 5, 6},
       {Attribute("kernel_shape", std::vector<int64_t>{3, 3}),
        Attribute("strides", std::vector<int64_t>{2, 2}),
        Attribute("pads", std::vector<int64_t>{1, 1, 1, 1}),
        Attribute("count_include_pad", int64_t{1})}},
      {"average ceil included",
       "AveragePool",
       {1, 2, 6, 7},
       {Attribute("kernel_shape", std::vector<int64_t>{2, 3}),
        Attribute("strides", std::vector<int64_t>{2, 2}),
        Attribute("pads", std::vector<int64_t>{0, 1, 0, 1}), Attribute("ceil_mode", int64_t{1}),
        Attribute("count_include_pad", int64_t{1})}},
      {"global average", "GlobalAveragePool", {2, 3, 4, 5}, {}},
      {"global max", "GlobalMaxPool", {2, 3, 4, 5}, {}},
      {"max 1-D",
       "MaxPool",
       {2, 2, 9},
       {Attribute("kernel_shape", std::vector<int64_t>{3}),
        Attribute("strides", std::vector<int64_t>{2})}},
  };
  for (const PoolCase& c : cases) {
    SCOPED_TRACE(c.name);
    ModelBuilder b;
    b.Input("x", tensor::DType::kFloat32, c.x).Node(c.op, {"x"}, {"y"}, c.attrs).Output("y");
    // Distinct inputs 0.05 apart: a 0.01 step never changes a window's argmax.
    EXPECT_GT(CheckGradients(b.Build(), {{"x", Distinct(c.x, 4)}}), 0);
  }
}

struct GemmCase {
  int64_t trans_a, trans_b;
  float alpha, beta;
  std::vector<int64_t> c;
};

TEST(GemmRuleTest, MatchesFiniteDifferences) {
  const int64_t m = 4, k = 5, n = 3;
  const std::vector<GemmCase> cases = {{0, 0, 1.0f, 1.0f, {n}},
                                       {0, 1, 0.5f, 2.0f, {m, n}},
                                       {1, 0, 1.5f, 1.0f, {1, n}},
                                       {1, 1, 1.0f, 0.5f, {m, 1}},
                                       {0, 1, 1.0f, 1.0f, {}}};
  for (const GemmCase& c : cases) {
    SCOPED_TRACE(::testing::Message() << "transA=" << c.trans_a << " transB=" << c.trans_b);
    ModelBuilder b;
    const std::vector<int64_t> a_dims =
        c.trans_a ? std::vector<int64_t>{k, m} : std::vector<int64_t>{m, k};
    const std::vector<int64_t> b_dims =
        c.trans_b ? std::vector<int64_t>{n, k} : std::vector<int64_t>{k, n};
    b.Input("a", tensor::DType::kFloat32, a_dims).Const("w", Random(b_dims, 2));
    std::vector<std::string> in = {"a", "w"};
    if (!c.c.empty()) {
      b.Const("c", Random(c.c, 3));
      in.push_back("c");
    }
    b.Node("Gemm", in, {"y"},
           {Attribute("transA", c.trans_a), Attribute("transB", c.trans_b),
            Attribute("alpha", c.alpha), Attribute("beta", c.beta)})
        .Output("y");
    EXPECT_GT(CheckGradients(b.Build(), {{"a", Random(a_dims, 1)}}), 0);
  }
}

TEST(MatMulRuleTest, BatchedBroadcastAndVectors) {
  struct Case {
    std::vector<int64_t> a, b;
  };
  const std::vector<Case> cases = {
      {{3, 4}, {4, 2}}, {{2, 3, 4}, {4, 5}}, {{2, 1, 3, 4}, {3, 4, 2}},
      {{4}, {2, 4, 3}}, {{2, 3, 4}, {4}},    {{5}, {5}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << "a rank " << c.a.size() << " b rank " << c.b.size());
    ModelBuilder b;
    b.Input("a", tensor::DType::kFloat32, c.a)
        .Input("b", tensor::DType::kFloat32, c.b)
        .Node("MatMul", {"a", "b"}, {"y"})
        .Output("y");
    EXPECT_GT(CheckGradients(b.Build(), {{"a", Random(c.a, 1)}, {"b", Random(c.b, 2)}}), 0);
  }
}

}  // namespace
}  // namespace mp::train
