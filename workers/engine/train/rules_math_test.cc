// Finite-difference tests of the arithmetic and reduction backward rules (rules_math.cc).
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
using testing::Random;

TEST(MathRuleTest, UnaryOps) {
  const std::vector<int64_t> dims = {3, 7};
  for (const char* op : {"Sqrt", "Log", "Reciprocal"}) {  // positive domain
    SCOPED_TRACE(op);
    ModelBuilder b;
    b.Input("x", DType::kFloat32, dims).Node(op, {"x"}, {"y"}).Output("y");
    EXPECT_GT(CheckGradients(b.Build(), {{"x", Random(dims, 1, 0.5f, 2.0f)}}), 0);
  }
  for (const char* op : {"Erf", "Exp", "Neg"}) {
    SCOPED_TRACE(op);
    ModelBuilder b;
    b.Input("x", DType::kFloat32, dims).Node(op, {"x"}, {"y"}).Output("y");
    EXPECT_GT(CheckGradients(b.Build(), {{"x", Random(dims, 2, -1.5f, 1.5f)}}), 0);
  }
}

TEST(MathRuleTest, BroadcastingDivAndPow) {
  {
    ModelBuilder b;
    b.Input("a", DType::kFloat32, {2, 3, 4})
        .Input("b", DType::kFloat32, {3, 1})
        .Node("Div", {"a", "b"}, {"y"})
        .Output("y");
    EXPECT_GT(CheckGradients(b.Build(),
                             {{"a", Random({2, 3, 4}, 1)}, {"b", Random({3, 1}, 2, 0.5f, 2.0f)}}),
              0);
  }
  {
    // x^2 with a constant exponent (LayerNorm's variance); x^0.5 on a positive input.
    ModelBuilder b;
    b.Input("x", DType::kFloat32, {2, 5})
        .Const("two", Tensor::FromVector(tensor::Shape({}), std::vector<float>{2.0f}))
        .Node("Pow", {"x", "two"}, {"y"})
        .Output("y");
    EXPECT_GT(CheckGradients(b.Build(), {{"x", Random({2, 5}, 3)}}), 0);
    ModelBuilder c;
    c.Input("a", DType::kFloat32, {2, 5})
        .Const("e", Random({5}, 5, -1.5f, 1.5f))
        .Node("Pow", {"a", "e"}, {"y"})
        .Output("y");
    EXPECT_GT(CheckGradients(c.Build(), {{"a", Random({2, 5}, 4, 0.5f, 2.0f)}}), 0);
  }
}

TEST(MathRuleTest, ReduceMeanAndSum) {
  {
    ModelBuilder b(13);  // ReduceMean axes as attribute
    b.Input("x", DType::kFloat32, {2, 3, 4})
        .Node("ReduceMean", {"x"}, {"y"},
              {Attribute("axes", std::vector<int64_t>{-1}), Attribute("keepdims", int64_t{1})})
        .Output("y");
    EXPECT_GT(CheckGradients(b.Build(), {{"x", Random({2, 3, 4}, 1)}}), 0);
  }
  {
    ModelBuilder b(13);
    b.Input("x", DType::kFloat32, {2, 3, 4})
        .Node("ReduceMean", {"x"}, {"y"},
              {Attribute("axes", std::vector<int64_t>{0, 2}), Attribute("keepdims", int64_t{0})})
        .Output("y");
    EXPECT_GT(CheckGradients(b.Build(), {{"x", Random({2, 3, 4}, 2)}}), 0);
  }
  {
    ModelBuilder b(13);  // ReduceSum axes as input; all axes when absent
    b.Input("x", DType::kFloat32, {2, 3, 4})
        .Const("axes", Tensor::FromVector(tensor::Shape({1}), std::vector<int64_t>{1}))
        .Node("ReduceSum", {"x", "axes"}, {"y"})
        .Node("ReduceSum", {"x"}, {"z"}, {Attribute("keepdims", int64_t{0})})
        .Output("y")
        .Output("z");
    EXPECT_GT(CheckGradients(b.Build(), {{"x", Random({2, 3, 4}, 3)}}), 0);
  }
}

}  // namespace
}  // namespace mp::train
