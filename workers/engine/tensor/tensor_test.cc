#include "workers/engine/tensor/tensor.h"

#include <cstdint>
#include <limits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mp::tensor {
namespace {

using ::testing::HasSubstr;

TEST(DTypeTest, SizesAndNames) {
  EXPECT_EQ(DTypeSize(DType::kFloat32), 4u);
  EXPECT_EQ(DTypeSize(DType::kInt64), 8u);
  EXPECT_EQ(DTypeSize(DType::kFloat16), 2u);
  EXPECT_EQ(DTypeSize(DType::kBool), 1u);
  EXPECT_EQ(DTypeSize(DType::kUndefined), 0u);
  EXPECT_EQ(DTypeName(DType::kUint8), "uint8");
  EXPECT_EQ(DTypeName(DType::kBFloat16), "bfloat16");
  EXPECT_EQ(DTypeName(static_cast<DType>(42)), "undefined(42)");
  EXPECT_TRUE(IsKnownDType(7));
  EXPECT_FALSE(IsKnownDType(8));  // ONNX STRING: not supported
  EXPECT_FALSE(IsKnownDType(-1));
}

TEST(ShapeTest, ScalarAndBasics) {
  Shape scalar;
  EXPECT_EQ(scalar.rank(), 0);
  EXPECT_EQ(scalar.num_elements(), 1);
  Shape s{2, 3, 4};
  EXPECT_EQ(s.rank(), 3);
  EXPECT_EQ(s.num_elements(), 24);
  EXPECT_EQ(s.ToString(), "[2, 3, 4]");
  EXPECT_EQ(Shape({2, 0}).num_elements(), 0);
  EXPECT_TRUE(Shape({2, 3}) == Shape({2, 3}));
  EXPECT_FALSE(Shape({2, 3}) == Shape({3, 2}));
}

TEST(ShapeTest, MakeRejectsNegativeOverflowAndRank) {
  auto neg = Shape::Make({2, -1});
  ASSERT_FALSE(neg.ok());
  EXPECT_EQ(neg.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(neg.status().message()), HasSubstr("negative"));

  auto huge = Shape::Make({int64_t{1} << 62, 4});
  ASSERT_FALSE(huge.ok());
  EXPECT_THAT(std::string(huge.status().message()), HasSubstr("overflows"));
  // A later zero does not excuse an overflowing prefix.
  EXPECT_FALSE(Shape::Make({int64_t{1} << 62, 4, 0}).ok());
  EXPECT_TRUE(Shape::Make({int64_t{1} << 62, 1}).ok());

  EXPECT_FALSE(Shape::Make(std::vector<int64_t>(9, 1)).ok());
  EXPECT_TRUE(Shape::Make(std::vector<int64_t>(8, 1)).ok());
}

TEST(ShapeTest, CheckedNumElements) {
  std::vector<int64_t> dims = {3, 5, 7};
  EXPECT_EQ(*CheckedNumElements(dims), 105);
  std::vector<int64_t> big = {std::numeric_limits<int64_t>::max(), 2};
  EXPECT_FALSE(CheckedNumElements(big).ok());
  EXPECT_EQ(*CheckedNumElements({}), 1);
}

TEST(TensorTest, AllocateIsZeroedAndAligned) {
  auto t = Tensor::Allocate(DType::kFloat32, Shape{3, 5});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->byte_size(), 60u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t->raw_data()) % 64, 0u);
  for (float v : t->span<float>()) EXPECT_EQ(v, 0.0f);
  EXPECT_EQ(t->DebugString(), "float32[3, 5]");
}

TEST(TensorTest, AllocateRespectsLimit) {
  auto t = Tensor::Allocate(DType::kFloat32, Shape{1024}, /*max_bytes=*/4095);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kResourceExhausted);
  // Element count fits int64 but bytes would overflow: still a clean error.
  auto u = Tensor::Allocate(DType::kInt64, Shape{int64_t{1} << 61});
  EXPECT_EQ(u.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_FALSE(Tensor::Allocate(DType::kUndefined, Shape{1}).ok());
}

TEST(TensorTest, EmptyTensorHasBuffer) {
  Tensor t = Tensor::Zeros(DType::kInt8, Shape{0, 4});
  EXPECT_TRUE(t.defined());
  EXPECT_EQ(t.byte_size(), 0u);
  EXPECT_NE(t.raw_data(), nullptr);
}

TEST(TensorTest, FromVectorCopiesShallowAndClone) {
  Tensor a = Tensor::FromVector<float>(Shape{2, 2}, {1, 2, 3, 4});
  Tensor b = a;  // shallow
  EXPECT_TRUE(b.SharesBufferWith(a));
  b.mutable_data<float>()[0] = 9;
  EXPECT_EQ(a.data<float>()[0], 9);
  Tensor c = a.Clone();
  EXPECT_FALSE(c.SharesBufferWith(a));
  c.mutable_data<float>()[1] = -1;
  EXPECT_EQ(a.data<float>()[1], 2);
  EXPECT_EQ(c.data<float>()[3], 4);
  EXPECT_FALSE(Tensor().Clone().defined());
}

TEST(TensorTest, BoolAndInt64) {
  Tensor b = Tensor::FromVector<bool>(Shape{3}, {true, false, true});
  EXPECT_EQ(b.dtype(), DType::kBool);
  EXPECT_TRUE(b.data<bool>()[2]);
  EXPECT_FALSE(b.data<bool>()[1]);
  Tensor i = Tensor::FromVector<int64_t>(Shape{}, {int64_t{1} << 40});
  EXPECT_EQ(i.rank(), 0);
  EXPECT_EQ(i.data<int64_t>()[0], int64_t{1} << 40);
}

TEST(TensorTest, ReshapedAndView) {
  Tensor a = Tensor::FromVector<int32_t>(Shape{2, 3}, {0, 1, 2, 3, 4, 5});
  Tensor r = a.Reshaped(Shape{3, 2});
  EXPECT_TRUE(r.SharesBufferWith(a));
  EXPECT_EQ(r.shape(), Shape({3, 2}));
  Tensor v = Tensor::View(a, DType::kInt32, Shape{3}, 3 * sizeof(int32_t));
  EXPECT_EQ(v.span<int32_t>()[0], 3);
  EXPECT_EQ(v.span<int32_t>()[2], 5);
  // A view of a view composes offsets.
  Tensor vv = Tensor::View(v, DType::kInt32, Shape{1}, sizeof(int32_t));
  EXPECT_EQ(vv.data<int32_t>()[0], 4);
  // Reinterpreting bytes.
  Tensor bytes = Tensor::View(a, DType::kUint8, Shape{24}, 0);
  EXPECT_EQ(bytes.data<uint8_t>()[4], 1);
}

TEST(TensorDeathTest, MisuseCrashes) {
  Tensor a = Tensor::FromVector<float>(Shape{2}, {1, 2});
  EXPECT_DEATH(a.data<int32_t>(), "tensor is float32");
  EXPECT_DEATH(a.Reshaped(Shape{3}), "reshape");
  EXPECT_DEATH(Tensor::View(a, DType::kFloat32, Shape{2}, 4), "exceeds");
  EXPECT_DEATH(Shape({-1}), "negative");
}

}  // namespace
}  // namespace mp::tensor
