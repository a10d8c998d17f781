// The training loop: epochs of shuffled mini-batches through a GradGraph, a loss, an
// optimizer and a learning-rate schedule, with evaluation and a progress callback.
//
// Per step (one batch of `batch_size` rows; the last batch of an epoch may be partial unless
// drop_last):
//   lr = schedule.lr(step); ZeroGrad; Forward(kTrain); loss + dloss/doutput (loss.h);
//   Backward; optimizer Step with lr; callback(kStep).
// After each epoch: evaluation of `val` (if given) with Mode::kEval; callback(kEpoch).
//
// Batches: data::Batcher with {batch_size, drop_last, shuffle, seed}: epoch e's order is
// ShuffledIndices(N, DeriveSeed(seed, e)) (dataset.h). Determinism: the same graph, data,
// options and seed give the same parameter bytes (everything below is deterministic and
// thread-count independent); timings (samples/s) are the only non-reproducible outputs.
//
// Losses on the first graph output (FitOptions::output_index selects another), viewed as
// [B, C] logits against the dataset's int64 labels: softmax cross-entropy (optionally label
// smoothed), or MSE against one-hot labels. FitWithStep runs the same loop with the step's
// forward pass and loss supplied by the caller (distillation: a teacher and a KL term).
#ifndef MP_WORKERS_ENGINE_TRAIN_FIT_H_
#define MP_WORKERS_ENGINE_TRAIN_FIT_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "workers/engine/data/dataset.h"
#include "workers/engine/train/grad_graph.h"
#include "workers/engine/train/optimizer.h"
#include "workers/engine/train/schedule.h"

namespace mp::train {

enum class LossKind { kCrossEntropy, kMseOneHot };

struct FitOptions {
  int epochs = 1;           // >= 1
  int64_t batch_size = 64;  // >= 1
  bool shuffle = true;
  bool drop_last = false;
  uint64_t seed = 0;  // data order
  // optimizer.lr is the base learning rate; schedule.base_lr is ignored (set from it).
  OptimizerOptions optimizer = {};
  // schedule.total_steps == 0 means "the whole run" (epochs x batches per epoch).
  ScheduleOptions schedule = {};
  LossKind loss = LossKind::kCrossEntropy;
  float label_smoothing = 0.0f;      // cross-entropy only, [0, 1)
  std::string input_name = "input";  // the graph input fed with the dataset's samples
  int output_index = 0;              // the Forward output the loss reads
  int64_t eval_batch_size = 256;     // >= 1
  int optimizer_threads = 1;         // threads for the optimizer's updates (>= 1)
  Clock* clock = nullptr;            // for samples/s; null = the system clock
};

// OK or INVALID_ARGUMENT naming the field ("fit.batch_size: 0 must be >= 1"); also checks
// the optimizer and schedule options.
absl::Status ValidateFitOptions(const FitOptions& options);

struct EvalMetrics {
  int64_t samples = 0;
  double loss = 0;      // mean over samples
  double accuracy = 0;  // top-1 (argmax, lowest index on ties) against the labels
};

struct FitProgress {
  enum class Event { kStep, kEpoch };
  Event event = Event::kStep;
  int epoch = 0;            // 0-based
  int64_t step = 0;         // optimizer steps done so far (1 after the first step)
  int64_t total_steps = 0;  // of the whole run
  // kStep: this batch; kEpoch: the mean over the epoch's training batches (by sample).
  double loss = 0;
  double accuracy = 0;
  float lr = 0;                    // used by this step (kEpoch: by the epoch's last step)
  double samples_per_second = 0;   // training throughput of the epoch so far
  std::optional<EvalMetrics> val;  // kEpoch with a validation set
  // FitWithStep: the step's StepLoss::parts (kEpoch: their means by sample); empty for Fit.
  std::vector<double> loss_parts;
};

// Returning a non-OK status stops training: Fit returns CANCELLED carrying its message.
using FitCallback = std::function<absl::Status(const FitProgress&)>;

struct EpochRecord {
  EvalMetrics train;               // running averages over the epoch's training batches
  std::vector<double> loss_parts;  // FitWithStep: means of StepLoss::parts by sample
  std::optional<EvalMetrics> val;
  float last_lr = 0;
  double seconds = 0;  // training wall time of the epoch (evaluation excluded)
};

struct FitResult {
  int64_t steps = 0;
  std::vector<EpochRecord> epochs;  // one per completed epoch: the loss curve
  double samples_per_second = 0;    // over all training steps
};

// Trains `graph` in place. `train` must have int64 labels; `val` (may be null) too.
// Errors: INVALID_ARGUMENT for options (see ValidateFitOptions), datasets without labels,
// an output that is not [B, C] float32, or a non-finite loss ("step 12: loss is nan; lower
// optimizer.lr?"); CANCELLED when the callback stops it; errors of the graph as they come.
absl::StatusOr<FitResult> Fit(GradGraph& graph, const data::Dataset& train,
                              const data::Dataset* val, const FitOptions& options,
                              const FitCallback& callback = {});

// One training step's loss, as computed by a StepFn.
struct StepLoss {
  double loss = 0;      // the minimised scalar: mean over the batch
  int64_t correct = 0;  // top-1 hits in the batch (for accuracy)
  // Further terms to report (e.g. distillation's KL and CE), averaged like `loss`.
  std::vector<double> parts;
  // GradGraph::Backward's argument: dLoss/d(each Forward output); undefined = zero.
  std::vector<tensor::Tensor> output_grads;
};
// Runs `batch` through the graph with Mode::kTrain (and whatever else the loss needs) and
// returns the loss and output gradients. The loop does ZeroGrad before, Backward and the
// optimizer step after.
using StepFn = std::function<absl::StatusOr<StepLoss>(const data::Batch& batch)>;

// Fit's loop (same batches, schedule, optimizer, evaluation and callbacks) with each step's
// loss from `step`; options.loss, label_smoothing and output_index then apply only to the
// evaluation of `val`. Fit is FitWithStep with the configured loss on one output.
absl::StatusOr<FitResult> FitWithStep(GradGraph& graph, const data::Dataset& train,
                                      const data::Dataset* val, const FitOptions& options,
                                      const StepFn& step, const FitCallback& callback = {});

// OK, or INVALID_ARGUMENT when `dataset` has no samples or no int64 labels; `what` names it
// ("training dataset: needs at least one sample and int64 labels (has 0 samples)").
absl::Status CheckLabelled(const data::Dataset& dataset, std::string_view what);

// Loss (as configured in `options`) and accuracy of `graph` on `dataset` in Mode::kEval,
// in batches of options.eval_batch_size.
absl::StatusOr<EvalMetrics> Evaluate(GradGraph& graph, const data::Dataset& dataset,
                                     const FitOptions& options);

}  // namespace mp::train

#endif  // MP_WORKERS_ENGINE_TRAIN_FIT_H_
