// Internals shared by the conv kernels (conv.cc, conv_scalar.cc); not part of the API.
#ifndef MP_WORKERS_ENGINE_KERNELS_CONV_INTERNAL_H_
#define MP_WORKERS_ENGINE_KERNELS_CONV_INTERNAL_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "workers/engine/kernels/conv.h"

namespace mp::kernels::conv_internal {

// Per-thread scratch reused across calls (no page faults on every call). Each user takes
// a slot (0 or 1) whole for the duration of one work item.
inline float* Scratch(size_t floats, int slot = 0) {
  thread_local std::vector<float> buffers[2];
  std::vector<float>& buffer = buffers[slot];
  if (buffer.size() < floats) buffer.resize(floats);
  return buffer.data();
}

// im2col source: a group's input channels of images [n_first, ...), each channel zero-padded
// to (pad_top + in_h + pad_bottom) x pw, pw = pad_left + in_w + pad_right; images are
// `image` floats apart. Global column t (image t / columns) belongs to image t / columns.
struct PaddedInput {
  const float* x;
  int64_t n_first, pw, plane, image;
  int64_t t0;  // global column of B's column 0
};

// Copies channels [0, cin_g) of images [n_first, n_last] (x points at the group's first
// channel of image 0, images x_stride apart) into `out` with the PaddedInput layout.
void PadImages(const Conv2dParams& p, int64_t cin_g, const float* x, int64_t x_stride,
               int64_t n_first, int64_t n_last, int64_t pw, float* out);

// Shifted-plane convolution (conv_shift.cc, whose file comment describes it): Conv2d's
// path for images whose staged planes fit in L2.
enum class ShiftKind {
  kNone,      // not used: im2col + GEMM or the direct loops
  kGemm,      // GEMM form, weights packed by PackShiftWeights
  kWinograd,  // UseWinograd(p): WinogradConv2d, weights packed by PackShiftWeights
  kFir,       // one input channel per group and fewer than 4 outputs each: w read as given
};
constexpr int64_t kShiftPanel = 8;    // rows per packed weight panel
constexpr int64_t kShiftMaxK = 1152;  // longest K (Cin/G * kh * kw) for the GEMM form
ShiftKind ChooseShift(const Conv2dParams& p);
// Packed weights for `kind` (kGemm or kWinograd; the latter: PackWinogradWeights). kGemm:
// per group g, ceil(Cout_g / 8) panels of K x 8 floats,
//   out[(g*m_pad + 8*i)*K + kk*8 + r] = w[g*Cout_g + 8*i + r][kk] (0 for rows >= Cout_g),
// m_pad = RoundUp(Cout_g, 8).
std::vector<float> PackShiftWeights(const Conv2dParams& p, ShiftKind kind, const float* w);
// Conv2d for ChooseShift(p) == kind != kNone; w is packed for kGemm and kWinograd, as given
// for kFir.
void ShiftConv2d(const Conv2dParams& p, ShiftKind kind, const float* x, const float* w,
                 const float* bias, float* y, ThreadPool* pool, const float* residual);

// Winograd F(2x2, 3x3) convolution (conv_winograd.cc, whose file comment describes it), which
// ChooseShift picks before anything else when UseWinograd(p): an x86 AVX2 or AVX-512 target
// (where it is measured faster), one group, a 3x3 kernel with stride 1 and dilation 1 (any
// padding), output planes of at least kWinogradMinPlane rows and columns (smaller ones waste
// too many tile slots), C_in and C_out at least the target's minimum (8 on AVX2, 32 on
// AVX-512) and at most kWinogradMaxChannels. The choice does not depend on the pool.
// Weights: per transform element xi < 16 and panel of kWinogradPanel output channels,
//   out[((xi*panels + o/4)*C_in + c)*4 + o%4] = (G w[o][c] G^T)[xi/4][xi%4] (0 for o >= C_out).
constexpr int64_t kWinogradPanel = 4;
constexpr int64_t kWinogradMinPlane = 10;
constexpr int64_t kWinogradMaxChannels = 256;
bool UseWinograd(const Conv2dParams& p);
std::vector<float> PackWinogradWeights(const Conv2dParams& p, const float* w);
void WinogradConv2d(const Conv2dParams& p, const float* x, const float* u, const float* bias,
                    float* y, ThreadPool* pool, const float* residual);

// Pointwise convolution (conv_pointwise.cc), which ShiftConv2d runs for its GEMM form when
// UsePointwise(p): kernel 1x1, stride 1, no padding and in_h * in_w >= the dispatched
// target's vector lanes. Reads x and writes y in place with the GEMM form's packed weights
// (PackShiftWeights) and the same sums, so the bytes match the staged path.
bool UsePointwise(const Conv2dParams& p);
void PointwiseConv2d(const Conv2dParams& p, const float* x, const float* w, const float* bias,
                     float* y, ThreadPool* pool, const float* residual);

// Strided pointwise convolution (conv_pointwise.cc), which ShiftConv2d runs for its GEMM form
// when UseStridedPointwise(p): kernel 1x1, a stride above 1, no padding and an output plane
// of at least the target's vector lanes. Blocks of images are sampled (x[.., oh*s_h, ow*s_w])
// into a dense buffer that PointwiseConv2d convolves (same sums, so the same bytes).
bool UseStridedPointwise(const Conv2dParams& p);
void StridedPointwiseConv2d(const Conv2dParams& p, const float* x, const float* w,
                            const float* bias, float* y, ThreadPool* pool, const float* residual);

// Channel-vectorised direct convolution (conv_cvec.cc), which ShiftConv2d runs for its GEMM
// form when UseCvec(p, pool): one group, C_out a multiple of the lanes and at least two
// vectors, a kernel larger than 1x1, output planes of at most kCvecMaxPlane positions (where
// the padded grid wastes most), an x86 AVX2 or AVX-512 target, and at least two images per
// thread. Weights
// packed by PackShiftWeights; the same sums in the same order as the GEMM form.
constexpr int64_t kCvecPositions = 8;  // most output positions per register tile
constexpr int64_t kCvecMaxPlane = 256;
bool UseCvec(const Conv2dParams& p, const ThreadPool* pool);
void CvecConv2d(const Conv2dParams& p, const float* x, const float* w, const float* bias, float* y,
                ThreadPool* pool, const float* residual);

// y[oc*plane + q] = clamp(out[q*channels + oc] (+ res[oc*plane + q]), lo, hi) for oc <
// channels (a multiple of 4), q < plane: conv_cvec.cc's transposed copy-out of one image.
void CvecCopyOut(const float* out, int64_t channels, int64_t plane, const float* res, float lo,
                 float hi, float* y);

// Channel-vectorised depthwise convolution (conv_depthwise_cvec.cc), which ShiftConv2d runs
// for its FIR form first when UseDepthwiseCvec(p): one input and one output channel per
// group, the group count a multiple of the lanes, at most kDwCvecMaxTaps taps, output planes
// of at most kDwCvecMaxPlane positions (padded input 4x that), an x86 AVX2 or AVX-512 target
// (on AVX-512 not stride-1 planes above 64 positions).
constexpr int64_t kDwCvecMaxTaps = 49;
constexpr int64_t kDwCvecMaxPlane = 256;
bool UseDepthwiseCvec(const Conv2dParams& p);
void DepthwiseCvecConv2d(const Conv2dParams& p, const float* x, const float* w, const float* bias,
                         float* y, ThreadPool* pool, const float* residual);

// Depthwise convolution (conv_depthwise.cc), which ShiftConv2d runs for its FIR form when
// UseDepthwise(p): one input and one output channel per group, stride_w 1 or 2, kernel_w <=
// kDepthwiseMaxKw, out_w >= 3/4 of the target's lanes. Reads x and writes y directly, row by
// row; w as given.
constexpr int64_t kDepthwiseMaxKw = 16;
bool UseDepthwise(const Conv2dParams& p);
void DepthwiseConv2d(const Conv2dParams& p, const float* x, const float* w, const float* bias,
                     float* y, ThreadPool* pool, const float* residual);

// Depthwise convolution over flattened planes (conv_depthwise_flat.cc), which ShiftConv2d
// runs for its FIR form before the row path when UseDepthwiseFlat(p): one input and one
// output channel per group, stride 1, "same" padding (pad_left + pad_right ==
// (kernel_w - 1)*dilation_w, likewise vertically), at most kFlatMaxTaps taps, rows of at most
// half a vector, planes of at most kFlatMaxPlane floats, and an x86 AVX2 or AVX-512 target.
constexpr int64_t kFlatMaxPlane = 1024;
constexpr int64_t kFlatMaxTaps = 49;
// Geometry shared by all planes of one call: per-tap shifts and per-(vector, tap) lane masks
// (-1 where the lane's read is inside the image, else 0), masks[(i*taps + tap)*lanes + l];
// with `bits` (AVX-512) the lanes of (i, tap) are instead bits l of the bytes starting at
// masks + (i*taps + tap)*lanes (the rest zero).
struct FlatPlan {
  int64_t taps = 0, vectors = 0;
  std::vector<int64_t> shift;
  std::vector<int32_t> masks;
};
FlatPlan MakeFlatPlan(const Conv2dParams& p, int64_t lanes, bool bits);
bool UseDepthwiseFlat(const Conv2dParams& p);
void DepthwiseFlatConv2d(const Conv2dParams& p, const float* x, const float* w, const float* bias,
                         float* y, ThreadPool* pool, const float* residual);

// Data movement of the shifted-plane path (conv_stage.cc).
// The staged planes of a block (conv_shift.cc's file comment): for channel c < channels and phase
// (a, b), plane (c, a, b) starts at out + ((c*ph_h + a)*ph_w + b) * plane and its row i is G row
// s_h*i + a sampled at columns b, b + s_w, ...; G row img*r0 + pad_top + ih (img < images,
// 0 <= ih < in_h) column pad_left + iw holds x[img*x_stride + c*in_plane + ih*in_w + iw];
// every other float is 0. Requires r0 >= pad_top + in_h, pitch*s_w >= pad_left + in_w and
// plane >= (images + 1) * (r0 / s_h) * pitch, ph_w <= kMaxPhases. With `zeroed`, out
// already holds zeros wherever this layout has them (it was zeroed whole, and since then
// only blocks of the same layout, maybe with other x and fewer images or channels, were
// staged into it: those write only data positions), so only the data rows are written.
constexpr int64_t kMaxPhases = 16;  // per axis
struct StageArgs {
  const float* x;
  int64_t x_stride, in_plane, channels;
  int64_t in_h, in_w, pad_top, pad_left;
  int64_t images, r0, s_h, s_w, ph_h, ph_w, pitch, plane;
  bool zeroed = false;
};

void StageBlock(const StageArgs& args, float* out);
// Copies `rows` rows of `width` floats from src (row pitch src_pitch) to dst (rows packed,
// pitch width); with `res` (dst's layout, not overlapping it), dst = clamp(src + res, lo, hi).
void UnstageRows(const float* src, int64_t src_pitch, const float* res, float lo, float hi,
                 float* dst, int64_t width, int64_t rows);
// y[i] = clamp(y[i] + residual[i], lo, hi) for i < n.
void AddClamp(const float* residual, float lo, float hi, int64_t n, float* y);
// out[(q*out_h + oh)*out_w + ow] = x[q*in_h*in_w + oh*stride_h*in_w + ow*stride_w] for
// planes q < `planes` (p's geometry; reads only those elements).
void SamplePlanes(const Conv2dParams& p, const float* x, int64_t planes, float* out);

// The dispatched target's float lanes; X86VectorLanes: the same on x86 AVX2 and AVX-512
// (the targets whose register counts the channel-vectorised and Winograd tiles are sized
// for), else 0.
int64_t TargetLanes();
int64_t X86VectorLanes();

inline int64_t RoundUp(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

}  // namespace mp::kernels::conv_internal

#endif  // MP_WORKERS_ENGINE_KERNELS_CONV_INTERNAL_H_
