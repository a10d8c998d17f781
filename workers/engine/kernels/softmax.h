// Row-wise normalisation kernels (float32): Softmax, LogSoftmax, LayerNormalization, and
// BatchNormalization in inference form. Callers transpose or collapse their tensors so the
// normalised axes are the contiguous trailing ones: a row is x[r*n .. r*n + n).
//
//   Softmax:    y[r,j] = exp(x[r,j] - m_r) / s_r,  m_r = max_k x[r,k],
//               s_r = sum_k exp(x[r,k] - m_r)
//   LogSoftmax: y[r,j] = x[r,j] - m_r - log(s_r)
//   LayerNorm:  mu_r = sum_j x[r,j] / n,  var_r = sum_j (x[r,j] - mu_r)^2 / n,
//               inv_r = 1 / sqrt(var_r + epsilon),
//               y[r,j] = (x[r,j] - mu_r) * inv_r * scale[j] + (bias ? bias[j] : 0)
//               mean[r] = mu_r and inv_std[r] = inv_r are written when non-null (the
//               ONNX optional outputs; the backward pass needs them).
//   BatchNormInference over x: [batch, channels, spatial]:
//               s_c = scale[c] / sqrt(var[c] + epsilon), t_c = bias[c] - mean[c] * s_c,
//               y[b,c,i] = x[b,c,i] * s_c + t_c
//
// Rows are independent: with a pool, work splits over rows (or planes) and each row is
// computed by the same code, so the bytes do not depend on the thread count. Within a row
// the SIMD code sums in lane order, the references in index order: compare with a
// tolerance (a few ulp relative to the sums involved). y may equal x.
#ifndef MP_WORKERS_ENGINE_KERNELS_SOFTMAX_H_
#define MP_WORKERS_ENGINE_KERNELS_SOFTMAX_H_

#include <cstdint>

#include "workers/engine/kernels/parallel.h"

namespace mp::kernels {

// rows >= 0, n >= 1.
void Softmax(int64_t rows, int64_t n, const float* x, float* y, ThreadPool* pool = nullptr);
void SoftmaxReference(int64_t rows, int64_t n, const float* x, float* y);

void LogSoftmax(int64_t rows, int64_t n, const float* x, float* y, ThreadPool* pool = nullptr);
void LogSoftmaxReference(int64_t rows, int64_t n, const float* x, float* y);

// scale: [n]; bias: [n] or null; mean, inv_std: [rows] or null.
void LayerNorm(int64_t rows, int64_t n, const float* x, const float* scale, const float* bias,
               float epsilon, float* y, float* mean, float* inv_std, ThreadPool* pool = nullptr);
void LayerNormReference(int64_t rows, int64_t n, const float* x, const float* scale,
                        const float* bias, float epsilon, float* y, float* mean, float* inv_std);

// scale, bias, mean, var: [channels].
void BatchNormInference(int64_t batch, int64_t channels, int64_t spatial, const float* x,
                        const float* scale, const float* bias, const float* mean, const float* var,
                        float epsilon, float* y, ThreadPool* pool = nullptr);
void BatchNormInferenceReference(int64_t batch, int64_t channels, int64_t spatial, const float* x,
                                 const float* scale, const float* bias, const float* mean,
                                 const float* var, float epsilon, float* y);

}  // namespace mp::kernels

#endif  // MP_WORKERS_ENGINE_KERNELS_SOFTMAX_H_
