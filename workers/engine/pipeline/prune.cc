#include "workers/engine/pipeline/prune.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>

#include "common/clock.h"
#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/distill/distill.h"
#include "workers/engine/pipeline/prune_internal.h"
#include "workers/engine/pipeline/recipe_fit.h"
#include "workers/engine/prune/prune.h"
#include "workers/engine/train/train.h"

namespace mp::pipeline {
namespace {

using internal::Fixed;
using nlohmann::json;

// Progress of a RunPrune call: phases with expected costs (arbitrary units, summing to
// `total`); fractions never decrease; updates inside a phase at most 4 per second.
class Tracker {
 public:
  Tracker(const PruneProgress& progress, double total) : progress_(progress), total_(total) {}

  absl::Status Begin(std::string step, double cost, std::string log = "") {
    done_ += cost_;
    cost_ = cost;
    step_ = std::move(step);
    return Send(0.0, {}, std::move(log), true);
  }
  // `f` (0..1) of the current phase.
  absl::Status Send(double f, std::vector<Metric> metrics, std::string log, bool force) {
    if (!progress_) return absl::OkStatus();
    const int64_t now = SystemClock::Get()->MonotonicNanos();
    if (!force && now - last_nanos_ < 250'000'000) return absl::OkStatus();
    last_nanos_ = now;
    fraction_ = std::max(fraction_, std::min(1.0, (done_ + cost_ * std::clamp(f, 0.0, 1.0)) /
                                                      std::max(total_, 1e-9)));
    return progress_({.fraction = fraction_,
                      .step = step_,
                      .metrics = std::move(metrics),
                      .log = std::move(log)});
  }

 private:
  const PruneProgress& progress_;
  double total_;
  double done_ = 0, cost_ = 0, fraction_ = 0;
  std::string step_;
  int64_t last_nanos_ = 0;
};

PruneEpoch EpochOf(int step, int epoch, double loss, double accuracy,
                   const std::optional<train::EvalMetrics>& val, float lr) {
  PruneEpoch e{
      .step = step, .epoch = epoch, .train_loss = loss, .train_accuracy = accuracy, .lr = lr};
  if (val.has_value()) {
    e.eval_loss = val->loss;
    e.eval_accuracy = val->accuracy;
  }
  return e;
}

struct RecoverArgs {
  int step = 0;          // pruning step
  int epochs = 0;        // of this recovery
  int epoch_offset = 0;  // epochs of the earlier steps
  int total_epochs = 0;
  double sparsity = 0;
};

// Trains `model` in place as options.recover says, keeping `masks`; `teacher` is the
// original model (distill). Returns the per-epoch curve.
absl::StatusOr<std::vector<PruneEpoch>> Recover(const PruneRecipeOptions& o,
                                                const ir::Model& teacher, const prune::Masks& masks,
                                                const data::Dataset& train,
                                                const data::Dataset* eval, const RecoverArgs& a,
                                                Tracker& tracker, ir::Model* model) {
  ASSIGN_OR_RETURN(std::unique_ptr<train::GradGraph> graph,
                   train::GradGraph::Create(*model, {.num_threads = o.threads, .seed = o.seed}));
  ASSIGN_OR_RETURN(internal::BoundMasks bound, internal::BindMasks(masks, *graph));
  RETURN_IF_ERROR(internal::ApplyBound(bound));
  const data::Dataset* val = o.eval_each_epoch ? eval : nullptr;
  if (val != nullptr && !val->has_labels()) val = nullptr;
  std::vector<PruneEpoch> curve;
  absl::Status stop;  // why a callback stopped training
  auto keep = [&](absl::Status s) {
    if (!s.ok() && stop.ok()) stop = s;
    return s;
  };
  auto on_step = [&](int64_t step, int64_t total, double loss, double accuracy, float lr,
                     double sps) -> absl::Status {
    RETURN_IF_ERROR(keep(internal::ApplyBound(bound)));
    return keep(tracker.Send(
        double(step) / double(std::max<int64_t>(total, 1)),
        {{"loss", loss}, {"accuracy", accuracy}, {"lr", lr}, {"samples_per_second", sps}}, "",
        false));
  };
  auto on_epoch = [&](PruneEpoch e, int64_t step, int64_t total, double sps) -> absl::Status {
    curve.push_back(e);
    std::vector<Metric> metrics = {{"epoch", double(a.epoch_offset + e.epoch + 1)},
                                   {"loss", e.train_loss},
                                   {"accuracy", e.train_accuracy},
                                   {"lr", e.lr},
                                   {"samples_per_second", sps},
                                   {"sparsity", a.sparsity}};
    std::string line = StrCat("epoch ", a.epoch_offset + e.epoch + 1, "/", a.total_epochs,
                              ": loss ", Fixed(e.train_loss), " acc ", Fixed(e.train_accuracy));
    if (e.eval_accuracy.has_value()) {
      metrics.push_back({"eval_accuracy", *e.eval_accuracy});
      line += StrCat(" eval_acc ", Fixed(*e.eval_accuracy));
    }
    curve.back().epoch += a.epoch_offset;
    return keep(tracker.Send(double(step) / double(std::max<int64_t>(total, 1)), std::move(metrics),
                             line, true));
  };
  const train::FitOptions fit = internal::FitOptionsOf(o, a.epochs);
  std::vector<double> seconds;
  if (o.recover == "finetune") {
    absl::StatusOr<train::FitResult> r =
        train::Fit(*graph, train, val, fit, [&](const train::FitProgress& p) -> absl::Status {
          if (p.event == train::FitProgress::Event::kStep) {
            return on_step(p.step, p.total_steps, p.loss, p.accuracy, p.lr, p.samples_per_second);
          }
          return on_epoch(EpochOf(a.step, p.epoch, p.loss, p.accuracy, p.val, p.lr), p.step,
                          p.total_steps, p.samples_per_second);
        });
    if (!r.ok()) return stop.ok() ? r.status() : stop;
    for (const train::EpochRecord& e : r->epochs) seconds.push_back(e.seconds);
  } else {
    absl::StatusOr<distill::DistillResult> r = distill::Distill(
        *graph, teacher, train, val,
        {.alpha = o.alpha, .temperature = o.temperature, .fit = fit, .teacher_threads = o.threads},
        [&](const distill::DistillProgress& p) -> absl::Status {
          if (p.event == train::FitProgress::Event::kStep) {
            return on_step(p.step, p.total_steps, p.loss.total, p.accuracy, p.lr,
                           p.samples_per_second);
          }
          return on_epoch(EpochOf(a.step, p.epoch, p.loss.total, p.accuracy, p.val, p.lr), p.step,
                          p.total_steps, p.samples_per_second);
        });
    if (!r.ok()) return stop.ok() ? r.status() : stop;
    for (const auto& e : r->epochs) seconds.push_back(e.seconds);
  }
  for (size_t i = 0; i < curve.size() && i < seconds.size(); ++i) curve[i].seconds = seconds[i];
  RETURN_IF_ERROR(internal::ApplyBound(bound));
  ASSIGN_OR_RETURN(*model, graph->ExportModel());
  // Exactly the pruned zeros in the artifact, whatever the export does.
  RETURN_IF_ERROR(prune::ApplyMasks(masks, model));
  return curve;
}

}  // namespace

absl::Status ValidatePruneRecipeOptions(const PruneRecipeOptions& o) {
  auto bad = [](auto&&... parts) { return absl::InvalidArgumentError(StrCat(parts...)); };
  if (o.method != "structured" && o.method != "magnitude" && o.method != "nm") {
    return bad("method '", o.method, "': expected structured, magnitude or nm");
  }
  if (!(o.sparsity >= 0 && o.sparsity < 1))
    return bad("sparsity: ", o.sparsity, " is outside [0, 1)");
  if (o.norm != "l1" && o.norm != "l2") return bad("norm '", o.norm, "': expected l1 or l2");
  if (o.scope != "layer" && o.scope != "global") {
    return bad("scope '", o.scope, "': expected layer or global");
  }
  if (o.round_to < 1) return bad("round-to: ", o.round_to, " must be >= 1");
  if (o.schedule != "oneshot" && o.schedule != "agp") {
    return bad("schedule '", o.schedule, "': expected oneshot or agp");
  }
  if (o.schedule == "agp") {
    if (o.prune_steps < 1) return bad("prune-steps: ", o.prune_steps, " must be >= 1");
    if (o.recover == "none") {
      return bad("schedule agp: needs recovery between its steps (recover finetune or distill)");
    }
  }
  RETURN_IF_ERROR(internal::ParsePerLayer(o.per_layer).status());
  if (o.method == "nm") RETURN_IF_ERROR(internal::ParseNm(o.nm).status());
  if (o.recover != "none" && o.recover != "finetune" && o.recover != "distill") {
    return bad("recover '", o.recover, "': expected none, finetune or distill");
  }
  if (o.threads < 1) return bad("threads: ", o.threads, " must be >= 1");
  if (o.latency_iterations < 0) {
    return bad("latency-iterations: ", o.latency_iterations, " must be >= 0");
  }
  if (o.recover == "none") return absl::OkStatus();
  if (o.epochs < 1) return bad("epochs: ", o.epochs, " must be >= 1");
  if (o.batch_size < 1) return bad("batch-size: ", o.batch_size, " must be >= 1");
  if (!std::isfinite(o.lr) || o.lr <= 0) return bad("lr: ", o.lr, " must be finite and > 0");
  RETURN_IF_ERROR(ValidateRecipeOptimizer(o.optimizer));
  if (!std::isfinite(o.weight_decay) || o.weight_decay < 0) {
    return bad("weight-decay: ", o.weight_decay, " must be finite and >= 0");
  }
  if (!(o.alpha >= 0 && o.alpha <= 1)) return bad("alpha: ", o.alpha, " is outside [0, 1]");
  if (!std::isfinite(o.temperature) || o.temperature <= 0) {
    return bad("temperature: ", o.temperature, " must be finite and > 0");
  }
  return absl::OkStatus();
}

absl::StatusOr<PruneRecipeResult> RunPrune(const ir::Model& model, const PruneRecipeOptions& o,
                                           const data::Dataset* train, const data::Dataset* eval,
                                           const PruneProgress& progress) {
  RETURN_IF_ERROR(ValidatePruneRecipeOptions(o));
  const bool recovering = o.recover != "none";
  if (recovering) {
    if (train == nullptr) {
      return absl::InvalidArgumentError(
          StrCat("recover '", o.recover, "' needs labelled training data (data/labels)"));
    }
    RETURN_IF_ERROR(train::CheckLabelled(*train, "training dataset"));
  }
  const bool labelled = eval != nullptr && eval->has_labels();
  ASSIGN_OR_RETURN(internal::Pruner pruner, internal::Pruner::Create(o, model));
  const int steps = pruner.steps();
  auto epochs_of = [&](int t) {
    if (!recovering) return 0;
    return int(int64_t(t + 1) * o.epochs / steps - int64_t(t) * o.epochs / steps);
  };
  // Expected costs in sample-forward units: evaluation = one forward per eval sample, a
  // training sample = 3 (forward + backward) or 4 with the teacher, pruning ~ a small
  // fraction of an evaluation (+ the pruned-accuracy evaluation).
  const double n_eval = eval != nullptr ? double(eval->size()) : 0.0;
  const double w_eval = std::max(1.0, n_eval);
  const double w_prune = 0.05 * w_eval + (recovering && labelled ? n_eval : 0.0);
  const double w_epoch =
      (recovering ? double(train->size()) * (o.recover == "distill" ? 4.0 : 3.0) : 0.0) +
      (o.eval_each_epoch && labelled ? n_eval : 0.0);
  Tracker tracker(progress, 2 * w_eval + steps * w_prune + (recovering ? o.epochs : 0) * w_epoch);

  PruneRecipeResult result;
  json stats_before, stats_after;
  RETURN_IF_ERROR(tracker.Begin("evaluate original", w_eval, "evaluating the original model"));
  ASSIGN_OR_RETURN(result.before, internal::Measure(model, o, eval, train, &stats_before));
  result.model = model;
  int epoch_offset = 0;
  for (int t = 0; t < steps; ++t) {
    const std::string suffix = steps > 1 ? StrCat(" ", t + 1, "/", steps) : "";
    ASSIGN_OR_RETURN(const double target, pruner.Target(t));
    RETURN_IF_ERROR(tracker.Begin(
        StrCat("prune", suffix), w_prune,
        StrCat("pruning", suffix, " (", o.method, ", sparsity ", Fixed(target), ")")));
    ASSIGN_OR_RETURN(PruneStep step, pruner.Apply(t, &result.model));
    step.epochs = epochs_of(t);
    if (recovering && labelled) {
      ASSIGN_OR_RETURN(step.pruned_accuracy, internal::Accuracy(result.model, *eval, o.threads));
      result.pruned_accuracy = step.pruned_accuracy;
      RETURN_IF_ERROR(tracker.Send(
          1.0, {{"sparsity", step.sparsity}, {"pruned_accuracy", *step.pruned_accuracy}},
          StrCat("accuracy after pruning", suffix,
                 ", before recovery: ", Fixed(*step.pruned_accuracy)),
          true));
    }
    if (step.epochs > 0) {
      RETURN_IF_ERROR(
          tracker.Begin(StrCat("recover", suffix), step.epochs * w_epoch,
                        StrCat("recovering (", o.recover, ", ", step.epochs, " epochs)", suffix)));
      ASSIGN_OR_RETURN(std::vector<PruneEpoch> curve,
                       Recover(o, model, pruner.masks(), *train, eval,
                               {.step = t,
                                .epochs = step.epochs,
                                .epoch_offset = epoch_offset,
                                .total_epochs = o.epochs,
                                .sparsity = step.sparsity},
                               tracker, &result.model));
      epoch_offset += step.epochs;
      if (!curve.empty()) step.recovered_accuracy = curve.back().eval_accuracy;
      result.curve.insert(result.curve.end(), curve.begin(), curve.end());
    }
    result.steps.push_back(step);
  }
  RETURN_IF_ERROR(tracker.Begin("evaluate pruned", w_eval, "evaluating the pruned model"));
  ASSIGN_OR_RETURN(result.after, internal::Measure(result.model, o, eval, train, &stats_after));
  RETURN_IF_ERROR(tracker.Send(1.0, {}, "", true));
  result.report = {
      {"options",
       {{"method", o.method},
        {"sparsity", o.sparsity},
        {"norm", o.norm},
        {"scope", o.scope},
        {"per_layer", o.per_layer},
        {"exclude", o.exclude},
        {"nm", o.nm},
        {"round_to", o.round_to},
        {"schedule", o.schedule},
        {"prune_steps", steps},
        {"recover", o.recover},
        {"epochs", o.epochs},
        {"batch_size", o.batch_size},
        {"lr", o.lr},
        {"optimizer", o.optimizer},
        {"weight_decay", o.weight_decay},
        {"alpha", o.alpha},
        {"temperature", o.temperature},
        {"seed", o.seed},
        {"threads", o.threads}}},
      {"before", internal::MetricsJson(result.before)},
      {"after", internal::MetricsJson(result.after)},
      {"pruned_accuracy",
       result.pruned_accuracy.has_value() ? json(*result.pruned_accuracy) : json(nullptr)},
      {"pruning", pruner.layers()},
      {"steps", internal::StepsJson(result.steps)},
      {"stats_before", stats_before},
      {"stats_after", stats_after},
      {"curve", internal::CurveJson(result.curve)}};
  return result;
}

}  // namespace mp::pipeline
