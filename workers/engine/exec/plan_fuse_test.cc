// Epilogue fusion (plan_fuse.cc): which steps fuse, and that a fused Run gives the same bytes
// as the unfused one (a Run with an observer) for any thread count.
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "workers/engine/exec/exec_test_util.h"
#include "workers/engine/exec/session.h"

namespace mp::exec {
namespace {

using ::testing::ElementsAre;
using testing::ModelBuilder;

Tensor Random(std::vector<int64_t> dims, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1, 1);
  Shape shape(std::move(dims));
  std::vector<float> v(static_cast<size_t>(shape.num_elements()));
  for (float& f : v) f = dist(rng);
  return Tensor::FromVector<float>(shape, v);
}

// x[N, 4, 9, 9]:
//   r1 = Relu(Conv(x))                         -> Conv+Relu
//   y  = Clip(Add(Conv(r1), r1), 0, 0.5)       -> Conv+Add+Clip (r1 also feeds the Add)
//   c3 = Conv(x) (no bias), z = Add(c3, Conv(x)) -> c3's Add partner comes later: plain Conv,
//                                                  then Conv+Add with c3 as the residual
//   u  = Relu(Conv(x)) where the Conv output is also a graph output: not fused
ir::Model FusableGraph() {
  const std::vector<ir::Attribute> pad1 = {ir::Attribute("pads", std::vector<int64_t>{1, 1, 1, 1})};
  return ModelBuilder(13)
      .Input("x", DType::kFloat32, {-1, 4, 9, 9})
      .Const("w1", Random({6, 4, 3, 3}, 1))
      .Const("b1", Random({6}, 2))
      .Const("w2", Random({6, 6, 3, 3}, 3))
      .Const("b2", Random({6}, 4))
      .Const("w3", Random({6, 4, 1, 1}, 5))
      .Const("w4", Random({6, 4, 3, 3}, 6))
      .Const("b4", Random({6}, 7))
      .Const("lo", Tensor::FromVector<float>(Shape(), {0.0f}))
      .Const("hi", Tensor::FromVector<float>(Shape(), {0.5f}))
      .Node("Conv", {"x", "w1", "b1"}, {"c1"}, pad1, "conv1")
      .Node("Relu", {"c1"}, {"r1"})
      .Node("Conv", {"r1", "w2", "b2"}, {"c2"}, pad1, "conv2")
      .Node("Add", {"c2", "r1"}, {"a2"})
      .Node("Clip", {"a2", "lo", "hi"}, {"y"})
      .Node("Conv", {"x", "w3"}, {"c3"}, {}, "conv3")
      .Node("Conv", {"x", "w4", "b4"}, {"c4"}, pad1, "conv4")
      .Node("Add", {"c3", "c4"}, {"z"})
      .Node("Conv", {"x", "w4"}, {"c5"}, pad1, "conv5")
      .Node("Relu", {"c5"}, {"u"})
      .Output("y")
      .Output("z")
      .Output("u")
      .Output("c5")
      .Build();
}

TEST(PlanFuse, FusedRunMatchesUnfusedBitwise) {
  const Tensor x = Random({5, 4, 9, 9}, 9);
  std::vector<std::string> reference;
  for (int threads : {1, 2, 3}) {
    SCOPED_TRACE(threads);
    auto session = Session::Create(FusableGraph(), {.num_threads = threads});
    ASSERT_TRUE(session.ok()) << session.status();
    std::vector<NodeTiming> timings;
    auto fused = (*session)->Run({{"x", x}}, {.timings = &timings});
    ASSERT_TRUE(fused.ok()) << fused.status();
    std::vector<std::string> labels;
    for (const NodeTiming& t : timings) labels.push_back(t.node + ":" + t.op_type);
    EXPECT_THAT(labels, ElementsAre("conv1:Conv+Relu", "conv2:Conv+Add+Clip", "conv3:Conv",
                                    "conv4:Conv+Add", "conv5:Conv", "n9:Relu"));
    // An observer sees every value, so that Run is unfused.
    std::vector<std::string> seen;
    auto unfused =
        (*session)->Run({{"x", x}}, {.observer = [&](std::string_view name, const Tensor&) {
                          seen.emplace_back(name);
                          return absl::OkStatus();
                        }});
    ASSERT_TRUE(unfused.ok()) << unfused.status();
    EXPECT_EQ(seen.size(), 10u);
    ASSERT_EQ(fused->size(), 4u);
    ASSERT_EQ(unfused->size(), 4u);
    for (size_t k = 0; k < fused->size(); ++k) {
      const Tensor& a = (*fused)[k].second;
      const Tensor& b = (*unfused)[k].second;
      ASSERT_EQ(a.shape(), b.shape());
      const std::string bytes(static_cast<const char*>(a.raw_data()), a.byte_size());
      EXPECT_EQ(bytes, std::string(static_cast<const char*>(b.raw_data()), b.byte_size()))
          << (*fused)[k].first;
      if (threads == 1) {
        reference.push_back(bytes);
      } else {
        EXPECT_EQ(bytes, reference[k]) << (*fused)[k].first;
      }
    }
    // The clamp really ran: y is within [0, 0.5].
    const float* y = (*fused)[0].second.data<float>();
    for (int64_t i = 0; i < (*fused)[0].second.num_elements(); ++i) {
      ASSERT_GE(y[i], 0.0f);
      ASSERT_LE(y[i], 0.5f);
    }
  }
}

}  // namespace
}  // namespace mp::exec
