// Hand-computed cases for the shape-only ops (ops_shape.cc) and generators/casts
// (ops_generator.cc, ops_cast.cc, ops_select.cc), run through a Session.
#include <cmath>
#include <limits>

#include "gmock/gmock.h"
#include "workers/engine/exec/exec_test_util.h"
#include "workers/engine/tensor/float16.h"

namespace mp::exec {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::I64;
using testing::Iota;
using testing::RunNode;
using testing::Values;

TEST(ReshapeOp, ZeroCopiesDimAndMinusOneInfers) {
  auto out =
      RunNode({.op = "Reshape", .inputs = {{"x", Iota<float>({2, 3, 4})}, {"c", I64({0, -1})}}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].shape(), Shape({2, 12}));
  EXPECT_EQ(Values<float>((*out)[0])[13], 13.0f);
}

TEST(ReshapeOp, AllowZeroKeepsLiteralZero) {
  auto out =
      RunNode({.op = "Reshape",
               .inputs = {{"x", Tensor::Zeros(DType::kFloat32, Shape({0, 3}))}, {"c", I64({3, 0})}},
               .attrs = {ir::Attribute("allowzero", int64_t{1})},
               .opset = 14});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].shape(), Shape({3, 0}));
}

TEST(ReshapeOp, BadTargetNamesNodeAndInput) {
  auto out =
      RunNode({.op = "Reshape", .inputs = {{"x", Iota<float>({2, 3})}, {"c", I64({4, -1})}}});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("node 'n0' (Reshape): input 1 ('c')"));
  out = RunNode({.op = "Reshape", .inputs = {{"x", Iota<float>({2, 3})}, {"c", I64({-1, -1})}}});
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("more than one -1"));
}

TEST(ReshapeOp, AttributeFormBeforeOpset5) {
  auto out = RunNode({.op = "Reshape",
                      .inputs = {{"x", Iota<int64_t>({6})}},
                      .attrs = {ir::Attribute("shape", std::vector<int64_t>{3, 2})},
                      .opset = 4});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].shape(), Shape({3, 2}));
}

TEST(FlattenOp, AxisZeroAndNegative) {
  auto out = RunNode({.op = "Flatten",
                      .inputs = {{"x", Iota<float>({2, 3, 4})}},
                      .attrs = {ir::Attribute("axis", int64_t{0})}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].shape(), Shape({1, 24}));
  out = RunNode({.op = "Flatten",
                 .inputs = {{"x", Iota<float>({2, 3, 4})}},
                 .attrs = {ir::Attribute("axis", int64_t{-1})}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].shape(), Shape({6, 4}));
  out = RunNode({.op = "Flatten",
                 .inputs = {{"x", Iota<float>({2, 3})}},
                 .attrs = {ir::Attribute("axis", int64_t{3})}});
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SqueezeOp, AttributeInputAndAllOnes) {
  auto x = Iota<float>({1, 3, 1, 2});
  auto out = RunNode({.op = "Squeeze",
                      .inputs = {{"x", x}},
                      .attrs = {ir::Attribute("axes", std::vector<int64_t>{-2})},
                      .opset = 11});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].shape(), Shape({1, 3, 2}));
  out = RunNode({.op = "Squeeze", .inputs = {{"x", x}, {"c", I64({0})}}, .opset = 13});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].shape(), Shape({3, 1, 2}));
  out = RunNode({.op = "Squeeze", .inputs = {{"x", x}}, .opset = 13});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].shape(), Shape({3, 2}));
  EXPECT_EQ(Values<float>((*out)[0]), Values<float>(x));
  out = RunNode({.op = "Squeeze", .inputs = {{"x", x}, {"c", I64({1})}}, .opset = 13});
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("cannot squeeze dim 1"));
}

TEST(UnsqueezeOp, BothFormsAndNegativeAxes) {
  auto x = Iota<int32_t>({3, 4});
  auto out = RunNode({.op = "Unsqueeze",
                      .inputs = {{"x", x}},
                      .attrs = {ir::Attribute("axes", std::vector<int64_t>{0, 3})},
                      .opset = 11});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].shape(), Shape({1, 3, 4, 1}));
  out = RunNode({.op = "Unsqueeze", .inputs = {{"x", x}, {"c", I64({-1, 1})}}, .opset = 13});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].shape(), Shape({3, 1, 4, 1}));
  out = RunNode({.op = "Unsqueeze", .inputs = {{"x", x}, {"c", I64({1, 1})}}, .opset = 13});
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("repeated"));
  // Opset 13 takes axes as an input: the attribute form has the wrong arity.
  out = RunNode({.op = "Unsqueeze",
                 .inputs = {{"x", x}},
                 .attrs = {ir::Attribute("axes", std::vector<int64_t>{0})},
                 .opset = 13});
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(IdentityAndDropout, CopyAndMask) {
  auto x = Iota<float>({2, 2});
  auto out = RunNode({.op = "Identity", .inputs = {{"x", x}}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(Values<float>((*out)[0]), Values<float>(x));
  out = RunNode({.op = "Dropout", .inputs = {{"x", x}}, .num_outputs = 2});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(Values<float>((*out)[0]), Values<float>(x));
  EXPECT_EQ((*out)[1].dtype(), DType::kBool);
  EXPECT_THAT(Values<bool>((*out)[1]), ElementsAre(true, true, true, true));
  auto training = Tensor::FromVector<bool>(Shape(), {true});
  out = RunNode({.op = "Dropout", .inputs = {{"x", x}, {"", {}}, {"c", training}}});
  EXPECT_EQ(out.status().code(), absl::StatusCode::kUnimplemented);
}

TEST(ShapeOp, StartEndAndSize) {
  auto x = Tensor::Zeros(DType::kUint8, Shape({2, 3, 5}));
  auto out = RunNode({.op = "Shape", .inputs = {{"x", x}}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(Values<int64_t>((*out)[0]), ElementsAre(2, 3, 5));
  out = RunNode({.op = "Shape",
                 .inputs = {{"x", x}},
                 .attrs = {ir::Attribute("start", int64_t{-2}), ir::Attribute("end", int64_t{99})},
                 .opset = 15});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(Values<int64_t>((*out)[0]), ElementsAre(3, 5));
  out = RunNode({.op = "Size", .inputs = {{"x", x}}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].shape(), Shape());
  EXPECT_THAT(Values<int64_t>((*out)[0]), ElementsAre(30));
}

TEST(ConstantOp, AttributeForms) {
  auto out = RunNode(
      {.op = "Constant", .attrs = {ir::Attribute("value_ints", std::vector<int64_t>{4, 5})}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(Values<int64_t>((*out)[0]), ElementsAre(4, 5));
  out = RunNode({.op = "Constant", .attrs = {ir::Attribute("value_float", 2.5f)}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].shape(), Shape());
  EXPECT_THAT(Values<float>((*out)[0]), ElementsAre(2.5f));
  out = RunNode({.op = "Constant", .attrs = {ir::Attribute("value", Iota<int32_t>({2, 2}))}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(Values<int32_t>((*out)[0]), ElementsAre(0, 1, 2, 3));
  out = RunNode({.op = "Constant", .attrs = {}});
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ConstantOfShapeOp, FillsValueAndCapsSize) {
  auto out =
      RunNode({.op = "ConstantOfShape",
               .inputs = {{"c", I64({2, 3})}},
               .attrs = {ir::Attribute("value", Tensor::FromVector<int64_t>(Shape({1}), {7}))}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].shape(), Shape({2, 3}));
  EXPECT_THAT(Values<int64_t>((*out)[0]), ElementsAre(7, 7, 7, 7, 7, 7));
  out = RunNode({.op = "ConstantOfShape", .inputs = {{"c", I64({2})}}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(Values<float>((*out)[0]), ElementsAre(0.0f, 0.0f));
  // 1e18 elements: must fail before allocating anything.
  out = RunNode({.op = "ConstantOfShape", .inputs = {{"c", I64({1000000, 1000000, 1000000})}}});
  EXPECT_EQ(out.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("(ConstantOfShape)"));
  // Element count overflowing int64.
  out = RunNode(
      {.op = "ConstantOfShape", .inputs = {{"c", I64({int64_t{1} << 40, int64_t{1} << 40})}}});
  EXPECT_EQ(out.status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(RangeOp, IntAndFloat) {
  auto s = [](auto v) { return Tensor::FromVector<decltype(v)>(Shape(), {v}); };
  auto out =
      RunNode({.op = "Range",
               .inputs = {{"c0", s(int64_t{10})}, {"c1", s(int64_t{1})}, {"c2", s(int64_t{-3})}}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(Values<int64_t>((*out)[0]), ElementsAre(10, 7, 4));
  out = RunNode({.op = "Range", .inputs = {{"c0", s(0.5f)}, {"c1", s(2.0f)}, {"c2", s(0.5f)}}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(Values<float>((*out)[0]), ElementsAre(0.5f, 1.0f, 1.5f));
  out = RunNode({.op = "Range", .inputs = {{"c0", s(1)}, {"c1", s(0)}, {"c2", s(1)}}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].num_elements(), 0);
  out = RunNode({.op = "Range", .inputs = {{"c0", s(1)}, {"c1", s(5)}, {"c2", s(0)}}});
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(CastOp, SaturatesTruncatesAndConvertsBool) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto x = Tensor::FromVector<float>(Shape({5}), {1.9f, -1.9f, 300.0f, -300.0f, nan});
  auto to = [](DType d) { return ir::Attribute("to", static_cast<int64_t>(d)); };
  auto out = RunNode({.op = "Cast", .inputs = {{"x", x}}, .attrs = {to(DType::kInt8)}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(Values<int8_t>((*out)[0]), ElementsAre(1, -1, 127, -128, 0));
  out = RunNode({.op = "Cast", .inputs = {{"x", x}}, .attrs = {to(DType::kBool)}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(Values<bool>((*out)[0]), ElementsAre(true, true, true, true, true));
  auto i = Tensor::FromVector<int64_t>(Shape({3}), {0, 257, -1});
  out = RunNode({.op = "Cast", .inputs = {{"x", i}}, .attrs = {to(DType::kUint8)}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(Values<uint8_t>((*out)[0]), ElementsAre(0, 1, 255));
  out = RunNode({.op = "Cast", .inputs = {{"x", i}}, .attrs = {to(DType::kFloat16)}});
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ((*out)[0].dtype(), DType::kFloat16);
  const auto* h = static_cast<const uint16_t*>((*out)[0].raw_data());
  EXPECT_EQ(tensor::HalfToFloat(h[1]), 257.0f);
  EXPECT_EQ(tensor::HalfToFloat(h[2]), -1.0f);
  out = RunNode({.op = "Cast", .inputs = {{"x", i}}, .attrs = {to(DType::kUndefined)}});
  EXPECT_EQ(out.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("attribute 'to'"));
}

TEST(WhereEqualOps, Broadcast) {
  auto a = Tensor::FromVector<int64_t>(Shape({2, 2}), {1, 2, 3, 4});
  auto b = Tensor::FromVector<int64_t>(Shape({2}), {1, 4});
  auto out = RunNode({.op = "Equal", .inputs = {{"a", a}, {"b", b}}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(Values<bool>((*out)[0]), ElementsAre(true, false, false, true));
  auto cond = Tensor::FromVector<bool>(Shape({2, 1}), {true, false});
  auto x = Tensor::FromVector<float>(Shape({2}), {1, 2});
  auto y = Tensor::FromVector<float>(Shape(), {9});
  out = RunNode({.op = "Where", .inputs = {{"p", cond}, {"x", x}, {"y", y}}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].shape(), Shape({2, 2}));
  EXPECT_THAT(Values<float>((*out)[0]), ElementsAre(1, 2, 9, 9));
  out = RunNode({.op = "Equal", .inputs = {{"a", a}, {"b", Iota<int64_t>({3})}}});
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace mp::exec
