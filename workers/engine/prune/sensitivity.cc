#include "workers/engine/prune/sensitivity.h"

#include "common/status.h"
#include "common/str_cat.h"
#include "workers/engine/eval/eval.h"
#include "workers/engine/exec/session.h"
#include "workers/engine/prune/methods.h"
#include "workers/engine/prune/prune_internal.h"

namespace mp::prune {
namespace {

absl::StatusOr<double> Accuracy(ir::Model model, const data::Dataset& dataset, int64_t batch_size) {
  ASSIGN_OR_RETURN(auto session, exec::Session::Create(std::move(model)));
  ASSIGN_OR_RETURN(eval::Top1Result r, eval::EvaluateTop1(*session, dataset, batch_size));
  return r.accuracy();
}

}  // namespace

absl::StatusOr<SensitivityTable> AnalyzeSensitivity(const ir::Model& model,
                                                    const data::Dataset& dataset,
                                                    const SensitivityOptions& options) {
  for (double s : options.sparsities) RETURN_IF_ERROR(CheckSparsity(s, "sensitivity"));
  if (options.batch_size < 1) {
    return absl::InvalidArgumentError(
        StrCat("sensitivity: batch_size ", options.batch_size, " must be >= 1"));
  }
  ASSIGN_OR_RETURN(std::vector<PrunableLayer> layers, FindPrunableLayers(model.graph));
  RETURN_IF_ERROR(CheckLayerNames(layers, options.layers));
  SensitivityTable table{.sparsities = options.sparsities};
  ASSIGN_OR_RETURN(table.baseline, Accuracy(model, dataset, options.batch_size));
  for (const PrunableLayer& layer : layers) {
    if (!options.layers.empty() && !Contains(options.layers, layer.name)) continue;
    SensitivityRow row{.layer = layer.name};
    for (double s : options.sparsities) {
      ir::Model copy = model;
      if (options.method == SensitivityOptions::Method::kMagnitude) {
        std::vector<std::string> others;
        for (const PrunableLayer& l : layers) {
          if (l.name != layer.name) others.push_back(l.name);
        }
        RETURN_IF_ERROR(MagnitudePrune({.sparsity = s, .exclude = others}, &copy).status());
      } else {
        ASSIGN_OR_RETURN(
            StructuredPlan plan,
            PlanStructured(copy,
                           {.ratio = 0.0, .norm = options.norm, .per_layer = {{layer.name, s}}}));
        for (const StructuredLayerReport& r : SummarizePlan(plan)) {
          if (r.layer == layer.name && !r.skipped.empty()) row.skipped = r.skipped;
        }
        if (!row.skipped.empty()) break;
        RETURN_IF_ERROR(ApplyStructured(plan, ApplyMode::kRemove, &copy));
      }
      ASSIGN_OR_RETURN(double acc, Accuracy(std::move(copy), dataset, options.batch_size));
      row.accuracy.push_back(acc);
    }
    if (!row.skipped.empty()) row.accuracy.clear();
    table.rows.push_back(std::move(row));
  }
  return table;
}

LayerTargets TargetsWithinDrop(const SensitivityTable& table, double max_drop) {
  LayerTargets out;
  for (const SensitivityRow& row : table.rows) {
    if (!row.skipped.empty()) continue;
    double best = 0;
    for (size_t i = 0; i < row.accuracy.size(); ++i) {
      if (row.accuracy[i] >= table.baseline - max_drop) {
        best = std::max(best, table.sparsities[i]);
      }
    }
    out.emplace_back(row.layer, best);
  }
  return out;
}

}  // namespace mp::prune
