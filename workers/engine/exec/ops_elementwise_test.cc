// Hand-computed cases for ops_binary.cc and ops_unary.cc, focused on what the ONNX
// conformance data covers thinly: integer dtypes, mixed-type Pow, Clip's two forms, Gelu,
// variadic Max/Min, and the error codes.
#include <cmath>

#include "workers/engine/exec/ops_test_util.h"

namespace mp::exec {
namespace {

using testing::ExpectNear;
using testing::F;
using testing::In;
using testing::OpCall;
using testing::RunOp;

TEST(BinaryOps, AddBroadcastsBothWays) {
  auto out = RunOp({.op_type = "Add", .inputs = {In(F({2, 1}, {1, 2})), In(F({3}, {10, 20, 30}))}});
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectNear((*out)[0], F({2, 3}, {11, 21, 31, 12, 22, 32}));
}

TEST(BinaryOps, SubDivScalarAndRank0) {
  auto out = RunOp({.op_type = "Div", .inputs = {In(F({3}, {1, 2, 3})), In(F({}, {4}))}});
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectNear((*out)[0], F({3}, {0.25f, 0.5f, 0.75f}));
  out = RunOp({.op_type = "Sub", .inputs = {In(F({}, {1})), In(F({2}, {5, 7}))}});
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectNear((*out)[0], F({2}, {-4, -6}));
}

TEST(BinaryOps, IntegerArithmeticWrapsAndTruncates) {
  auto a = Tensor::FromVector<int32_t>({4}, {INT32_MAX, -7, 7, INT32_MIN});
  auto b = Tensor::FromVector<int32_t>({4}, {1, 2, -2, -1});
  auto add = RunOp({.op_type = "Add", .inputs = {In(a), In(b)}});
  ASSERT_TRUE(add.ok()) << add.status();
  EXPECT_THAT((*add)[0].span<int32_t>(), ::testing::ElementsAre(INT32_MIN, -5, 5, INT32_MAX));
  auto div = RunOp({.op_type = "Div", .inputs = {In(a), In(b)}});
  ASSERT_TRUE(div.ok()) << div.status();
  EXPECT_THAT((*div)[0].span<int32_t>(),
              ::testing::ElementsAre(INT32_MAX, -3, -3, INT32_MIN));  // MIN / -1 wraps
  auto u = Tensor::FromVector<uint8_t>({2}, {250, 3});
  auto v = Tensor::FromVector<uint8_t>({1}, {10});
  auto mul = RunOp({.op_type = "Mul", .inputs = {In(u), In(v)}});
  ASSERT_TRUE(mul.ok()) << mul.status();
  EXPECT_THAT((*mul)[0].span<uint8_t>(), ::testing::ElementsAre(196, 30));  // 2500 mod 256
}

TEST(BinaryOps, IntegerDivisionByZeroIsAnError) {
  auto a = Tensor::FromVector<int64_t>({2}, {1, 2});
  auto b = Tensor::FromVector<int64_t>({2}, {1, 0});
  auto out = RunOp({.op_type = "Div", .inputs = {In(a), In(b)}});
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(out.status().message()), ::testing::HasSubstr("division by zero"));
}

TEST(BinaryOps, MismatchedShapesNameTheNode) {
  auto out = RunOp({.op_type = "Mul", .inputs = {In(F({2}, {1, 2})), In(F({3}, {1, 2, 3}))}});
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(out.status().message()), ::testing::HasSubstr("node 'n0' (Mul)"));
}

TEST(BinaryOps, DTypeMismatchIsInvalid) {
  auto out = RunOp(
      {.op_type = "Add", .inputs = {In(F({1}, {1})), In(Tensor::FromVector<int32_t>({1}, {1}))}});
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(BinaryOps, PowMixedTypes) {
  auto f =
      RunOp({.op_type = "Pow",
             .inputs = {In(F({3}, {2, 3, 4})), In(Tensor::FromVector<int64_t>({3}, {3, 2, -1}))}});
  ASSERT_TRUE(f.ok()) << f.status();
  ExpectNear((*f)[0], F({3}, {8, 9, 0.25f}));
  auto i = RunOp({.op_type = "Pow",
                  .inputs = {In(Tensor::FromVector<int32_t>({3}, {2, 3, 4})), In(F({1}, {0.5f}))}});
  ASSERT_TRUE(i.ok()) << i.status();
  EXPECT_THAT((*i)[0].span<int32_t>(), ::testing::ElementsAre(1, 1, 2));  // truncated
}

TEST(BinaryOps, PReluSlopeBroadcastsOnlyToX) {
  auto out = RunOp(
      {.op_type = "PRelu", .inputs = {In(F({2, 2}, {-1, 2, -3, 4})), In(F({2}, {0.5f, 0.25f}))}});
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectNear((*out)[0], F({2, 2}, {-0.5f, 2, -1.5f, 4}));
  auto bad =
      RunOp({.op_type = "PRelu", .inputs = {In(F({2}, {-1, 2})), In(F({2, 2}, {1, 1, 1, 1}))}});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(BinaryOps, VariadicMaxMin) {
  auto max = RunOp({.op_type = "Max",
                    .inputs = {In(F({3}, {1, 5, 3})), In(F({1}, {2})), In(F({2, 1}, {0, 4}))}});
  ASSERT_TRUE(max.ok()) << max.status();
  ExpectNear((*max)[0], F({2, 3}, {2, 5, 3, 4, 5, 4}));
  auto one = RunOp({.op_type = "Min", .inputs = {In(F({2}, {7, -1}))}});
  ASSERT_TRUE(one.ok()) << one.status();
  ExpectNear((*one)[0], F({2}, {7, -1}));
  auto ints = RunOp({.op_type = "Min",
                     .inputs = {In(Tensor::FromVector<int8_t>({3}, {1, -5, 3})),
                                In(Tensor::FromVector<int8_t>({1}, {2}))}});
  ASSERT_TRUE(ints.ok()) << ints.status();
  EXPECT_THAT((*ints)[0].span<int8_t>(), ::testing::ElementsAre(1, -5, 2));
}

TEST(BinaryOps, VariadicSumMean) {
  auto sum = RunOp(
      {.op_type = "Sum", .inputs = {In(F({2}, {1, 2})), In(F({1}, {10})), In(F({2}, {4, 8}))}});
  ASSERT_TRUE(sum.ok()) << sum.status();
  ExpectNear((*sum)[0], F({2}, {15, 20}));
  auto mean = RunOp(
      {.op_type = "Mean", .inputs = {In(F({2}, {1, 2})), In(F({1}, {10})), In(F({2}, {4, 8}))}});
  ASSERT_TRUE(mean.ok()) << mean.status();
  ExpectNear((*mean)[0], F({2}, {5, 20.0f / 3}));
  auto ints = RunOp({.op_type = "Sum",
                     .inputs = {In(Tensor::FromVector<int32_t>({1}, {1})),
                                In(Tensor::FromVector<int32_t>({1}, {2}))}});
  EXPECT_EQ(ints.status().code(), absl::StatusCode::kUnimplemented);
}

TEST(UnaryOps, ClipAttributeFormBeforeOpset11) {
  auto out = RunOp({.op_type = "Clip",
                    .attrs = {ir::Attribute("min", -1.0f), ir::Attribute("max", 1.5f)},
                    .inputs = {In(F({4}, {-3, 0.5f, 2, 1}))},
                    .opset = 10});
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectNear((*out)[0], F({4}, {-1, 0.5f, 1.5f, 1}));
}

TEST(UnaryOps, ClipInputFormWithOmittedMin) {
  auto out = RunOp({.op_type = "Clip",
                    .inputs = {In(F({3}, {-3, 0.5f, 2})), In::Omitted(), In(F({}, {1}))},
                    .opset = 13});
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectNear((*out)[0], F({3}, {-3, 0.5f, 1}));
  auto ints = RunOp({.op_type = "Clip",
                     .inputs = {In(Tensor::FromVector<int8_t>({3}, {-100, 5, 100})),
                                In(Tensor::FromVector<int8_t>({}, {-10}))},
                     .opset = 13});
  ASSERT_TRUE(ints.ok()) << ints.status();
  EXPECT_THAT((*ints)[0].span<int8_t>(), ::testing::ElementsAre(-10, 5, 100));
}

TEST(UnaryOps, ActivationsWithAttributes) {
  auto leaky = RunOp({.op_type = "LeakyRelu",
                      .attrs = {ir::Attribute("alpha", 0.1f)},
                      .inputs = {In(F({2}, {-2, 3}))}});
  ASSERT_TRUE(leaky.ok()) << leaky.status();
  ExpectNear((*leaky)[0], F({2}, {-0.2f, 3}));
  auto hs = RunOp({.op_type = "HardSigmoid", .inputs = {In(F({3}, {-10, 0, 1}))}});
  ASSERT_TRUE(hs.ok()) << hs.status();
  ExpectNear((*hs)[0], F({3}, {0, 0.5f, 0.7f}));
  auto hswish = RunOp({.op_type = "HardSwish", .inputs = {In(F({3}, {-4, 1, 4}))}});
  ASSERT_TRUE(hswish.ok()) << hswish.status();
  ExpectNear((*hswish)[0], F({3}, {0, 1.0f * (1.0f / 6 + 0.5f), 4}));
}

TEST(UnaryOps, GeluBothApproximations) {
  const float x = 1.0f;
  const float exact = 0.5f * x * (1.0f + std::erf(x / std::sqrt(2.0f)));
  const float approx =
      0.5f * x * (1.0f + std::tanh(std::sqrt(2.0f / 3.14159265f) * (x + 0.044715f * x * x * x)));
  auto none = RunOp({.op_type = "Gelu", .inputs = {In(F({1}, {x}))}, .opset = 20});
  ASSERT_TRUE(none.ok()) << none.status();
  ExpectNear((*none)[0], F({1}, {exact}));
  auto tanh = RunOp({.op_type = "Gelu",
                     .attrs = {ir::Attribute("approximate", std::string("tanh"))},
                     .inputs = {In(F({1}, {x}))},
                     .opset = 20});
  ASSERT_TRUE(tanh.ok()) << tanh.status();
  ExpectNear((*tanh)[0], F({1}, {approx}));
  auto bad = RunOp({.op_type = "Gelu",
                    .attrs = {ir::Attribute("approximate", std::string("cubic"))},
                    .inputs = {In(F({1}, {x}))},
                    .opset = 20});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(bad.status().message()), ::testing::HasSubstr("'approximate'"));
  auto early = RunOp({.op_type = "Gelu", .inputs = {In(F({1}, {x}))}, .opset = 17});
  EXPECT_EQ(early.status().code(), absl::StatusCode::kUnimplemented);
}

TEST(UnaryOps, IntegerNegAbsRelu) {
  auto x = Tensor::FromVector<int64_t>({3}, {-4, 0, 9});
  auto neg = RunOp({.op_type = "Neg", .inputs = {In(x)}});
  ASSERT_TRUE(neg.ok()) << neg.status();
  EXPECT_THAT((*neg)[0].span<int64_t>(), ::testing::ElementsAre(4, 0, -9));
  auto relu = RunOp({.op_type = "Relu", .inputs = {In(x)}});
  ASSERT_TRUE(relu.ok()) << relu.status();
  EXPECT_THAT((*relu)[0].span<int64_t>(), ::testing::ElementsAre(0, 0, 9));
  auto exp = RunOp({.op_type = "Exp", .inputs = {In(x)}});
  EXPECT_EQ(exp.status().code(), absl::StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace mp::exec
