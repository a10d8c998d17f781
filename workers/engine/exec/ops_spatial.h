// Window geometry shared by the convolution and pooling families (ops_conv.cc,
// ops_pool.cc): the ONNX attributes auto_pad, kernel_shape, strides, dilations, pads,
// ceil_mode, and the output sizes they imply. Internal to mp_engine_exec.
//
// Forward window ops (Conv, MaxPool, AveragePool), per spatial axis i with
// dk = dilation*(kernel-1) + 1:
//   NOTSET:      pads as given; out = floor((in + pb + pe - dk) / stride) + 1
//                (ceil instead of floor with ceil_mode, dropping a last window that would
//                start inside the end padding, as ONNX >= 1.16 and PyTorch do);
//   VALID:       pads 0, same formula;
//   SAME_UPPER / SAME_LOWER: out = ceil(in / stride),
//                total = max(0, (out-1)*stride + dk - in), the odd pad element goes to the
//                end (UPPER) or the beginning (LOWER).
#ifndef MP_WORKERS_ENGINE_EXEC_OPS_SPATIAL_H_
#define MP_WORKERS_ENGINE_EXEC_OPS_SPATIAL_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "workers/engine/exec/op.h"
#include "workers/engine/kernels/conv.h"

namespace mp::exec::internal {

enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid };

struct WindowAttrs {
  AutoPad auto_pad = AutoPad::kNotSet;
  std::vector<int64_t> kernel;     // one per spatial axis
  std::vector<int64_t> strides;    // default 1
  std::vector<int64_t> dilations;  // default 1
  std::vector<int64_t> pads;       // 2 * spatial: all begins, then all ends; default 0
};

// Reads auto_pad ("NOTSET" default; any other string -> UNIMPLEMENTED naming the
// attribute), kernel_shape, strides, dilations and pads for `spatial` axes, validating
// lengths and ranges (kernel, strides, dilations >= 1; pads >= 0) -> INVALID_ARGUMENT.
// `kernel_from_weights` (Conv's W spatial dims) is used when kernel_shape is absent and
// must equal it when present; pass an empty span for pools (kernel_shape required).
absl::StatusOr<WindowAttrs> ReadWindowAttrs(const PrepareContext& ctx, int spatial,
                                            std::span<const int64_t> kernel_from_weights);

// Output sizes of a forward window op over input spatial sizes `in` (see the file comment);
// rewrites attrs->pads to the effective pads (SAME / VALID). INVALID_ARGUMENT naming input 0
// when an output size would be < 1.
absl::StatusOr<std::vector<int64_t>> ForwardOutputSizes(const PrepareContext& ctx,
                                                        std::span<const int64_t> in, bool ceil_mode,
                                                        WindowAttrs* attrs);

// The forward geometry of a Conv-like node (Conv, ConvInteger, QLinearConv) whose shapes the
// caller has validated: x [N, C, in...], w [M, C/group, kernel...]. Reads the window
// attributes (kernel from w), computes the output sizes, fills `p` (batch, channels, group
// and the spatial fields) and returns the output dims [N, M, out...]. Errors as
// ReadWindowAttrs / ForwardOutputSizes.
absl::StatusOr<std::vector<int64_t>> ConvForwardGeometry(const PrepareContext& ctx, int spatial,
                                                         const Shape& x, const Shape& w,
                                                         int64_t group, kernels::Conv2dParams* p);

// Fills the spatial fields of a kernels::Conv2dParams or kernels::Pool2dParams from per-axis
// vectors of `spatial` (1 or 2) entries: 1-D maps to width, leaving the height fields at
// their defaults (size 1, no padding).
template <typename Params>
void SetSpatial(int spatial, std::span<const int64_t> in, std::span<const int64_t> out,
                const WindowAttrs& a, Params* p) {
  const size_t n = static_cast<size_t>(spatial);
  const size_t h = 0, w = n - 1;
  p->in_w = in[w];
  p->out_w = out[w];
  p->kernel_w = a.kernel[w];
  p->stride_w = a.strides[w];
  p->dilation_w = a.dilations[w];
  p->pad_left = a.pads[w];
  p->pad_right = a.pads[n + w];
  if (spatial == 2) {
    p->in_h = in[h];
    p->out_h = out[h];
    p->kernel_h = a.kernel[h];
    p->stride_h = a.strides[h];
    p->dilation_h = a.dilations[h];
    p->pad_top = a.pads[h];
    p->pad_bottom = a.pads[n + h];
  }
}

// "[1, 2, 3]" for messages.
std::string IntsToString(std::span<const int64_t> v);

}  // namespace mp::exec::internal

#endif  // MP_WORKERS_ENGINE_EXEC_OPS_SPATIAL_H_
