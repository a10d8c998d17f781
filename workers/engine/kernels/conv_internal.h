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

}  // namespace mp::kernels::conv_internal

#endif  // MP_WORKERS_ENGINE_KERNELS_CONV_INTERNAL_H_
