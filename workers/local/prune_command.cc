#include "workers/local/prune_command.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string_view>
#include <system_error>
#include <utility>

#include "common/file_util.h"
#include "common/status.h"
#include "common/str_cat.h"
#include "nlohmann/json.hpp"
#include "workers/engine/pipeline/prune.h"
#include "workers/local/local_context.h"

namespace mp::local {
namespace {

// INVALID_ARGUMENT naming `flag` unless `path` is empty or an existing file.
absl::Status CheckFile(const std::string& path, std::string_view flag) {
  std::error_code ec;
  if (path.empty() || std::filesystem::is_regular_file(path, ec)) return absl::OkStatus();
  return absl::InvalidArgumentError(StrCat(flag, " '", path, "': no such file"));
}

absl::Status Copy(const std::filesystem::path& from, const std::string& to) {
  ASSIGN_OR_RETURN(std::string bytes, ReadFile(from.string()));
  return AtomicWriteFile(to, bytes);
}

pipeline::PruneRecipeOptions RecipeOptions(const PruneCommandOptions& o) {
  return {.method = o.method,
          .sparsity = o.sparsity,
          .norm = o.norm,
          .scope = o.scope,
          .per_layer = o.per_layer,
          .exclude = o.exclude,
          .nm = o.nm,
          .round_to = o.round_to,
          .schedule = o.schedule,
          .prune_steps = o.prune_steps,
          .recover = o.recover,
          .epochs = o.epochs,
          .batch_size = o.batch_size,
          .lr = o.lr,
          .optimizer = o.optimizer,
          .weight_decay = o.weight_decay,
          .alpha = o.alpha,
          .temperature = o.temperature,
          .seed = o.seed,
          .threads = o.threads};
}

std::string Percent(std::optional<double> v) {
  if (!v.has_value()) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f%%", 100.0 * *v);
  return buf;
}

}  // namespace

CLI::App* AddPruneSubcommand(CLI::App& app, PruneCommandOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "prune", "Prune a model (structured, magnitude or N:M), optionally fine-tune or distill");
  cmd->add_option("--model", o.model_path, "fp32 ONNX model")->required();
  cmd->add_option("--method", o.method, "structured, magnitude or nm");
  cmd->add_option("--sparsity", o.sparsity, "Fraction of channels / weights removed, in [0, 1)");
  cmd->add_option("--norm", o.norm, "structured: filter norm, l1 or l2");
  cmd->add_option("--scope", o.scope, "magnitude: layer or global");
  cmd->add_option("--per-layer", o.per_layer, "NAME=SPARSITY override; repeatable");
  cmd->add_option("--exclude", o.exclude, "Layer left unpruned; repeatable");
  cmd->add_option("--nm", o.nm, "nm: N:M, e.g. 2:4");
  cmd->add_option("--round-to", o.round_to, "structured: kept channels rounded up to a multiple");
  cmd->add_option("--schedule", o.schedule, "oneshot, or agp (prune in --prune-steps steps)");
  cmd->add_option("--prune-steps", o.prune_steps, "agp: pruning steps (epochs divided over them)");
  cmd->add_option("-o,--output", o.output_path, "Output model")->required();
  cmd->add_option("--report", o.report_path, "JSON report");
  cmd->add_option("--data", o.data_path, "Training images (IDX, .gz, or .npy)");
  cmd->add_option("--labels", o.labels_path, "Training labels (IDX, .gz, or .npy)");
  cmd->add_option("--eval-data", o.eval_data_path, "Evaluation images");
  cmd->add_option("--eval-labels", o.eval_labels_path, "Evaluation labels");
  cmd->add_option("--recover", o.recover, "none, finetune or distill (default none)");
  cmd->add_option("--epochs", o.epochs, "Recovery epochs (>= 1)");
  cmd->add_option("--lr", o.lr, "Learning rate (cosine schedule)");
  cmd->add_option("--optimizer", o.optimizer, "sgd (momentum 0.9), adam or adamw");
  cmd->add_option("--weight-decay", o.weight_decay, "Weight decay (>= 0)");
  cmd->add_option("--batch-size", o.batch_size, "Training batch size");
  cmd->add_option("--alpha", o.alpha, "distill: weight of the KL term in [0, 1]");
  cmd->add_option("--temperature", o.temperature, "distill: softmax temperature (> 0)");
  cmd->add_option("--seed", o.seed, "Data order seed");
  cmd->add_option("--threads", o.threads, "Kernel threads");
  cmd->add_option("--limit", o.limit, "Use at most this many training samples (0: all)");
  cmd->add_option("--holdout", o.holdout,
                  "Without --eval-data: fraction of --data held out for evaluation");
  return cmd;
}

absl::Status PruneCommand(const PruneCommandOptions& o, std::ostream& out) {
  if (o.output_path.empty()) return absl::InvalidArgumentError("-o: an output path is required");
  const pipeline::PruneRecipeOptions recipe = RecipeOptions(o);
  if (absl::Status s = pipeline::ValidatePruneRecipeOptions(recipe); !s.ok()) {
    return absl::InvalidArgumentError(StrCat("--", std::string(s.message())));
  }
  if (o.data_path.empty() != o.labels_path.empty()) {
    return absl::InvalidArgumentError("--data and --labels go together");
  }
  if (o.eval_data_path.empty() != o.eval_labels_path.empty()) {
    return absl::InvalidArgumentError("--eval-data and --eval-labels go together");
  }
  if (o.recover != "none" && o.data_path.empty()) {
    return absl::InvalidArgumentError(
        StrCat("--recover ", o.recover, " needs training data: --data IMAGES --labels LABELS"));
  }
  if (o.limit < 0) return absl::InvalidArgumentError(StrCat("--limit: ", o.limit, " must be >= 0"));
  if (!(o.holdout >= 0 && o.holdout < 1)) {
    return absl::InvalidArgumentError(StrCat("--holdout: ", o.holdout, " is outside [0, 1)"));
  }
  RETURN_IF_ERROR(CheckFile(o.model_path, "--model"));
  RETURN_IF_ERROR(CheckFile(o.data_path, "--data"));
  RETURN_IF_ERROR(CheckFile(o.labels_path, "--labels"));
  RETURN_IF_ERROR(CheckFile(o.eval_data_path, "--eval-data"));
  RETURN_IF_ERROR(CheckFile(o.eval_labels_path, "--eval-labels"));
  ASSIGN_OR_RETURN(std::string dir, MakeTempDir("modelpress-prune"));
  struct Cleanup {
    std::string dir;
    ~Cleanup() { (void)RemoveAll(dir); }
  } cleanup{dir};
  LocalContext ctx(dir, o.threads, &out, "prune");
  ASSIGN_OR_RETURN(pipeline::JobResult result,
                   pipeline::RunPruneJob({.model = o.model_path,
                                          .data = o.data_path,
                                          .labels = o.labels_path,
                                          .eval_data = o.eval_data_path,
                                          .eval_labels = o.eval_labels_path,
                                          .limit = o.limit,
                                          .holdout = o.holdout,
                                          .recipe = recipe},
                                         ctx));
  nlohmann::json report;
  for (const pipeline::Artifact& a : result.artifacts) {
    if (a.name == "model") RETURN_IF_ERROR(Copy(a.path, o.output_path));
    if (a.name == "report") {
      ASSIGN_OR_RETURN(std::string text, ReadFile(a.path.string()));
      report = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (report.is_discarded()) {
        return absl::InternalError(StrCat("report '", a.path.string(), "' is not JSON"));
      }
    }
  }
  if (!o.report_path.empty()) {
    report["method"] = o.method;
    report["sparsity"] = o.sparsity;
    RETURN_IF_ERROR(AtomicWriteFile(o.report_path, report.dump(2) + "\n"));
  }
  auto pct = [](int64_t a, int64_t b) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.1f%%", b == 0 ? 0.0 : 100.0 * (1.0 - double(a) / double(b)));
    return std::string(buf);
  };
  const nlohmann::json& before = report["before"];
  const nlohmann::json& after = report["after"];
  auto get = [](const nlohmann::json& j, const char* key) { return j.value(key, int64_t{0}); };
  auto opt = [](const nlohmann::json& j, const char* key) {
    return j.contains(key) && j[key].is_number() ? std::optional<double>(double(j[key]))
                                                 : std::nullopt;
  };
  out << "wrote " << o.output_path << "\n"
      << "  macs " << get(before, "macs") << " -> " << get(after, "macs") << " (-"
      << pct(get(after, "macs"), get(before, "macs")) << ")\n"
      << "  parameter_bytes " << get(before, "parameter_bytes") << " -> "
      << get(after, "parameter_bytes") << " (-"
      << pct(get(after, "parameter_bytes"), get(before, "parameter_bytes")) << ")\n"
      << "  zero_parameters " << get(before, "zero_parameters") << " -> "
      << get(after, "zero_parameters") << "\n"
      << "  weight_sparsity " << Percent(opt(before, "sparsity")) << " -> "
      << Percent(opt(after, "sparsity")) << "\n";
  if (opt(before, "accuracy").has_value()) {
    out << "  accuracy " << Percent(opt(before, "accuracy")) << " -> "
        << Percent(opt(after, "accuracy")) << " (" << get(after, "eval_samples") << " samples)\n";
  }
  const std::optional<double> lat0 = opt(before, "latency_ms_batch1");
  const std::optional<double> lat1 = opt(after, "latency_ms_batch1");
  if (lat0.has_value() && lat1.has_value()) {
    char buf[96];
    std::snprintf(buf, sizeof(buf), "  latency_ms_batch1 %.4f -> %.4f\n", *lat0, *lat1);
    out << buf;
  }
  return absl::OkStatus();
}

}  // namespace mp::local
