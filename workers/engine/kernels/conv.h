// Convolution kernels (float32, NCHW), the ONNX Conv and ConvTranspose operators in 2-D.
// A 1-D convolution is a 2-D one with in_h = kernel_h = out_h = 1.
//
// Conv2d:  for n, oc, oh, ow, with g = oc / (C_out/G), Cg = C_in/G:
//   y[n,oc,oh,ow] = clamp(bias[oc] + sum_{c<Cg, kh, kw} w[oc,c,kh,kw] *
//                         x[n, g*Cg + c, oh*sh - pad_top + kh*dh, ow*sw - pad_left + kw*dw],
//                         act_min, act_max)
//   where x outside [0,in_h) x [0,in_w) reads as 0.
//   x: [N, C_in, in_h, in_w]; w: [C_out, C_in/G, kh, kw]; bias: [C_out] or null;
//   y: [N, C_out, out_h, out_w]. out_h/out_w come from ConvOutputSize (the caller computes
//   them, and validates everything: C_in and C_out divisible by G, sizes > 0, ...).
//   The clamp fuses Relu (0, +inf) and Clip/Relu6; the default (-inf, +inf) is a no-op.
//
// Paths (chosen inside Conv2d, all computing the formula above):
//   - shifted planes (conv_shift.cc; images whose zero-padded planes fit in L2, K =
//     C_in/G*kh*kw <= 1152): a block of images is staged once into padded "phase planes"
//     in which each tap (c, kh, kw) is a constant shift, and a register-blocked kernel
//     multiplies the weights by those shifted planes directly (no im2col), or, with one
//     input channel and < 4 outputs per group (depthwise), runs a 1-D filter along them;
//     1x1 kernels with stride 1 and no padding (conv_pointwise.cc) skip the staging: the
//     same GEMM micro-kernel reads x's planes and writes y's in place; so does depthwise
//     (one input and one output channel per group, stride_w 1 or 2) with rows of at least
//     3/4 of a vector (conv_depthwise.cc: row by row, masked loads at the edges), or, stride
//     1 with "same" padding and rows of at most half a vector on x86 AVX2/AVX-512
//     (conv_depthwise_flat.cc: each plane one flattened 1-D filter, masked loads); and on
//     x86 AVX2/AVX-512, one group with C_out a multiple of 2+ vectors, a kernel larger than
//     1x1 and output planes of at most 256 positions (conv_cvec.cc): lanes over output
//     channels, positions dense (no padded grid, no phase planes), the [position][channel]
//     result transposed into y; 1x1 kernels with strides and no padding
//     (conv_pointwise.cc) sample blocks of images densely and run the pointwise kernel;
//   - Winograd F(2x2, 3x3) (conv_winograd.cc; on x86 AVX2, where it is measured faster:
//     3x3, stride 1, dilation 1, one group, 8..256 channels in and out, output planes of at
//     least 10x10): 16 multiplies per 2x2 outputs and input channel instead of 36, as 16
//     GEMMs between transformed weights (packed once) and transformed 4x4 input tiles. It
//     reassociates the sum, so its results differ from the other paths by rounding (tested
//     against an exact double convolution: within a small factor of the direct fp32
//     reference's own error);
//   - direct (C_out/G <= 4 and K <= 32, else as below): Highway loops over a zero-padded
//     copy of the group's input planes, vectorised across output columns (stride 1 and 2),
//     4 output channels per input load; no GEMM;
//   - 1x1, stride 1, no pad, one image per tile: GEMM of w[g] (Cout_g x Cin_g) by x[n,g]
//     (Cin_g x HW) read in place;
//   - otherwise im2col of a tile of output columns, then GEMM. Columns are numbered over
//     (image, oh, ow); a tile is part of one image or several whole small images (which
//     share one GEMM, results scattered back to NCHW).
//   Work splits over (image block, g), (n, g, channel block) or (g, column tile) with a
//   fixed tiling, so the bytes do not depend on the pool's thread count (when there are
//   fewer items than threads, the pool splits inside the item, over output columns, again
//   without changing any output's sum).
//   The GEMM paths compute C = W[g] (Cout_g x K, pre-packed: PackedConvWeights) times the
//   im2col matrix, which is written straight into the GEMM's panel layout (no intermediate
//   copy). Scratch is a per-thread buffer reused across calls.
//
// ConvTranspose2d (the adjoint of Conv2d w.r.t. x, plus bias):
//   x: [N, C_in, in_h, in_w]; w: [C_in, C_out/G, kh, kw]; bias: [C_out] or null;
//   y: [N, C_out, out_h, out_w] with
//   out_h = sh*(in_h-1) + output_padding_h + dh*(kh-1) + 1 - pad_top - pad_bottom.
//   y[n,oc,oh,ow] = bias[oc] + sum over (ic in group of oc, ih, iw, kh, kw) with
//     oh = ih*sh - pad_top + kh*dh, ow = iw*sw - pad_left + kw*dw of
//     x[n,ic,ih,iw] * w[ic, oc % Cout_g, kh, kw].
//   Computed per (n, g) as col = w[g]^T * x[n,g] (Sgemm) then col2im (+= into y).
//
// The *Reference functions are the scalar definitions (direct loops) that tests compare
// against; the fast paths sum in another order, so compare with a tolerance.
#ifndef MP_WORKERS_ENGINE_KERNELS_CONV_H_
#define MP_WORKERS_ENGINE_KERNELS_CONV_H_

#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "workers/engine/kernels/gemm.h"
#include "workers/engine/kernels/parallel.h"

namespace mp::kernels {

struct Conv2dParams {
  int64_t batch = 1;
  int64_t in_channels = 1, in_h = 1, in_w = 1;
  int64_t out_channels = 1, out_h = 1, out_w = 1;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t group = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  // ConvTranspose2d only: extra rows/columns at the end of the output.
  int64_t output_padding_h = 0, output_padding_w = 0;
  // Fused activation clamp (Conv2d and ConvTranspose2d).
  float act_min = -std::numeric_limits<float>::infinity();
  float act_max = std::numeric_limits<float>::infinity();
};

// floor((in + pad_begin + pad_end - dilation*(kernel-1) - 1) / stride) + 1.
// May be <= 0 for invalid shapes; the caller rejects those.
int64_t ConvOutputSize(int64_t in, int64_t kernel, int64_t stride, int64_t pad_begin,
                       int64_t pad_end, int64_t dilation);

// stride*(in-1) + output_padding + dilation*(kernel-1) + 1 - pad_begin - pad_end.
int64_t ConvTransposeOutputSize(int64_t in, int64_t kernel, int64_t stride, int64_t pad_begin,
                                int64_t pad_end, int64_t dilation, int64_t output_padding);

// Conv2d's GEMM operand: each group's weights w[g] (Cout_g x Cin_g*kh*kw) packed once, for
// a constant weight reused across calls. Immutable; safe to share across threads. Valid for
// any Conv2dParams with the same in/out channels, kernel size and group as at Pack time.
class PackedConvWeights {
 public:
  // Null when Conv2d reads w as given for these parameters (direct loops, 1-D filter).
  static std::unique_ptr<PackedConvWeights> Pack(const Conv2dParams& p, const float* w);
  const PackedA& group(int64_t g) const { return *groups_[static_cast<size_t>(g)]; }
  // The shifted-plane GEMM's panels, or the Winograd path's transformed weights (empty when
  // neither path is used).
  const float* shift() const { return shift_.data(); }

 private:
  std::vector<std::unique_ptr<PackedA>> groups_;
  std::vector<float> shift_;
};

// See the file comment. Requires p.out_h/out_w == ConvOutputSize(...) of the other fields.
// `packed`, when not null, must come from PackedConvWeights::Pack(p, w) on the same w;
// without it the weights are packed on every call. The result is the same either way.
// `residual`, when not null, has y's layout and is added before the clamp (a fused
// Conv -> Add -> Relu): y = clamp(float(conv + bias) + residual, act_min, act_max). It must
// not overlap x or y.
void Conv2d(const Conv2dParams& p, const float* x, const float* w, const float* bias, float* y,
            ThreadPool* pool = nullptr, const PackedConvWeights* packed = nullptr,
            const float* residual = nullptr);
void Conv2dReference(const Conv2dParams& p, const float* x, const float* w, const float* bias,
                     float* y);

// See the file comment. Requires p.out_h/out_w == ConvTransposeOutputSize(...).
void ConvTranspose2d(const Conv2dParams& p, const float* x, const float* w, const float* bias,
                     float* y, ThreadPool* pool = nullptr);
void ConvTranspose2dReference(const Conv2dParams& p, const float* x, const float* w,
                              const float* bias, float* y);

// Building blocks, exposed for tests and for the training code (backward of Conv2d).
// im2col for one image and one group's channels, for output columns [col_begin, col_end)
// (a column is oh*out_w + ow): col[(c*kh + i)*kw + j][t - col_begin] =
//   x[c, oh*sh - pad_top + i*dh, ow*sw - pad_left + j*dw] (0 outside), c < channels,
// with row stride ld_col >= col_end - col_begin. x points at the group's first channel.
void Im2Col(const Conv2dParams& p, int64_t channels, const float* x, int64_t col_begin,
            int64_t col_end, float* col, int64_t ld_col);
// col2im for one image: the adjoint of Im2Col over all columns (ld_col = out_h*out_w),
// accumulating into x (+=, layout [channels, in_h, in_w]) for channels [c_begin, c_end);
// col holds all channels' rows. p describes the forward convolution whose input is x
// (for ConvTranspose2d: in_* and out_* swapped).
void Col2ImAdd(const Conv2dParams& p, int64_t c_begin, int64_t c_end, const float* col, float* x);

}  // namespace mp::kernels

#endif  // MP_WORKERS_ENGINE_KERNELS_CONV_H_
