#include "workers/engine/distill/distill_loss.h"

#include <utility>

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/train/loss.h"

namespace mp::distill {

using tensor::Tensor;

absl::StatusOr<CombinedLoss> ComputeCombinedLoss(const Tensor& student_logits,
                                                 const Tensor& teacher_logits, const Tensor& labels,
                                                 float alpha, float temperature,
                                                 float label_smoothing,
                                                 std::span<const FeatureTerm> features) {
  ASSIGN_OR_RETURN(train::LossResult kl,
                   train::KlDivergence(student_logits, teacher_logits, temperature));
  ASSIGN_OR_RETURN(train::LossResult ce,
                   train::SoftmaxCrossEntropy(student_logits, labels, label_smoothing));
  CombinedLoss out;
  out.parts.kl = kl.loss;
  out.parts.ce = ce.loss;
  const float beta = 1.0f - alpha;
  if (alpha == 0.0f) {
    out.parts.total = ce.loss;
    out.logits_grad = std::move(ce.grad);
  } else if (beta == 0.0f) {
    out.parts.total = kl.loss;
    out.logits_grad = std::move(kl.grad);
  } else {
    out.parts.total = double(alpha) * kl.loss + double(beta) * ce.loss;
    // dL/ds = alpha * dKL/ds + (1 - alpha) * dCE/ds, in place in the KL gradient.
    float* g = kl.grad.mutable_data<float>();
    const float* gc = ce.grad.data<float>();
    for (int64_t i = 0; i < kl.grad.num_elements(); ++i) g[i] = alpha * g[i] + beta * gc[i];
    out.logits_grad = std::move(kl.grad);
  }
  out.feature_grads.resize(features.size());
  for (size_t k = 0; k < features.size(); ++k) {
    const FeatureTerm& f = features[k];
    if (f.weight == 0.0f) continue;
    absl::StatusOr<train::LossResult> mse = train::MeanSquaredError(f.student, f.teacher);
    if (!mse.ok()) return Annotate(mse.status(), StrCat("feature pair ", k));
    out.parts.feature += double(f.weight) * mse->loss;
    float* g = mse->grad.mutable_data<float>();
    for (int64_t i = 0; i < mse->grad.num_elements(); ++i) g[i] *= f.weight;
    out.feature_grads[k] = std::move(mse->grad);
  }
  out.parts.total += out.parts.feature;
  return out;
}

}  // namespace mp::distill
