// The pruning steps of the prune recipe (prune_internal.h Pruner; prune.h "Schedule").
#include <algorithm>
#include <map>
#include <utility>

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/pipeline/prune_internal.h"

namespace mp::pipeline::internal {
namespace {

using nlohmann::json;

// Every mask of `previous` ANDed into `next` (by weight name; masks only `previous` has are
// appended), so pruned weights stay pruned.
void GrowMasks(const prune::Masks& previous, prune::Masks* next) {
  for (const prune::LayerMask& old : previous) {
    auto it = std::find_if(next->begin(), next->end(),
                           [&](const prune::LayerMask& m) { return m.weight == old.weight; });
    if (it == next->end()) {
      next->push_back(old);
      continue;
    }
    const uint8_t* a = old.mask.data<uint8_t>();
    uint8_t* b = it->mask.mutable_data<uint8_t>();
    for (int64_t i = 0; i < it->mask.num_elements(); ++i) b[i] = (a[i] != 0 && b[i] != 0) ? 1 : 0;
  }
}

// Removal ratio turning a kept fraction (1 - before) into (1 - after).
double StepRatio(double before, double after) {
  return std::clamp(1.0 - (1.0 - after) / (1.0 - before), 0.0, 0.999999);
}

}  // namespace

absl::StatusOr<Pruner> Pruner::Create(const PruneRecipeOptions& o, const ir::Model& original) {
  Pruner p;
  p.o_ = o;
  ASSIGN_OR_RETURN(p.per_layer_, ParsePerLayer(o.per_layer));
  double final_sparsity = o.sparsity;
  if (o.method == "nm") {
    ASSIGN_OR_RETURN(p.nm_, ParseNm(o.nm));
    if (p.nm_.first < 1 || p.nm_.second < 1 || p.nm_.first > p.nm_.second) {
      return absl::InvalidArgumentError(
          StrCat("nm '", o.nm, "': expected 1 <= N <= M (N of every M weights kept)"));
    }
    final_sparsity = 1.0 - double(p.nm_.first) / double(p.nm_.second);
  }
  p.schedule_ = {.kind = o.schedule == "agp" ? prune::Schedule::Kind::kPolynomial
                                             : prune::Schedule::Kind::kOneShot,
                 .initial = 0.0,
                 .final = final_sparsity,
                 .steps = o.schedule == "agp" ? o.prune_steps : 1,
                 .power = 3.0};
  RETURN_IF_ERROR(prune::ValidateSchedule(p.schedule_));
  if (o.method == "nm" && p.steps() > 1) {
    ir::Model copy = original;
    ASSIGN_OR_RETURN(
        prune::MaskResult r,
        prune::NmPrune({.n = p.nm_.first, .m = p.nm_.second, .exclude = o.exclude}, &copy));
    p.nm_exclude_ = o.exclude;
    for (const prune::LayerSparsity& l : r.layers) {
      if (!l.skipped.empty()) p.nm_exclude_.push_back(l.layer);
    }
  }
  return p;
}

absl::StatusOr<double> Pruner::Target(int step) const { return prune::SparsityAt(schedule_, step); }

absl::StatusOr<PruneStep> Pruner::Apply(int step, ir::Model* model) {
  ASSIGN_OR_RETURN(const double target, Target(step));
  if (o_.method == "structured") return ApplyStructured(step, target, model);
  return ApplyMasked(step, target, model);
}

absl::StatusOr<PruneStep> Pruner::ApplyStructured(int step, double target, ir::Model* model) {
  // Targets are of the original channels; this step removes the ratio of the current ones
  // that takes the kept fraction from (1 - previous target) to (1 - target).
  double previous = 0;
  if (step > 0) {
    ASSIGN_OR_RETURN(previous, Target(step - 1));
  }
  prune::LayerTargets per_layer;
  if (!per_layer_.empty()) {
    ASSIGN_OR_RETURN(prune::LayerTargets now, prune::LayerTargetsAt(schedule_, per_layer_, step));
    prune::LayerTargets before;
    if (step > 0) {
      ASSIGN_OR_RETURN(before, prune::LayerTargetsAt(schedule_, per_layer_, step - 1));
    }
    for (size_t i = 0; i < now.size(); ++i) {
      const double b = step > 0 && i < before.size() ? before[i].second : 0.0;
      per_layer.emplace_back(now[i].first, StepRatio(b, now[i].second));
    }
  }
  ASSIGN_OR_RETURN(
      prune::StructuredPlan plan,
      prune::PlanStructured(*model, {.ratio = StepRatio(previous, target),
                                     .norm = o_.norm == "l1" ? prune::Norm::kL1 : prune::Norm::kL2,
                                     .round_to = o_.round_to,
                                     .per_layer = per_layer,
                                     .exclude = o_.exclude}));
  RETURN_IF_ERROR(prune::ApplyStructured(plan, prune::ApplyMode::kRemove, model));
  json layers = json::array();
  std::map<std::string, int64_t> kept;
  for (const prune::StructuredLayerReport& r : prune::SummarizePlan(plan)) {
    layers.push_back(
        {{"layer", r.layer}, {"channels", r.channels}, {"kept", r.kept}, {"skipped", r.skipped}});
    kept[r.layer] = r.kept;
    if (step == 0 && r.skipped.empty()) channels_.emplace_back(r.layer, r.channels);
  }
  layers_ = json{{"layers", layers}};
  int64_t total = 0, remaining = 0;
  for (const auto& [layer, channels] : channels_) {
    total += channels;
    remaining += kept.count(layer) != 0 ? kept[layer] : channels;
  }
  return PruneStep{.step = step,
                   .target = target,
                   .sparsity = total == 0 ? 0.0 : 1.0 - double(remaining) / double(total)};
}

absl::StatusOr<PruneStep> Pruner::ApplyMasked(int step, double target, ir::Model* model) {
  prune::MaskResult r;
  const bool last = step + 1 >= steps();
  if (o_.method == "nm" && last) {
    ASSIGN_OR_RETURN(
        r, prune::NmPrune({.n = nm_.first, .m = nm_.second, .exclude = o_.exclude}, model));
  } else if (o_.method == "nm") {
    // Intermediate N:M step: per-layer magnitude masks over the layers N:M will prune.
    ASSIGN_OR_RETURN(
        r,
        prune::MagnitudePrune(
            {.scope = prune::Scope::kPerLayer, .sparsity = target, .exclude = nm_exclude_}, model));
  } else {
    ASSIGN_OR_RETURN(prune::LayerTargets per_layer,
                     prune::LayerTargetsAt(schedule_, per_layer_, step));
    ASSIGN_OR_RETURN(
        r, prune::MagnitudePrune(
               {.scope = o_.scope == "layer" ? prune::Scope::kPerLayer : prune::Scope::kGlobal,
                .sparsity = target,
                .per_layer = per_layer,
                .exclude = o_.exclude},
               model));
  }
  GrowMasks(masks_, &r.masks);
  RETURN_IF_ERROR(prune::ApplyMasks(r.masks, model));
  masks_ = std::move(r.masks);
  // Counts after growing.
  r.pruned = 0;
  for (prune::LayerSparsity& l : r.layers) {
    for (const prune::LayerMask& m : masks_) {
      if (m.layer == l.layer) l.pruned = prune::CountPruned(m.mask);
    }
    r.pruned += l.pruned;
  }
  layers_ = MaskJson(r);
  return PruneStep{.step = step, .target = target, .sparsity = r.sparsity()};
}

}  // namespace mp::pipeline::internal
