#include "workers/engine/kernels/pool_grad.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "workers/engine/kernels/nn_test_util.h"
#include "workers/engine/kernels/pool.h"

namespace mp::kernels {
namespace {

using testing::RandomVector;
using testing::SameBits;

Pool2dParams Params(int64_t k, int64_t s, int64_t pad, bool ceil, bool include_pad) {
  Pool2dParams p;
  p.batch = 2;
  p.channels = 3;
  p.in_h = 7;
  p.in_w = 6;
  p.kernel_h = k;
  p.kernel_w = k;
  p.stride_h = p.stride_w = s;
  p.pad_top = p.pad_left = pad;
  p.pad_bottom = p.pad_right = pad;
  p.count_include_pad = include_pad;
  p.out_h = PoolOutputSize(p.in_h, k, s, pad, pad, 1, ceil);
  p.out_w = PoolOutputSize(p.in_w, k, s, pad, pad, 1, ceil);
  return p;
}

// Distinct values (no ties) spaced >= 0.01 apart, shuffled.
std::vector<float> DistinctValues(int64_t n, uint32_t seed) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = 0.01f * static_cast<float>(i) - 1.0f;
  std::mt19937 gen(seed);
  std::shuffle(v.begin(), v.end(), gen);
  return v;
}

double Dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

// The gradient of L(x) = <pool(x), dy> equals central differences of the forward reference.
void CheckFiniteDifferences(const Pool2dParams& p, bool max) {
  const int64_t nx = p.batch * p.channels * p.in_h * p.in_w;
  const int64_t ny = p.batch * p.channels * p.out_h * p.out_w;
  std::vector<float> x = DistinctValues(nx, 5);
  const std::vector<float> dy = RandomVector(ny, 6);
  std::vector<float> dx(static_cast<size_t>(nx), 0.0f);
  if (max) {
    MaxPool2dGrad(p, x.data(), dy.data(), dx.data());
  } else {
    AveragePool2dGrad(p, dy.data(), dx.data());
  }
  std::vector<float> y(static_cast<size_t>(ny));
  auto loss = [&](const std::vector<float>& xv) {
    if (max) {
      MaxPool2dReference(p, xv.data(), y.data());
    } else {
      AveragePool2dReference(p, xv.data(), y.data());
    }
    return Dot(y, dy);
  };
  const float h = 1e-3f;
  for (int64_t i = 0; i < nx; ++i) {
    std::vector<float> xp = x, xm = x;
    xp[static_cast<size_t>(i)] += h;
    xm[static_cast<size_t>(i)] -= h;
    const double fd = (loss(xp) - loss(xm)) / (2.0 * h);
    ASSERT_NEAR(dx[static_cast<size_t>(i)], fd, 2e-3 + 1e-2 * std::fabs(fd)) << "element " << i;
  }
  // Accumulates (+=) and agrees bit for bit across thread counts.
  ThreadPool pool(3);
  std::vector<float> again(static_cast<size_t>(nx), 1.0f);
  if (max) {
    MaxPool2dGrad(p, x.data(), dy.data(), again.data(), &pool);
  } else {
    AveragePool2dGrad(p, dy.data(), again.data(), &pool);
  }
  for (float& v : again) v -= 1.0f;
  for (int64_t i = 0; i < nx; ++i) {
    EXPECT_NEAR(again[static_cast<size_t>(i)], dx[static_cast<size_t>(i)], 1e-6f);
  }
}

TEST(PoolGradTest, MaxPoolMatchesFiniteDifferences) {
  CheckFiniteDifferences(Params(2, 2, 0, false, false), true);
  CheckFiniteDifferences(Params(3, 2, 1, true, false), true);
  CheckFiniteDifferences(Params(3, 1, 1, false, false), true);
}

TEST(PoolGradTest, AveragePoolMatchesFiniteDifferences) {
  CheckFiniteDifferences(Params(2, 2, 0, false, false), false);
  CheckFiniteDifferences(Params(3, 2, 1, false, false), false);
  CheckFiniteDifferences(Params(3, 2, 1, false, true), false);
  CheckFiniteDifferences(Params(3, 2, 1, true, true), false);
  CheckFiniteDifferences(Params(3, 2, 1, true, false), false);
}

TEST(PoolGradTest, GlobalPools) {
  const int64_t planes = 5, spatial = 9;
  std::vector<float> x = DistinctValues(planes * spatial, 7);
  const std::vector<float> dy = RandomVector(planes, 8);
  std::vector<float> avg(static_cast<size_t>(planes * spatial), 0.0f);
  std::vector<float> mx(static_cast<size_t>(planes * spatial), 0.0f);
  GlobalAveragePoolGrad(planes, spatial, dy.data(), avg.data());
  GlobalMaxPoolGrad(planes, spatial, x.data(), dy.data(), mx.data());
  for (int64_t c = 0; c < planes; ++c) {
    const float* xp = x.data() + c * spatial;
    const int64_t arg = std::max_element(xp, xp + spatial) - xp;
    for (int64_t s = 0; s < spatial; ++s) {
      EXPECT_FLOAT_EQ(avg[static_cast<size_t>(c * spatial + s)], dy[static_cast<size_t>(c)] / 9.0f);
      EXPECT_EQ(mx[static_cast<size_t>(c * spatial + s)],
                s == arg ? dy[static_cast<size_t>(c)] : 0.0f);
    }
  }
  ThreadPool pool(2);
  std::vector<float> avg2(avg.size(), 0.0f);
  GlobalAveragePoolGrad(planes, spatial, dy.data(), avg2.data(), &pool);
  EXPECT_TRUE(SameBits(avg, avg2));
}

}  // namespace
}  // namespace mp::kernels
