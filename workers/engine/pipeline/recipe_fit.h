// The training settings every training recipe (prune recovery, distill, compose) exposes, and
// the train::FitOptions they map to.
#ifndef MP_WORKERS_ENGINE_PIPELINE_RECIPE_FIT_H_
#define MP_WORKERS_ENGINE_PIPELINE_RECIPE_FIT_H_

#include <cstdint>
#include <string_view>

#include "absl/status/status.h"
#include "workers/engine/train/fit.h"

namespace mp::pipeline {

struct RecipeTraining {
  int epochs = 1;
  int64_t batch_size = 64;
  uint64_t seed = 0;           // data order, dropout
  std::string_view optimizer;  // "sgd" (momentum 0.9) | "adam" | "adamw"
  float lr = 1e-3f;
  float weight_decay = 0.0f;
  int threads = 1;  // optimizer threads
};

// OK, or INVALID_ARGUMENT "optimizer 'x': expected sgd, adam or adamw".
absl::Status ValidateRecipeOptimizer(std::string_view optimizer);

// FitOptions with the optimizer at `lr` and a cosine schedule over the whole run (no
// warm-up); everything else (input name, evaluation, clock) at FitOptions' defaults.
train::FitOptions RecipeFitOptions(const RecipeTraining& t);

}  // namespace mp::pipeline

#endif  // MP_WORKERS_ENGINE_PIPELINE_RECIPE_FIT_H_
