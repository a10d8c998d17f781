// Backward kernels of the 2-D pools (float32, NCHW), for the training code
// (train/rules_conv.cc). Geometry and tap order as in pool.h; every function ACCUMULATES
// into dx (+=), which has x's layout [batch, channels, in_h, in_w]; dy has y's layout.
//
//   MaxPool2dGrad:     each output's gradient goes to the first in-bounds tap (kh, then kw
//                      ascending) holding the window's maximum of x (as PyTorch's argmax);
//                      windows with no in-bounds tap contribute nothing.
//   AveragePool2dGrad: each in-bounds tap gets dy / count (count as in the forward; count 0
//                      contributes nothing).
//   GlobalAveragePoolGrad: dx[p, s] += dy[p] / spatial.  GlobalMaxPoolGrad: to the first max.
//
// Work splits over planes (batch*channels): a plane's dx is written by one thread, in the
// same order whatever the thread count, so the bytes do not depend on it.
#ifndef MP_WORKERS_ENGINE_KERNELS_POOL_GRAD_H_
#define MP_WORKERS_ENGINE_KERNELS_POOL_GRAD_H_

#include <cstdint>

#include "workers/engine/kernels/parallel.h"
#include "workers/engine/kernels/pool.h"

namespace mp::kernels {

void MaxPool2dGrad(const Pool2dParams& p, const float* x, const float* dy, float* dx,
                   ThreadPool* pool = nullptr);
void AveragePool2dGrad(const Pool2dParams& p, const float* dy, float* dx,
                       ThreadPool* pool = nullptr);
void GlobalAveragePoolGrad(int64_t planes, int64_t spatial, const float* dy, float* dx,
                           ThreadPool* pool = nullptr);
void GlobalMaxPoolGrad(int64_t planes, int64_t spatial, const float* x, const float* dy, float* dx,
                       ThreadPool* pool = nullptr);

}  // namespace mp::kernels

#endif  // MP_WORKERS_ENGINE_KERNELS_POOL_GRAD_H_
