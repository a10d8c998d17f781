// 2-D pooling kernels (float32, NCHW): MaxPool, AveragePool, GlobalAveragePool,
// GlobalMaxPool (the ONNX operators; 1-D pooling is 2-D with height 1).
//
// For output (n, c, oh, ow) the window taps are
//   ih = oh*stride_h - pad_top + kh*dilation_h,  iw = ow*stride_w - pad_left + kw*dilation_w
// for kh < kernel_h, kw < kernel_w. Taps outside [0,in_h) x [0,in_w) are skipped:
//   MaxPool:     y = max over in-bounds taps (-inf if there are none).
//   AveragePool: y = (sum over in-bounds taps, kh then kw ascending) / count, where count is
//                the number of in-bounds taps, or with count_include_pad the number of taps
//                inside the padded extent [-pad_begin, in + pad_end) on each axis (ceil_mode
//                windows that run past the end padding do not count the overhang, as in
//                ONNX Runtime and PyTorch). count == 0 gives 0.
// x: [batch, channels, in_h, in_w]; y: [batch, channels, out_h, out_w], with out_h/out_w from
// PoolOutputSize. The SIMD path vectorises across output columns whose whole window is
// inside the row (stride 1 and 2); it sums and compares in the reference's order, so results
// are bit-identical to the references on every target and for any thread count (work splits
// over planes).
//
// Global pools reduce each of the `planes` = batch*channels rows of `spatial` = h*w values
// (mean or max), y: [planes]; see reduce.h for their rounding (Max exact, Mean within a few
// ulp of the reference).
#ifndef MP_WORKERS_ENGINE_KERNELS_POOL_H_
#define MP_WORKERS_ENGINE_KERNELS_POOL_H_

#include <cstdint>

#include "workers/engine/kernels/parallel.h"

namespace mp::kernels {

struct Pool2dParams {
  int64_t batch = 1, channels = 1;
  int64_t in_h = 1, in_w = 1, out_h = 1, out_w = 1;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  bool count_include_pad = false;  // AveragePool only
};

// span = in + pad_begin + pad_end - dilation*(kernel-1) - 1;
// out = floor(span / stride) + 1, or with ceil_mode ceil(span / stride) + 1, minus one if
// that last window would start at or past in + pad_begin (entirely in the end padding), as
// in PyTorch and ONNX Runtime. Returns 0 when span < 0.
int64_t PoolOutputSize(int64_t in, int64_t kernel, int64_t stride, int64_t pad_begin,
                       int64_t pad_end, int64_t dilation, bool ceil_mode);

void MaxPool2d(const Pool2dParams& p, const float* x, float* y, ThreadPool* pool = nullptr);
void MaxPool2dReference(const Pool2dParams& p, const float* x, float* y);

void AveragePool2d(const Pool2dParams& p, const float* x, float* y, ThreadPool* pool = nullptr);
void AveragePool2dReference(const Pool2dParams& p, const float* x, float* y);

void GlobalAveragePool(int64_t planes, int64_t spatial, const float* x, float* y,
                       ThreadPool* pool = nullptr);
void GlobalMaxPool(int64_t planes, int64_t spatial, const float* x, float* y,
                   ThreadPool* pool = nullptr);

}  // namespace mp::kernels

#endif  // MP_WORKERS_ENGINE_KERNELS_POOL_H_
