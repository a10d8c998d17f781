// Pool backward kernels: see pool_grad.h. Scalar loops (the scatter into dx does not
// vectorise); parallel over planes.
#include "workers/engine/kernels/pool_grad.h"

#include <algorithm>
#include <functional>
#include <vector>

namespace mp::kernels {
namespace {

void ForPlanes(ThreadPool* pool, int64_t planes, int64_t work_per_plane,
               const std::function<void(int64_t begin, int64_t end)>& fn) {
  if (pool == nullptr || pool->num_threads() == 1 || planes * work_per_plane < 16384) {
    fn(0, planes);
    return;
  }
  pool->ParallelFor(planes, 1, fn);
}

// Taps of output index o along one axis: [k_begin, k_end) have i = o*stride - pad + k*dil
// inside [0, in).
void InBoundsTaps(int64_t o, int64_t stride, int64_t pad, int64_t dil, int64_t kernel, int64_t in,
                  int64_t* k_begin, int64_t* k_end) {
  const int64_t start = o * stride - pad;
  int64_t kb = 0;
  while (kb < kernel && start + kb * dil < 0) ++kb;
  int64_t ke = kernel;
  while (ke > kb && start + (ke - 1) * dil >= in) --ke;
  *k_begin = kb;
  *k_end = ke;
}

// Taps inside the padded extent [-pad_begin, in + pad_end).
int64_t PaddedTaps(int64_t o, int64_t stride, int64_t pad_begin, int64_t pad_end, int64_t dil,
                   int64_t kernel, int64_t in) {
  const int64_t start = o * stride - pad_begin;
  int64_t count = 0;
  for (int64_t k = 0; k < kernel; ++k) {
    const int64_t i = start + k * dil;
    if (i >= -pad_begin && i < in + pad_end) ++count;
  }
  return count;
}

}  // namespace

void MaxPool2dGrad(const Pool2dParams& p, const float* x, const float* dy, float* dx,
                   ThreadPool* pool) {
  const int64_t in_plane = p.in_h * p.in_w, out_plane = p.out_h * p.out_w;
  // In-bounds tap ranges per output column, shared by every row and plane.
  std::vector<int64_t> w_begin(static_cast<size_t>(p.out_w)), w_end(static_cast<size_t>(p.out_w));
  for (int64_t ow = 0; ow < p.out_w; ++ow) {
    InBoundsTaps(ow, p.stride_w, p.pad_left, p.dilation_w, p.kernel_w, p.in_w,
                 &w_begin[static_cast<size_t>(ow)], &w_end[static_cast<size_t>(ow)]);
  }
  ForPlanes(pool, p.batch * p.channels, out_plane * p.kernel_h * p.kernel_w,
            [&](int64_t begin, int64_t end) {
              for (int64_t c = begin; c < end; ++c) {
                const float* xp = x + c * in_plane;
                const float* gp = dy + c * out_plane;
                float* dp = dx + c * in_plane;
                for (int64_t oh = 0; oh < p.out_h; ++oh) {
                  int64_t hb, he;
                  InBoundsTaps(oh, p.stride_h, p.pad_top, p.dilation_h, p.kernel_h, p.in_h, &hb,
                               &he);
                  for (int64_t ow = 0; ow < p.out_w; ++ow) {
                    const int64_t wb = w_begin[static_cast<size_t>(ow)];
                    const int64_t we = w_end[static_cast<size_t>(ow)];
                    if (hb >= he || wb >= we) continue;  // no in-bounds tap
                    // First tap, then branch-free selects (argmax is data-dependent).
                    const int64_t row0 = oh * p.stride_h - p.pad_top;
                    const int64_t col0 = ow * p.stride_w - p.pad_left;
                    int64_t best = (row0 + hb * p.dilation_h) * p.in_w + col0 + wb * p.dilation_w;
                    float best_v = xp[best];
                    for (int64_t kh = hb; kh < he; ++kh) {
                      const int64_t row = (row0 + kh * p.dilation_h) * p.in_w;
                      for (int64_t kw = wb; kw < we; ++kw) {
                        const int64_t at = row + col0 + kw * p.dilation_w;
                        const float v = xp[at];
                        const bool better = v > best_v;
                        best = better ? at : best;
                        best_v = better ? v : best_v;
                      }
                    }
                    dp[best] += gp[oh * p.out_w + ow];
                  }
                }
              }
            });
}

void AveragePool2dGrad(const Pool2dParams& p, const float* dy, float* dx, ThreadPool* pool) {
  const int64_t in_plane = p.in_h * p.in_w, out_plane = p.out_h * p.out_w;
  ForPlanes(
      pool, p.batch * p.channels, out_plane * p.kernel_h * p.kernel_w,
      [&](int64_t begin, int64_t end) {
        for (int64_t c = begin; c < end; ++c) {
          const float* gp = dy + c * out_plane;
          float* dp = dx + c * in_plane;
          for (int64_t oh = 0; oh < p.out_h; ++oh) {
            int64_t hb, he;
            InBoundsTaps(oh, p.stride_h, p.pad_top, p.dilation_h, p.kernel_h, p.in_h, &hb, &he);
            const int64_t ch = p.count_include_pad
                                   ? PaddedTaps(oh, p.stride_h, p.pad_top, p.pad_bottom,
                                                p.dilation_h, p.kernel_h, p.in_h)
                                   : he - hb;
            for (int64_t ow = 0; ow < p.out_w; ++ow) {
              int64_t wb, we;
              InBoundsTaps(ow, p.stride_w, p.pad_left, p.dilation_w, p.kernel_w, p.in_w, &wb, &we);
              const int64_t cw = p.count_include_pad
                                     ? PaddedTaps(ow, p.stride_w, p.pad_left, p.pad_right,
                                                  p.dilation_w, p.kernel_w, p.in_w)
                                     : we - wb;
              const int64_t count = ch * cw;
              if (count == 0) continue;
              const float g = gp[oh * p.out_w + ow] / static_cast<float>(count);
              for (int64_t kh = hb; kh < he; ++kh) {
                const int64_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
                for (int64_t kw = wb; kw < we; ++kw) {
                  const int64_t iw = ow * p.stride_w - p.pad_left + kw * p.dilation_w;
                  dp[ih * p.in_w + iw] += g;
                }
              }
            }
          }
        }
      });
}

void GlobalAveragePoolGrad(int64_t planes, int64_t spatial, const float* dy, float* dx,
                           ThreadPool* pool) {
  ForPlanes(pool, planes, spatial, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      const float g = dy[c] / static_cast<float>(spatial);
      float* dp = dx + c * spatial;
      for (int64_t s = 0; s < spatial; ++s) dp[s] += g;
    }
  });
}

void GlobalMaxPoolGrad(int64_t planes, int64_t spatial, const float* x, const float* dy, float* dx,
                       ThreadPool* pool) {
  ForPlanes(pool, planes, spatial, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      if (spatial == 0) continue;
      const float* xp = x + c * spatial;
      const int64_t best = std::max_element(xp, xp + spatial) - xp;
      dx[c * spatial + best] += dy[c];
    }
  });
}

}  // namespace mp::kernels
