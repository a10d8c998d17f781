// SIMD optimizer updates (see optimizer_kernels.h). Each kernel processes full vectors, then
// the tail through a lane-sized buffer with the same vector code.
#include "workers/engine/train/optimizer_kernels.h"

#include <cmath>
#include <cstring>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "workers/engine/train/optimizer_kernels.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace mp::train {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

constexpr size_t kBufLanes = HWY_MAX_BYTES / sizeof(float);

// Calls body(d, at) for each full vector and once for the tail, where the tail's
// arrays are copied into lane buffers, and back out for arrays whose bit is set in
// `written`. `arrays` hold n floats each (or are null: unused).
template <size_t kArrays, class Body>
void ForEachVector(size_t n, float* const (&arrays)[kArrays], unsigned written, const Body& body) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  size_t i = 0;
  float* at[kArrays];
  for (; i + lanes <= n; i += lanes) {
    for (size_t k = 0; k < kArrays; ++k) at[k] = arrays[k] == nullptr ? nullptr : arrays[k] + i;
    body(d, at);
  }
  if (i == n) return;
  HWY_ALIGN float buf[kArrays][kBufLanes] = {};
  const size_t rest = n - i;
  for (size_t k = 0; k < kArrays; ++k) {
    if (arrays[k] == nullptr) {
      at[k] = nullptr;
      continue;
    }
    std::memcpy(buf[k], arrays[k] + i, rest * sizeof(float));
    at[k] = buf[k];
  }
  body(d, at);
  for (size_t k = 0; k < kArrays; ++k) {
    if (arrays[k] != nullptr && (written >> k & 1u))
      std::memcpy(arrays[k] + i, buf[k], rest * sizeof(float));
  }
}

void SgdUpdateImpl(const SgdStepParams& p, size_t n, float* value, const float* grad, float* buf) {
  float* const arrays[3] = {value, const_cast<float*>(grad), p.momentum > 0 ? buf : nullptr};
  ForEachVector<3>(n, arrays, 0b101u, [&](auto d, float* const(&a)[3]) {
    const auto w = hn::LoadU(d, a[0]);
    auto g = hn::MulAdd(hn::Set(d, p.weight_decay), w, hn::LoadU(d, a[1]));
    if (p.momentum > 0) {
      const auto mom = hn::Set(d, p.momentum);
      const auto b = p.first_step ? g : hn::MulAdd(mom, hn::LoadU(d, a[2]), g);
      hn::StoreU(b, d, a[2]);
      g = p.nesterov ? hn::MulAdd(mom, b, g) : b;
    }
    hn::StoreU(hn::NegMulAdd(hn::Set(d, p.lr), g, w), d, a[0]);
  });
}

void AdamUpdateImpl(const AdamStepParams& p, size_t n, float* value, const float* grad, float* m,
                    float* v) {
  float* const arrays[4] = {value, const_cast<float*>(grad), m, v};
  ForEachVector<4>(n, arrays, 0b1101u, [&](auto d, float* const(&a)[4]) {
    const auto w = hn::LoadU(d, a[0]);
    const auto g = hn::MulAdd(hn::Set(d, p.l2), w, hn::LoadU(d, a[1]));
    const auto m1 =
        hn::MulAdd(hn::Set(d, 1.0f - p.beta1), g, hn::Mul(hn::Set(d, p.beta1), hn::LoadU(d, a[2])));
    const auto v1 = hn::MulAdd(hn::Mul(hn::Set(d, 1.0f - p.beta2), g), g,
                               hn::Mul(hn::Set(d, p.beta2), hn::LoadU(d, a[3])));
    hn::StoreU(m1, d, a[2]);
    hn::StoreU(v1, d, a[3]);
    const auto denom =
        hn::Add(hn::Div(hn::Sqrt(v1), hn::Set(d, p.bias_correction2_sqrt)), hn::Set(d, p.eps));
    const auto decayed = hn::Mul(w, hn::Set(d, p.decay_factor));
    hn::StoreU(hn::NegMulAdd(hn::Set(d, p.step_size), hn::Div(m1, denom), decayed), d, a[0]);
  });
}

}  // namespace HWY_NAMESPACE
}  // namespace mp::train
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace mp::train {

HWY_EXPORT(SgdUpdateImpl);
HWY_EXPORT(AdamUpdateImpl);

void SgdUpdate(const SgdStepParams& p, size_t n, float* value, const float* grad, float* buf) {
  HWY_DYNAMIC_DISPATCH(SgdUpdateImpl)(p, n, value, grad, buf);
}

void AdamUpdate(const AdamStepParams& p, size_t n, float* value, const float* grad, float* m,
                float* v) {
  HWY_DYNAMIC_DISPATCH(AdamUpdateImpl)(p, n, value, grad, m, v);
}

void SgdUpdateReference(const SgdStepParams& p, size_t n, float* value, const float* grad,
                        float* buf) {
  for (size_t i = 0; i < n; ++i) {
    float g = grad[i] + p.weight_decay * value[i];
    if (p.momentum > 0) {
      buf[i] = p.first_step ? g : p.momentum * buf[i] + g;
      g = p.nesterov ? g + p.momentum * buf[i] : buf[i];
    }
    value[i] -= p.lr * g;
  }
}

void AdamUpdateReference(const AdamStepParams& p, size_t n, float* value, const float* grad,
                         float* m, float* v) {
  for (size_t i = 0; i < n; ++i) {
    const float g = grad[i] + p.l2 * value[i];
    m[i] = p.beta1 * m[i] + (1.0f - p.beta1) * g;
    v[i] = p.beta2 * v[i] + (1.0f - p.beta2) * g * g;
    const float denom = std::sqrt(v[i]) / p.bias_correction2_sqrt + p.eps;
    value[i] = value[i] * p.decay_factor - p.step_size * (m[i] / denom);
  }
}

}  // namespace mp::train
#endif  // HWY_ONCE
