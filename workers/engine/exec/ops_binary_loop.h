// Scalar broadcasting loops for the non-float32 dtypes of the elementwise families
// (ops_binary.cc, ops_unary.cc). float32 goes to the Highway kernels instead.
// Internal to mp_engine_exec.
#ifndef MP_WORKERS_ENGINE_EXEC_OPS_BINARY_LOOP_H_
#define MP_WORKERS_ENGINE_EXEC_OPS_BINARY_LOOP_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "workers/engine/kernels/elementwise.h"
#include "workers/engine/tensor/tensor.h"

namespace mp::exec::internal {

// y[i] = f(a[offset_a(i)], b[offset_b(i)]) over every index i of `out` (row-major), with
// offset_x(i) = sum_d i_d * x_strides[d] (0 on broadcast axes). y may alias a or b only when
// that input is dense with out's shape.
template <typename A, typename B, typename Y, typename F>
void BinaryLoop(const tensor::Shape& out, const A* a, const std::vector<int64_t>& a_strides,
                const B* b, const std::vector<int64_t>& b_strides, Y* y, F f) {
  const int rank = out.rank();
  if (out.num_elements() == 0) return;
  if (rank == 0) {
    y[0] = f(a[0], b[0]);
    return;
  }
  const int64_t inner = out.dim(rank - 1);
  const int64_t sa = a_strides[static_cast<size_t>(rank - 1)];
  const int64_t sb = b_strides[static_cast<size_t>(rank - 1)];
  std::vector<int64_t> index(static_cast<size_t>(rank), 0);
  const int64_t outer = out.num_elements() / inner;
  int64_t oa = 0, ob = 0;
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) y[o * inner + i] = f(a[oa + i * sa], b[ob + i * sb]);
    // Advance the multi-index over dims [0, rank-1).
    for (int d = rank - 2; d >= 0; --d) {
      const size_t du = static_cast<size_t>(d);
      oa += a_strides[du];
      ob += b_strides[du];
      if (++index[du] < out.dim(d)) break;
      oa -= a_strides[du] * out.dim(d);
      ob -= b_strides[du] * out.dim(d);
      index[du] = 0;
    }
  }
}

// `v` converted to T; for integer T, NaN -> 0 and out-of-range values saturate (a plain cast
// would be undefined behaviour).
template <typename T>
T FromDouble(double v) {
  if constexpr (std::is_integral_v<T>) {
    if (std::isnan(v)) return 0;
    if (v <= static_cast<double>(std::numeric_limits<T>::min())) {
      return std::numeric_limits<T>::min();
    }
    if (v >= static_cast<double>(std::numeric_limits<T>::max())) {
      return std::numeric_limits<T>::max();
    }
  }
  return static_cast<T>(v);
}

// One element of a binary op for a non-float32 type T. Integer arithmetic wraps (two's
// complement, as ONNX Runtime's does) instead of overflowing; integer Div truncates toward
// zero and the caller has rejected zero divisors; integer Pow goes through double. Floating
// T follows kernels::BinaryScalar.
template <typename T>
T ApplyBinary(kernels::BinaryOp op, T a, T b) {
  using kernels::BinaryOp;
  if constexpr (!std::is_integral_v<T>) {
    return kernels::BinaryScalar(op, a, b);
  } else {
    using U = std::make_unsigned_t<T>;
    const U ua = static_cast<U>(a), ub = static_cast<U>(b);
    switch (op) {
      case BinaryOp::kAdd:
        return static_cast<T>(static_cast<U>(ua + ub));
      case BinaryOp::kSub:
        return static_cast<T>(static_cast<U>(ua - ub));
      case BinaryOp::kMul:
        return static_cast<T>(static_cast<U>(ua * ub));
      case BinaryOp::kDiv:
        if constexpr (std::is_signed_v<T>) {
          if (b == -1) return static_cast<T>(static_cast<U>(U{0} - ua));  // MIN / -1 wraps
        }
        return static_cast<T>(a / b);
      case BinaryOp::kPRelu:
        return a < 0 ? static_cast<T>(static_cast<U>(ua * ub)) : a;
      case BinaryOp::kMax:
        return std::max(a, b);
      case BinaryOp::kMin:
        return std::min(a, b);
      case BinaryOp::kPow:
        break;
    }
    return FromDouble<T>(std::pow(static_cast<double>(a), static_cast<double>(b)));
  }
}

}  // namespace mp::exec::internal

#endif  // MP_WORKERS_ENGINE_EXEC_OPS_BINARY_LOOP_H_
