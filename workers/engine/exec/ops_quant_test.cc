// The quantized op family (ops_quant*.cc) beyond the ONNX conformance cases: per-axis
// parameters, int8 types, int32 DequantizeLinear, non-constant weights, and UNIMPLEMENTED
// messages naming node and attribute. (The internal QLinearGemm is covered by
// qdq_fusion_test.cc.)
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "workers/engine/exec/ops_test_util.h"
#include "workers/engine/kernels/quantize.h"

namespace mp::exec {
namespace {

using testing::In;
using testing::RunOp;

template <typename T>
Tensor T1(Shape shape, std::vector<T> v) {
  return Tensor::FromVector<T>(std::move(shape), v);
}

template <typename T>
std::vector<T> Vals(const Tensor& t) {
  auto s = t.span<T>();
  return {s.begin(), s.end()};
}

TEST(OpsQuantTest, QuantizeLinearPerAxisInt8RoundsHalfToEven) {
  const Tensor x = T1<float>({2, 3}, {0.5f, 1.5f, -2.5f, 2.5f, 1000.0f, -1000.0f});
  auto out = RunOp({.op_type = "QuantizeLinear",
                    .attrs = {ir::Attribute("axis", int64_t{0})},
                    .inputs = {In(x), In(T1<float>({2}, {1.0f, 0.5f}), true),
                               In(T1<int8_t>({2}, {0, -1}), true)}});
  ASSERT_TRUE(out.ok()) << out.status();
  // Row 0 scale 1: 0.5 -> 0, 1.5 -> 2, -2.5 -> -2. Row 1 scale 0.5, zp -1: 5 - 1 = 4,
  // saturated 127 and -128.
  EXPECT_EQ(Vals<int8_t>((*out)[0]), (std::vector<int8_t>{0, 2, -2, 4, 127, -128}));
}

TEST(OpsQuantTest, QuantizeLinearOutputDtypeWithoutZeroPoint) {
  auto out = RunOp({.op_type = "QuantizeLinear",
                    .attrs = {ir::Attribute("output_dtype", int64_t{3})},  // int8
                    .inputs = {In(T1<float>({2}, {-3.0f, 3.0f})), In(T1<float>({}, {1.0f}))},
                    .opset = 21});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(Vals<int8_t>((*out)[0]), (std::vector<int8_t>{-3, 3}));
}

TEST(OpsQuantTest, BlockedQuantizationIsUnimplementedNamingTheAttribute) {
  auto out = RunOp({.op_type = "DequantizeLinear",
                    .attrs = {ir::Attribute("block_size", int64_t{2})},
                    .inputs = {In(T1<uint8_t>({4}, {1, 2, 3, 4})), In(T1<float>({2}, {1, 2}))},
                    .opset = 21});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(std::string(out.status().message()).find("'block_size'"), std::string::npos)
      << out.status();
  EXPECT_NE(std::string(out.status().message()).find("node 'n0'"), std::string::npos);
}

TEST(OpsQuantTest, DequantizeLinearInt32Bias) {
  auto out = RunOp({.op_type = "DequantizeLinear",
                    .inputs = {In(T1<int32_t>({3}, {-7, 0, 1 << 20})), In(T1<float>({}, {0.5f}))}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(Vals<float>((*out)[0]), (std::vector<float>{-3.5f, 0.0f, 524288.0f}));
}

TEST(OpsQuantTest, QLinearMatMulPerColumnInt8) {
  // a [2, 3] uint8 zp 2; b [3, 2] int8 per-column scales/zero points; y uint8 zp 10.
  const Tensor a = T1<uint8_t>({2, 3}, {2, 4, 6, 10, 0, 3});
  const Tensor b = T1<int8_t>({3, 2}, {1, -2, 3, 4, -5, 6});
  auto run = [&](bool constant_b) {
    return RunOp({.op_type = "QLinearMatMul",
                  .inputs = {In(a), In(T1<float>({}, {0.5f}), true), In(T1<uint8_t>({}, {2}), true),
                             In(b, constant_b), In(T1<float>({2}, {0.25f, 1.0f}), true),
                             In(T1<int8_t>({2}, {0, 1}), true), In(T1<float>({}, {0.125f}), true),
                             In(T1<uint8_t>({}, {10}), true)}});
  };
  // acc[i][j] = sum_k (a - 2)(b - zb[j]); y = rne(acc * 0.5 * s_b[j] / 0.125) + 10.
  // Row 0 (0, 2, 4): col 0: 6 - 20 = -14 -> -14 * 1 = -14 -> 0 (saturated at 0 - 10... +10 = -4
  // -> 0); col 1: (0)(-3) + 2*3 + 4*5 = 26 -> 26 * 4 + 10 = 114.
  // Row 1 (8, -2, 1): col 0: 8 - 6 - 5 = -3 -> -3 + 10 = 7; col 1: -24 - 6 + 5 = -25 ->
  // -100 + 10 = 0 (saturated).
  for (bool constant_b : {true, false}) {
    auto out = run(constant_b);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(Vals<uint8_t>((*out)[0]), (std::vector<uint8_t>{0, 114, 7, 0})) << constant_b;
  }
}

TEST(OpsQuantTest, ConvIntegerWithRuntimeWeightsEqualsConstantWeights) {
  std::vector<uint8_t> xv(2 * 5 * 5);
  for (size_t i = 0; i < xv.size(); ++i) xv[i] = static_cast<uint8_t>(i * 11);
  std::vector<int8_t> wv(3 * 2 * 3 * 3);
  for (size_t i = 0; i < wv.size(); ++i) wv[i] = static_cast<int8_t>(i * 7 - 60);
  const Tensor x = T1<uint8_t>({1, 2, 5, 5}, xv), w = T1<int8_t>({3, 2, 3, 3}, wv);
  std::vector<int32_t> results[2];
  for (int constant = 0; constant < 2; ++constant) {
    auto out = RunOp({.op_type = "ConvInteger",
                      .attrs = {ir::Attribute("pads", std::vector<int64_t>{1, 1, 1, 1})},
                      .inputs = {In(x), In(w, constant == 1), In(T1<uint8_t>({}, {7}), true),
                                 In(T1<int8_t>({3}, {1, 0, -1}), true)}});
    ASSERT_TRUE(out.ok()) << out.status();
    results[constant] = Vals<int32_t>((*out)[0]);
  }
  EXPECT_EQ(results[0], results[1]);
  // Spot check output (0, 0, 0): window rows -1..1, cols -1..1; padding reads as x_zero.
  int64_t want = 0;
  for (int c = 0; c < 2; ++c) {
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 3; ++j) {
        const int r = i - 1, s = j - 1;
        const int xq = (r < 0 || s < 0) ? 7 : xv[static_cast<size_t>(c * 25 + r * 5 + s)];
        want += (xq - 7) * (wv[static_cast<size_t>((c * 3 + i) * 3 + j)] - 1);
      }
    }
  }
  EXPECT_EQ(results[0][0], want);
}

TEST(OpsQuantTest, MatMulIntegerPerRowZeroPointIsUnimplemented) {
  auto out = RunOp(
      {.op_type = "MatMulInteger",
       .inputs = {In(T1<uint8_t>({2, 2}, {1, 2, 3, 4})), In(T1<uint8_t>({2, 2}, {1, 2, 3, 4})),
                  In(T1<uint8_t>({2}, {1, 2}), true)}});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kUnimplemented) << out.status();
}

TEST(OpsQuantTest, DynamicQuantizeLinearMatchesOnnxRuntimeFormula) {
  auto out = RunOp({.op_type = "DynamicQuantizeLinear",
                    .inputs = {In(T1<float>({4}, {-1.0f, 0.0f, 2.0f, 3.0f}))},
                    .num_outputs = 3});
  ASSERT_TRUE(out.ok()) << out.status();
  const float scale = 4.0f / 255.0f;
  EXPECT_EQ(Vals<float>((*out)[1])[0], scale);
  const int32_t zp = static_cast<int32_t>(std::nearbyint(0.0f - (-1.0f) / scale));
  EXPECT_EQ(Vals<uint8_t>((*out)[2])[0], zp);
  for (int i = 0; i < 4; ++i) {
    const float xv = std::vector<float>{-1.0f, 0.0f, 2.0f, 3.0f}[static_cast<size_t>(i)];
    EXPECT_EQ(Vals<uint8_t>((*out)[0])[static_cast<size_t>(i)],
              kernels::QuantizeOneReference(xv, scale, zp, kernels::QType::kUint8));
  }
}

}  // namespace
}  // namespace mp::exec
