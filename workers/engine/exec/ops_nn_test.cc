// Hand-computed cases for ops_gemm.cc, ops_conv.cc and ops_pool.cc: attribute handling
// (auto_pad, output_shape, ceil_mode, count_include_pad, transA/transB, constant packing)
// and the error codes. The ONNX conformance test covers the bulk of each op.
#include <cstring>

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

TEST(GemmOp, TransposesScalesAndBroadcastsC) {
  // op(B) = [[1,0],[0,1],[1,0]]; A*op(B) = [[4,2],[10,5]]; *2 + 0.5*[1,-1].
  const Tensor want = F({2, 2}, {8.5f, 3.5f, 20.5f, 9.5f});
  const Tensor b = F({2, 3}, {1, 0, 1, 0, 1, 0});
  for (bool constant_b : {false, true}) {
    auto out = RunOp(
        {.op_type = "Gemm",
         .attrs = {Attribute("transB", int64_t{1}), Attribute("alpha", 2.0f),
                   Attribute("beta", 0.5f)},
         .inputs = {In(F({2, 3}, {1, 2, 3, 4, 5, 6})), In(b, constant_b), In(F({2}, {1, -1}))}});
    ASSERT_TRUE(out.ok()) << out.status();
    ExpectNear((*out)[0], want);
  }
  auto trans_a =
      RunOp({.op_type = "Gemm",
             .attrs = {Attribute("transA", int64_t{1}), Attribute("transB", int64_t{1}),
                       Attribute("alpha", 2.0f), Attribute("beta", 0.5f)},
             .inputs = {In(F({3, 2}, {1, 4, 2, 5, 3, 6})), In(b), In(F({1, 2}, {1, -1}))}});
  ASSERT_TRUE(trans_a.ok()) << trans_a.status();
  ExpectNear((*trans_a)[0], want);
}

TEST(GemmOp, CIsOptionalFromOpset11Only) {
  OpCall call{
      .op_type = "Gemm", .inputs = {In(F({1, 2}, {1, 2})), In(F({2, 1}, {3, 4}))}, .opset = 11};
  auto out = RunOp(call);
  ASSERT_TRUE(out.ok()) << out.status();
  ExpectNear((*out)[0], F({1, 1}, {11}));
  call.opset = 9;
  EXPECT_EQ(RunOp(call).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(GemmOp, BadShapesNameTheInput) {
  auto k = RunOp({.op_type = "Gemm", .inputs = {In(F({1, 2}, {1, 2})), In(F({3, 1}, {1, 2, 3}))}});
  EXPECT_EQ(k.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(k.status().message()),
              ::testing::HasSubstr("node 'n0' (Gemm): input 1 ('x1')"));
  auto c = RunOp(
      {.op_type = "Gemm",
       .inputs = {In(F({1, 2}, {1, 2})), In(F({2, 2}, {1, 2, 3, 4})), In(F({3}, {1, 2, 3}))}});
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(MatMulOp, VectorsAndBroadcastBatches) {
  const Tensor b = F({3, 2}, {1, 0, 0, 1, 1, 1});
  auto vec = RunOp({.op_type = "MatMul", .inputs = {In(F({3}, {1, 2, 3})), In(b)}});
  ASSERT_TRUE(vec.ok()) << vec.status();
  ExpectNear((*vec)[0], F({2}, {4, 5}));
  auto mat_vec = RunOp(
      {.op_type = "MatMul", .inputs = {In(F({2, 3}, {1, 2, 3, 4, 5, 6})), In(F({3}, {1, 0, 1}))}});
  ASSERT_TRUE(mat_vec.ok()) << mat_vec.status();
  ExpectNear((*mat_vec)[0], F({2}, {4, 10}));
  // A [2,1,1,2] x B [3,2,1] -> [2,3,1,1]: out[i][j] = a_i . b_j.
  auto batched =
      RunOp({.op_type = "MatMul",
             .inputs = {In(F({2, 1, 1, 2}, {1, 2, 3, 4})), In(F({3, 2, 1}, {1, 1, 2, 0, 0, 3}))}});
  ASSERT_TRUE(batched.ok()) << batched.status();
  ExpectNear((*batched)[0], F({2, 3, 1, 1}, {3, 2, 6, 7, 6, 12}));
}

TEST(MatMulOp, ConstantMatrixFoldsTheBatch) {
  const Tensor a = F({2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  const Tensor b = F({2, 2}, {1, 1, 0, 2});
  const Tensor want = F({2, 2, 2}, {1, 5, 3, 11, 5, 17, 7, 23});
  for (bool constant_b : {false, true}) {
    auto out = RunOp({.op_type = "MatMul", .inputs = {In(a), In(b, constant_b)}});
    ASSERT_TRUE(out.ok()) << out.status();
    ExpectNear((*out)[0], want);
  }
  auto bad = RunOp({.op_type = "MatMul", .inputs = {In(a), In(F({3, 1}, {1, 2, 3}))}});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ConvOp, AutoPadSameUpperAndLower1d) {
  const Tensor w = F({1, 1, 3}, {1, 1, 1});
  auto upper = RunOp(
      {.op_type = "Conv",
       .attrs = {Attribute("auto_pad", std::string("SAME_UPPER")), Attribute("strides", Ints{2})},
       .inputs = {In(F({1, 1, 5}, {1, 2, 3, 4, 5})), In(w, true)}});
  ASSERT_TRUE(upper.ok()) << upper.status();
  ExpectNear((*upper)[0], F({1, 1, 3}, {3, 9, 9}));
  const Tensor x4 = F({1, 1, 4}, {1, 2, 3, 4});
  auto upper4 = RunOp(
      {.op_type = "Conv",
       .attrs = {Attribute("auto_pad", std::string("SAME_UPPER")), Attribute("strides", Ints{2})},
       .inputs = {In(x4), In(w)}});
  ASSERT_TRUE(upper4.ok()) << upper4.status();
  ExpectNear((*upper4)[0], F({1, 1, 2}, {6, 7}));
  auto lower4 = RunOp(
      {.op_type = "Conv",
       .attrs = {Attribute("auto_pad", std::string("SAME_LOWER")), Attribute("strides", Ints{2})},
       .inputs = {In(x4), In(w)}});
  ASSERT_TRUE(lower4.ok()) << lower4.status();
  ExpectNear((*lower4)[0], F({1, 1, 2}, {3, 9}));
}

TEST(ConvOp, GroupsBiasAndDilation) {
  auto grouped = RunOp({.op_type = "Conv",
                        .attrs = {Attribute("group", int64_t{2})},
                        .inputs = {In(F({1, 2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8})),
                                   In(F({2, 1, 1, 1}, {2, -1}), true), In(F({2}, {0.5f, 1}))}});
  ASSERT_TRUE(grouped.ok()) << grouped.status();
  ExpectNear((*grouped)[0], F({1, 2, 2, 2}, {2.5f, 4.5f, 6.5f, 8.5f, -4, -5, -6, -7}));
  auto dilated =
      RunOp({.op_type = "Conv",
             .attrs = {Attribute("dilations", Ints{1, 2})},
             .inputs = {In(F({1, 1, 1, 5}, {1, 2, 3, 4, 5})), In(F({1, 1, 1, 2}, {1, 10}))}});
  ASSERT_TRUE(dilated.ok()) << dilated.status();
  ExpectNear((*dilated)[0], F({1, 1, 1, 3}, {31, 42, 53}));
}

TEST(ConvOp, Errors) {
  const Tensor x = F({1, 2, 3, 3}, std::vector<float>(18, 1.0f));
  auto channels = RunOp({.op_type = "Conv", .inputs = {In(x), In(F({1, 3, 1, 1}, {1, 1, 1}))}});
  EXPECT_EQ(channels.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(channels.status().message()),
              ::testing::HasSubstr("node 'n0' (Conv): input 1 ('x1')"));
  auto pad = RunOp({.op_type = "Conv",
                    .attrs = {Attribute("auto_pad", std::string("SAME_MIDDLE"))},
                    .inputs = {In(x), In(F({1, 2, 1, 1}, {1, 1}))}});
  EXPECT_EQ(pad.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(pad.status().message()), ::testing::HasSubstr("'auto_pad'"));
  auto three_d = RunOp(
      {.op_type = "Conv", .inputs = {In(F({1, 1, 1, 1, 1}, {1})), In(F({1, 1, 1, 1, 1}, {1}))}});
  EXPECT_EQ(three_d.status().code(), absl::StatusCode::kUnimplemented);
  auto kernel = RunOp({.op_type = "Conv",
                       .attrs = {Attribute("kernel_shape", Ints{2, 2})},
                       .inputs = {In(x), In(F({1, 2, 1, 1}, {1, 1}))}});
  EXPECT_EQ(kernel.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ConvTransposeOp, PadsOutputPaddingAndOutputShape1d) {
  // Full result of x=[1,2], w=[1,1,1], stride 2: [1,1,3,2,2].
  const Tensor x = F({1, 1, 2}, {1, 2});
  const Tensor w = F({1, 1, 3}, {1, 1, 1});
  struct Case {
    std::vector<Attribute> attrs;
    Tensor want;
  };
  const Case cases[] = {
      {{}, F({1, 1, 5}, {1, 1, 3, 2, 2})},
      {{Attribute("pads", Ints{1, 1})}, F({1, 1, 3}, {1, 3, 2})},
      {{Attribute("output_padding", Ints{1})}, F({1, 1, 6}, {1, 1, 3, 2, 2, 0})},
      {{Attribute("output_shape", Ints{6})}, F({1, 1, 6}, {1, 1, 3, 2, 2, 0})},
      {{Attribute("output_shape", Ints{4})}, F({1, 1, 4}, {1, 1, 3, 2})},
      {{Attribute("auto_pad", std::string("SAME_UPPER"))}, F({1, 1, 4}, {1, 1, 3, 2})},
      {{Attribute("auto_pad", std::string("SAME_LOWER"))}, F({1, 1, 4}, {1, 3, 2, 2})},
  };
  for (const Case& c : cases) {
    std::vector<Attribute> attrs = c.attrs;
    attrs.push_back(Attribute("strides", Ints{2}));
    auto out = RunOp({.op_type = "ConvTranspose", .attrs = attrs, .inputs = {In(x), In(w)}});
    ASSERT_TRUE(out.ok()) << out.status();
    ExpectNear((*out)[0], c.want);
  }
  auto bad = RunOp({.op_type = "ConvTranspose",
                    .attrs = {Attribute("output_padding", Ints{2}), Attribute("strides", Ints{2})},
                    .inputs = {In(x), In(w)}});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PoolOps, MaxPoolCeilMode) {
  std::vector<float> v(9);
  for (int i = 0; i < 9; ++i) v[static_cast<size_t>(i)] = static_cast<float>(i + 1);
  const Tensor x = F({1, 1, 3, 3}, v);
  std::vector<Attribute> attrs = {Attribute("kernel_shape", Ints{2, 2}),
                                  Attribute("strides", Ints{2, 2})};
  auto floor = RunOp({.op_type = "MaxPool", .attrs = attrs, .inputs = {In(x)}});
  ASSERT_TRUE(floor.ok()) << floor.status();
  ExpectNear((*floor)[0], F({1, 1, 1, 1}, {5}));
  attrs.push_back(Attribute("ceil_mode", int64_t{1}));
  auto ceil = RunOp({.op_type = "MaxPool", .attrs = attrs, .inputs = {In(x)}});
  ASSERT_TRUE(ceil.ok()) << ceil.status();
  ExpectNear((*ceil)[0], F({1, 1, 2, 2}, {5, 6, 8, 9}));
  auto indices = RunOp({.op_type = "MaxPool", .attrs = attrs, .inputs = {In(x)}, .num_outputs = 2});
  EXPECT_EQ(indices.status().code(), absl::StatusCode::kUnimplemented);
}

TEST(PoolOps, AveragePoolCountIncludePad1d) {
  const Tensor x = F({1, 1, 4}, {1, 2, 3, 4});
  std::vector<Attribute> attrs = {Attribute("kernel_shape", Ints{2}), Attribute("strides", Ints{2}),
                                  Attribute("pads", Ints{1, 1})};
  auto exclude = RunOp({.op_type = "AveragePool", .attrs = attrs, .inputs = {In(x)}});
  ASSERT_TRUE(exclude.ok()) << exclude.status();
  ExpectNear((*exclude)[0], F({1, 1, 3}, {1, 2.5f, 4}));
  attrs.push_back(Attribute("count_include_pad", int64_t{1}));
  auto include = RunOp({.op_type = "AveragePool", .attrs = attrs, .inputs = {In(x)}});
  ASSERT_TRUE(include.ok()) << include.status();
  ExpectNear((*include)[0], F({1, 1, 3}, {0.5f, 2.5f, 2}));
}

TEST(PoolOps, GlobalPoolsKeepRank) {
  const Tensor x = F({1, 2, 2}, {1, 3, 2, 6});
  auto avg = RunOp({.op_type = "GlobalAveragePool", .inputs = {In(x)}});
  ASSERT_TRUE(avg.ok()) << avg.status();
  ExpectNear((*avg)[0], F({1, 2, 1}, {2, 4}));
  auto max = RunOp({.op_type = "GlobalMaxPool", .inputs = {In(x)}});
  ASSERT_TRUE(max.ok()) << max.status();
  ExpectNear((*max)[0], F({1, 2, 1}, {3, 6}));
}

// Deterministic pseudo-random values in [-1, 1).
Tensor Pattern(Shape shape, uint32_t seed) {
  std::vector<float> v(static_cast<size_t>(shape.num_elements()));
  for (float& x : v) {
    seed = seed * 1664525u + 1013904223u;
    x = static_cast<float>(seed >> 8) / static_cast<float>(1u << 23) - 1.0f;
  }
  return F(std::move(shape), v);
}

TEST(ComputeOps, BytesDoNotDependOnThreadCount) {
  const std::vector<OpCall> calls = {
      {.op_type = "Conv",
       .attrs = {Attribute("pads", Ints{1, 1, 1, 1}), Attribute("strides", Ints{2, 1})},
       .inputs = {In(Pattern({2, 6, 17, 19}, 1)), In(Pattern({8, 6, 3, 3}, 2), true),
                  In(Pattern({8}, 3))}},
      {.op_type = "ConvTranspose",
       .attrs = {Attribute("strides", Ints{2, 2}), Attribute("group", int64_t{2})},
       .inputs = {In(Pattern({1, 4, 9, 7}, 4)), In(Pattern({4, 3, 3, 3}, 5))}},
      {.op_type = "Gemm",
       .attrs = {Attribute("transB", int64_t{1})},
       .inputs = {In(Pattern({33, 70}, 6)), In(Pattern({45, 70}, 7), true), In(Pattern({45}, 8))}},
      {.op_type = "MatMul", .inputs = {In(Pattern({3, 31, 40}, 9)), In(Pattern({3, 40, 29}, 10))}},
      {.op_type = "AveragePool",
       .attrs = {Attribute("kernel_shape", Ints{3, 3}), Attribute("pads", Ints{1, 1, 1, 1})},
       .inputs = {In(Pattern({2, 5, 21, 23}, 11))}},
  };
  for (OpCall call : calls) {
    call.num_threads = 1;
    auto one = RunOp(call);
    call.num_threads = 3;
    auto three = RunOp(call);
    ASSERT_TRUE(one.ok() && three.ok())
        << call.op_type << ": " << one.status() << " " << three.status();
    const Tensor& a = (*one)[0];
    const Tensor& b = (*three)[0];
    ASSERT_EQ(a.shape(), b.shape());
    EXPECT_EQ(std::memcmp(a.raw_data(), b.raw_data(), a.byte_size()), 0) << call.op_type;
  }
}

}  // namespace
}  // namespace mp::exec
