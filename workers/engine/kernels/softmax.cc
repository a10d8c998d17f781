// Softmax, LogSoftmax, LayerNorm, BatchNorm inference: see softmax.h.
#include "workers/engine/kernels/softmax.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "workers/engine/kernels/softmax.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"

#include "hwy/contrib/math/math-inl.h"

HWY_BEFORE_NAMESPACE();
namespace mp::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

constexpr size_t kBufLanes = HWY_MAX_BYTES / sizeof(float);

float RowMax(int64_t n, const float* x) {
  const hn::ScalableTag<float> d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  auto m = hn::Set(d, -std::numeric_limits<float>::infinity());
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) m = hn::Max(m, hn::LoadU(d, x + i));
  float r = hn::GetLane(hn::MaxOfLanes(d, m));
  for (; i < n; ++i) r = std::max(r, x[i]);
  return r;
}

float RowSum(int64_t n, const float* x) {
  const hn::ScalableTag<float> d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  auto s = hn::Zero(d);
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) s = hn::Add(s, hn::LoadU(d, x + i));
  float r = hn::GetLane(hn::SumOfLanes(d, s));
  for (; i < n; ++i) r += x[i];
  return r;
}

// y[i] = exp(x[i] - shift) (clamped to Highway's valid range); returns sum_i y[i] when
// store, else only the sum. The tail goes through a buffer padded with -inf (exp -> 0).
float ExpShiftSum(int64_t n, const float* x, float shift, float* y) {
  const hn::ScalableTag<float> d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const auto vshift = hn::Set(d, shift);
  const auto lo = hn::Set(d, -104.0f);  // exp(-104) == 0 in float32
  auto s = hn::Zero(d);
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    const auto e = hn::Exp(d, hn::Max(hn::Sub(hn::LoadU(d, x + i), vshift), lo));
    if (y != nullptr) hn::StoreU(e, d, y + i);
    s = hn::Add(s, e);
  }
  if (i < n) {
    HWY_ALIGN float buf[kBufLanes];
    std::fill(buf, buf + kBufLanes, -std::numeric_limits<float>::infinity());
    std::memcpy(buf, x + i, static_cast<size_t>(n - i) * sizeof(float));
    const auto e = hn::Exp(d, hn::Max(hn::Sub(hn::Load(d, buf), vshift), lo));
    s = hn::Add(s, e);
    if (y != nullptr) {
      hn::Store(e, d, buf);
      std::memcpy(y + i, buf, static_cast<size_t>(n - i) * sizeof(float));
    }
  }
  return hn::GetLane(hn::SumOfLanes(d, s));
}

// y[i] = x[i] * mul + add.
void Affine(int64_t n, const float* x, float mul, float add, float* y) {
  const hn::ScalableTag<float> d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const auto vm = hn::Set(d, mul), va = hn::Set(d, add);
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) hn::StoreU(hn::MulAdd(hn::LoadU(d, x + i), vm, va), d, y + i);
  for (; i < n; ++i) y[i] = x[i] * mul + add;
}

// y[i] = (x[i] - m) - ls. Subtracting the max first keeps log-softmax exact for large inputs
// (x + (-m - ls) rounds away the small difference when |m| is large).
void ShiftLog(int64_t n, const float* x, float m, float ls, float* y) {
  const hn::ScalableTag<float> d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const auto vm = hn::Set(d, m), vl = hn::Set(d, ls);
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    hn::StoreU(hn::Sub(hn::Sub(hn::LoadU(d, x + i), vm), vl), d, y + i);
  }
  for (; i < n; ++i) y[i] = (x[i] - m) - ls;
}

void SoftmaxRows(int64_t begin, int64_t end, int64_t n, const float* x, float* y, bool log) {
  for (int64_t r = begin; r < end; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    const float m = RowMax(n, xr);
    if (log) {
      const float s = ExpShiftSum(n, xr, m, nullptr);
      ShiftLog(n, xr, m, std::log(s), yr);
    } else {
      const float s = ExpShiftSum(n, xr, m, yr);
      Affine(n, yr, 1.0f / s, 0.0f, yr);
    }
  }
}

void LayerNormRows(int64_t begin, int64_t end, int64_t n, const float* x, const float* scale,
                   const float* bias, float epsilon, float* y, float* mean, float* inv_std) {
  const hn::ScalableTag<float> d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  for (int64_t r = begin; r < end; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    const float mu = RowSum(n, xr) / static_cast<float>(n);
    const auto vmu = hn::Set(d, mu);
    auto acc = hn::Zero(d);
    int64_t i = 0;
    for (; i + lanes <= n; i += lanes) {
      const auto c = hn::Sub(hn::LoadU(d, xr + i), vmu);
      acc = hn::MulAdd(c, c, acc);
    }
    float var = hn::GetLane(hn::SumOfLanes(d, acc));
    for (; i < n; ++i) var += (xr[i] - mu) * (xr[i] - mu);
    var /= static_cast<float>(n);
    const float inv = 1.0f / std::sqrt(var + epsilon);
    if (mean != nullptr) mean[r] = mu;
    if (inv_std != nullptr) inv_std[r] = inv;
    const auto vinv = hn::Set(d, inv);
    for (i = 0; i + lanes <= n; i += lanes) {
      auto v = hn::Mul(hn::Mul(hn::Sub(hn::LoadU(d, xr + i), vmu), vinv), hn::LoadU(d, scale + i));
      if (bias != nullptr) v = hn::Add(v, hn::LoadU(d, bias + i));
      hn::StoreU(v, d, yr + i);
    }
    for (; i < n; ++i) yr[i] = (xr[i] - mu) * inv * scale[i] + (bias ? bias[i] : 0.0f);
  }
}

// Planes [begin, end) of [batch, channels]: y = x * s[c] + t[c].
void ChannelAffinePlanes(int64_t begin, int64_t end, int64_t channels, int64_t spatial,
                         const float* x, const float* s, const float* t, float* y) {
  for (int64_t p = begin; p < end; ++p) {
    const int64_t c = p % channels;
    Affine(spatial, x + p * spatial, s[c], t[c], y + p * spatial);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace mp::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <vector>

namespace mp::kernels {
HWY_EXPORT(SoftmaxRows);
HWY_EXPORT(LayerNormRows);
HWY_EXPORT(ChannelAffinePlanes);

namespace {

// Splits rows of `n` elements so each thread gets at least ~8K elements.
template <typename Fn>
void ForRows(ThreadPool* pool, int64_t rows, int64_t n, const Fn& fn) {
  const int64_t min_rows = std::max<int64_t>(1, 8192 / std::max<int64_t>(n, 1));
  if (pool == nullptr || pool->num_threads() <= 1 || rows < 2 * min_rows) {
    fn(0, rows);
  } else {
    pool->ParallelFor(rows, min_rows, fn);
  }
}

}  // namespace

void Softmax(int64_t rows, int64_t n, const float* x, float* y, ThreadPool* pool) {
  const auto f = HWY_DYNAMIC_DISPATCH(SoftmaxRows);
  ForRows(pool, rows, n, [&](int64_t b, int64_t e) { f(b, e, n, x, y, false); });
}

void LogSoftmax(int64_t rows, int64_t n, const float* x, float* y, ThreadPool* pool) {
  const auto f = HWY_DYNAMIC_DISPATCH(SoftmaxRows);
  ForRows(pool, rows, n, [&](int64_t b, int64_t e) { f(b, e, n, x, y, true); });
}

void LayerNorm(int64_t rows, int64_t n, const float* x, const float* scale, const float* bias,
               float epsilon, float* y, float* mean, float* inv_std, ThreadPool* pool) {
  const auto f = HWY_DYNAMIC_DISPATCH(LayerNormRows);
  ForRows(pool, rows, n,
          [&](int64_t b, int64_t e) { f(b, e, n, x, scale, bias, epsilon, y, mean, inv_std); });
}

void BatchNormInference(int64_t batch, int64_t channels, int64_t spatial, const float* x,
                        const float* scale, const float* bias, const float* mean, const float* var,
                        float epsilon, float* y, ThreadPool* pool) {
  std::vector<float> s(static_cast<size_t>(channels)), t(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) {
    s[c] = scale[c] / std::sqrt(var[c] + epsilon);
    t[c] = bias[c] - mean[c] * s[c];
  }
  const auto f = HWY_DYNAMIC_DISPATCH(ChannelAffinePlanes);
  ForRows(pool, batch * channels, spatial,
          [&](int64_t b, int64_t e) { f(b, e, channels, spatial, x, s.data(), t.data(), y); });
}

void SoftmaxReference(int64_t rows, int64_t n, const float* x, float* y) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    const float m = *std::max_element(xr, xr + n);
    float s = 0;
    for (int64_t j = 0; j < n; ++j) s += std::exp(xr[j] - m);
    for (int64_t j = 0; j < n; ++j) yr[j] = std::exp(xr[j] - m) / s;
  }
}

void LogSoftmaxReference(int64_t rows, int64_t n, const float* x, float* y) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    const float m = *std::max_element(xr, xr + n);
    float s = 0;
    for (int64_t j = 0; j < n; ++j) s += std::exp(xr[j] - m);
    const float ls = std::log(s);
    for (int64_t j = 0; j < n; ++j) yr[j] = xr[j] - m - ls;
  }
}

void LayerNormReference(int64_t rows, int64_t n, const float* x, const float* scale,
                        const float* bias, float epsilon, float* y, float* mean, float* inv_std) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    float mu = 0;
    for (int64_t j = 0; j < n; ++j) mu += xr[j];
    mu /= static_cast<float>(n);
    float var = 0;
    for (int64_t j = 0; j < n; ++j) var += (xr[j] - mu) * (xr[j] - mu);
    var /= static_cast<float>(n);
    const float inv = 1.0f / std::sqrt(var + epsilon);
    if (mean != nullptr) mean[r] = mu;
    if (inv_std != nullptr) inv_std[r] = inv;
    for (int64_t j = 0; j < n; ++j) {
      yr[j] = (xr[j] - mu) * inv * scale[j] + (bias ? bias[j] : 0.0f);
    }
  }
}

void BatchNormInferenceReference(int64_t batch, int64_t channels, int64_t spatial, const float* x,
                                 const float* scale, const float* bias, const float* mean,
                                 const float* var, float epsilon, float* y) {
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t c = 0; c < channels; ++c) {
      const float inv = 1.0f / std::sqrt(var[c] + epsilon);
      for (int64_t i = 0; i < spatial; ++i) {
        const int64_t k = (b * channels + c) * spatial + i;
        y[k] = (x[k] - mean[c]) * inv * scale[c] + bias[c];
      }
    }
  }
}

}  // namespace mp::kernels
#endif  // HWY_ONCE
