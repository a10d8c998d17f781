#include <cmath>

#include "gtest/gtest.h"
#include "workers/engine/prune/prune.h"
#include "workers/engine/prune/test_util.h"

namespace mp::prune {
namespace {

using testing::GemmModel;
using testing::LoadFixture;

std::vector<float> Weight(const ir::Model& m, const std::string& name) {
  const tensor::Tensor& t = m.graph.value(m.graph.FindValue(name)).initializer();
  return std::vector<float>(t.span<float>().begin(), t.span<float>().end());
}

TEST(MagnitudeTest, PerLayerPrunesSmallestWithDeterministicTies) {
  // |w| = 3, 1, 2, 1, 5, 0.5 ; 50% -> prune 3: 0.5 (idx 5), then the two 1s (idx 1, 3).
  ir::Model m = GemmModel(2, 3, {3, -1, 2, 1, 5, 0.5f});
  const tensor::Tensor before = m.graph.value(m.graph.FindValue("w")).initializer();
  auto r = MagnitudePrune({.sparsity = 0.5}, &m);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Weight(m, "w"), (std::vector<float>{3, 0, 2, 0, 5, 0}));
  // The old tensor is untouched (new initializer written).
  EXPECT_EQ(before.data<float>()[1], -1.0f);
  ASSERT_EQ(r->masks.size(), 1u);
  EXPECT_EQ(r->masks[0].layer, "fc");
  EXPECT_EQ(r->pruned, 3);
  EXPECT_DOUBLE_EQ(r->sparsity(), 0.5);
  // Ties: with all |w| equal, the lowest indices go first.
  ir::Model eq = GemmModel(1, 4, {1, -1, 1, -1});
  ASSERT_TRUE(MagnitudePrune({.sparsity = 0.5}, &eq).ok());
  EXPECT_EQ(Weight(eq, "w"), (std::vector<float>{0, 0, 1, -1}));
}

TEST(MagnitudeTest, IterativeStepsNest) {
  ir::Model m = LoadFixture("lenet");
  auto r1 = MagnitudePrune({.sparsity = 0.3}, &m);
  ASSERT_TRUE(r1.ok()) << r1.status();
  auto r2 = MagnitudePrune({.sparsity = 0.6}, &m);
  ASSERT_TRUE(r2.ok()) << r2.status();
  for (size_t i = 0; i < r1->masks.size(); ++i) {
    auto a = r1->masks[i].mask.span<uint8_t>();
    auto b = r2->masks[i].mask.span<uint8_t>();
    for (size_t j = 0; j < a.size(); ++j) ASSERT_LE(b[j], a[j]) << r1->masks[i].layer;
  }
  for (const LayerSparsity& l : r2->layers) {
    EXPECT_NEAR(l.sparsity(), 0.6, 0.5 / double(l.weights) + 1e-12) << l.layer;
  }
}

TEST(MagnitudeTest, GlobalUsesOneThresholdWithOverridesAndCap) {
  ir::Model m = LoadFixture("lenet");
  auto layers = FindPrunableLayers(m.graph);
  ASSERT_TRUE(layers.ok());
  ASSERT_EQ(layers->size(), 5u);
  const std::string first = (*layers)[0].name;
  MagnitudeOptions opt{.scope = Scope::kGlobal,
                       .sparsity = 0.7,
                       .per_layer = {{first, 0.1}},
                       .max_layer_sparsity = 0.9};
  auto r = MagnitudePrune(opt, &m);
  ASSERT_TRUE(r.ok()) << r.status();
  int64_t pool = 0, pool_pruned = 0;
  float max_pruned = 0, min_kept = 1e30f;
  for (size_t i = 0; i < layers->size(); ++i) {
    const LayerSparsity& l = r->layers[i];
    if (i == 0) {
      EXPECT_NEAR(l.sparsity(), 0.1, 1.0 / double(l.weights));
      continue;
    }
    EXPECT_LE(l.sparsity(), 0.9 + 1e-12) << l.layer;
    pool += l.weights;
    pool_pruned += l.pruned;
  }
  EXPECT_EQ(pool_pruned, std::llround(0.7 * double(pool)));
  // One threshold: among uncapped layers, every pruned |w| <= every kept |w|. Compare
  // against the original weights.
  ir::Model orig = LoadFixture("lenet");
  for (size_t i = 1; i < layers->size(); ++i) {
    if (r->layers[i].sparsity() >= 0.9 - 1e-3) continue;
    const auto w = Weight(orig, orig.graph.value((*layers)[i].weight).name());
    const auto mask = r->masks[i].mask.span<uint8_t>();
    for (size_t j = 0; j < w.size(); ++j) {
      if (mask[j] != 0)
        min_kept = std::min(min_kept, std::fabs(w[j]));
      else
        max_pruned = std::max(max_pruned, std::fabs(w[j]));
    }
  }
  EXPECT_LE(max_pruned, min_kept);
}

TEST(MagnitudeTest, ApplyMasksReappliesAfterAnUpdate) {
  ir::Model m = GemmModel(1, 4, {4, 1, 3, 2});
  auto r = MagnitudePrune({.sparsity = 0.5}, &m);
  ASSERT_TRUE(r.ok());
  // A "training step" writes non-zeros everywhere.
  tensor::Tensor w = tensor::Tensor::FromVector<float>(tensor::Shape{1, 4}, {7, 7, 7, 7});
  ASSERT_TRUE(ApplyMaskInPlace(r->masks[0].mask, &w).ok());
  EXPECT_EQ(std::vector<float>(w.span<float>().begin(), w.span<float>().end()),
            (std::vector<float>{7, 0, 7, 0}));
  m.graph.SetConstant(m.graph.FindValue("w"), w.Clone());
  w.mutable_data<float>()[1] = 9;
  m.graph.SetConstant(m.graph.FindValue("w"), w);
  ASSERT_TRUE(ApplyMasks(r->masks, &m).ok());
  EXPECT_EQ(Weight(m, "w"), (std::vector<float>{7, 0, 7, 0}));
  tensor::Tensor wrong = tensor::Tensor::Zeros(tensor::DType::kFloat32, tensor::Shape{2, 2});
  EXPECT_EQ(ApplyMaskInPlace(r->masks[0].mask, &wrong).code(), absl::StatusCode::kInvalidArgument);
}

TEST(NmTest, TwoOfFourAlongK) {
  ir::Model m = GemmModel(2, 8, {1, 2, 3, 4, 4, 3, 2, 1, -5, 0, 5, 1, 1, 1, 1, 1});
  auto r = NmPrune({}, &m);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Weight(m, "w"), (std::vector<float>{0, 0, 3, 4, 4, 3, 0, 0, -5, 0, 5, 0, 1, 1, 0, 0}));
  EXPECT_TRUE(SatisfiesNm(m.graph.value(m.graph.FindValue("w")).initializer(), "Gemm", true, 2, 4));
  EXPECT_DOUBLE_EQ(r->sparsity(), 0.5);
}

TEST(NmTest, FixturesSatisfyTwoFourOrReportTheTail) {
  for (const char* name : {"lenet", "resnet", "mobilenet", "mlp"}) {
    ir::Model m = LoadFixture(name);
    auto r = NmPrune({}, &m);
    ASSERT_TRUE(r.ok()) << name << ": " << r.status();
    auto layers = FindPrunableLayers(m.graph);
    ASSERT_TRUE(layers.ok());
    int pruned_layers = 0;
    for (size_t i = 0; i < layers->size(); ++i) {
      const PrunableLayer& l = (*layers)[i];
      const ir::Node& node = m.graph.node(l.node);
      const bool trans_b = node.GetInt("transB", 0).value_or(0) != 0;
      const tensor::Tensor& w = m.graph.value(l.weight).initializer();
      if (r->layers[i].skipped.empty()) {
        ++pruned_layers;
        EXPECT_TRUE(SatisfiesNm(w, l.op_type, trans_b, 2, 4)) << name << " " << l.name;
      } else {
        EXPECT_NE(r->layers[i].skipped.find("not a multiple of M = 4"), std::string::npos);
      }
    }
    EXPECT_GT(pruned_layers, 0) << name;
  }
}

TEST(NmTest, TailPolicies) {
  // K = 6 with M = 4: tail of 2 elements.
  const std::vector<float> w = {1, 2, 3, 4, 5, 6};
  ir::Model a = GemmModel(1, 6, w);
  EXPECT_EQ(NmPrune({.tail = NmTail::kError}, &a).status().code(),
            absl::StatusCode::kInvalidArgument);
  ir::Model b = GemmModel(1, 6, w);
  auto rb = NmPrune({.n = 1, .m = 4, .tail = NmTail::kPartialGroup}, &b);
  ASSERT_TRUE(rb.ok());
  EXPECT_EQ(Weight(b, "w"), (std::vector<float>{0, 0, 0, 4, 0, 6}));
  ir::Model c = GemmModel(1, 6, w);
  auto rc = NmPrune({}, &c);
  ASSERT_TRUE(rc.ok());
  EXPECT_EQ(Weight(c, "w"), w);
  EXPECT_FALSE(rc->layers[0].skipped.empty());
}

}  // namespace
}  // namespace mp::prune
