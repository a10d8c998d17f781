// Test helpers for the prune module: fixtures and tiny hand-built models.
#ifndef MP_WORKERS_ENGINE_PRUNE_TEST_UTIL_H_
#define MP_WORKERS_ENGINE_PRUNE_TEST_UTIL_H_

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "workers/engine/exec/session.h"
#include "workers/engine/ir/graph.h"
#include "workers/engine/onnx/onnx.h"

namespace mp::prune::testing {

inline std::string SourcePath(const std::string& rel) {
  const char* root = std::getenv("MP_SOURCE_DIR");
  return std::string(root != nullptr ? root : ".") + "/" + rel;
}

inline ir::Model LoadFixture(const std::string& name) {
  auto model = onnx::ImportModelFile(SourcePath("tests/fixtures/models/" + name + ".onnx"));
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? std::move(model).value() : ir::Model{};
}

// x [N, k] -> Gemm(w [n, k], transB=1) -> y [N, n]; w is `weights` row-major.
inline ir::Model GemmModel(int64_t n, int64_t k, const std::vector<float>& weights,
                           tensor::DType dtype = tensor::DType::kFloat32) {
  ir::Model model;
  model.opset_imports.push_back({"", 13});
  ir::Graph& g = model.graph;
  ir::ValueId x = g.AddValue("x", tensor::DType::kFloat32, ir::PartialShape({{-1, "N"}, {k, ""}}));
  tensor::Tensor wt = dtype == tensor::DType::kFloat32
                          ? tensor::Tensor::FromVector<float>(tensor::Shape{n, k}, weights)
                          : tensor::Tensor::Zeros(dtype, tensor::Shape{n, k});
  ir::ValueId w = g.AddInitializer("w", wt);
  ir::ValueId y = g.AddValue("y", tensor::DType::kFloat32);
  g.AddNode({.name = "fc",
             .op_type = "Gemm",
             .inputs = {x, w},
             .outputs = {y},
             .attributes = {ir::Attribute("transB", int64_t{1})}});
  g.AddGraphInput(x);
  g.AddGraphOutput(y);
  return model;
}

// Output 0 of `model` for input 0 = x.
inline tensor::Tensor RunModel(ir::Model model, const tensor::Tensor& x) {
  auto session = exec::Session::Create(std::move(model));
  EXPECT_TRUE(session.ok()) << session.status();
  if (!session.ok()) return {};
  const std::string input = (*session)->inputs()[0].name;
  auto out = (*session)->Run({{input, x}});
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? (*out)[0].second : tensor::Tensor();
}

inline void ExpectClose(const tensor::Tensor& a, const tensor::Tensor& b, const std::string& what) {
  ASSERT_TRUE(a.defined() && b.defined()) << what;
  ASSERT_EQ(a.shape(), b.shape()) << what;
  double worst = 0;
  for (int64_t i = 0; i < a.num_elements(); ++i) {
    const double d = std::fabs(double(a.data<float>()[i]) - double(b.data<float>()[i]));
    worst = std::max(worst, d / std::max(1.0, std::fabs(double(a.data<float>()[i]))));
  }
  EXPECT_LE(worst, 1e-5) << what;
}

}  // namespace mp::prune::testing

#endif  // MP_WORKERS_ENGINE_PRUNE_TEST_UTIL_H_
