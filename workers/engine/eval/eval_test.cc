#include "workers/engine/eval/eval.h"

#include <cmath>
#include <limits>
#include <memory>

#include "gtest/gtest.h"
#include "workers/engine/ir/graph.h"

namespace mp::eval {
namespace {

using tensor::DType;
using tensor::Shape;
using tensor::Tensor;

// y = x @ W with W = [[1, 0, 0], [0, 1, 0]] (float32 [N, 2] -> [N, 3]): class 0 wins when
// x0 > x1, class 1 when x1 > x0, class 0 on ties (argmax picks the lowest index).
std::unique_ptr<exec::Session> MakeSelectorSession() {
  ir::Model model;
  model.opset_imports.push_back({"", 13});
  ir::Graph& g = model.graph;
  ir::ValueId x = g.AddValue("x", DType::kFloat32, ir::PartialShape({{-1, "N"}, {2, ""}}));
  ir::ValueId w = g.AddInitializer("w", Tensor::FromVector<float>(Shape{2, 3}, {1, 0, 0, 0, 1, 0}));
  ir::ValueId y = g.AddValue("y", DType::kFloat32);
  g.AddNode({.name = "mm", .op_type = "MatMul", .inputs = {x, w}, .outputs = {y}});
  g.AddGraphInput(x);
  g.AddGraphOutput(y);
  auto session = exec::Session::Create(std::move(model));
  EXPECT_TRUE(session.ok()) << session.status();
  return std::move(session).value();
}

data::Dataset MakeDataset(const std::vector<float>& xs, const std::vector<int64_t>& labels) {
  const int64_t n = static_cast<int64_t>(labels.size());
  auto ds = data::Dataset::Make(Tensor::FromVector<float>(Shape{n, 2}, xs),
                                Tensor::FromVector<int64_t>(Shape{n}, labels));
  EXPECT_TRUE(ds.ok()) << ds.status();
  return *ds;
}

TEST(EvalTest, Top1CountsCorrectRowsAcrossPartialBatches) {
  auto session = MakeSelectorSession();
  // Predictions: 0, 1, 0 (tie), 1, 0 ; labels: 0, 1, 1, 1, 2 -> 3 of 5 correct.
  data::Dataset ds = MakeDataset({2, 1, 0, 5, 3, 3, -1, 0, 9, 8}, {0, 1, 1, 1, 2});
  for (int64_t batch : {1, 2, 3, 5, 64}) {
    auto result = EvaluateTop1(*session, ds, batch);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->samples, 5);
    EXPECT_EQ(result->correct, 3) << "batch " << batch;
    EXPECT_DOUBLE_EQ(result->accuracy(), 0.6);
  }
  auto preds = PredictTop1(*session, ds, 2);
  ASSERT_TRUE(preds.ok());
  EXPECT_EQ(*preds, (std::vector<int64_t>{0, 1, 0, 1, 0}));
}

TEST(EvalTest, ErrorsNameTheProblem) {
  auto session = MakeSelectorSession();
  auto unlabeled = data::Dataset::Make(Tensor::FromVector<float>(Shape{1, 2}, {1, 2}));
  ASSERT_TRUE(unlabeled.ok());
  auto r = EvaluateTop1(*session, *unlabeled, 4);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(r.status().message()).find("labels"), std::string::npos);
  EXPECT_EQ(PredictTop1(*session, *unlabeled, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Wrong sample shape: the session names the input.
  auto wide = data::Dataset::Make(Tensor::FromVector<float>(Shape{1, 3}, {1, 2, 3}));
  ASSERT_TRUE(wide.ok());
  auto bad = PredictTop1(*session, *wide, 1);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(bad.status().message()).find("'x'"), std::string::npos) << bad.status();
}

TEST(EvalTest, ArgmaxIgnoresNaNAndPicksLowestOnTies) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto preds =
      ArgmaxLastAxis(Tensor::FromVector<float>(Shape{3, 3}, {nan, 1, 2, 5, 5, 1, nan, nan, nan}));
  ASSERT_TRUE(preds.ok());
  EXPECT_EQ(*preds, (std::vector<int64_t>{2, 0, 0}));
  EXPECT_FALSE(ArgmaxLastAxis(Tensor::FromVector<int64_t>(Shape{1, 2}, {1, 2})).ok());
  EXPECT_FALSE(ArgmaxLastAxis(Tensor::Zeros(DType::kFloat32, Shape{2, 0})).ok());
}

TEST(EvalTest, Agreement) {
  std::vector<int64_t> a{1, 2, 3, 4}, b{1, 0, 3, 0};
  EXPECT_DOUBLE_EQ(*Agreement(a, b), 0.5);
  EXPECT_FALSE(Agreement(a, std::vector<int64_t>{1}).ok());
  EXPECT_FALSE(Agreement({}, {}).ok());
}

TEST(EvalTest, LatencyUsesTheInjectedClock) {
  auto session = MakeSelectorSession();
  FakeClock clock;  // never advances: every run measures 0 ms
  Tensor batch = Tensor::FromVector<float>(Shape{4, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  auto stats = MeasureLatency(*session, batch, {.warmup = 1, .iterations = 7}, &clock);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->batch_size, 4);
  EXPECT_EQ(stats->iterations, 7);
  EXPECT_EQ(stats->mean_ms, 0.0);
  auto real = MeasureLatency(*session, batch, {.warmup = 0, .iterations = 5}, SystemClock::Get());
  ASSERT_TRUE(real.ok());
  EXPECT_LE(real->min_ms, real->p50_ms);
  EXPECT_LE(real->p50_ms, real->p99_ms);
  EXPECT_GT(real->samples_per_second, 0);
  EXPECT_FALSE(MeasureLatency(*session, batch, {.warmup = 0, .iterations = 0}, &clock).ok());
}

}  // namespace
}  // namespace mp::eval
