// Test helpers for the autodiff tests: random tensors and the finite-difference gradient
// check (ggml test-backend-ops style). Test-only; header-only.
#ifndef MP_WORKERS_ENGINE_TRAIN_GRAD_TEST_UTIL_H_
#define MP_WORKERS_ENGINE_TRAIN_GRAD_TEST_UTIL_H_

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "workers/engine/exec/session.h"
#include "workers/engine/ir/graph.h"
#include "workers/engine/tensor/tensor.h"
#include "workers/engine/train/grad_graph.h"

namespace mp::train::testing {

using tensor::DType;
using tensor::Shape;
using tensor::Tensor;

// Uniform in [lo, hi) from `seed`; with min_abs > 0, values with |v| < min_abs are pushed
// out to +-min_abs (keeps inputs away from kinks at 0).
inline Tensor Random(std::vector<int64_t> dims, uint32_t seed, float lo = -1.0f, float hi = 1.0f,
                     float min_abs = 0.0f) {
  Shape shape(std::move(dims));
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(shape.num_elements()));
  for (float& f : v) {
    f = dist(gen);
    if (std::fabs(f) < min_abs) f = f < 0 ? -min_abs : min_abs;
  }
  return Tensor::FromVector(shape, v);
}

// Distinct values (no ties, spaced by `spacing`), shuffled: for max pooling.
inline Tensor Distinct(std::vector<int64_t> dims, uint32_t seed, float spacing = 0.05f) {
  Shape shape(std::move(dims));
  std::vector<float> v(static_cast<size_t>(shape.num_elements()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = spacing * (static_cast<float>(i) - v.size() / 2.0f);
  std::mt19937 gen(seed);
  std::shuffle(v.begin(), v.end(), gen);
  return Tensor::FromVector(shape, v);
}

struct FdOptions {
  float step = 1e-2f;     // central-difference step
  double rtol = 1e-2;     // relative tolerance
  double atol = 2e-3;     // absolute floor
  int max_elements = 48;  // checked per tensor (evenly spaced)
  int num_threads = 2;
  // Fraction of checked elements that must agree. Whole networks with ReLU / MaxPool are
  // only piecewise smooth: a step can cross a kink (an activation changing sign, a pooling
  // argmax switching) somewhere in the batch, so there a few disagreements are expected.
  double min_pass_fraction = 1.0;
};

// L = sum_k <output_k, R_k> with fixed random R_k (graph outputs then extras).
inline double Loss(const exec::NamedTensors& outs, const std::vector<Tensor>& weights) {
  double l = 0;
  for (size_t k = 0; k < outs.size(); ++k) {
    const Tensor& y = outs[k].second;
    if (y.dtype() != DType::kFloat32) continue;
    const float* py = y.data<float>();
    const float* pw = weights[k].data<float>();
    for (int64_t i = 0; i < y.num_elements(); ++i) l += static_cast<double>(py[i]) * pw[i];
  }
  return l;
}

// Checks dL/d(every feed and every parameter) from Backward against central differences
// of Forward(kTrain). Returns the number of elements checked.
inline int CheckGradients(const ir::Model& model, exec::NamedTensors feeds,
                          const FdOptions& opt = {}, GradGraphOptions gopt = {}) {
  gopt.num_threads = opt.num_threads;
  gopt.input_gradients = true;
  auto created = GradGraph::Create(model, gopt);
  EXPECT_TRUE(created.ok()) << created.status();
  if (!created.ok()) return 0;
  GradGraph& g = **created;
  auto outs = g.Forward(feeds, Mode::kTrain);
  EXPECT_TRUE(outs.ok()) << outs.status();
  if (!outs.ok()) return 0;
  std::vector<Tensor> weights, grads;
  for (size_t k = 0; k < outs->size(); ++k) {
    const Tensor& y = (*outs)[k].second;
    weights.push_back(Random(y.shape().dims(), 1000 + static_cast<uint32_t>(k)));
    grads.push_back(y.dtype() == DType::kFloat32 ? weights.back() : Tensor());
  }
  absl::Status st = g.Backward(grads);
  EXPECT_TRUE(st.ok()) << st;
  if (!st.ok()) return 0;
  int checked = 0, passed = 0;
  std::vector<std::string> failures;
  auto check = [&](const std::string& what, float* data, int64_t n, const Tensor& grad) {
    const int64_t stride = std::max<int64_t>(1, n / opt.max_elements);
    for (int64_t i = 0; i < n; i += stride) {
      const float saved = data[i];
      data[i] = saved + opt.step;
      auto plus = g.Forward(feeds, Mode::kTrain);
      data[i] = saved - opt.step;
      auto minus = g.Forward(feeds, Mode::kTrain);
      data[i] = saved;
      ASSERT_TRUE(plus.ok() && minus.ok());
      const double fd = (Loss(*plus, weights) - Loss(*minus, weights)) / (2.0 * opt.step);
      const double an = grad.data<float>()[i];
      ++checked;
      if (std::fabs(an - fd) <= opt.atol + opt.rtol * std::max(std::fabs(an), std::fabs(fd))) {
        ++passed;
      } else {
        failures.push_back(what + " element " + std::to_string(i) + ": backward " +
                           std::to_string(an) + ", finite differences " + std::to_string(fd));
      }
    }
  };
  // Input gradients are read before parameters are perturbed (they are not re-derived).
  std::vector<Tensor> input_grads;
  for (auto& [name, t] : feeds) {
    auto ig = g.InputGradient(name);
    EXPECT_TRUE(ig.ok()) << ig.status();
    input_grads.push_back(ig.ok() ? ig->Clone() : Tensor());
  }
  for (size_t k = 0; k < feeds.size(); ++k) {
    Tensor copy = feeds[k].second.Clone();
    feeds[k].second = copy;
    if (input_grads[k].defined()) {
      check("input '" + feeds[k].first + "'", copy.mutable_data<float>(), copy.num_elements(),
            input_grads[k]);
    }
  }
  for (Parameter& p : g.parameters()) {
    check("parameter '" + p.name + "'", p.value.mutable_data<float>(), p.value.num_elements(),
          p.grad);
  }
  if (passed < opt.min_pass_fraction * checked) {
    std::string all;
    for (const std::string& f : failures) all += f + "\n";
    ADD_FAILURE() << passed << " of " << checked << " gradient elements agree, need "
                  << opt.min_pass_fraction << " of them; mismatches:\n"
                  << all;
  }
  return checked;
}

}  // namespace mp::train::testing

#endif  // MP_WORKERS_ENGINE_TRAIN_GRAD_TEST_UTIL_H_
