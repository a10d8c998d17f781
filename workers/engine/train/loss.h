// Losses: each returns the scalar loss (a mean, so it does not grow with the batch) and its
// gradient w.r.t. the model output it was given, ready for GradGraph::Backward.
//
// Shapes: logits / predictions are float32 [N, C] (N >= 1 rows, C >= 1 classes); labels are
// int64 [N] with values in [0, C). Every function validates its arguments and returns
// INVALID_ARGUMENT naming the argument ("labels: element 3 is 12, expected [0, 10)").
// Non-finite inputs are not rejected: they propagate into the loss, which the caller checks.
//
// Math (p = softmax over the class axis, computed stably as exp(x - max) / sum; log p by
// log-sum-exp; sums are accumulated in double):
//   SoftmaxCrossEntropy, label smoothing e in [0, 1) (PyTorch CrossEntropyLoss semantics):
//     q_i = (1 - e) * onehot(y_i) + e / C
//     loss = (1/N) sum_i sum_c -q_ic * log p_ic
//     dloss/dlogits_ic = (p_ic - q_ic) / N
//   KlDivergence (distillation, Hinton et al.; PyTorch
//   KLDivLoss(reduction='batchmean')(log_softmax(s/T), softmax(t/T)) * T^2):
//     pt = softmax(t / T), ps = softmax(s / T)
//     loss = T^2 / N * sum_i sum_c pt_ic * (log pt_ic - log ps_ic)   (terms with pt = 0 add 0)
//     dloss/ds_ic = T / N * (ps_ic - pt_ic)       (the teacher gets no gradient)
//   MeanSquaredError (PyTorch MSELoss, reduction='mean': over all elements, any shape):
//     loss = (1/M) sum_k (x_k - y_k)^2,  dloss/dx_k = 2 (x_k - y_k) / M,  M = element count
#ifndef MP_WORKERS_ENGINE_TRAIN_LOSS_H_
#define MP_WORKERS_ENGINE_TRAIN_LOSS_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "workers/engine/tensor/tensor.h"

namespace mp::train {

struct LossResult {
  double loss = 0;      // the mean loss
  tensor::Tensor grad;  // float32, same shape as the differentiated input
};

// Softmax cross-entropy on logits [N, C] against int64 labels [N]; `label_smoothing` in
// [0, 1).
absl::StatusOr<LossResult> SoftmaxCrossEntropy(const tensor::Tensor& logits,
                                               const tensor::Tensor& labels,
                                               float label_smoothing = 0.0f);

// Distillation loss KL(softmax(teacher/T) || softmax(student/T)) * T^2, averaged over the
// N rows; both [N, C]; T > 0 and finite. The gradient is w.r.t. the student logits.
absl::StatusOr<LossResult> KlDivergence(const tensor::Tensor& student_logits,
                                        const tensor::Tensor& teacher_logits, float temperature);

// Mean squared error between `predictions` and `targets` (float32, equal shapes, at least one
// element). The gradient is w.r.t. the predictions.
absl::StatusOr<LossResult> MeanSquaredError(const tensor::Tensor& predictions,
                                            const tensor::Tensor& targets);

// One-hot float32 [N, C] of int64 labels [N] in [0, C) (targets for MSE on labels).
absl::StatusOr<tensor::Tensor> OneHot(const tensor::Tensor& labels, int64_t num_classes);

}  // namespace mp::train

#endif  // MP_WORKERS_ENGINE_TRAIN_LOSS_H_
