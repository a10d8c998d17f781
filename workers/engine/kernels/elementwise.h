// Elementwise float32 kernels: numpy-broadcasting binary ops and unary activations.
//
// Binary: out[i] = op(a[offset_a(i)], b[offset_b(i)]) for every index i of out_shape, where
//   offset_x(i) = sum_d i_d * x_strides[d] (element strides; 0 on broadcast axes, see
//   BroadcastStrides). The kernel collapses axes that are contiguous in a, b and out alike,
//   drops size-1 axes, then runs the innermost axis as one SIMD loop in one of three modes:
//   both inputs contiguous, a contiguous and b one repeated scalar, or the converse (any
//   other stride falls back to a scalar loop). `out` is dense row-major over out_shape and
//   may alias an input only when that input has exactly out's shape and dense strides.
//   Ops: Add a+b, Sub a-b, Mul a*b, Div a/b, Max/Min (IEEE max/min; NaN handling follows
//   the target's instruction), PRelu (a < 0 ? a*b : a, b the slope), Pow std::pow(a, b).
//   Exact IEEE ops give the same bits as the reference; Pow uses x*x, x*x*x, sqrt(x), x,
//   1/x when the exponent is the broadcast scalar 2, 3, 0.5, 1, -1, and std::pow otherwise.
//
// Unary: y[i] = f(x[i]) for i < n; y may equal x. Max error against the std:: float
// function (|err| <= abs + rel * |want|, measured over [-10, 10] and by the tests):
//   Relu, LeakyRelu(alpha), Clip(alpha=min, beta=max), Neg, Abs, Sqrt, Reciprocal:
//   exact (0 ulp). HardSigmoid(alpha, beta) = clamp(alpha*x + beta, 0, 1) and
//   HardSwish = x * HardSigmoid(1/6, 1/2): 1 ulp (the multiply-add may be fused).
//   Exp: 1 ulp (Highway). Log: 4 ulp (Highway; 0 -> -inf, < 0 -> NaN, inf -> inf).
//   Tanh: 4 ulp (Highway). Sigmoid = 1/(1+exp(-x)): rel 1e-6.
//   Erf: rational approximation on [-4, 4] (saturating to +-1 beyond), abs/rel 4e-7.
//   Gelu = 0.5*x*(1 + erf(x/sqrt(2))): rel 1e-6 for x > -2, abs 2e-6 below (the reference
//   itself loses relative accuracy there: 1 + erf cancels).
//   GeluTanh = 0.5*x*(1 + tanh(sqrt(2/pi)*(x + 0.044715*x^3))): same bounds as Gelu.
// Inputs outside a function's domain give what std:: gives (NaN, +-inf), except Exp/Sigmoid
// where NaN inputs are not guaranteed to propagate.
//
// With a pool, work splits into contiguous chunks of output; every element is computed by
// the same code whatever the chunking, so the bytes do not depend on the thread count.
#ifndef MP_WORKERS_ENGINE_KERNELS_ELEMENTWISE_H_
#define MP_WORKERS_ENGINE_KERNELS_ELEMENTWISE_H_

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "workers/engine/kernels/parallel.h"

namespace mp::kernels {

inline constexpr int kMaxBroadcastRank = 8;

enum class BinaryOp { kAdd, kSub, kMul, kDiv, kPow, kMax, kMin, kPRelu };

enum class UnaryOp {
  kRelu,
  kLeakyRelu,  // x >= 0 ? x : alpha * x
  kSigmoid,
  kTanh,
  kClip,         // min(max(x, alpha), beta)
  kHardSigmoid,  // max(0, min(1, alpha * x + beta))
  kHardSwish,
  kErf,
  kGelu,
  kGeluTanh,
  kExp,
  kLog,
  kSqrt,
  kNeg,
  kAbs,
  kReciprocal,
};

struct UnaryParams {
  float alpha = 0.0f;
  float beta = 0.0f;
};

// Numpy broadcasting of an input of shape in_shape[in_rank] against out_shape[out_rank]
// (in_rank <= out_rank, shapes right-aligned, every in dim either 1 or equal to out's):
// strides[out_rank] gets the input's dense row-major element strides, 0 on broadcast axes.
void BroadcastStrides(int in_rank, const int64_t* in_shape, int out_rank, const int64_t* out_shape,
                      int64_t* strides);

// See the file comment. rank <= kMaxBroadcastRank; rank 0 is a single element.
void Binary(BinaryOp op, int rank, const int64_t* out_shape, const float* a,
            const int64_t* a_strides, const float* b, const int64_t* b_strides, float* out,
            ThreadPool* pool = nullptr);
void BinaryReference(BinaryOp op, int rank, const int64_t* out_shape, const float* a,
                     const int64_t* a_strides, const float* b, const int64_t* b_strides,
                     float* out);

void Unary(UnaryOp op, const UnaryParams& params, int64_t n, const float* x, float* y,
           ThreadPool* pool = nullptr);
void UnaryReference(UnaryOp op, const UnaryParams& params, int64_t n, const float* x, float* y);

// The scalar definitions, one element at a time. BinaryScalar is also the exec module's
// float64 definition (T = float or double).
template <typename T>
T BinaryScalar(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::kAdd:
      return a + b;
    case BinaryOp::kSub:
      return a - b;
    case BinaryOp::kMul:
      return a * b;
    case BinaryOp::kDiv:
      return a / b;
    case BinaryOp::kPow:
      return std::pow(a, b);
    case BinaryOp::kMax:
      return std::max(a, b);
    case BinaryOp::kMin:
      return std::min(a, b);
    case BinaryOp::kPRelu:
      return a < 0 ? a * b : a;
  }
  return T{0};
}
float UnaryScalar(UnaryOp op, const UnaryParams& params, float x);

}  // namespace mp::kernels

#endif  // MP_WORKERS_ENGINE_KERNELS_ELEMENTWISE_H_
