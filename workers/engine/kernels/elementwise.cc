// Elementwise kernels: see elementwise.h. Broadcast shapes are collapsed once (outside the
// per-target code); each target then walks [begin, end) of the flattened output, one
// innermost run at a time. Partial vectors (run tails) go through a lane-sized buffer, so
// every element is computed by the same vector code wherever it falls.
#include "workers/engine/kernels/elementwise.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#ifndef MP_KERNELS_ELEMENTWISE_COLLAPSED_
#define MP_KERNELS_ELEMENTWISE_COLLAPSED_
namespace mp::kernels::elementwise_internal {

// A broadcast after collapsing: rank >= 1 axes, none of size 1 unless rank == 1.
struct Collapsed {
  int rank = 1;
  int64_t shape[kMaxBroadcastRank] = {1};
  int64_t sa[kMaxBroadcastRank] = {0};
  int64_t sb[kMaxBroadcastRank] = {0};
  int64_t total = 1;
};

}  // namespace mp::kernels::elementwise_internal
#endif  // MP_KERNELS_ELEMENTWISE_COLLAPSED_

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "workers/engine/kernels/elementwise.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"

#include "hwy/contrib/math/math-inl.h"

HWY_BEFORE_NAMESPACE();
namespace mp::kernels {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using elementwise_internal::Collapsed;

constexpr size_t kBufLanes = HWY_MAX_BYTES / sizeof(float);

// out[i] = vop(a[i*ia], b[i*ib]) for i < len, where ia, ib in {0, 1} (at least one is 1).
template <class VOp>
void RunVector(int64_t len, const float* a, int64_t ia, const float* b, int64_t ib, float* out,
               const VOp& vop) {
  const hn::ScalableTag<float> d;
  const int64_t n = static_cast<int64_t>(hn::Lanes(d));
  int64_t i = 0;
  if (ia == 1 && ib == 1) {
    for (; i + n <= len; i += n) {
      hn::StoreU(vop(d, hn::LoadU(d, a + i), hn::LoadU(d, b + i)), d, out + i);
    }
  } else if (ia == 1) {
    const auto vb = hn::Set(d, b[0]);
    for (; i + n <= len; i += n) hn::StoreU(vop(d, hn::LoadU(d, a + i), vb), d, out + i);
  } else {
    const auto va = hn::Set(d, a[0]);
    for (; i + n <= len; i += n) hn::StoreU(vop(d, va, hn::LoadU(d, b + i)), d, out + i);
  }
  if (i == len) return;
  HWY_ALIGN float ta[kBufLanes] = {}, tb[kBufLanes] = {}, to[kBufLanes];
  const int64_t rest = len - i;
  for (int64_t j = 0; j < rest; ++j) {
    ta[j] = a[(i + j) * ia];
    tb[j] = b[(i + j) * ib];
  }
  hn::Store(vop(d, hn::Load(d, ta), hn::Load(d, tb)), d, to);
  std::memcpy(out + i, to, static_cast<size_t>(rest) * sizeof(float));
}

// Walks output elements [begin, end) run by run, calling run(len, a, ia, b, ib, out).
template <class Run>
void WalkRange(const Collapsed& c, int64_t begin, int64_t end, const float* a, const float* b,
               float* out, const Run& run) {
  const int r = c.rank;
  const int64_t inner = c.shape[r - 1];
  int64_t idx[kMaxBroadcastRank] = {0};
  int64_t row = begin / inner, col = begin % inner;
  int64_t off_a = 0, off_b = 0;
  for (int dim = r - 2; dim >= 0; --dim) {
    idx[dim] = row % c.shape[dim];
    row /= c.shape[dim];
    off_a += idx[dim] * c.sa[dim];
    off_b += idx[dim] * c.sb[dim];
  }
  int64_t e = begin;
  while (e < end) {
    const int64_t len = std::min(inner - col, end - e);
    run(len, a + off_a + col * c.sa[r - 1], c.sa[r - 1], b + off_b + col * c.sb[r - 1], c.sb[r - 1],
        out + e);
    e += len;
    col = 0;
    for (int dim = r - 2; dim >= 0; --dim) {  // odometer over the outer axes
      off_a += c.sa[dim];
      off_b += c.sb[dim];
      if (++idx[dim] < c.shape[dim]) break;
      off_a -= idx[dim] * c.sa[dim];
      off_b -= idx[dim] * c.sb[dim];
      idx[dim] = 0;
    }
  }
}

template <class VOp>
void BinaryWith(const Collapsed& c, int64_t begin, int64_t end, const float* a, const float* b,
                float* out, BinaryOp op, const VOp& vop) {
  WalkRange(c, begin, end, a, b, out,
            [&](int64_t len, const float* ra, int64_t ia, const float* rb, int64_t ib, float* ro) {
              if ((ia == 0 || ia == 1) && (ib == 0 || ib == 1) && (ia | ib) != 0) {
                RunVector(len, ra, ia, rb, ib, ro, vop);
              } else {
                for (int64_t i = 0; i < len; ++i) ro[i] = BinaryScalar(op, ra[i * ia], rb[i * ib]);
              }
            });
}

// Pow: vector code only for a broadcast exponent with an exact cheap form.
void PowRange(const Collapsed& c, int64_t begin, int64_t end, const float* a, const float* b,
              float* out) {
  WalkRange(c, begin, end, a, b, out,
            [&](int64_t len, const float* ra, int64_t ia, const float* rb, int64_t ib, float* ro) {
              const float e = rb[0];
              if (ia == 1 && ib == 0 && (e == 1 || e == 2 || e == 3 || e == 0.5f || e == -1)) {
                RunVector(len, ra, 1, rb, 0, ro, [e](auto d, auto va, auto) {
                  if (e == 1) return va;
                  if (e == 2) return hn::Mul(va, va);
                  if (e == 3) return hn::Mul(hn::Mul(va, va), va);
                  if (e == 0.5f) return hn::Sqrt(va);
                  return hn::Div(hn::Set(d, 1.0f), va);
                });
              } else {
                for (int64_t i = 0; i < len; ++i) ro[i] = std::pow(ra[i * ia], rb[i * ib]);
              }
            });
}

void BinaryRange(BinaryOp op, const Collapsed& c, int64_t begin, int64_t end, const float* a,
                 const float* b, float* out) {
  switch (op) {
    case BinaryOp::kAdd:
      return BinaryWith(c, begin, end, a, b, out, op,
                        [](auto, auto x, auto y) { return hn::Add(x, y); });
    case BinaryOp::kSub:
      return BinaryWith(c, begin, end, a, b, out, op,
                        [](auto, auto x, auto y) { return hn::Sub(x, y); });
    case BinaryOp::kMul:
      return BinaryWith(c, begin, end, a, b, out, op,
                        [](auto, auto x, auto y) { return hn::Mul(x, y); });
    case BinaryOp::kDiv:
      return BinaryWith(c, begin, end, a, b, out, op,
                        [](auto, auto x, auto y) { return hn::Div(x, y); });
    case BinaryOp::kMax:
      return BinaryWith(c, begin, end, a, b, out, op,
                        [](auto, auto x, auto y) { return hn::Max(x, y); });
    case BinaryOp::kMin:
      return BinaryWith(c, begin, end, a, b, out, op,
                        [](auto, auto x, auto y) { return hn::Min(x, y); });
    case BinaryOp::kPRelu:
      return BinaryWith(c, begin, end, a, b, out, op, [](auto d, auto x, auto y) {
        return hn::IfThenElse(hn::Lt(x, hn::Zero(d)), hn::Mul(x, y), x);
      });
    case BinaryOp::kPow:
      return PowRange(c, begin, end, a, b, out);
  }
}

// ---------------------------------------------------------------- unary

template <class D, class V>
V ErfV(D d, V x) {
  // Rational approximation erf(x) ~ x * P(x^2) / Q(x^2) on [-4, 4] (as in Eigen/XLA);
  // max abs error 4e-7 in float32.
  x = hn::Min(hn::Max(x, hn::Set(d, -4.0f)), hn::Set(d, 4.0f));
  const V x2 = hn::Mul(x, x);
  V p = hn::Set(d, -2.72614225801306e-10f);
  p = hn::MulAdd(p, x2, hn::Set(d, 2.77068142495902e-08f));
  p = hn::MulAdd(p, x2, hn::Set(d, -2.10102402082508e-06f));
  p = hn::MulAdd(p, x2, hn::Set(d, -5.69250639462346e-05f));
  p = hn::MulAdd(p, x2, hn::Set(d, -7.34990630326855e-04f));
  p = hn::MulAdd(p, x2, hn::Set(d, -2.95459980854025e-03f));
  p = hn::MulAdd(p, x2, hn::Set(d, -1.60960333262415e-02f));
  p = hn::Mul(p, x);
  V q = hn::Set(d, -1.45660718464996e-05f);
  q = hn::MulAdd(q, x2, hn::Set(d, -2.13374055278905e-04f));
  q = hn::MulAdd(q, x2, hn::Set(d, -1.68282697438203e-03f));
  q = hn::MulAdd(q, x2, hn::Set(d, -7.37332916720468e-03f));
  q = hn::MulAdd(q, x2, hn::Set(d, -1.42647390514189e-02f));
  return hn::Div(p, q);
}

template <class D, class V>
V ExpV(D d, V x) {
  // Highway's Exp is valid up to 104; beyond 88.73 the result is +inf anyway.
  return hn::Exp(d, hn::Min(hn::Set(d, 100.0f), x));
}

template <class D, class V>
V LogV(D d, V x) {
  const V inf = hn::Set(d, HUGE_VALF);
  const auto normal = hn::And(hn::Gt(x, hn::Zero(d)), hn::Lt(x, inf));
  const V safe = hn::IfThenElse(normal, x, hn::Set(d, 1.0f));
  V special = hn::IfThenElse(hn::Eq(x, hn::Zero(d)), hn::Neg(inf), hn::Set(d, NAN));
  special = hn::IfThenElse(hn::Eq(x, inf), inf, special);
  return hn::IfThenElse(normal, hn::Log(d, safe), special);
}

template <class VOp>
void MapUnary(int64_t n, const float* x, float* y, const VOp& vop) {
  const hn::ScalableTag<float> d;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) hn::StoreU(vop(d, hn::LoadU(d, x + i)), d, y + i);
  if (i == n) return;
  HWY_ALIGN float buf[kBufLanes] = {};
  std::memcpy(buf, x + i, static_cast<size_t>(n - i) * sizeof(float));
  hn::Store(vop(d, hn::Load(d, buf)), d, buf);
  std::memcpy(y + i, buf, static_cast<size_t>(n - i) * sizeof(float));
}

void UnaryRange(UnaryOp op, const UnaryParams& prm, int64_t n, const float* x, float* y) {
  const float alpha = prm.alpha, beta = prm.beta;
  switch (op) {
    case UnaryOp::kRelu:
      return MapUnary(n, x, y, [](auto d, auto v) { return hn::Max(v, hn::Zero(d)); });
    case UnaryOp::kLeakyRelu:
      return MapUnary(n, x, y, [alpha](auto d, auto v) {
        return hn::IfThenElse(hn::Lt(v, hn::Zero(d)), hn::Mul(v, hn::Set(d, alpha)), v);
      });
    case UnaryOp::kSigmoid:
      return MapUnary(n, x, y, [](auto d, auto v) {
        const auto one = hn::Set(d, 1.0f);
        return hn::Div(one, hn::Add(one, ExpV(d, hn::Neg(v))));
      });
    case UnaryOp::kTanh:
      return MapUnary(n, x, y, [](auto d, auto v) { return hn::Tanh(d, v); });
    case UnaryOp::kClip:
      return MapUnary(n, x, y, [alpha, beta](auto d, auto v) {
        return hn::Min(hn::Max(v, hn::Set(d, alpha)), hn::Set(d, beta));
      });
    case UnaryOp::kHardSigmoid:
      return MapUnary(n, x, y, [alpha, beta](auto d, auto v) {
        const auto t = hn::Add(hn::Mul(v, hn::Set(d, alpha)), hn::Set(d, beta));
        return hn::Max(hn::Min(t, hn::Set(d, 1.0f)), hn::Zero(d));
      });
    case UnaryOp::kHardSwish:
      return MapUnary(n, x, y, [](auto d, auto v) {
        const auto t = hn::Add(hn::Mul(v, hn::Set(d, 1.0f / 6.0f)), hn::Set(d, 0.5f));
        return hn::Mul(v, hn::Max(hn::Min(t, hn::Set(d, 1.0f)), hn::Zero(d)));
      });
    case UnaryOp::kErf:
      return MapUnary(n, x, y, [](auto d, auto v) { return ErfV(d, v); });
    case UnaryOp::kGelu:
      return MapUnary(n, x, y, [](auto d, auto v) {
        const auto e = ErfV(d, hn::Mul(v, hn::Set(d, 0.70710678118654752f)));
        return hn::Mul(hn::Mul(hn::Set(d, 0.5f), v), hn::Add(hn::Set(d, 1.0f), e));
      });
    case UnaryOp::kGeluTanh:
      return MapUnary(n, x, y, [](auto d, auto v) {
        const auto v3 = hn::Mul(hn::Mul(v, v), v);
        const auto inner =
            hn::Mul(hn::Set(d, 0.79788456080286536f), hn::MulAdd(hn::Set(d, 0.044715f), v3, v));
        return hn::Mul(hn::Mul(hn::Set(d, 0.5f), v), hn::Add(hn::Set(d, 1.0f), hn::Tanh(d, inner)));
      });
    case UnaryOp::kExp:
      return MapUnary(n, x, y, [](auto d, auto v) { return ExpV(d, v); });
    case UnaryOp::kLog:
      return MapUnary(n, x, y, [](auto d, auto v) { return LogV(d, v); });
    case UnaryOp::kSqrt:
      return MapUnary(n, x, y, [](auto, auto v) { return hn::Sqrt(v); });
    case UnaryOp::kNeg:
      return MapUnary(n, x, y, [](auto, auto v) { return hn::Neg(v); });
    case UnaryOp::kAbs:
      return MapUnary(n, x, y, [](auto, auto v) { return hn::Abs(v); });
    case UnaryOp::kReciprocal:
      return MapUnary(n, x, y, [](auto d, auto v) { return hn::Div(hn::Set(d, 1.0f), v); });
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace mp::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace mp::kernels {
HWY_EXPORT(BinaryRange);
HWY_EXPORT(UnaryRange);

namespace {

using elementwise_internal::Collapsed;

constexpr int64_t kMinChunk = 16384;  // elements per thread worth the hand-off

Collapsed Collapse(int rank, const int64_t* shape, const int64_t* sa, const int64_t* sb) {
  Collapsed c;
  int r = 0;
  for (int d = 0; d < rank; ++d) {
    c.total *= shape[d];
    if (shape[d] == 1) continue;
    if (r > 0 && c.sa[r - 1] == sa[d] * shape[d] && c.sb[r - 1] == sb[d] * shape[d]) {
      c.shape[r - 1] *= shape[d];  // previous axis steps over this one exactly: merge
      c.sa[r - 1] = sa[d];
      c.sb[r - 1] = sb[d];
      continue;
    }
    c.shape[r] = shape[d];
    c.sa[r] = sa[d];
    c.sb[r] = sb[d];
    ++r;
  }
  if (r == 0) {  // a single element
    c.shape[0] = 1;
    c.sa[0] = c.sb[0] = 1;
    r = 1;
  }
  c.rank = r;
  return c;
}

template <typename Fn>
void Chunked(ThreadPool* pool, int64_t n, const Fn& fn) {
  if (pool == nullptr || pool->num_threads() <= 1 || n < 2 * kMinChunk) {
    fn(0, n);
  } else {
    pool->ParallelFor(n, kMinChunk, fn);
  }
}

}  // namespace

void BroadcastStrides(int in_rank, const int64_t* in_shape, int out_rank, const int64_t* out_shape,
                      int64_t* strides) {
  int64_t stride = 1;
  for (int d = out_rank - 1; d >= 0; --d) {
    const int in_d = d - (out_rank - in_rank);
    if (in_d < 0 || in_shape[in_d] == 1) {
      strides[d] = 0;
    } else {
      strides[d] = stride;
      stride *= in_shape[in_d];
    }
  }
}

void Binary(BinaryOp op, int rank, const int64_t* out_shape, const float* a,
            const int64_t* a_strides, const float* b, const int64_t* b_strides, float* out,
            ThreadPool* pool) {
  const Collapsed c = Collapse(rank, out_shape, a_strides, b_strides);
  if (c.total == 0) return;
  const auto range = HWY_DYNAMIC_DISPATCH(BinaryRange);
  Chunked(pool, c.total, [&](int64_t begin, int64_t end) { range(op, c, begin, end, a, b, out); });
}

void BinaryReference(BinaryOp op, int rank, const int64_t* out_shape, const float* a,
                     const int64_t* a_strides, const float* b, const int64_t* b_strides,
                     float* out) {
  int64_t total = 1;
  for (int d = 0; d < rank; ++d) total *= out_shape[d];
  for (int64_t i = 0; i < total; ++i) {
    int64_t rem = i, off_a = 0, off_b = 0;
    for (int d = rank - 1; d >= 0; --d) {
      const int64_t id = rem % out_shape[d];
      rem /= out_shape[d];
      off_a += id * a_strides[d];
      off_b += id * b_strides[d];
    }
    out[i] = BinaryScalar(op, a[off_a], b[off_b]);
  }
}

float UnaryScalar(UnaryOp op, const UnaryParams& p, float x) {
  switch (op) {
    case UnaryOp::kRelu:
      return std::max(x, 0.0f);
    case UnaryOp::kLeakyRelu:
      return x < 0 ? x * p.alpha : x;
    case UnaryOp::kSigmoid:
      return 1.0f / (1.0f + std::exp(-x));
    case UnaryOp::kTanh:
      return std::tanh(x);
    case UnaryOp::kClip:
      return std::min(std::max(x, p.alpha), p.beta);
    case UnaryOp::kHardSigmoid:
      return std::max(std::min(x * p.alpha + p.beta, 1.0f), 0.0f);
    case UnaryOp::kHardSwish:
      return x * std::max(std::min(x * (1.0f / 6.0f) + 0.5f, 1.0f), 0.0f);
    case UnaryOp::kErf:
      return std::erf(x);
    case UnaryOp::kGelu:
      return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f));
    case UnaryOp::kGeluTanh:
      return 0.5f * x * (1.0f + std::tanh(0.79788456080286536f * (x + 0.044715f * x * x * x)));
    case UnaryOp::kExp:
      return std::exp(x);
    case UnaryOp::kLog:
      return std::log(x);
    case UnaryOp::kSqrt:
      return std::sqrt(x);
    case UnaryOp::kNeg:
      return -x;
    case UnaryOp::kAbs:
      return std::fabs(x);
    case UnaryOp::kReciprocal:
      return 1.0f / x;
  }
  return 0.0f;
}

void Unary(UnaryOp op, const UnaryParams& params, int64_t n, const float* x, float* y,
           ThreadPool* pool) {
  const auto range = HWY_DYNAMIC_DISPATCH(UnaryRange);
  Chunked(pool, n, [&](int64_t begin, int64_t end) {
    range(op, params, end - begin, x + begin, y + begin);
  });
}

void UnaryReference(UnaryOp op, const UnaryParams& params, int64_t n, const float* x, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = UnaryScalar(op, params, x[i]);
}

}  // namespace mp::kernels
#endif  // HWY_ONCE
