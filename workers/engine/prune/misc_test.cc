// Statistics, schedules, sensitivity, and bad input.
#include <cmath>
#include <string>

#include "gtest/gtest.h"
#include "workers/engine/data/npy.h"
#include "workers/engine/prune/prune.h"
#include "workers/engine/prune/test_util.h"

namespace mp::prune {
namespace {

using absl::StatusCode;
using tensor::Shape;
using testing::GemmModel;
using testing::LoadFixture;
using testing::SourcePath;

bool Mentions(const absl::Status& s, const std::string& text) {
  return std::string(s.message()).find(text) != std::string::npos;
}

TEST(StatsTest, LeNetMacsAndParameters) {
  ir::Model m = LoadFixture("lenet");
  auto stats = ComputeStats(m, {Shape{2, 1, 28, 28}});
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_EQ(stats->layers.size(), 5u);
  // conv1: 6x28x28 outputs x 25 MACs; conv2: 16x10x10 x 150; fc: 400x120, 120x84, 84x10.
  const int64_t per_sample = 6 * 28 * 28 * 25 + 16 * 10 * 10 * 150 + 400 * 120 + 120 * 84 + 84 * 10;
  EXPECT_EQ(stats->macs, 2 * per_sample);
  EXPECT_EQ(stats->layers[0].macs, 2 * 6 * 28 * 28 * 25);
  EXPECT_EQ(stats->parameters, 61706);
  EXPECT_EQ(stats->parameter_bytes, 61706 * 4);
  ASSERT_TRUE(MagnitudePrune({.sparsity = 0.5}, &m).ok());
  auto pruned = ComputeStats(m);
  ASSERT_TRUE(pruned.ok());
  for (const LayerStats& l : pruned->layers) EXPECT_NEAR(l.sparsity(), 0.5, 1e-3) << l.layer;
  EXPECT_EQ(pruned->macs, per_sample);  // declared batch is dynamic -> 1
}

TEST(ScheduleTest, AgpFollowsZhuGupta) {
  Schedule s{.initial = 0.0, .final = 0.8, .steps = 4};
  std::vector<double> got;
  for (int t = 0; t < 6; ++t) got.push_back(*SparsityAt(s, t));
  for (int t = 0; t < 4; ++t) {
    const double want = 0.8 + (0.0 - 0.8) * std::pow(1.0 - (t + 1) / 4.0, 3);
    EXPECT_NEAR(got[size_t(t)], want, 1e-12) << t;
  }
  EXPECT_DOUBLE_EQ(got[3], 0.8);
  EXPECT_DOUBLE_EQ(got[5], 0.8);
  for (int t = 1; t < 6; ++t) EXPECT_GE(got[size_t(t)], got[size_t(t - 1)]);
  EXPECT_DOUBLE_EQ(*SparsityAt({.kind = Schedule::Kind::kOneShot, .final = 0.6}, 0), 0.6);
  auto per_layer = LayerTargetsAt(s, {{"a", 0.4}, {"b", 0.9}}, 1);
  ASSERT_TRUE(per_layer.ok());
  EXPECT_NEAR((*per_layer)[0].second, 0.4 - 0.4 * 0.125, 1e-12);
  EXPECT_NEAR((*per_layer)[1].second, 0.9 - 0.9 * 0.125, 1e-12);
  EXPECT_EQ(SparsityAt({.final = 1.0}, 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(SparsityAt({.initial = 0.5, .final = 0.2}, 0).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(SparsityAt({.steps = 0}, 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(SparsityAt(s, -1).status().code(), StatusCode::kInvalidArgument);
}

TEST(SensitivityTest, TableAndTargets) {
  const ir::Model m = LoadFixture("lenet");
  auto x = data::ReadNpy(SourcePath("tests/fixtures/data/images_64.npy"));
  auto y = data::ReadNpy(SourcePath("tests/fixtures/data/labels_64.npy"));
  ASSERT_TRUE(x.ok() && y.ok());
  auto ds = data::Dataset::Make(*x, *y);
  ASSERT_TRUE(ds.ok());
  for (auto method :
       {SensitivityOptions::Method::kMagnitude, SensitivityOptions::Method::kStructured}) {
    auto table = AnalyzeSensitivity(m, *ds, {.method = method, .sparsities = {0.0, 0.5, 0.9}});
    ASSERT_TRUE(table.ok()) << table.status();
    EXPECT_GT(table->baseline, 0.6);
    ASSERT_EQ(table->rows.size(), 5u);
    for (const SensitivityRow& row : table->rows) {
      if (!row.skipped.empty()) continue;
      ASSERT_EQ(row.accuracy.size(), 3u);
      EXPECT_DOUBLE_EQ(row.accuracy[0], table->baseline) << row.layer;  // sparsity 0
    }
    // Pruning 90% of a conv layer's channels hurts on this data.
    if (method == SensitivityOptions::Method::kStructured) {
      EXPECT_LT(table->rows[1].accuracy[2], table->baseline);
      EXPECT_FALSE(table->rows[4].skipped.empty());  // the logits layer
    }
    const LayerTargets targets = TargetsWithinDrop(*table, 0.0);
    for (const auto& [layer, s] : targets) EXPECT_GE(s, 0.0) << layer;
  }
  EXPECT_EQ(AnalyzeSensitivity(m, *ds, {.layers = {"nope"}}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(BadInputTest, ErrorsNameTheCulprit) {
  ir::Model m = GemmModel(2, 4, {1, 2, 3, 4, 5, 6, 7, 8});
  auto s = MagnitudePrune({.sparsity = 1.0}, &m).status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Mentions(s, "sparsity 1 is outside [0, 1)")) << s;
  s = MagnitudePrune({.sparsity = -0.1}, &m).status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  s = MagnitudePrune({.per_layer = {{"conv9", 0.5}}}, &m).status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Mentions(s, "no prunable layer named 'conv9' (layers: 'fc')")) << s;
  s = MagnitudePrune({.per_layer = {{"fc", 2.0}}}, &m).status();
  EXPECT_TRUE(Mentions(s, "layer 'fc'")) << s;
  for (auto [n, mm] : {std::pair{2, 2}, std::pair{3, 2}, std::pair{0, 0}, std::pair{-1, 4}}) {
    s = NmPrune({.n = n, .m = mm}, &m).status();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << n << ":" << mm;
    EXPECT_TRUE(Mentions(s, "N:M pruning")) << s;
  }
  s = PlanStructured(m, {.ratio = 1.5}).status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  s = PlanStructured(m, {.exclude = {"missing"}}).status();
  EXPECT_TRUE(Mentions(s, "'missing'")) << s;
  s = PlanStructured(m, {.round_to = 0}).status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);

  // Non-float weights.
  ir::Model q = GemmModel(2, 4, {}, tensor::DType::kInt8);
  s = MagnitudePrune({}, &q).status();
  EXPECT_EQ(s.code(), StatusCode::kUnimplemented);
  EXPECT_TRUE(Mentions(s, "node 'fc' (Gemm): weight 'w' is int8")) << s;

  // Nothing prunable: a model whose Gemm weight is a graph input.
  ir::Model none;
  none.opset_imports.push_back({"", 13});
  ir::Graph& g = none.graph;
  auto a = g.AddValue("a", tensor::DType::kFloat32, ir::PartialShape::FromSizes({{1, 2}}));
  auto b = g.AddValue("b", tensor::DType::kFloat32, ir::PartialShape::FromSizes({{2, 2}}));
  auto c = g.AddValue("c", tensor::DType::kFloat32);
  g.AddNode({.name = "mm", .op_type = "MatMul", .inputs = {a, b}, .outputs = {c}});
  g.AddGraphInput(a);
  g.AddGraphInput(b);
  g.AddGraphOutput(c);
  for (const absl::Status& st : {MagnitudePrune({}, &none).status(), NmPrune({}, &none).status(),
                                 PlanStructured(none, {}).status()}) {
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(Mentions(st, "no prunable layer")) << st;
  }

  // Masks that do not fit.
  Masks bad = {{"fc", "w", tensor::Tensor::Zeros(tensor::DType::kUint8, Shape{3})}};
  EXPECT_EQ(ApplyMasks(bad, &m).code(), StatusCode::kInvalidArgument);
  bad[0].weight = "missing";
  EXPECT_TRUE(Mentions(ApplyMasks(bad, &m), "weight 'missing'"));
}

}  // namespace
}  // namespace mp::prune
