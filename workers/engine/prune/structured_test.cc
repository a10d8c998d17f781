#include <algorithm>
#include <cmath>
#include <cstdio>

#include "gtest/gtest.h"
#include "workers/engine/data/npy.h"
#include "workers/engine/exec/session.h"
#include "workers/engine/ir/verify.h"
#include "workers/engine/onnx/onnx.h"
#include "workers/engine/prune/prune.h"
#include "workers/engine/prune/test_util.h"

namespace mp::prune {
namespace {

using tensor::DType;
using tensor::Shape;
using tensor::Tensor;
using testing::ExpectClose;
using testing::LoadFixture;
using testing::RunModel;
using testing::SourcePath;

Tensor Images() {
  auto x = data::ReadNpy(SourcePath("tests/fixtures/data/images_64.npy"));
  EXPECT_TRUE(x.ok()) << x.status();
  return x.ok() ? *x : Tensor();
}

const ChannelGroup* GroupOf(const StructuredPlan& plan, const std::string& producer) {
  for (const ChannelGroup& g : plan.groups) {
    if (std::find(g.producers.begin(), g.producers.end(), producer) != g.producers.end()) {
      return &g;
    }
  }
  return nullptr;
}

// Removing channels == zeroing them, and the model really shrinks.
void CheckFixture(const std::string& name, double min_reduction) {
  SCOPED_TRACE(name);
  const ir::Model dense = LoadFixture(name);
  auto plan = PlanStructured(dense, {.ratio = 0.5});
  ASSERT_TRUE(plan.ok()) << plan.status();
  ir::Model zeroed = dense, removed = dense;
  ASSERT_TRUE(ApplyStructured(*plan, ApplyMode::kZero, &zeroed).ok());
  ASSERT_TRUE(ApplyStructured(*plan, ApplyMode::kRemove, &removed).ok());
  ASSERT_TRUE(ir::Verify(removed.graph).ok());
  const Tensor x = Images();
  const Tensor y_dense = RunModel(dense, x);
  const Tensor y_zero = RunModel(zeroed, x);
  const Tensor y_removed = RunModel(removed, x);
  ExpectClose(y_zero, y_removed, name + ": removed vs zeroed");
  // Zeroing half the channels must change the outputs (the comparison is not vacuous).
  double diff = 0;
  for (int64_t i = 0; i < y_dense.num_elements(); ++i) {
    diff = std::max(diff, double(std::fabs(y_dense.data<float>()[i] - y_zero.data<float>()[i])));
  }
  EXPECT_GT(diff, 1e-3);
  // Exported and re-imported, the pruned model still computes the same.
  auto bytes = onnx::ExportModel(removed);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  auto back = onnx::ImportModel(*bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectClose(y_removed, RunModel(*back, x), name + ": after export");

  const std::vector<Shape> in = {Shape{1, 1, 28, 28}};
  auto before = ComputeStats(dense, in);
  auto after = ComputeStats(removed, in);
  ASSERT_TRUE(before.ok() && after.ok());
  const double mac_cut = 1.0 - double(after->macs) / double(before->macs);
  const double byte_cut = 1.0 - double(after->parameter_bytes) / double(before->parameter_bytes);
  std::printf("%s: MACs %lld -> %lld (-%.1f%%), parameter bytes %lld -> %lld (-%.1f%%)\n",
              name.c_str(), (long long)before->macs, (long long)after->macs, 100 * mac_cut,
              (long long)before->parameter_bytes, (long long)after->parameter_bytes,
              100 * byte_cut);
  for (const StructuredLayerReport& r : SummarizePlan(*plan)) {
    std::printf("  %-24s %3lld -> %3lld %s\n", r.layer.c_str(), (long long)r.channels,
                (long long)r.kept, r.skipped.c_str());
  }
  EXPECT_GE(mac_cut, min_reduction);
  EXPECT_GE(byte_cut, min_reduction);
}

TEST(StructuredTest, LeNetRemovedEqualsZeroedAndShrinks) { CheckFixture("lenet", 0.4); }
TEST(StructuredTest, ResNetRemovedEqualsZeroedAndShrinks) { CheckFixture("resnet", 0.4); }
TEST(StructuredTest, MobileNetRemovedEqualsZeroedAndShrinks) { CheckFixture("mobilenet", 0.4); }

TEST(StructuredTest, LeNetPlanDetails) {
  const ir::Model m = LoadFixture("lenet");
  auto plan = PlanStructured(m, {.ratio = 0.5});
  ASSERT_TRUE(plan.ok()) << plan.status();
  auto reports = SummarizePlan(*plan);
  ASSERT_EQ(reports.size(), 5u);
  EXPECT_EQ(reports[0].channels, 6);
  EXPECT_EQ(reports[0].kept, 3);
  EXPECT_EQ(reports[1].kept, 8);
  // The classifier's outputs are the model's outputs.
  EXPECT_EQ(reports[4].kept, reports[4].channels);
  EXPECT_NE(reports[4].skipped.find("graph output 'logits'"), std::string::npos)
      << reports[4].skipped;
  // The kept filters are those with the largest L1 norms.
  const ir::Node& conv = m.graph.node(m.graph.nodes()[0].id());
  ASSERT_EQ(conv.op_type(), "Conv");
  const Tensor& w = m.graph.value(conv.input(1)).initializer();
  const Tensor& b = m.graph.value(conv.input(2)).initializer();
  std::vector<double> norms(6, 0.0);
  for (int64_t c = 0; c < 6; ++c) {
    for (int64_t j = 0; j < 25; ++j) norms[size_t(c)] += std::fabs(w.data<float>()[c * 25 + j]);
    norms[size_t(c)] += std::fabs(b.data<float>()[c]);
  }
  const ChannelGroup* g = GroupOf(*plan, reports[0].layer);
  ASSERT_NE(g, nullptr);
  double min_kept = 1e30, max_dropped = 0;
  for (int64_t c = 0; c < 6; ++c) {
    const bool kept = std::find(g->kept.begin(), g->kept.end(), c) != g->kept.end();
    (kept ? min_kept : max_dropped) =
        kept ? std::min(min_kept, norms[size_t(c)]) : std::max(max_dropped, norms[size_t(c)]);
  }
  EXPECT_GE(min_kept, max_dropped);
  // Rounding: keep 3 of 6 rounded up to a multiple of 4 -> 4.
  auto rounded = PlanStructured(m, {.ratio = 0.5, .round_to = 4});
  ASSERT_TRUE(rounded.ok());
  EXPECT_EQ(SummarizePlan(*rounded)[0].kept, 4);
  // Never below one channel; per-layer override and exclusion.
  auto extreme = PlanStructured(
      m, {.ratio = 0.0, .per_layer = {{reports[0].layer, 0.99}}, .exclude = {reports[1].layer}});
  ASSERT_TRUE(extreme.ok());
  auto er = SummarizePlan(*extreme);
  EXPECT_EQ(er[0].kept, 1);
  EXPECT_EQ(er[1].kept, 16);
  EXPECT_EQ(er[1].skipped, "excluded");
  EXPECT_EQ(er[2].kept, 120);
}

TEST(StructuredTest, ResidualAddsCoupleProducers) {
  const ir::Model m = LoadFixture("resnet");
  auto plan = PlanStructured(m, {.ratio = 0.5, .norm = Norm::kL2});
  ASSERT_TRUE(plan.ok()) << plan.status();
  int coupled = 0;
  for (const ChannelGroup& g : plan->groups) {
    if (g.producers.size() >= 2) {
      ++coupled;
      EXPECT_TRUE(g.skipped.empty()) << g.skipped;
      EXPECT_EQ(int64_t(g.kept.size()), g.channels / 2);
    }
  }
  // Stem + block 1 (identity skip), block 2 (downsample) + block 3, block 4 (downsample).
  EXPECT_GE(coupled, 3);
}

TEST(StructuredTest, MobileNetDepthwiseGroupsShrink) {
  ir::Model m = LoadFixture("mobilenet");
  auto plan = PlanStructured(m, {.ratio = 0.5});
  ASSERT_TRUE(plan.ok()) << plan.status();
  int depthwise = 0;
  for (const ChannelEdit& e : plan->edits) depthwise += e.kind == ChannelEdit::Kind::kDepthwise;
  EXPECT_EQ(depthwise, 5);
  ASSERT_TRUE(ApplyStructured(*plan, ApplyMode::kRemove, &m).ok());
  for (const ir::Node& n : m.graph.nodes()) {
    if (n.op_type() != "Conv") continue;
    const int64_t group = n.GetInt("group", 1).value_or(-1);
    if (group == 1) continue;
    EXPECT_EQ(m.graph.value(n.input(1)).initializer().shape().dim(0), group) << n.Describe();
  }
}

}  // namespace
}  // namespace mp::prune
