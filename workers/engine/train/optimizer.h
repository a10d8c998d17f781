// Optimizers: update Parameter::value in place from Parameter::grad, with PyTorch 1.13's
// formulas (torch.optim.SGD / Adam / AdamW, single-tensor path, amsgrad off, maximize off).
// Per element, with g = grad, p = value, lr the current learning rate, wd = weight_decay
// (wd is treated as 0 for parameters whose Parameter::decay is false), t = 1, 2, ... the
// step number:
//
//   SGD (dampening 0):
//     g = g + wd * p
//     if momentum > 0:  b = (t == 1) ? g : momentum * b + g
//                       g = nesterov ? g + momentum * b : b
//     p = p - lr * g
//   Adam (L2 weight decay folded into the gradient):
//     g = g + wd * p
//     m = beta1 * m + (1 - beta1) * g
//     v = beta2 * v + (1 - beta2) * g * g
//     p = p - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
//   AdamW (decoupled weight decay, Loshchilov & Hutter):
//     p = p * (1 - lr * wd)
//     then Adam's update without the L2 term.
//
// The arithmetic is float32 per element as in PyTorch (bias corrections in double, then
// used as float scalars), so results match torch to a few ulps. Updates are elementwise:
// any thread count gives the same bytes.
#ifndef MP_WORKERS_ENGINE_TRAIN_OPTIMIZER_H_
#define MP_WORKERS_ENGINE_TRAIN_OPTIMIZER_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "workers/engine/kernels/parallel.h"
#include "workers/engine/tensor/tensor.h"
#include "workers/engine/train/parameter.h"

namespace mp::train {

enum class OptimizerKind { kSgd, kAdam, kAdamW };

// "sgd", "adam", "adamw".
std::string_view OptimizerKindName(OptimizerKind kind);
// Parses a name as above; INVALID_ARGUMENT listing the accepted names otherwise.
absl::StatusOr<OptimizerKind> ParseOptimizerKind(std::string_view name);

struct OptimizerOptions {
  OptimizerKind kind = OptimizerKind::kSgd;
  float lr = 0.01f;           // finite, > 0 (a schedule may override it per step)
  float weight_decay = 0.0f;  // finite, >= 0
  // SGD
  float momentum = 0.0f;  // [0, 1)
  bool nesterov = false;  // requires momentum > 0
  // Adam / AdamW
  float beta1 = 0.9f;    // [0, 1)
  float beta2 = 0.999f;  // [0, 1)
  float eps = 1e-8f;     // finite, > 0
};

// OK, or INVALID_ARGUMENT naming the field: "optimizer.momentum: 1 is outside [0, 1)".
absl::Status ValidateOptimizerOptions(const OptimizerOptions& options);

class Optimizer {
 public:
  // Validates `options` and allocates the state (momentum buffers / moments) for `params`,
  // which must outlive the optimizer (GradGraph::parameters()). INVALID_ARGUMENT if a
  // parameter is not float32 or its grad's shape differs from its value's. `pool` (may be
  // null: single-threaded) splits large parameters across threads.
  static absl::StatusOr<std::unique_ptr<Optimizer>> Create(const OptimizerOptions& options,
                                                           std::span<Parameter> params,
                                                           kernels::ThreadPool* pool = nullptr);

  // Sets the learning rate for the following steps (a schedule calls this per step);
  // INVALID_ARGUMENT unless finite and > 0.
  absl::Status SetLearningRate(float lr);
  float learning_rate() const { return lr_; }

  // One update of every parameter from its current grad (the grad is left as is).
  void Step();
  // Steps taken so far.
  int64_t step_count() const { return step_; }
  const OptimizerOptions& options() const { return options_; }

 private:
  Optimizer(const OptimizerOptions& options, std::span<Parameter> params, kernels::ThreadPool* pool)
      : options_(options), lr_(options.lr), params_(params), pool_(pool) {}

  OptimizerOptions options_;
  float lr_;
  std::span<Parameter> params_;
  kernels::ThreadPool* pool_;
  int64_t step_ = 0;
  std::vector<std::vector<float>> state0_;  // SGD momentum buffer / Adam m, per parameter
  std::vector<std::vector<float>> state1_;  // Adam v, per parameter
};

}  // namespace mp::train

#endif  // MP_WORKERS_ENGINE_TRAIN_OPTIMIZER_H_
