#include "workers/engine/pipeline/recipe_fit.h"

#include "common/str_cat.h"

namespace mp::pipeline {

absl::Status ValidateRecipeOptimizer(std::string_view optimizer) {
  if (optimizer == "sgd" || optimizer == "adam" || optimizer == "adamw") return absl::OkStatus();
  return absl::InvalidArgumentError(
      StrCat("optimizer '", optimizer, "': expected sgd, adam or adamw"));
}

train::FitOptions RecipeFitOptions(const RecipeTraining& t) {
  train::FitOptions fit;
  fit.epochs = t.epochs;
  fit.batch_size = t.batch_size;
  fit.seed = t.seed;
  fit.optimizer.kind = t.optimizer == "sgd"    ? train::OptimizerKind::kSgd
                       : t.optimizer == "adam" ? train::OptimizerKind::kAdam
                                               : train::OptimizerKind::kAdamW;
  fit.optimizer.lr = t.lr;
  fit.optimizer.weight_decay = t.weight_decay;
  if (t.optimizer == "sgd") fit.optimizer.momentum = 0.9f;
  fit.schedule.kind = train::ScheduleKind::kCosine;
  fit.optimizer_threads = t.threads;
  return fit;
}

}  // namespace mp::pipeline
