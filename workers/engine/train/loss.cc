#include "workers/engine/train/loss.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/str_cat.h"

namespace mp::train {
namespace {

using tensor::DType;
using tensor::Tensor;

absl::Status CheckFloatMatrix(const Tensor& t, const char* what) {
  if (!t.defined() || t.dtype() != DType::kFloat32) {
    return absl::InvalidArgumentError(
        StrCat(what, ": expected float32, got ", tensor::DTypeName(t.dtype())));
  }
  if (t.rank() != 2 || t.shape().dim(0) < 1 || t.shape().dim(1) < 1) {
    return absl::InvalidArgumentError(
        StrCat(what, ": expected shape [N, C] with N, C >= 1, got ", t.shape().ToString()));
  }
  return absl::OkStatus();
}

absl::Status CheckLabels(const Tensor& labels, int64_t rows, int64_t classes) {
  if (!labels.defined() || labels.dtype() != DType::kInt64) {
    return absl::InvalidArgumentError(
        StrCat("labels: expected int64, got ", tensor::DTypeName(labels.dtype())));
  }
  if (labels.rank() != 1 || labels.shape().dim(0) != rows) {
    return absl::InvalidArgumentError(
        StrCat("labels: expected shape [", rows, "], got ", labels.shape().ToString()));
  }
  const int64_t* y = labels.data<int64_t>();
  for (int64_t i = 0; i < rows; ++i) {
    if (y[i] < 0 || y[i] >= classes) {
      return absl::InvalidArgumentError(
          StrCat("labels: element ", i, " is ", y[i], ", expected [0, ", classes, ")"));
    }
  }
  return absl::OkStatus();
}

// log softmax of row x[0..c) scaled by 1/t into out (double for accuracy).
void LogSoftmaxRow(const float* x, int64_t c, double inv_t, double* out) {
  double mx = -INFINITY;
  for (int64_t j = 0; j < c; ++j) mx = std::max(mx, double(x[j]) * inv_t);
  double sum = 0;
  for (int64_t j = 0; j < c; ++j) sum += std::exp(double(x[j]) * inv_t - mx);
  const double lse = mx + std::log(sum);
  for (int64_t j = 0; j < c; ++j) out[j] = double(x[j]) * inv_t - lse;
}

}  // namespace

absl::StatusOr<LossResult> SoftmaxCrossEntropy(const Tensor& logits, const Tensor& labels,
                                               float label_smoothing) {
  if (!(label_smoothing >= 0.0f && label_smoothing < 1.0f)) {
    return absl::InvalidArgumentError(
        StrCat("label_smoothing: ", label_smoothing, " is outside [0, 1)"));
  }
  if (absl::Status s = CheckFloatMatrix(logits, "logits"); !s.ok()) return s;
  const int64_t n = logits.shape().dim(0);
  const int64_t c = logits.shape().dim(1);
  if (absl::Status s = CheckLabels(labels, n, c); !s.ok()) return s;

  LossResult result;
  result.grad = Tensor::Zeros(DType::kFloat32, logits.shape());
  const float* x = logits.data<float>();
  const int64_t* y = labels.data<int64_t>();
  float* g = result.grad.mutable_data<float>();
  const double eps = label_smoothing;
  const double off = eps / double(c);
  const double inv_n = 1.0 / double(n);
  std::vector<double> logp(static_cast<size_t>(c));
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    LogSoftmaxRow(x + i * c, c, 1.0, logp.data());
    double row = 0;
    for (int64_t j = 0; j < c; ++j) {
      const double q = off + (j == y[i] ? 1.0 - eps : 0.0);
      row -= q * logp[static_cast<size_t>(j)];
      g[i * c + j] = static_cast<float>((std::exp(logp[static_cast<size_t>(j)]) - q) * inv_n);
    }
    total += row;
  }
  result.loss = total * inv_n;
  return result;
}

absl::StatusOr<LossResult> KlDivergence(const Tensor& student_logits, const Tensor& teacher_logits,
                                        float temperature) {
  if (!(temperature > 0.0f) || !std::isfinite(temperature)) {
    return absl::InvalidArgumentError(
        StrCat("temperature: ", temperature, " must be finite and > 0"));
  }
  if (absl::Status s = CheckFloatMatrix(student_logits, "student_logits"); !s.ok()) return s;
  if (absl::Status s = CheckFloatMatrix(teacher_logits, "teacher_logits"); !s.ok()) return s;
  if (!(student_logits.shape() == teacher_logits.shape())) {
    return absl::InvalidArgumentError(
        StrCat("teacher_logits: shape ", teacher_logits.shape().ToString(),
               " differs from student_logits ", student_logits.shape().ToString()));
  }
  const int64_t n = student_logits.shape().dim(0);
  const int64_t c = student_logits.shape().dim(1);
  const double t = temperature;
  LossResult result;
  result.grad = Tensor::Zeros(DType::kFloat32, student_logits.shape());
  const float* s = student_logits.data<float>();
  const float* te = teacher_logits.data<float>();
  float* g = result.grad.mutable_data<float>();
  std::vector<double> logps(static_cast<size_t>(c)), logpt(static_cast<size_t>(c));
  const double grad_scale = t / double(n);
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    LogSoftmaxRow(s + i * c, c, 1.0 / t, logps.data());
    LogSoftmaxRow(te + i * c, c, 1.0 / t, logpt.data());
    for (size_t j = 0; j < static_cast<size_t>(c); ++j) {
      const double pt = std::exp(logpt[j]);
      if (pt > 0) total += pt * (logpt[j] - logps[j]);
      g[i * c + static_cast<int64_t>(j)] =
          static_cast<float>(grad_scale * (std::exp(logps[j]) - pt));
    }
  }
  result.loss = total * t * t / double(n);
  return result;
}

absl::StatusOr<LossResult> MeanSquaredError(const Tensor& predictions, const Tensor& targets) {
  for (const auto& [t, what] : {std::pair{&predictions, "predictions"}, {&targets, "targets"}}) {
    if (!t->defined() || t->dtype() != DType::kFloat32) {
      return absl::InvalidArgumentError(
          StrCat(what, ": expected float32, got ", tensor::DTypeName(t->dtype())));
    }
  }
  if (!(predictions.shape() == targets.shape())) {
    return absl::InvalidArgumentError(StrCat("targets: shape ", targets.shape().ToString(),
                                             " differs from predictions ",
                                             predictions.shape().ToString()));
  }
  const int64_t m = predictions.num_elements();
  if (m < 1) return absl::InvalidArgumentError("predictions: no elements");
  LossResult result;
  result.grad = Tensor::Zeros(DType::kFloat32, predictions.shape());
  const float* x = predictions.data<float>();
  const float* y = targets.data<float>();
  float* g = result.grad.mutable_data<float>();
  const double scale = 2.0 / double(m);
  double total = 0;
  for (int64_t k = 0; k < m; ++k) {
    const double d = double(x[k]) - double(y[k]);
    total += d * d;
    g[k] = static_cast<float>(scale * d);
  }
  result.loss = total / double(m);
  return result;
}

absl::StatusOr<Tensor> OneHot(const Tensor& labels, int64_t num_classes) {
  if (num_classes < 1) {
    return absl::InvalidArgumentError(StrCat("num_classes: ", num_classes, " must be >= 1"));
  }
  const int64_t n = labels.defined() && labels.rank() == 1 ? labels.shape().dim(0) : -1;
  if (absl::Status s = CheckLabels(labels, std::max<int64_t>(n, 0), num_classes); !s.ok()) {
    return s;
  }
  Tensor out = Tensor::Zeros(DType::kFloat32, tensor::Shape({n, num_classes}));
  const int64_t* y = labels.data<int64_t>();
  float* o = out.mutable_data<float>();
  for (int64_t i = 0; i < n; ++i) o[i * num_classes + y[i]] = 1.0f;
  return out;
}

}  // namespace mp::train
