// Backward kernels of the elementwise activations (float32), for the training code
// (train/rules_elementwise.cc): dx[i] = dy[i] * f'(.) for i < n.
//
//   Relu:      in = x;  dx = x > 0 ? dy : 0
//   LeakyRelu: in = x;  dx = x > 0 ? dy : alpha * dy        (PyTorch's convention at 0)
//   Sigmoid:   in = y;  dx = dy * y * (1 - y)
//   Tanh:      in = y;  dx = dy * (1 - y * y)
//   HardSwish: in = x;  dx = x < -3 ? 0 : x > 3 ? dy : dy * (2x + 3) / 6
//   Clip:      in = x;  dx = (lo <= x && x <= hi) ? dy : 0   (PyTorch clamp's convention)
//
// ActivationGrad vectorises with Highway (dispatched per call); every element is computed
// by the same vector code whatever the chunking, so the bytes do not depend on the thread
// count. ActivationGradReference is the scalar definition; the two agree within 1 ulp
// (Sigmoid/Tanh/HardSwish may fuse a multiply-add), exactly for the others.
#ifndef MP_WORKERS_ENGINE_KERNELS_ACTIVATION_GRAD_H_
#define MP_WORKERS_ENGINE_KERNELS_ACTIVATION_GRAD_H_

#include <cstdint>
#include <limits>

#include "workers/engine/kernels/parallel.h"

namespace mp::kernels {

enum class ActivationGradOp { kRelu, kLeakyRelu, kSigmoid, kTanh, kHardSwish, kClip };

struct ActivationGradParams {
  float alpha = 0.01f;                                 // LeakyRelu slope
  float lo = -std::numeric_limits<float>::infinity();  // Clip bounds
  float hi = std::numeric_limits<float>::infinity();
};

// `in` is x or y as listed above; dx may alias dy.
void ActivationGrad(ActivationGradOp op, const ActivationGradParams& params, int64_t n,
                    const float* in, const float* dy, float* dx, ThreadPool* pool = nullptr);
void ActivationGradReference(ActivationGradOp op, const ActivationGradParams& params, int64_t n,
                             const float* in, const float* dy, float* dx);

}  // namespace mp::kernels

#endif  // MP_WORKERS_ENGINE_KERNELS_ACTIVATION_GRAD_H_
