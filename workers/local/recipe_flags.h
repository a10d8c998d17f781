// Command-line flags the local training commands (prune, distill, compose) share.
#ifndef MP_WORKERS_LOCAL_RECIPE_FLAGS_H_
#define MP_WORKERS_LOCAL_RECIPE_FLAGS_H_

#include "CLI/CLI.hpp"
#include "workers/engine/pipeline/prune.h"

namespace mp::local {

// --data --labels --eval-data --eval-labels --limit --holdout onto the fields of the same
// names in a pipeline job's options (PruneJobOptions, DistillJobOptions, ComposeJobOptions).
// With `training_required` --data and --labels are required flags.
template <typename JobOptions>
void AddTrainingDataFlags(CLI::App* cmd, JobOptions& j, bool training_required = false) {
  CLI::Option* data = cmd->add_option("--data", j.data, "Training images (IDX, .gz, .npy or .pb)");
  CLI::Option* labels = cmd->add_option("--labels", j.labels, "Training labels (IDX or .npy)");
  if (training_required) {
    data->required();
    labels->required();
  }
  cmd->add_option("--eval-data", j.eval_data, "Evaluation images");
  cmd->add_option("--eval-labels", j.eval_labels, "Evaluation labels");
  cmd->add_option("--limit", j.limit, "Use at most this many training samples (0: all)");
  cmd->add_option("--holdout", j.holdout,
                  "Without --eval-data: fraction of --data held out for evaluation");
}

// The pruning and recovery flags of PruneRecipeOptions: --method --sparsity --norm --scope
// --per-layer --exclude --nm --round-to --schedule --prune-steps --recover --epochs --lr
// --optimizer --weight-decay --batch-size --alpha --temperature --seed.
void AddPruneRecipeFlags(CLI::App* cmd, pipeline::PruneRecipeOptions& p);

// Quantization-aware training: --qat-epochs N (0: none) and --qat-lr LR (0: the training
// --lr / 10) onto a recipe's qat_epochs / qat_lr.
void AddQatFlags(CLI::App* cmd, int& qat_epochs, float& qat_lr);

}  // namespace mp::local

#endif  // MP_WORKERS_LOCAL_RECIPE_FLAGS_H_
