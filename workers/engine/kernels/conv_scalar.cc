// Scalar parts of the conv family (see conv.h): output sizes, im2col / col2im data
// movement, and the reference definitions the SIMD paths are tested against.
#include "workers/engine/kernels/conv.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "workers/engine/kernels/conv_internal.h"

namespace mp::kernels {

int64_t ConvOutputSize(int64_t in, int64_t kernel, int64_t stride, int64_t pad_begin,
                       int64_t pad_end, int64_t dilation) {
  const int64_t span = in + pad_begin + pad_end - dilation * (kernel - 1) - 1;
  if (span < 0) return 0;
  return span / stride + 1;
}

int64_t ConvTransposeOutputSize(int64_t in, int64_t kernel, int64_t stride, int64_t pad_begin,
                                int64_t pad_end, int64_t dilation, int64_t output_padding) {
  return stride * (in - 1) + output_padding + dilation * (kernel - 1) + 1 - pad_begin - pad_end;
}

void Im2Col(const Conv2dParams& p, int64_t channels, const float* x, int64_t col_begin,
            int64_t col_end, float* col, int64_t ld_col) {
  if (col_end <= col_begin) return;
  const int64_t in_plane = p.in_h * p.in_w;
  const int64_t oh_first = col_begin / p.out_w, oh_last = (col_end - 1) / p.out_w;
  const int64_t first_ow = col_begin % p.out_w, last_ow = (col_end - 1) % p.out_w + 1;
  for (int64_t j = 0; j < p.kernel_w; ++j) {
    // Output columns whose input column ow*sw + off_w lies inside [0, in_w): [lo, hi).
    const int64_t off_w = j * p.dilation_w - p.pad_left;
    const int64_t lo = std::min(p.out_w, off_w >= 0 ? 0 : (-off_w + p.stride_w - 1) / p.stride_w);
    const int64_t hi = std::clamp<int64_t>(
        p.in_w - 1 - off_w >= 0 ? (p.in_w - 1 - off_w) / p.stride_w + 1 : 0, lo, p.out_w);
    for (int64_t c = 0; c < channels; ++c) {
      const float* xp = x + c * in_plane;
      for (int64_t i = 0; i < p.kernel_h; ++i) {
        const int64_t row = (c * p.kernel_h + i) * p.kernel_w + j;
        for (int64_t oh = oh_first; oh <= oh_last; ++oh) {
          const int64_t ow0 = oh == oh_first ? first_ow : 0;
          const int64_t ow1 = oh == oh_last ? last_ow : p.out_w;
          // col[base + ow] holds output column oh*out_w + ow.
          float* d = col + (row * ld_col + oh * p.out_w - col_begin + ow0);
          const int64_t ih = oh * p.stride_h - p.pad_top + i * p.dilation_h;
          if (ih < 0 || ih >= p.in_h) {
            for (int64_t ow = ow0; ow < ow1; ++ow) d[ow - ow0] = 0.0f;
            continue;
          }
          const int64_t a = std::clamp(lo, ow0, ow1), b = std::clamp(hi, a, ow1);
          for (int64_t ow = ow0; ow < a; ++ow) d[ow - ow0] = 0.0f;
          const float* src = xp + ih * p.in_w + off_w;
          if (p.stride_w == 1) {
            for (int64_t ow = a; ow < b; ++ow) d[ow - ow0] = src[ow];
          } else {
            for (int64_t ow = a; ow < b; ++ow) d[ow - ow0] = src[ow * p.stride_w];
          }
          for (int64_t ow = b; ow < ow1; ++ow) d[ow - ow0] = 0.0f;
        }
      }
    }
  }
}

void Col2ImAdd(const Conv2dParams& p, int64_t c_begin, int64_t c_end, const float* col, float* x) {
  const int64_t in_plane = p.in_h * p.in_w;
  const int64_t ld_col = p.out_h * p.out_w;
  for (int64_t c = c_begin; c < c_end; ++c) {
    float* xp = x + c * in_plane;
    for (int64_t i = 0; i < p.kernel_h; ++i) {
      for (int64_t j = 0; j < p.kernel_w; ++j) {
        const float* src = col + ((c * p.kernel_h + i) * p.kernel_w + j) * ld_col;
        const int64_t off_w = j * p.dilation_w - p.pad_left;
        int64_t lo = off_w >= 0 ? 0 : (-off_w + p.stride_w - 1) / p.stride_w;
        int64_t hi = p.in_w - 1 - off_w >= 0 ? (p.in_w - 1 - off_w) / p.stride_w + 1 : 0;
        lo = std::min(lo, p.out_w);
        hi = std::clamp(hi, lo, p.out_w);
        for (int64_t oh = 0; oh < p.out_h; ++oh) {
          const int64_t ih = oh * p.stride_h - p.pad_top + i * p.dilation_h;
          if (ih < 0 || ih >= p.in_h) continue;
          float* xrow = xp + ih * p.in_w + off_w;
          const float* s = src + oh * p.out_w;
          for (int64_t ow = lo; ow < hi; ++ow) xrow[ow * p.stride_w] += s[ow];
        }
      }
    }
  }
}

void Conv2dReference(const Conv2dParams& p, const float* x, const float* w, const float* bias,
                     float* y) {
  const int64_t cin_g = p.in_channels / p.group;
  const int64_t cout_g = p.out_channels / p.group;
  for (int64_t n = 0; n < p.batch; ++n) {
    for (int64_t oc = 0; oc < p.out_channels; ++oc) {
      const int64_t g = oc / cout_g;
      for (int64_t oh = 0; oh < p.out_h; ++oh) {
        for (int64_t ow = 0; ow < p.out_w; ++ow) {
          float acc = bias ? bias[oc] : 0.0f;
          for (int64_t c = 0; c < cin_g; ++c) {
            for (int64_t i = 0; i < p.kernel_h; ++i) {
              const int64_t ih = oh * p.stride_h - p.pad_top + i * p.dilation_h;
              if (ih < 0 || ih >= p.in_h) continue;
              for (int64_t j = 0; j < p.kernel_w; ++j) {
                const int64_t iw = ow * p.stride_w - p.pad_left + j * p.dilation_w;
                if (iw < 0 || iw >= p.in_w) continue;
                acc += w[((oc * cin_g + c) * p.kernel_h + i) * p.kernel_w + j] *
                       x[((n * p.in_channels + g * cin_g + c) * p.in_h + ih) * p.in_w + iw];
              }
            }
          }
          y[((n * p.out_channels + oc) * p.out_h + oh) * p.out_w + ow] =
              std::min(std::max(acc, p.act_min), p.act_max);
        }
      }
    }
  }
}

void ConvTranspose2dReference(const Conv2dParams& p, const float* x, const float* w,
                              const float* bias, float* y) {
  const int64_t cin_g = p.in_channels / p.group;
  const int64_t cout_g = p.out_channels / p.group;
  const int64_t out_plane = p.out_h * p.out_w;
  for (int64_t n = 0; n < p.batch; ++n) {
    for (int64_t oc = 0; oc < p.out_channels; ++oc) {
      std::fill(y + (n * p.out_channels + oc) * out_plane,
                y + (n * p.out_channels + oc + 1) * out_plane, bias ? bias[oc] : 0.0f);
    }
    for (int64_t ic = 0; ic < p.in_channels; ++ic) {
      const int64_t g = ic / cin_g;
      for (int64_t ih = 0; ih < p.in_h; ++ih) {
        for (int64_t iw = 0; iw < p.in_w; ++iw) {
          const float xv = x[((n * p.in_channels + ic) * p.in_h + ih) * p.in_w + iw];
          for (int64_t ocg = 0; ocg < cout_g; ++ocg) {
            const int64_t oc = g * cout_g + ocg;
            for (int64_t i = 0; i < p.kernel_h; ++i) {
              const int64_t oh = ih * p.stride_h - p.pad_top + i * p.dilation_h;
              if (oh < 0 || oh >= p.out_h) continue;
              for (int64_t j = 0; j < p.kernel_w; ++j) {
                const int64_t ow = iw * p.stride_w - p.pad_left + j * p.dilation_w;
                if (ow < 0 || ow >= p.out_w) continue;
                y[((n * p.out_channels + oc) * p.out_h + oh) * p.out_w + ow] +=
                    xv * w[((ic * cout_g + ocg) * p.kernel_h + i) * p.kernel_w + j];
              }
            }
          }
        }
      }
    }
    float* yn = y + n * p.out_channels * out_plane;
    for (int64_t e = 0; e < p.out_channels * out_plane; ++e) {
      yn[e] = std::min(std::max(yn[e], p.act_min), p.act_max);
    }
  }
}

void conv_internal::PadImages(const Conv2dParams& p, int64_t cin_g, const float* x,
                              int64_t x_stride, int64_t n_first, int64_t n_last, int64_t pw,
                              float* out) {
  const int64_t ph = p.pad_top + p.in_h + p.pad_bottom;
  for (int64_t n = n_first; n <= n_last; ++n) {
    for (int64_t c = 0; c < cin_g; ++c) {
      const float* src = x + n * x_stride + c * p.in_h * p.in_w;
      float* dst = out + ((n - n_first) * cin_g + c) * ph * pw;
      std::fill(dst, dst + p.pad_top * pw, 0.0f);
      for (int64_t h = 0; h < p.in_h; ++h) {
        float* row = dst + (p.pad_top + h) * pw;
        std::fill(row, row + p.pad_left, 0.0f);
        std::memcpy(row + p.pad_left, src + h * p.in_w, static_cast<size_t>(p.in_w) * 4);
        std::fill(row + p.pad_left + p.in_w, row + pw, 0.0f);
      }
      std::fill(dst + (p.pad_top + p.in_h) * pw, dst + ph * pw, 0.0f);
    }
  }
}

}  // namespace mp::kernels
