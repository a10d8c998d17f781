// Hand-computed cases for Transpose, Concat, Split, Slice, Gather, Expand, Pad.
#include <limits>

#include "gmock/gmock.h"
#include "workers/engine/exec/exec_test_util.h"

namespace mp::exec {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::I64;
using testing::Iota;
using testing::RunNode;
using testing::Values;

ir::Attribute Ints(const char* name, std::vector<int64_t> v) {
  return ir::Attribute(name, std::move(v));
}
ir::Attribute Int(const char* name, int64_t v) { return ir::Attribute(name, v); }

TEST(TransposeOp, DefaultReversesAndPerm) {
  auto x = Iota<float>({2, 3});
  auto out = RunNode({.op = "Transpose", .inputs = {{"x", x}}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].shape(), Shape({3, 2}));
  EXPECT_THAT(Values<float>((*out)[0]), ElementsAre(0, 3, 1, 4, 2, 5));
  auto y = Iota<int8_t>({2, 2, 3});  // [a][b][c] = 6a + 3b + c
  out = RunNode({.op = "Transpose", .inputs = {{"x", y}}, .attrs = {Ints("perm", {1, 2, 0})}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].shape(), Shape({2, 3, 2}));
  EXPECT_THAT(Values<int8_t>((*out)[0]), ElementsAre(0, 6, 1, 7, 2, 8, 3, 9, 4, 10, 5, 11));
  out = RunNode({.op = "Transpose", .inputs = {{"x", y}}, .attrs = {Ints("perm", {0, 0, 1})}});
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("'perm'"));
}

TEST(ConcatOp, NegativeAxisThreeInputs) {
  auto a = Iota<int64_t>({2, 1});
  auto b = Iota<int64_t>({2, 2}, 10);
  auto c = Iota<int64_t>({2, 0});
  auto out = RunNode(
      {.op = "Concat", .inputs = {{"a", a}, {"b", b}, {"c0", c}}, .attrs = {Int("axis", -1)}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].shape(), Shape({2, 3}));
  EXPECT_THAT(Values<int64_t>((*out)[0]), ElementsAre(0, 10, 11, 1, 12, 13));
  out = RunNode({.op = "Concat",
                 .inputs = {{"a", a}, {"b", Iota<int64_t>({3, 2})}},
                 .attrs = {Int("axis", 1)}});
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("input 1 ('b')"));
}

TEST(SplitOp, AttributeInputAndNumOutputs) {
  auto x = Iota<float>({2, 5});
  auto out = RunNode({.op = "Split",
                      .inputs = {{"x", x}},
                      .attrs = {Int("axis", 1), Ints("split", {2, 3})},
                      .num_outputs = 2,
                      .opset = 11});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(Values<float>((*out)[0]), ElementsAre(0, 1, 5, 6));
  EXPECT_THAT(Values<float>((*out)[1]), ElementsAre(2, 3, 4, 7, 8, 9));
  out = RunNode({.op = "Split",
                 .inputs = {{"x", x}, {"c", I64({4, 1})}},
                 .attrs = {Int("axis", -1)},
                 .num_outputs = 2,
                 .opset = 13});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(Values<float>((*out)[1]), ElementsAre(4, 9));
  // Opset 18: num_outputs with an uneven last part (ceil(5/3) = 2 -> 2, 2, 1).
  out = RunNode({.op = "Split",
                 .inputs = {{"x", x}},
                 .attrs = {Int("axis", 1), Int("num_outputs", 3)},
                 .num_outputs = 3,
                 .opset = 18});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[2].shape(), Shape({2, 1}));
  EXPECT_THAT(Values<float>((*out)[2]), ElementsAre(4, 9));
  out = RunNode({.op = "Split",
                 .inputs = {{"x", x}},
                 .attrs = {Int("axis", 1)},
                 .num_outputs = 2,
                 .opset = 13});
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("does not split evenly"));
}

TEST(SliceOp, AttributeFormBeforeOpset10) {
  auto x = Iota<float>({3, 4});
  auto out = RunNode({.op = "Slice",
                      .inputs = {{"x", x}},
                      .attrs = {Ints("starts", {1, 0}), Ints("ends", {1000, 2})},
                      .opset = 9});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].shape(), Shape({2, 2}));
  EXPECT_THAT(Values<float>((*out)[0]), ElementsAre(4, 5, 8, 9));
}

TEST(SliceOp, NegativeStepsClampingAndAxes) {
  auto x = Iota<int32_t>({3, 4});
  const int64_t kMax = std::numeric_limits<int64_t>::max();
  const int64_t kMin = std::numeric_limits<int64_t>::min();
  // Reverse axis 1 entirely: start INT_MAX clamps to 3, end INT_MIN to -1.
  auto out = RunNode({.op = "Slice",
                      .inputs = {{"x", x},
                                 {"c1", I64({kMax})},
                                 {"c2", I64({kMin})},
                                 {"c3", I64({-1})},
                                 {"c4", I64({-1})}}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(Values<int32_t>((*out)[0]), ElementsAre(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8));
  // Step 2 on axis 0 and -2 on axis 1 from index -1.
  out = RunNode({.op = "Slice",
                 .inputs = {{"x", x},
                            {"c1", I64({0, -1})},
                            {"c2", I64({3, 0})},
                            {"c3", I64({0, 1})},
                            {"c4", I64({2, -2})}}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].shape(), Shape({2, 2}));
  EXPECT_THAT(Values<int32_t>((*out)[0]), ElementsAre(3, 1, 11, 9));
  // Empty result: start beyond end.
  out = RunNode({.op = "Slice", .inputs = {{"x", x}, {"c1", I64({3})}, {"c2", I64({1})}}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].shape(), Shape({0, 4}));
  out = RunNode(
      {.op = "Slice",
       .inputs = {
           {"x", x}, {"c1", I64({0})}, {"c2", I64({1})}, {"c3", I64({0})}, {"c4", I64({0})}}});
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("steps entry 0 is 0"));
  // Starts fed as a (small) graph input: planned by value.
  out = RunNode({.op = "Slice", .inputs = {{"x", x}, {"s", I64({2})}, {"c2", I64({3})}}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(Values<int32_t>((*out)[0]), ElementsAre(8, 9, 10, 11));
}

TEST(GatherOp, AxisNegativeIndicesAndInt32) {
  auto data = Iota<float>({2, 3});
  auto idx = Tensor::FromVector<int32_t>(Shape({2, 2}), {-1, 0, 1, 1});
  auto out =
      RunNode({.op = "Gather", .inputs = {{"x", data}, {"i", idx}}, .attrs = {Int("axis", 1)}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].shape(), Shape({2, 2, 2}));
  EXPECT_THAT(Values<float>((*out)[0]), ElementsAre(2, 0, 1, 1, 5, 3, 4, 4));
  auto scalar = Tensor::FromVector<int64_t>(Shape(), {1});
  out = RunNode({.op = "Gather", .inputs = {{"x", data}, {"i", scalar}}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].shape(), Shape({3}));
  EXPECT_THAT(Values<float>((*out)[0]), ElementsAre(3, 4, 5));
  auto bad = Tensor::FromVector<int64_t>(Shape({1}), {2});
  out = RunNode({.op = "Gather", .inputs = {{"x", data}, {"i", bad}}});
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("index 2"));
}

TEST(ExpandOp, BroadcastsBothWays) {
  auto x = Iota<float>({3, 1});
  auto out = RunNode({.op = "Expand", .inputs = {{"x", x}, {"c", I64({2, 1, 2})}}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].shape(), Shape({2, 3, 2}));
  EXPECT_THAT(Values<float>((*out)[0]), ElementsAre(0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2));
  out = RunNode({.op = "Expand", .inputs = {{"x", x}, {"c", I64({2, 2})}}});
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PadOp, ConstantReflectEdgeAndCrop) {
  auto x = Iota<float>({2, 3});  // [[0, 1, 2], [3, 4, 5]]
  auto out = RunNode(
      {.op = "Pad",
       .inputs = {
           {"x", x}, {"c", I64({0, 1, 1, -1})}, {"cv", Tensor::FromVector<float>(Shape(), {9})}}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].shape(), Shape({3, 3}));
  EXPECT_THAT(Values<float>((*out)[0]), ElementsAre(9, 0, 1, 9, 3, 4, 9, 9, 9));
  out = RunNode({.op = "Pad",
                 .inputs = {{"x", x}, {"c", I64({0, 2, 0, 1})}},
                 .attrs = {ir::Attribute("mode", std::string("reflect"))}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(Values<float>((*out)[0]), ElementsAre(2, 1, 0, 1, 2, 1, 5, 4, 3, 4, 5, 4));
  out = RunNode({.op = "Pad",
                 .inputs = {{"x", x}},
                 .attrs = {ir::Attribute("mode", std::string("edge")), Ints("pads", {1, 0, 0, 0})},
                 .opset = 10});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(Values<float>((*out)[0]), ElementsAre(0, 1, 2, 0, 1, 2, 3, 4, 5));
  out = RunNode({.op = "Pad",
                 .inputs = {{"x", x}, {"c", I64({0, 0, 0, 0})}},
                 .attrs = {ir::Attribute("mode", std::string("mirror"))}});
  EXPECT_EQ(out.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("attribute 'mode'"));
}

}  // namespace
}  // namespace mp::exec
