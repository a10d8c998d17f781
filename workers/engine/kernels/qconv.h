// Quantized 2-D convolution (NCHW), the integer core of ConvInteger and QLinearConv. The
// geometry is kernels::Conv2dParams (conv.h; act_min/act_max and output_padding unused); a
// 1-D convolution is a 2-D one of height 1.
//
//   acc[n,oc,oh,ow] = sum_{c<Cg, kh, kw} (x[n, g*Cg + c, ih, iw] - x_zero) *
//                                         (w[oc, c, kh, kw] - w_zero[oc])        (int32)
//   with ih = oh*sh - pad_top + kh*dh, iw = ow*sw - pad_left + kw*dw, g = oc / (C_out/G),
//   Cg = C_in/G, and x outside the image reading as x_zero (so padding contributes 0).
//
// QConv2dInt32 writes acc (ConvInteger). QConv2d writes
//   y[n,oc,oh,ow] = Requantize(acc + bias[oc]) with scale[oc] and y_zero (quantize.h),
// bias optional (null = 0). Exact integer arithmetic (qgemm.h): identical on every target and
// for any thread count.
//
// How: per (image, group, tile of output pixels), the patches are gathered into a
// [pixels x Cg*kh*kw] byte matrix (im2col, padding = x_zero), written directly in QGemm's
// packed-A layout (QGemmPackedA; blocks of 4 or 8 pixels gathered at once where stride_w is 1
// and the patches lie inside the image), and multiplied by the group's packed W^T; the [pixels x
// Cout_g] result is transposed into NCHW by the output stage.
#ifndef MP_WORKERS_ENGINE_KERNELS_QCONV_H_
#define MP_WORKERS_ENGINE_KERNELS_QCONV_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "workers/engine/kernels/conv.h"
#include "workers/engine/kernels/parallel.h"
#include "workers/engine/kernels/qgemm.h"
#include "workers/engine/kernels/quantize.h"

namespace mp::kernels {

// Each group's W_g^T ((Cin_g*kh*kw) x Cout_g) packed for QGemm, with the weight zero points
// (one, or one per output channel). Immutable; thread-safe.
class PackedQConvWeights {
 public:
  static std::unique_ptr<PackedQConvWeights> Pack(const Conv2dParams& p, const void* w,
                                                  QType w_type, const int32_t* w_zero,
                                                  bool per_channel);
  const PackedQB& group(int64_t g) const { return *groups_[static_cast<size_t>(g)]; }

 private:
  std::vector<std::unique_ptr<PackedQB>> groups_;
};

// acc (see the file comment) into y [N, C_out, out_h, out_w] int32.
void QConv2dInt32(const Conv2dParams& p, const void* x, QType x_type, int32_t x_zero,
                  const PackedQConvWeights& w, int32_t* y, ThreadPool* pool = nullptr);

// Requantized output; scale has C_out entries, bias C_out entries or null.
void QConv2d(const Conv2dParams& p, const void* x, QType x_type, int32_t x_zero,
             const PackedQConvWeights& w, const int32_t* bias, const float* scale, int32_t y_zero,
             QType y_type, void* y, ThreadPool* pool = nullptr);

// Scalar definition of acc (direct loops; wraps modulo 2^32 like QGemmReference).
void QConv2dInt32Reference(const Conv2dParams& p, const void* x, QType x_type, int32_t x_zero,
                           const void* w, QType w_type, const int32_t* w_zero, bool per_channel,
                           int32_t* y);

}  // namespace mp::kernels

#endif  // MP_WORKERS_ENGINE_KERNELS_QCONV_H_
