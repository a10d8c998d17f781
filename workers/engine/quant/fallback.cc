#include "workers/engine/quant/fallback.h"

#include <cmath>
#include <cstdio>
#include <utility>

#include "common/status.h"
#include "common/str_cat.h"

namespace mp::quant {
namespace {

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

absl::StatusOr<Score> Evaluate(const ir::Model& model, const data::Dataset& dataset,
                               const Reference& reference, const FallbackOptions& options) {
  ASSIGN_OR_RETURN(auto session, exec::Session::Create(model, {.num_threads = options.num_threads,
                                                               .fuse_qdq = true}));
  return ScoreAgainst(*session, dataset, reference, options.batch_size);
}

}  // namespace

absl::StatusOr<FallbackResult> AccuracyAwareFallback(const ir::Model& fp32_model,
                                                     const RangeMap& ranges,
                                                     const data::Dataset& dataset,
                                                     const Reference& reference, double fp32_metric,
                                                     const std::vector<LayerSensitivity>& ranking,
                                                     const FallbackOptions& options) {
  if (!(options.max_drop >= 0)) {
    return absl::InvalidArgumentError(StrCat("max drop must be >= 0, got ", options.max_drop));
  }
  QuantizerOptions q = options.quantizer;
  ASSIGN_OR_RETURN(QuantizeResult current, QuantizeStatic(fp32_model, ranges, q));
  ASSIGN_OR_RETURN(Score score, Evaluate(current.model, dataset, reference, options));
  FallbackResult result;
  result.steps.push_back({.layer = "", .reason = "all layers quantized", .score = score});
  size_t best_step = 0;
  QuantizeResult best = current;
  std::vector<std::string> best_fp32;
  std::vector<std::string> fp32_layers;
  const bool labels = score.accuracy >= 0;
  for (size_t r = 0; r <= ranking.size(); ++r) {
    if (fp32_metric - score.metric() <= options.max_drop) {
      result.target_met = true;
      best = std::move(current);
      best_fp32 = fp32_layers;
      best_step = result.steps.size() - 1;
      break;
    }
    if (r == ranking.size()) break;
    const LayerSensitivity& s = ranking[r];
    q.exclude.insert(s.layer);
    fp32_layers.push_back(s.layer);
    ASSIGN_OR_RETURN(current, QuantizeStatic(fp32_model, ranges, q));
    ASSIGN_OR_RETURN(score, Evaluate(current.model, dataset, reference, options));
    const std::string reason =
        StrCat("rank ", r + 1, ": quantized alone, ", labels ? "top-1 accuracy" : "agreement",
               " drops ", Fixed(100.0 * s.metric_drop, 2), " points, output SQNR ",
               Fixed(s.score.output_sqnr_db, 1), " dB");
    result.steps.push_back({.layer = s.layer, .reason = reason, .score = score});
    if (score.metric() > result.steps[best_step].score.metric()) {
      best_step = result.steps.size() - 1;
      best = current;
      best_fp32 = fp32_layers;
    }
    if (options.progress) RETURN_IF_ERROR(options.progress(double(r + 1) / double(ranking.size())));
  }
  result.quantized = std::move(best);
  result.fp32_layers = std::move(best_fp32);
  result.score = result.steps[best_step].score;
  return result;
}

}  // namespace mp::quant
