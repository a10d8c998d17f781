// Test-only: a small QDQ-quantized CNN built with ir builders, the shape of what ONNX
// Runtime's quantizer (and ours) writes: input [N, 3, 8, 8] float ->
//   Q/DQ -> Conv 3x3 (int8 per-channel weights, int32 bias) -> Relu -> Q/DQ -> MaxPool ->
//   Q/DQ -> Conv 3x3 stride 2 grouped -> Q/DQ -> Flatten -> Q/DQ -> Gemm (transB, bias) ->
//   Q/DQ -> MatMul -> Add(bias) -> Q  ->  outputs "yq" (uint8 [N, 5]) and "y" (its DQ).
// Header-only; used by exec's fusion test and the ONNX Runtime comparison in tests/ort.
#ifndef MP_WORKERS_ENGINE_EXEC_QDQ_TEST_MODEL_H_
#define MP_WORKERS_ENGINE_EXEC_QDQ_TEST_MODEL_H_

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "workers/engine/exec/exec_test_util.h"

namespace mp::exec::testing {

struct QdqModelOptions {
  uint32_t seed = 1;
  // Power-of-two scales make the float QDQ path exact, so fused == unfused bit for bit.
  bool pow2_scales = false;
  // Activation type after the first Conv (int8 symmetric when true, else uint8).
  bool int8_activations = false;
  // Write the first Conv's bias scale off by one ulp (the fusion must then refuse it).
  bool bad_bias_scale = false;
};

inline ir::Model BuildQdqTestModel(const QdqModelOptions& o) {
  std::mt19937 gen(o.seed);
  std::uniform_real_distribution<float> unit(0.5f, 1.0f);
  auto scale = [&](float base) {
    if (o.pow2_scales) return std::ldexp(1.0f, static_cast<int>(std::floor(std::log2(base))));
    return base * unit(gen);
  };
  auto i8 = [&](int64_t n, int lo, int hi) {
    std::uniform_int_distribution<int> d(lo, hi);
    std::vector<int8_t> v(static_cast<size_t>(n));
    for (int8_t& x : v) x = static_cast<int8_t>(d(gen));
    return v;
  };
  auto i32 = [&](int64_t n, int lo, int hi) {
    std::uniform_int_distribution<int> d(lo, hi);
    std::vector<int32_t> v(static_cast<size_t>(n));
    for (int32_t& x : v) x = d(gen);
    return v;
  };
  auto f = [](std::vector<float> v) { return Tensor::FromVector(Shape({int64_t(v.size())}), v); };
  auto scalar_f = [](float v) { return Tensor::FromVector(Shape(), std::vector<float>{v}); };
  const DType act = o.int8_activations ? DType::kInt8 : DType::kUint8;
  auto zp = [&](DType t, int v) {
    return t == DType::kUint8
               ? Tensor::FromVector(Shape(), std::vector<uint8_t>{static_cast<uint8_t>(v)})
               : Tensor::FromVector(Shape(), std::vector<int8_t>{static_cast<int8_t>(v)});
  };
  ModelBuilder b(17);
  b.Input("x", DType::kFloat32, {-1, 3, 8, 8});
  // Activation quantization parameters: (scale, zero point, dtype) per tensor.
  const float s0 = scale(1.0f / 64), s1 = scale(1.0f / 16), s2 = scale(1.0f / 8),
              s3 = scale(1.0f / 2), s4 = scale(4.0f);
  b.Const("s0", scalar_f(s0)).Const("z0", zp(DType::kUint8, 128));
  b.Const("s1", scalar_f(s1)).Const("z1", zp(act, o.int8_activations ? -128 : 0));
  b.Const("s2", scalar_f(s2)).Const("z2", zp(DType::kUint8, 100));
  b.Const("s3", scalar_f(s3)).Const("z3", zp(DType::kUint8, 120));
  b.Const("s4", scalar_f(s4)).Const("z4", zp(DType::kUint8, 131));
  b.Node("QuantizeLinear", {"x", "s0", "z0"}, {"xq"});
  b.Node("DequantizeLinear", {"xq", "s0", "z0"}, {"xd"});
  // Conv 1: 3 -> 6, 3x3 pad 1, per-channel int8 weights, bias scale s0 * w_scale[c].
  std::vector<float> w1s(6);
  for (float& v : w1s) v = scale(1.0f / 128);
  std::vector<float> b1s(6);
  for (size_t c = 0; c < 6; ++c) b1s[c] = s0 * w1s[c];
  if (o.bad_bias_scale) b1s[2] = std::nextafter(b1s[2], 1.0f);
  b.Const("w1q", Tensor::FromVector(Shape({6, 3, 3, 3}), i8(162, -127, 127)))
      .Const("w1s", f(w1s))
      .Const("w1z", Tensor::FromVector(Shape({6}), std::vector<int8_t>(6, 0)))
      .Const("b1q", Tensor::FromVector(Shape({6}), i32(6, -3000, 3000)))
      .Const("b1s", f(b1s));
  b.Node("DequantizeLinear", {"w1q", "w1s", "w1z"}, {"w1"}, {ir::Attribute("axis", int64_t{0})});
  b.Node("DequantizeLinear", {"b1q", "b1s"}, {"b1"}, {ir::Attribute("axis", int64_t{0})});
  b.Node("Conv", {"xd", "w1", "b1"}, {"c1"},
         {ir::Attribute("pads", std::vector<int64_t>{1, 1, 1, 1}),
          ir::Attribute("kernel_shape", std::vector<int64_t>{3, 3})},
         "conv1");
  b.Node("Relu", {"c1"}, {"r1"});
  b.Node("QuantizeLinear", {"r1", "s1", "z1"}, {"r1q"});
  b.Node("DequantizeLinear", {"r1q", "s1", "z1"}, {"r1d"});
  b.Node("MaxPool", {"r1d"}, {"p1"},
         {ir::Attribute("kernel_shape", std::vector<int64_t>{2, 2}),
          ir::Attribute("strides", std::vector<int64_t>{2, 2})});
  b.Node("QuantizeLinear", {"p1", "s1", "z1"}, {"p1q"});
  b.Node("DequantizeLinear", {"p1q", "s1", "z1"}, {"p1d"});
  // Conv 2: 6 -> 4, group 2, stride 2, per-tensor uint8 weights (zero point 128), no bias.
  std::vector<uint8_t> w2(4 * 3 * 3 * 3);
  for (uint8_t& v : w2) v = static_cast<uint8_t>(gen() % 256);
  b.Const("w2q", Tensor::FromVector(Shape({4, 3, 3, 3}), w2))
      .Const("w2s", scalar_f(scale(1.0f / 256)))
      .Const("w2z", zp(DType::kUint8, 128));
  b.Node("DequantizeLinear", {"w2q", "w2s", "w2z"}, {"w2"});
  b.Node("Conv", {"p1d", "w2"}, {"c2"},
         {ir::Attribute("group", int64_t{2}), ir::Attribute("strides", std::vector<int64_t>{2, 2}),
          ir::Attribute("pads", std::vector<int64_t>{1, 1, 1, 1})},
         "conv2");
  b.Node("QuantizeLinear", {"c2", "s2", "z2"}, {"c2q"});
  b.Node("DequantizeLinear", {"c2q", "s2", "z2"}, {"c2d"});
  b.Node("Flatten", {"c2d"}, {"fl"});
  b.Node("QuantizeLinear", {"fl", "s2", "z2"}, {"flq"});
  b.Node("DequantizeLinear", {"flq", "s2", "z2"}, {"fld"});
  // Gemm: [N, 16] x W^T (W [7, 16], per-channel along axis 0 = output) + bias.
  std::vector<float> w3s(7);
  for (float& v : w3s) v = scale(1.0f / 64);
  std::vector<float> b3s(7);
  for (size_t c = 0; c < 7; ++c) b3s[c] = s2 * w3s[c];
  b.Const("w3q", Tensor::FromVector(Shape({7, 16}), i8(112, -127, 127)))
      .Const("w3s", f(w3s))
      .Const("b3q", Tensor::FromVector(Shape({7}), i32(7, -500, 500)))
      .Const("b3s", f(b3s));
  b.Node("DequantizeLinear", {"w3q", "w3s"}, {"w3"}, {ir::Attribute("axis", int64_t{0})});
  b.Node("DequantizeLinear", {"b3q", "b3s"}, {"b3"}, {ir::Attribute("axis", int64_t{0})});
  b.Node("Gemm", {"fld", "w3", "b3"}, {"g"}, {ir::Attribute("transB", int64_t{1})}, "fc1");
  b.Node("QuantizeLinear", {"g", "s3", "z3"}, {"gq"});
  b.Node("DequantizeLinear", {"gq", "s3", "z3"}, {"gd"});
  // MatMul [N, 7] x [7, 5] (per-tensor int8) + Add(bias).
  const float w4s = scale(1.0f / 32);
  b.Const("w4q", Tensor::FromVector(Shape({7, 5}), i8(35, -127, 127)))
      .Const("w4s", scalar_f(w4s))
      .Const("b4q", Tensor::FromVector(Shape({5}), i32(5, -200, 200)))
      .Const("b4s", scalar_f(s3 * w4s));
  b.Node("DequantizeLinear", {"w4q", "w4s"}, {"w4"});
  b.Node("DequantizeLinear", {"b4q", "b4s"}, {"b4"});
  b.Node("MatMul", {"gd", "w4"}, {"mm"}, {}, "fc2");
  b.Node("Add", {"mm", "b4"}, {"mma"});
  b.Node("QuantizeLinear", {"mma", "s4", "z4"}, {"yq"});
  b.Node("DequantizeLinear", {"yq", "s4", "z4"}, {"y"});
  b.Output("yq").Output("y");
  return b.Build();
}

// A deterministic input batch in roughly [-2, 2).
inline Tensor QdqTestInput(int64_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> d(-2.0f, 2.0f);
  std::vector<float> v(static_cast<size_t>(n * 3 * 8 * 8));
  for (float& x : v) x = d(gen);
  return Tensor::FromVector(Shape({n, 3, 8, 8}), v);
}

}  // namespace mp::exec::testing

#endif  // MP_WORKERS_ENGINE_EXEC_QDQ_TEST_MODEL_H_
