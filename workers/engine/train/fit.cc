#include "workers/engine/train/fit.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/eval/eval.h"
#include "workers/engine/kernels/parallel.h"
#include "workers/engine/train/loss.h"

namespace mp::train {
namespace {

using tensor::Tensor;

// The loss output of Forward, checked to be float32 [B, C] with B = batch rows.
absl::StatusOr<Tensor> PickOutput(const exec::NamedTensors& outs, const FitOptions& o,
                                  int64_t rows) {
  if (o.output_index >= static_cast<int>(outs.size())) {
    return absl::InvalidArgumentError(StrCat("fit.output_index: ", o.output_index,
                                             " but the graph has ", outs.size(), " outputs"));
  }
  const auto& [name, t] = outs[static_cast<size_t>(o.output_index)];
  if (t.dtype() != tensor::DType::kFloat32 || t.rank() != 2 || t.shape().dim(0) != rows) {
    return absl::InvalidArgumentError(StrCat("output '", name, "' is ", t.DebugString(),
                                             ", expected float32 [", rows, ", classes]"));
  }
  return t;
}

struct BatchResult {
  LossResult loss;
  int64_t correct = 0;
};

absl::StatusOr<BatchResult> ComputeLoss(const Tensor& out, const Tensor& labels,
                                        const FitOptions& o) {
  BatchResult r;
  if (o.loss == LossKind::kCrossEntropy) {
    ASSIGN_OR_RETURN(r.loss, SoftmaxCrossEntropy(out, labels, o.label_smoothing));
  } else {
    ASSIGN_OR_RETURN(Tensor target, OneHot(labels, out.shape().dim(1)));
    ASSIGN_OR_RETURN(r.loss, MeanSquaredError(out, target));
  }
  ASSIGN_OR_RETURN(std::vector<int64_t> pred, eval::ArgmaxLastAxis(out));
  const int64_t* y = labels.data<int64_t>();
  for (size_t i = 0; i < pred.size(); ++i) r.correct += pred[i] == y[i] ? 1 : 0;
  return r;
}

void AddParts(std::vector<double>& sum, const std::vector<double>& parts, double w) {
  if (sum.size() < parts.size()) sum.resize(parts.size(), 0.0);
  for (size_t i = 0; i < parts.size(); ++i) sum[i] += parts[i] * w;
}

}  // namespace

absl::Status CheckLabelled(const data::Dataset& ds, std::string_view what) {
  if (ds.size() < 1 || !ds.has_labels()) {
    return absl::InvalidArgumentError(
        StrCat(what, ": needs at least one sample and int64 labels (has ", ds.size(), " samples",
               ds.has_labels() ? ")" : ", no labels)"));
  }
  return absl::OkStatus();
}

absl::Status ValidateFitOptions(const FitOptions& o) {
  if (o.epochs < 1) {
    return absl::InvalidArgumentError(StrCat("fit.epochs: ", o.epochs, " must be >= 1"));
  }
  if (o.batch_size < 1) {
    return absl::InvalidArgumentError(StrCat("fit.batch_size: ", o.batch_size, " must be >= 1"));
  }
  if (o.eval_batch_size < 1) {
    return absl::InvalidArgumentError(
        StrCat("fit.eval_batch_size: ", o.eval_batch_size, " must be >= 1"));
  }
  if (o.optimizer_threads < 1) {
    return absl::InvalidArgumentError(
        StrCat("fit.optimizer_threads: ", o.optimizer_threads, " must be >= 1"));
  }
  if (o.output_index < 0) {
    return absl::InvalidArgumentError(
        StrCat("fit.output_index: ", o.output_index, " must be >= 0"));
  }
  if (o.input_name.empty()) return absl::InvalidArgumentError("fit.input_name: empty");
  if (o.loss != LossKind::kCrossEntropy && o.loss != LossKind::kMseOneHot) {
    return absl::InvalidArgumentError(StrCat("fit.loss: unknown value ", static_cast<int>(o.loss)));
  }
  if (!(o.label_smoothing >= 0.0f && o.label_smoothing < 1.0f)) {
    return absl::InvalidArgumentError(
        StrCat("fit.label_smoothing: ", o.label_smoothing, " is outside [0, 1)"));
  }
  RETURN_IF_ERROR(ValidateOptimizerOptions(o.optimizer));
  ScheduleOptions s = o.schedule;
  s.base_lr = o.optimizer.lr;
  if (s.total_steps == 0) s.total_steps = s.warmup_steps + 1;  // resolved by Fit
  return ValidateScheduleOptions(s);
}

absl::StatusOr<EvalMetrics> Evaluate(GradGraph& graph, const data::Dataset& dataset,
                                     const FitOptions& options) {
  RETURN_IF_ERROR(ValidateFitOptions(options));
  RETURN_IF_ERROR(CheckLabelled(dataset, "evaluation dataset"));
  EvalMetrics m;
  double loss_sum = 0;
  int64_t correct = 0;
  for (int64_t begin = 0; begin < dataset.size(); begin += options.eval_batch_size) {
    const int64_t end = std::min(dataset.size(), begin + options.eval_batch_size);
    data::Batch batch = dataset.Slice(begin, end);
    ASSIGN_OR_RETURN(exec::NamedTensors outs,
                     graph.Forward({{options.input_name, batch.inputs}}, Mode::kEval));
    ASSIGN_OR_RETURN(Tensor out, PickOutput(outs, options, batch.size()));
    ASSIGN_OR_RETURN(BatchResult r, ComputeLoss(out, batch.labels, options));
    loss_sum += r.loss.loss * double(batch.size());
    correct += r.correct;
  }
  m.samples = dataset.size();
  m.loss = loss_sum / double(m.samples);
  m.accuracy = double(correct) / double(m.samples);
  return m;
}

absl::StatusOr<FitResult> Fit(GradGraph& graph, const data::Dataset& train,
                              const data::Dataset* val, const FitOptions& options,
                              const FitCallback& callback) {
  const StepFn step = [&](const data::Batch& batch) -> absl::StatusOr<StepLoss> {
    ASSIGN_OR_RETURN(exec::NamedTensors outs,
                     graph.Forward({{options.input_name, batch.inputs}}, Mode::kTrain));
    ASSIGN_OR_RETURN(Tensor out, PickOutput(outs, options, batch.size()));
    ASSIGN_OR_RETURN(BatchResult r, ComputeLoss(out, batch.labels, options));
    StepLoss loss{.loss = r.loss.loss, .correct = r.correct};
    loss.output_grads.resize(outs.size());
    loss.output_grads[static_cast<size_t>(options.output_index)] = std::move(r.loss.grad);
    return loss;
  };
  return FitWithStep(graph, train, val, options, step, callback);
}

absl::StatusOr<FitResult> FitWithStep(GradGraph& graph, const data::Dataset& train,
                                      const data::Dataset* val, const FitOptions& options,
                                      const StepFn& step_fn, const FitCallback& callback) {
  RETURN_IF_ERROR(ValidateFitOptions(options));
  RETURN_IF_ERROR(CheckLabelled(train, "training dataset"));
  if (val != nullptr) RETURN_IF_ERROR(CheckLabelled(*val, "validation dataset"));
  ASSIGN_OR_RETURN(data::Batcher batcher,
                   data::Batcher::Make(train, {.batch_size = options.batch_size,
                                               .drop_last = options.drop_last,
                                               .shuffle = options.shuffle,
                                               .seed = options.seed}));
  const int64_t per_epoch = batcher.num_batches();
  if (per_epoch < 1) {
    return absl::InvalidArgumentError(StrCat("fit.batch_size: ", options.batch_size,
                                             " with drop_last leaves no batch of the ",
                                             train.size(), " training samples"));
  }
  const int64_t total_steps = per_epoch * options.epochs;
  ScheduleOptions sched_options = options.schedule;
  sched_options.base_lr = options.optimizer.lr;
  if (sched_options.total_steps == 0) sched_options.total_steps = total_steps;
  ASSIGN_OR_RETURN(Schedule schedule, Schedule::Make(sched_options));
  std::unique_ptr<kernels::ThreadPool> pool;
  if (options.optimizer_threads > 1) {
    pool = std::make_unique<kernels::ThreadPool>(options.optimizer_threads);
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Optimizer> optimizer,
                   Optimizer::Create(options.optimizer, graph.parameters(), pool.get()));
  SystemClock system_clock;
  Clock* clock = options.clock != nullptr ? options.clock : &system_clock;

  FitResult result;
  int64_t step = 0;
  int64_t all_samples = 0;
  int64_t all_nanos = 0;
  for (int epoch = 0; epoch < options.epochs; ++epoch) {
    batcher.StartEpoch(static_cast<uint64_t>(epoch));
    EpochRecord record;
    double loss_sum = 0;
    std::vector<double> parts_sum;
    int64_t correct = 0, samples = 0;
    const int64_t epoch_start = clock->MonotonicNanos();
    for (int64_t b = 0; b < per_epoch; ++b) {
      ASSIGN_OR_RETURN(data::Batch batch, batcher.GetBatch(b));
      const float lr = schedule.lr(step);
      RETURN_IF_ERROR(optimizer->SetLearningRate(lr));
      graph.ZeroGrad();
      ASSIGN_OR_RETURN(StepLoss r, step_fn(batch));
      if (!std::isfinite(r.loss)) {
        return absl::InvalidArgumentError(
            StrCat("step ", step + 1, ": loss is ", r.loss, "; lower optimizer.lr?"));
      }
      RETURN_IF_ERROR(graph.Backward(r.output_grads));
      optimizer->Step();
      ++step;
      loss_sum += r.loss * double(batch.size());
      AddParts(parts_sum, r.parts, double(batch.size()));
      correct += r.correct;
      samples += batch.size();
      record.last_lr = lr;
      const int64_t nanos = std::max<int64_t>(clock->MonotonicNanos() - epoch_start, 1);
      record.seconds = double(nanos) * 1e-9;
      if (callback) {
        FitProgress p{.event = FitProgress::Event::kStep,
                      .epoch = epoch,
                      .step = step,
                      .total_steps = total_steps,
                      .loss = r.loss,
                      .accuracy = double(r.correct) / double(batch.size()),
                      .lr = lr,
                      .samples_per_second = double(samples) / record.seconds,
                      .loss_parts = r.parts};
        if (absl::Status s = callback(p); !s.ok()) {
          return absl::CancelledError(
              StrCat("training cancelled at step ", step, ": ", std::string(s.message())));
        }
      }
    }
    all_samples += samples;
    all_nanos += static_cast<int64_t>(record.seconds * 1e9);
    record.train = {.samples = samples,
                    .loss = loss_sum / double(samples),
                    .accuracy = double(correct) / double(samples)};
    for (double& part : parts_sum) part /= double(samples);
    record.loss_parts = std::move(parts_sum);
    if (val != nullptr) {
      ASSIGN_OR_RETURN(EvalMetrics v, Evaluate(graph, *val, options));
      record.val = v;
    }
    result.epochs.push_back(record);
    result.steps = step;
    if (callback) {
      FitProgress p{.event = FitProgress::Event::kEpoch,
                    .epoch = epoch,
                    .step = step,
                    .total_steps = total_steps,
                    .loss = record.train.loss,
                    .accuracy = record.train.accuracy,
                    .lr = record.last_lr,
                    .samples_per_second = double(samples) / record.seconds,
                    .val = record.val,
                    .loss_parts = record.loss_parts};
      if (absl::Status s = callback(p); !s.ok()) {
        return absl::CancelledError(
            StrCat("training cancelled after epoch ", epoch + 1, ": ", std::string(s.message())));
      }
    }
  }
  result.samples_per_second =
      all_nanos > 0 ? double(all_samples) / (double(all_nanos) * 1e-9) : 0.0;
  return result;
}

}  // namespace mp::train
