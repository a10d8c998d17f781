#include "workers/engine/pipeline/prune.h"

#include <cmath>
#include <cstdio>
#include <memory>
#include <utility>

#include "common/clock.h"
#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/distill/distill.h"
#include "workers/engine/eval/eval.h"
#include "workers/engine/exec/session.h"
#include "workers/engine/prune/prune.h"
#include "workers/engine/train/train.h"

namespace mp::pipeline {
namespace {

using nlohmann::json;

absl::StatusOr<prune::LayerTargets> ParsePerLayer(const std::vector<std::string>& items) {
  prune::LayerTargets out;
  for (const std::string& item : items) {
    const size_t eq = item.rfind('=');
    double s = 0;
    char extra = 0;
    if (eq == std::string::npos || eq == 0 ||
        std::sscanf(item.c_str() + eq + 1, "%lf%c", &s, &extra) != 1) {
      return absl::InvalidArgumentError(
          StrCat("per-layer '", item, "': expected NAME=SPARSITY, e.g. conv1=0.3"));
    }
    out.emplace_back(item.substr(0, eq), s);
  }
  return out;
}

absl::StatusOr<std::pair<int, int>> ParseNm(const std::string& text) {
  int n = 0, m = 0;
  char extra = 0;
  if (std::sscanf(text.c_str(), "%d:%d%c", &n, &m, &extra) != 2) {
    return absl::InvalidArgumentError(StrCat("nm '", text, "': expected N:M, e.g. 2:4"));
  }
  return std::make_pair(n, m);
}

json MaskJson(const prune::MaskResult& r) {
  json layers = json::array();
  for (const prune::LayerSparsity& l : r.layers) {
    layers.push_back({{"layer", l.layer},
                      {"weights", l.weights},
                      {"pruned", l.pruned},
                      {"sparsity", l.sparsity()},
                      {"skipped", l.skipped}});
  }
  return {
      {"weights", r.weights}, {"pruned", r.pruned}, {"sparsity", r.sparsity()}, {"layers", layers}};
}

json StatsJson(const prune::ModelStats& s) {
  json layers = json::array();
  for (const prune::LayerStats& l : s.layers) {
    layers.push_back({{"layer", l.layer},
                      {"op_type", l.op_type},
                      {"macs", l.macs},
                      {"weights", l.weights},
                      {"sparsity", l.sparsity()}});
  }
  return {{"macs", s.macs},
          {"parameters", s.parameters},
          {"parameter_bytes", s.parameter_bytes},
          {"zero_parameters", s.zero_parameters},
          {"layers", layers}};
}

struct Pruned {
  json layers;
  prune::Masks masks;  // unstructured / N:M only
};

// Runs the chosen method on `model`.
absl::StatusOr<Pruned> ApplyMethod(const PruneRecipeOptions& o, ir::Model* model) {
  ASSIGN_OR_RETURN(prune::LayerTargets per_layer, ParsePerLayer(o.per_layer));
  if (o.method == "structured") {
    ASSIGN_OR_RETURN(
        prune::StructuredPlan plan,
        prune::PlanStructured(*model, {.ratio = o.sparsity,
                                       .norm = o.norm == "l1" ? prune::Norm::kL1 : prune::Norm::kL2,
                                       .round_to = o.round_to,
                                       .per_layer = per_layer,
                                       .exclude = o.exclude}));
    RETURN_IF_ERROR(prune::ApplyStructured(plan, prune::ApplyMode::kRemove, model));
    json layers = json::array();
    for (const prune::StructuredLayerReport& r : prune::SummarizePlan(plan)) {
      layers.push_back(
          {{"layer", r.layer}, {"channels", r.channels}, {"kept", r.kept}, {"skipped", r.skipped}});
    }
    return Pruned{json{{"layers", layers}}, {}};
  }
  if (o.method == "magnitude") {
    ASSIGN_OR_RETURN(prune::MaskResult r,
                     prune::MagnitudePrune({.scope = o.scope == "layer" ? prune::Scope::kPerLayer
                                                                        : prune::Scope::kGlobal,
                                            .sparsity = o.sparsity,
                                            .per_layer = per_layer,
                                            .exclude = o.exclude},
                                           model));
    return Pruned{MaskJson(r), std::move(r.masks)};
  }
  ASSIGN_OR_RETURN(auto nm, ParseNm(o.nm));
  ASSIGN_OR_RETURN(prune::MaskResult r,
                   prune::NmPrune({.n = nm.first, .m = nm.second, .exclude = o.exclude}, model));
  return Pruned{MaskJson(r), std::move(r.masks)};
}

absl::StatusOr<PruneModelMetrics> Measure(const ir::Model& model, const PruneRecipeOptions& o,
                                          const data::Dataset* eval, const data::Dataset* any,
                                          json* stats_json) {
  PruneModelMetrics m;
  ASSIGN_OR_RETURN(prune::ModelStats stats, prune::ComputeStats(model));
  *stats_json = StatsJson(stats);
  m.macs = stats.macs;
  m.parameters = stats.parameters;
  m.parameter_bytes = stats.parameter_bytes;
  m.zero_parameters = stats.zero_parameters;
  int64_t weights = 0, zeros = 0;
  for (const prune::LayerStats& l : stats.layers) {
    weights += l.weights;
    zeros += l.zeros;
  }
  m.sparsity = weights == 0 ? 0.0 : double(zeros) / double(weights);
  if (eval == nullptr && (any == nullptr || o.latency_iterations == 0)) return m;
  ASSIGN_OR_RETURN(std::unique_ptr<exec::Session> session,
                   exec::Session::Create(model, {.num_threads = o.threads}));
  if (eval != nullptr && eval->has_labels()) {
    ASSIGN_OR_RETURN(eval::Top1Result top1, eval::EvaluateTop1(*session, *eval, 256));
    m.accuracy = top1.accuracy();
    m.eval_samples = top1.samples;
  }
  const data::Dataset* source = eval != nullptr ? eval : any;
  if (source != nullptr && source->size() > 0 && o.latency_iterations > 0) {
    data::Batch one = source->Slice(0, 1);
    ASSIGN_OR_RETURN(eval::LatencyStats lat,
                     eval::MeasureLatency(*session, one.inputs,
                                          {.warmup = 3, .iterations = o.latency_iterations},
                                          SystemClock::Get()));
    m.latency_ms = lat.p50_ms;
  }
  return m;
}

json MetricsJson(const PruneModelMetrics& m) {
  json j = {{"macs", m.macs},
            {"parameters", m.parameters},
            {"parameter_bytes", m.parameter_bytes},
            {"zero_parameters", m.zero_parameters},
            {"sparsity", m.sparsity},
            {"eval_samples", m.eval_samples}};
  j["accuracy"] = m.accuracy.has_value() ? json(*m.accuracy) : json(nullptr);
  j["latency_ms_batch1"] = m.latency_ms.has_value() ? json(*m.latency_ms) : json(nullptr);
  return j;
}

// Pointers to the trainer's tensors for each mask (by weight name).
absl::StatusOr<std::vector<std::pair<const tensor::Tensor*, tensor::Tensor*>>> BindMasks(
    const prune::Masks& masks, train::GradGraph& graph) {
  std::vector<std::pair<const tensor::Tensor*, tensor::Tensor*>> out;
  for (const prune::LayerMask& mask : masks) {
    tensor::Tensor* value = nullptr;
    for (train::Parameter& p : graph.parameters()) {
      if (p.name == mask.weight) value = &p.value;
    }
    if (value == nullptr) {
      return absl::FailedPreconditionError(
          StrCat("layer '", mask.layer, "': weight '", mask.weight,
                 "' is not a trainable parameter, so its mask cannot be kept during recovery"));
    }
    out.emplace_back(&mask.mask, value);
  }
  return out;
}

absl::Status ApplyBound(
    const std::vector<std::pair<const tensor::Tensor*, tensor::Tensor*>>& bound) {
  for (const auto& [mask, value] : bound) RETURN_IF_ERROR(prune::ApplyMaskInPlace(*mask, value));
  return absl::OkStatus();
}

train::FitOptions FitOptionsOf(const PruneRecipeOptions& o) {
  train::FitOptions fit;
  fit.epochs = o.epochs;
  fit.batch_size = o.batch_size;
  fit.seed = o.seed;
  fit.optimizer.kind = o.optimizer == "sgd"    ? train::OptimizerKind::kSgd
                       : o.optimizer == "adam" ? train::OptimizerKind::kAdam
                                               : train::OptimizerKind::kAdamW;
  fit.optimizer.lr = o.lr;
  fit.optimizer.weight_decay = o.weight_decay;
  if (o.optimizer == "sgd") fit.optimizer.momentum = 0.9f;
  fit.schedule.kind = train::ScheduleKind::kCosine;
  fit.optimizer_threads = o.threads;
  return fit;
}

PruneEpoch EpochOf(int epoch, double loss, double accuracy,
                   const std::optional<train::EvalMetrics>& val, float lr, double seconds) {
  PruneEpoch e{
      .epoch = epoch, .train_loss = loss, .train_accuracy = accuracy, .lr = lr, .seconds = seconds};
  if (val.has_value()) {
    e.eval_loss = val->loss;
    e.eval_accuracy = val->accuracy;
  }
  return e;
}

std::string Fixed(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.4f", v);
  return buf;
}

// Trains `pruned` in place as options.recover says; returns the per-epoch curve.
absl::StatusOr<std::vector<PruneEpoch>> Recover(const PruneRecipeOptions& o,
                                                const ir::Model& original, const Pruned& pruned,
                                                const data::Dataset& train,
                                                const data::Dataset* eval,
                                                const PruneProgress& progress, ir::Model* model) {
  ASSIGN_OR_RETURN(std::unique_ptr<train::GradGraph> graph,
                   train::GradGraph::Create(*model, {.num_threads = o.threads, .seed = o.seed}));
  ASSIGN_OR_RETURN(auto bound, BindMasks(pruned.masks, *graph));
  RETURN_IF_ERROR(ApplyBound(bound));
  const data::Dataset* val = o.eval_each_epoch ? eval : nullptr;
  if (val != nullptr && !val->has_labels()) val = nullptr;
  std::vector<PruneEpoch> curve;
  auto report = [&](const PruneEpoch& e) {
    if (!progress) return;
    std::string line = StrCat("epoch ", e.epoch + 1, "/", o.epochs, ": loss ", Fixed(e.train_loss),
                              " acc ", Fixed(e.train_accuracy));
    if (e.eval_accuracy.has_value()) line += StrCat(" eval_acc ", Fixed(*e.eval_accuracy));
    progress(line);
  };
  const train::FitOptions fit = FitOptionsOf(o);
  if (o.recover == "finetune") {
    ASSIGN_OR_RETURN(
        train::FitResult r,
        train::Fit(*graph, train, val, fit, [&](const train::FitProgress& p) -> absl::Status {
          if (p.event == train::FitProgress::Event::kStep) {
            return ApplyBound(bound);
          }
          curve.push_back(EpochOf(p.epoch, p.loss, p.accuracy, p.val, p.lr, 0));
          report(curve.back());
          return absl::OkStatus();
        }));
    for (size_t i = 0; i < curve.size() && i < r.epochs.size(); ++i) {
      curve[i].seconds = r.epochs[i].seconds;
    }
  } else {
    ASSIGN_OR_RETURN(distill::DistillResult r,
                     distill::Distill(*graph, original, train, val,
                                      {.alpha = o.alpha,
                                       .temperature = o.temperature,
                                       .fit = fit,
                                       .teacher_threads = o.threads},
                                      [&](const distill::DistillProgress& p) -> absl::Status {
                                        if (p.event == train::FitProgress::Event::kStep) {
                                          return ApplyBound(bound);
                                        }
                                        curve.push_back(EpochOf(p.epoch, p.loss.total, p.accuracy,
                                                                p.val, p.lr, 0));
                                        report(curve.back());
                                        return absl::OkStatus();
                                      }));
    for (size_t i = 0; i < curve.size() && i < r.epochs.size(); ++i) {
      curve[i].seconds = r.epochs[i].seconds;
    }
  }
  RETURN_IF_ERROR(ApplyBound(bound));
  ASSIGN_OR_RETURN(*model, graph->ExportModel());
  // Exactly the pruned zeros in the artifact, whatever the export does.
  RETURN_IF_ERROR(prune::ApplyMasks(pruned.masks, model));
  return curve;
}

json CurveJson(const std::vector<PruneEpoch>& curve) {
  json out = json::array();
  for (const PruneEpoch& e : curve) {
    json j = {{"epoch", e.epoch},
              {"train_loss", e.train_loss},
              {"train_accuracy", e.train_accuracy},
              {"lr", e.lr},
              {"seconds", e.seconds}};
    j["eval_loss"] = e.eval_loss.has_value() ? json(*e.eval_loss) : json(nullptr);
    j["eval_accuracy"] = e.eval_accuracy.has_value() ? json(*e.eval_accuracy) : json(nullptr);
    out.push_back(j);
  }
  return out;
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
  RETURN_IF_ERROR(ParsePerLayer(o.per_layer).status());
  if (o.method == "nm") RETURN_IF_ERROR(ParseNm(o.nm).status());
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
  if (o.optimizer != "sgd" && o.optimizer != "adam" && o.optimizer != "adamw") {
    return bad("optimizer '", o.optimizer, "': expected sgd, adam or adamw");
  }
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
  if (o.recover != "none") {
    if (train == nullptr) {
      return absl::InvalidArgumentError(
          StrCat("recover '", o.recover, "' needs labelled training data (data/labels)"));
    }
    RETURN_IF_ERROR(train::CheckLabelled(*train, "training dataset"));
  }
  auto say = [&](const std::string& line) {
    if (progress) progress(line);
  };
  PruneRecipeResult result;
  json stats_before, stats_after;
  say("evaluating the original model");
  ASSIGN_OR_RETURN(result.before, Measure(model, o, eval, train, &stats_before));
  result.model = model;
  say(StrCat("pruning (", o.method, ", sparsity ", o.sparsity, ")"));
  ASSIGN_OR_RETURN(Pruned pruned, ApplyMethod(o, &result.model));
  if (o.recover != "none") {
    if (eval != nullptr && eval->has_labels()) {
      ASSIGN_OR_RETURN(std::unique_ptr<exec::Session> session,
                       exec::Session::Create(result.model, {.num_threads = o.threads}));
      ASSIGN_OR_RETURN(eval::Top1Result top1, eval::EvaluateTop1(*session, *eval, 256));
      result.pruned_accuracy = top1.accuracy();
      say(StrCat("accuracy after pruning, before recovery: ", Fixed(top1.accuracy())));
    }
    say(StrCat("recovering (", o.recover, ", ", o.epochs, " epochs)"));
    ASSIGN_OR_RETURN(result.curve,
                     Recover(o, model, pruned, *train, eval, progress, &result.model));
  }
  say("evaluating the pruned model");
  ASSIGN_OR_RETURN(result.after, Measure(result.model, o, eval, train, &stats_after));
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
      {"before", MetricsJson(result.before)},
      {"after", MetricsJson(result.after)},
      {"pruned_accuracy",
       result.pruned_accuracy.has_value() ? json(*result.pruned_accuracy) : json(nullptr)},
      {"pruning", pruned.layers},
      {"stats_before", stats_before},
      {"stats_after", stats_after},
      {"curve", CurveJson(result.curve)}};
  return result;
}

}  // namespace mp::pipeline
