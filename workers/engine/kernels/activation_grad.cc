// Activation backward kernels: see activation_grad.h. Tails go through a lane-sized buffer
// so every element is computed by the same vector code wherever it falls.
#include "workers/engine/kernels/activation_grad.h"

#include <algorithm>
#include <cstring>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "workers/engine/kernels/activation_grad.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace mp::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

template <class D, class V>
V GradVec(D d, ActivationGradOp op, const ActivationGradParams& p, V in, V dy) {
  const V zero = hn::Zero(d);
  switch (op) {
    case ActivationGradOp::kRelu:
      return hn::IfThenElseZero(hn::Gt(in, zero), dy);
    case ActivationGradOp::kLeakyRelu:
      return hn::IfThenElse(hn::Gt(in, zero), dy, hn::Mul(dy, hn::Set(d, p.alpha)));
    case ActivationGradOp::kSigmoid:
      return hn::Mul(dy, hn::Mul(in, hn::Sub(hn::Set(d, 1.0f), in)));
    case ActivationGradOp::kTanh:
      return hn::Mul(dy, hn::NegMulAdd(in, in, hn::Set(d, 1.0f)));
    case ActivationGradOp::kHardSwish: {
      const V mid = hn::Mul(
          dy, hn::Div(hn::MulAdd(hn::Set(d, 2.0f), in, hn::Set(d, 3.0f)), hn::Set(d, 6.0f)));
      const V hi = hn::IfThenElse(hn::Gt(in, hn::Set(d, 3.0f)), dy, mid);
      return hn::IfThenZeroElse(hn::Lt(in, hn::Set(d, -3.0f)), hi);
    }
    case ActivationGradOp::kClip: {
      const auto inside = hn::And(hn::Ge(in, hn::Set(d, p.lo)), hn::Le(in, hn::Set(d, p.hi)));
      return hn::IfThenElseZero(inside, dy);
    }
  }
  return zero;
}

void ActivationGradRange(ActivationGradOp op, const ActivationGradParams& p, int64_t begin,
                         int64_t end, const float* in, const float* dy, float* dx) {
  const hn::ScalableTag<float> d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  int64_t i = begin;
  for (; i + lanes <= end; i += lanes) {
    hn::StoreU(GradVec(d, op, p, hn::LoadU(d, in + i), hn::LoadU(d, dy + i)), d, dx + i);
  }
  if (i < end) {
    HWY_ALIGN float bin[HWY_MAX_BYTES / sizeof(float)] = {};
    HWY_ALIGN float bdy[HWY_MAX_BYTES / sizeof(float)] = {};
    const size_t rest = static_cast<size_t>(end - i);
    std::memcpy(bin, in + i, rest * sizeof(float));
    std::memcpy(bdy, dy + i, rest * sizeof(float));
    hn::Store(GradVec(d, op, p, hn::Load(d, bin), hn::Load(d, bdy)), d, bdy);
    std::memcpy(dx + i, bdy, rest * sizeof(float));
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace mp::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace mp::kernels {
HWY_EXPORT(ActivationGradRange);

void ActivationGrad(ActivationGradOp op, const ActivationGradParams& params, int64_t n,
                    const float* in, const float* dy, float* dx, ThreadPool* pool) {
  const auto range = HWY_DYNAMIC_DISPATCH(ActivationGradRange);
  constexpr int64_t kChunk = 8192;
  if (pool == nullptr || pool->num_threads() == 1 || n < 2 * kChunk) {
    range(op, params, 0, n, in, dy, dx);
    return;
  }
  pool->ParallelFor(n, kChunk, [&](int64_t b, int64_t e) { range(op, params, b, e, in, dy, dx); });
}

void ActivationGradReference(ActivationGradOp op, const ActivationGradParams& p, int64_t n,
                             const float* in, const float* dy, float* dx) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = in[i], g = dy[i];
    float r = 0.0f;
    switch (op) {
      case ActivationGradOp::kRelu:
        r = v > 0.0f ? g : 0.0f;
        break;
      case ActivationGradOp::kLeakyRelu:
        r = v > 0.0f ? g : g * p.alpha;
        break;
      case ActivationGradOp::kSigmoid:
        r = g * (v * (1.0f - v));
        break;
      case ActivationGradOp::kTanh:
        r = g * (1.0f - v * v);
        break;
      case ActivationGradOp::kHardSwish:
        r = v < -3.0f ? 0.0f : v > 3.0f ? g : g * ((2.0f * v + 3.0f) / 6.0f);
        break;
      case ActivationGradOp::kClip:
        r = (v >= p.lo && v <= p.hi) ? g : 0.0f;
        break;
    }
    dx[i] = r;
  }
}

}  // namespace mp::kernels
#endif  // HWY_ONCE
