// The combined distillation loss of one batch and its gradients w.r.t. the student's outputs
// (the math is in distill.h). Exposed for Distill's loop and for gradient checks.
#ifndef MP_WORKERS_ENGINE_DISTILL_DISTILL_LOSS_H_
#define MP_WORKERS_ENGINE_DISTILL_DISTILL_LOSS_H_

#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "workers/engine/distill/distill.h"
#include "workers/engine/tensor/tensor.h"

namespace mp::distill {

// One feature term: weight * MSE(student, teacher); equal shapes, float32.
struct FeatureTerm {
  tensor::Tensor student;
  tensor::Tensor teacher;
  float weight = 1.0f;
};

struct CombinedLoss {
  LossParts parts;
  tensor::Tensor logits_grad;                 // dL/d(student logits), float32 [B, C]
  std::vector<tensor::Tensor> feature_grads;  // dL/d(features[k].student); undefined if w = 0
};

// L = alpha * KL_T(student_logits, teacher_logits) + (1 - alpha) * CE(student_logits, labels)
//   + sum_k w_k * MSE_k. KL and CE are always evaluated (reported in `parts`), but a term
// whose weight is exactly 0 is left out of the total and the gradients (so alpha = 0 gives
// exactly CE's loss and gradient bytes). INVALID_ARGUMENT from the underlying losses
// (shapes, labels, temperature), prefixed "feature pair k: " for feature terms.
absl::StatusOr<CombinedLoss> ComputeCombinedLoss(const tensor::Tensor& student_logits,
                                                 const tensor::Tensor& teacher_logits,
                                                 const tensor::Tensor& labels, float alpha,
                                                 float temperature, float label_smoothing,
                                                 std::span<const FeatureTerm> features);

}  // namespace mp::distill

#endif  // MP_WORKERS_ENGINE_DISTILL_DISTILL_LOSS_H_
