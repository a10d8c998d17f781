#include "common/status.h"

#include <string>

#include "gtest/gtest.h"

namespace mp {
namespace {

absl::StatusOr<int> Half(int x) {
  if (x % 2 != 0) return absl::InvalidArgumentError(StrCat(x, " is odd"));
  return x / 2;
}

absl::StatusOr<int> Quarter(int x) {
  ASSIGN_OR_RETURN(int half, Half(x));
  ASSIGN_OR_RETURN(auto quarter, Half(half));
  return quarter;
}

absl::Status CheckQuarter(int x, int* out) {
  ASSIGN_OR_RETURN(*out, Quarter(x));
  RETURN_IF_ERROR(absl::OkStatus());
  return absl::OkStatus();
}

int evaluations = 0;
absl::Status CountedFailure() {
  ++evaluations;
  return absl::NotFoundError("missing");
}

absl::Status PropagateOnce() {
  RETURN_IF_ERROR(CountedFailure());
  return absl::InternalError("not reached");
}

TEST(StatusTest, AssignOrReturnPropagatesValueAndError) {
  EXPECT_EQ(*Quarter(8), 2);
  absl::StatusOr<int> odd = Quarter(6);
  ASSERT_FALSE(odd.ok());
  EXPECT_EQ(odd.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(odd.status().message(), "3 is odd");
  int out = 0;
  EXPECT_TRUE(CheckQuarter(12, &out).ok());
  EXPECT_EQ(out, 3);
}

TEST(StatusTest, ReturnIfErrorEvaluatesOnceAndReturnsTheError) {
  evaluations = 0;
  absl::Status s = PropagateOnce();
  EXPECT_EQ(evaluations, 1);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
}

TEST(StatusTest, AnnotatePrependsContextAndKeepsCode) {
  absl::Status inner = absl::InvalidArgumentError("weight has 3 dims, expected 4");
  inner.SetPayload("mp/node", absl::Cord("conv3"));
  absl::Status outer = Annotate(Annotate(inner, "node 'conv3' (Conv)"), "import 'a.onnx'");
  EXPECT_EQ(outer.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(outer.message(), "import 'a.onnx': node 'conv3' (Conv): weight has 3 dims, expected 4");
  EXPECT_EQ(outer.GetPayload("mp/node").value_or(absl::Cord()), "conv3");
  EXPECT_TRUE(Annotate(absl::OkStatus(), "ignored").ok());
}

}  // namespace
}  // namespace mp
