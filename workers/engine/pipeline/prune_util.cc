#include "workers/engine/pipeline/prune_internal.h"

#include <cmath>
#include <cstdio>
#include <memory>
#include <utility>

#include "common/clock.h"
#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/eval/eval.h"
#include "workers/engine/exec/session.h"
#include "workers/engine/pipeline/recipe_fit.h"

namespace mp::pipeline::internal {

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
absl::StatusOr<BoundMasks> BindMasks(const prune::Masks& masks, train::GradGraph& graph) {
  BoundMasks out;
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

absl::Status ApplyBound(const BoundMasks& bound) {
  for (const auto& [mask, value] : bound) RETURN_IF_ERROR(prune::ApplyMaskInPlace(*mask, value));
  return absl::OkStatus();
}

train::FitOptions FitOptionsOf(const PruneRecipeOptions& o, int epochs) {
  return RecipeFitOptions({.epochs = epochs,
                           .batch_size = o.batch_size,
                           .seed = o.seed,
                           .optimizer = o.optimizer,
                           .lr = o.lr,
                           .weight_decay = o.weight_decay,
                           .threads = o.threads});
}

std::string Fixed(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.4f", v);
  return buf;
}

json CurveJson(const std::vector<PruneEpoch>& curve) {
  json out = json::array();
  for (const PruneEpoch& e : curve) {
    json j = {{"step", e.step},
              {"epoch", e.epoch},
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

json StepsJson(const std::vector<PruneStep>& steps) {
  auto opt = [](const std::optional<double>& v) {
    return v.has_value() ? json(*v) : json(nullptr);
  };
  json out = json::array();
  for (const PruneStep& s : steps) {
    out.push_back({{"step", s.step},
                   {"target", s.target},
                   {"sparsity", s.sparsity},
                   {"pruned_accuracy", opt(s.pruned_accuracy)},
                   {"recovered_accuracy", opt(s.recovered_accuracy)},
                   {"epochs", s.epochs}});
  }
  return out;
}

absl::StatusOr<double> Accuracy(const ir::Model& model, const data::Dataset& eval, int threads) {
  ASSIGN_OR_RETURN(std::unique_ptr<exec::Session> session,
                   exec::Session::Create(model, {.num_threads = threads}));
  ASSIGN_OR_RETURN(eval::Top1Result top1, eval::EvaluateTop1(*session, eval, 256));
  return top1.accuracy();
}

}  // namespace mp::pipeline::internal
