// Hand-computed cases for ops_norm.cc, ops_softmax.cc and ops_reduce.cc: opset-dependent
// semantics (Softmax's 2-D coercion, Reduce axes as attribute or input), optional outputs,
// and the inputs / attributes we reject.
#include <cmath>

#include "workers/engine/exec/ops_test_util.h"

namespace mp::exec {
namespace {

using ir::Attribute;
using testing::ExpectNear;
using testing::F;
using testing::In;
using testing::OpCall;
using testing::RunOp;

using Ints = std::vector<int64_t>;

Tensor I64(std::vector<int64_t> v) {
  const int64_t n = static_cast<int64_t>(v.size());
  return Tensor::FromVector<int64_t>({n}, v);
}

TEST(BatchNormOp, InferenceForm) {
  const float s0 = 1.0f / std::sqrt(4.0f + 1e-5f), s1 = 2.0f / std::sqrt(1.0f + 1e-5f);
  auto out = RunOp({.op_type = "BatchNormalization",
                    .inputs = {In(F({1, 2, 1, 2}, {1, 2, 3, 4})), In(F({2}, {1, 2})),
                               In(F({2}, {0, 1})), In(F({2}, {1, 3})), In(F({2}, {4, 1}))},
                    .opset = 15});
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectNear((*out)[0], F({1, 2, 1, 2}, {0, s0, 1, 1 + s1}));
}

TEST(BatchNormOp, TrainingFormsAreUnimplemented) {
  std::vector<In> inputs = {In(F({1, 1, 1}, {1})), In(F({1}, {1})), In(F({1}, {0})),
                            In(F({1}, {0})), In(F({1}, {1}))};
  auto mode = RunOp({.op_type = "BatchNormalization",
                     .attrs = {Attribute("training_mode", int64_t{1})},
                     .inputs = inputs,
                     .opset = 15});
  EXPECT_EQ(mode.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(mode.status().message()), ::testing::HasSubstr("'training_mode'"));
  auto outputs =
      RunOp({.op_type = "BatchNormalization", .inputs = inputs, .num_outputs = 3, .opset = 9});
  EXPECT_EQ(outputs.status().code(), absl::StatusCode::kUnimplemented);
  auto spatial = RunOp({.op_type = "BatchNormalization",
                        .attrs = {Attribute("spatial", int64_t{0})},
                        .inputs = inputs,
                        .opset = 7});
  EXPECT_EQ(spatial.status().code(), absl::StatusCode::kUnimplemented);
  auto bad = RunOp({.op_type = "BatchNormalization",
                    .inputs = {In(F({1, 1, 1}, {1})), In(F({2}, {1, 1})), In(F({1}, {0})),
                               In(F({1}, {0})), In(F({1}, {1}))}});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(LayerNormOp, LastAxisWithStatistics) {
  const float inv0 = 1.0f / std::sqrt(1.0f + 1e-5f), inv1 = 1.0f / std::sqrt(1e-5f);
  auto out = RunOp({.op_type = "LayerNormalization",
                    .inputs = {In(F({2, 2}, {1, 3, 2, 2})), In(F({2}, {1, 1})), In(F({2}, {0, 1}))},
                    .num_outputs = 3});
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectNear((*out)[0], F({2, 2}, {-inv0, 1 + inv0, 0, 1}));
  ExpectNear((*out)[1], F({2, 1}, {2, 2}));
  ExpectNear((*out)[2], F({2, 1}, {inv0, inv1}), 1e-5f, 1e-4f);
}

TEST(LayerNormOp, AxisZeroWithBroadcastScale) {
  const float inv = 1.0f / std::sqrt(0.5f + 1e-5f);
  auto out = RunOp({.op_type = "LayerNormalization",
                    .attrs = {Attribute("axis", int64_t{0})},
                    .inputs = {In(F({2, 2}, {1, 3, 2, 2})), In(F({1}, {2}))},
                    .num_outputs = 2,
                    .outputs_present = {true, false}});
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectNear((*out)[0], F({2, 2}, {-2 * inv, 2 * inv, 0, 0}));
  auto stash = RunOp({.op_type = "LayerNormalization",
                      .attrs = {Attribute("stash_type", int64_t{11})},
                      .inputs = {In(F({2}, {1, 2})), In(F({2}, {1, 1}))}});
  EXPECT_EQ(stash.status().code(), absl::StatusCode::kUnimplemented);
}

TEST(SoftmaxOp, OpsetChangesAxisSemantics) {
  const float l3 = std::log(3.0f);
  const Tensor x = F({2, 2}, {0, 0, l3, 0});
  OpCall call{.op_type = "Softmax",
              .attrs = {Attribute("axis", int64_t{0})},
              .inputs = {In(x)},
              .opset = 13};
  auto per_column = RunOp(call);
  ASSERT_TRUE(per_column.ok()) << per_column.status();
  ExpectNear((*per_column)[0], F({2, 2}, {0.25f, 0.5f, 0.75f, 0.5f}));
  call.opset = 11;  // coerced to [1, 4]: one softmax over everything
  auto flat = RunOp(call);
  ASSERT_TRUE(flat.ok()) << flat.status();
  ExpectNear((*flat)[0], F({2, 2}, {1.0f / 6, 1.0f / 6, 0.5f, 1.0f / 6}));
  auto log = RunOp({.op_type = "LogSoftmax", .inputs = {In(x)}, .opset = 13});
  ASSERT_TRUE(log.ok()) << log.status();
  ExpectNear((*log)[0],
             F({2, 2}, {std::log(0.5f), std::log(0.5f), std::log(0.75f), std::log(0.25f)}));
}

TEST(SoftmaxOp, MiddleAxisTransposes) {
  // x[i][j][k] = j * ln 3 -> softmax over j is [1/4, 3/4] everywhere.
  const float l3 = std::log(3.0f);
  auto out = RunOp({.op_type = "Softmax",
                    .attrs = {Attribute("axis", int64_t{1})},
                    .inputs = {In(F({2, 2, 3}, {0, 0, 0, l3, l3, l3, 0, 0, 0, l3, l3, l3}))},
                    .opset = 13});
  ASSERT_TRUE(out.ok()) << out.status();
  const float q = 0.25f, t = 0.75f;
  ExpectNear((*out)[0], F({2, 2, 3}, {q, q, q, t, t, t, q, q, q, t, t, t}));
}

TEST(ReduceOps, AxesAsInputFromOpset13ForSum) {
  const Tensor x = F({2, 3}, {1, 2, 3, 4, 5, 6});
  auto sum = RunOp({.op_type = "ReduceSum",
                    .attrs = {Attribute("keepdims", int64_t{0})},
                    .inputs = {In(x), In(I64({1}), true)},
                    .opset = 13});
  ASSERT_TRUE(sum.ok()) << sum.status();
  ExpectNear((*sum)[0], F({2}, {6, 15}));
  auto all = RunOp({.op_type = "ReduceSum", .inputs = {In(x)}, .opset = 13});
  ASSERT_TRUE(all.ok()) << all.status();
  ExpectNear((*all)[0], F({1, 1}, {21}));
  auto noop = RunOp({.op_type = "ReduceSum",
                     .attrs = {Attribute("noop_with_empty_axes", int64_t{1})},
                     .inputs = {In(x), In(Tensor::FromVector<int64_t>({0}, {}), true)},
                     .opset = 13});
  ASSERT_TRUE(noop.ok()) << noop.status();
  ExpectNear((*noop)[0], x);
  auto dynamic = RunOp({.op_type = "ReduceSum", .inputs = {In(x), In(I64({1}))}, .opset = 13});
  EXPECT_EQ(dynamic.status().code(), absl::StatusCode::kUnimplemented);
  auto attr_form = RunOp({.op_type = "ReduceSum",
                          .attrs = {Attribute("axes", Ints{0})},
                          .inputs = {In(x)},
                          .opset = 11});
  ASSERT_TRUE(attr_form.ok()) << attr_form.status();
  ExpectNear((*attr_form)[0], F({1, 3}, {5, 7, 9}));
}

TEST(ReduceOps, MeanOverNonAdjacentAxesAndMaxInputForm) {
  auto mean = RunOp({.op_type = "ReduceMean",
                     .attrs = {Attribute("axes", Ints{0, -1})},
                     .inputs = {In(F({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8}))},
                     .opset = 17});
  ASSERT_TRUE(mean.ok()) << mean.status();
  ExpectNear((*mean)[0], F({1, 2, 1}, {3.5f, 5.5f}));
  const Tensor x = F({2, 3}, {1, 9, 3, 4, 5, 6});
  auto max = RunOp({.op_type = "ReduceMax",
                    .attrs = {Attribute("keepdims", int64_t{0})},
                    .inputs = {In(x), In(I64({-1}), true)},
                    .opset = 18});
  ASSERT_TRUE(max.ok()) << max.status();
  ExpectNear((*max)[0], F({2}, {9, 6}));
  auto min = RunOp({.op_type = "ReduceMin",
                    .attrs = {Attribute("axes", Ints{0})},
                    .inputs = {In(x)},
                    .opset = 13});
  ASSERT_TRUE(min.ok()) << min.status();
  ExpectNear((*min)[0], F({1, 3}, {1, 5, 3}));
  auto dup = RunOp({.op_type = "ReduceMax",
                    .attrs = {Attribute("axes", Ints{1, -1})},
                    .inputs = {In(x)},
                    .opset = 13});
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace mp::exec
