// Elementwise update kernels behind Optimizer::Step (optimizer.h has the formulas), with
// Highway SIMD versions (dispatched once per call) and scalar references beside them.
// Every element is computed by the same vector code wherever it falls (tails go through a
// lane-sized buffer), so splitting a parameter into chunks never changes the bytes.
#ifndef MP_WORKERS_ENGINE_TRAIN_OPTIMIZER_KERNELS_H_
#define MP_WORKERS_ENGINE_TRAIN_OPTIMIZER_KERNELS_H_

#include <cstddef>

namespace mp::train {

struct SgdStepParams {
  float lr = 0;
  float weight_decay = 0;  // already 0 for parameters without decay
  float momentum = 0;      // 0: no buffer (may be null)
  bool nesterov = false;
  bool first_step = false;  // the buffer is initialised to the gradient
};

// value[0..n), grad[0..n), buf[0..n) (null when momentum == 0):
//   d = grad + wd * value; if momentum: buf = first ? d : momentum * buf + d,
//   d = nesterov ? d + momentum * buf : buf;  value = value - lr * d.
void SgdUpdate(const SgdStepParams& p, size_t n, float* value, const float* grad, float* buf);
void SgdUpdateReference(const SgdStepParams& p, size_t n, float* value, const float* grad,
                        float* buf);

struct AdamStepParams {
  float step_size = 0;              // lr / (1 - beta1^t)
  float bias_correction2_sqrt = 1;  // sqrt(1 - beta2^t)
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
  float l2 = 0;            // Adam's L2 term (0 for AdamW or no decay)
  float decay_factor = 1;  // AdamW's 1 - lr * wd (1 for Adam)
};

// d = grad + l2 * value; m = beta1 * m + (1 - beta1) * d; v = beta2 * v + (1 - beta2) * d^2;
// value = value * decay_factor - step_size * m / (sqrt(v) / bias_correction2_sqrt + eps).
void AdamUpdate(const AdamStepParams& p, size_t n, float* value, const float* grad, float* m,
                float* v);
void AdamUpdateReference(const AdamStepParams& p, size_t n, float* value, const float* grad,
                         float* m, float* v);

}  // namespace mp::train

#endif  // MP_WORKERS_ENGINE_TRAIN_OPTIMIZER_KERNELS_H_
