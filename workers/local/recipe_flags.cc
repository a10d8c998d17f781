#include "workers/local/recipe_flags.h"

namespace mp::local {

void AddPruneRecipeFlags(CLI::App* cmd, pipeline::PruneRecipeOptions& p) {
  cmd->add_option("--method", p.method, "structured, magnitude or nm");
  cmd->add_option("--sparsity", p.sparsity, "Fraction of channels / weights removed, in [0, 1)");
  cmd->add_option("--norm", p.norm, "structured: filter norm, l1 or l2");
  cmd->add_option("--scope", p.scope, "magnitude: layer or global");
  cmd->add_option("--per-layer", p.per_layer, "NAME=SPARSITY override; repeatable");
  cmd->add_option("--exclude", p.exclude, "Layer left unpruned; repeatable");
  cmd->add_option("--nm", p.nm, "nm: N:M, e.g. 2:4");
  cmd->add_option("--round-to", p.round_to, "structured: kept channels rounded up to a multiple");
  cmd->add_option("--schedule", p.schedule, "oneshot, or agp (prune in --prune-steps steps)");
  cmd->add_option("--prune-steps", p.prune_steps, "agp: pruning steps (epochs divided over them)");
  cmd->add_option("--recover", p.recover, "none, finetune or distill");
  cmd->add_option("--epochs", p.epochs, "Recovery epochs (>= 1)");
  cmd->add_option("--lr", p.lr, "Learning rate (cosine schedule)");
  cmd->add_option("--optimizer", p.optimizer, "sgd (momentum 0.9), adam or adamw");
  cmd->add_option("--weight-decay", p.weight_decay, "Weight decay (>= 0)");
  cmd->add_option("--batch-size", p.batch_size, "Training batch size");
  cmd->add_option("--alpha", p.alpha, "distill: weight of the KL term in [0, 1]");
  cmd->add_option("--temperature", p.temperature, "distill: softmax temperature (> 0)");
  cmd->add_option("--seed", p.seed, "Data order seed");
}

void AddQatFlags(CLI::App* cmd, int& qat_epochs, float& qat_lr) {
  cmd->add_option("--qat-epochs", qat_epochs,
                  "Quantization-aware training epochs before int8 quantization (0: none)");
  cmd->add_option("--qat-lr", qat_lr, "QAT learning rate (0: --lr / 10)");
}

}  // namespace mp::local
