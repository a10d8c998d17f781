#include "workers/local/prune_command.h"

#include <cmath>
#include <cstdio>
#include <optional>
#include <string_view>
#include <utility>

#include "common/file_util.h"
#include "common/status.h"
#include "common/str_cat.h"
#include "nlohmann/json.hpp"
#include "workers/engine/data/dataset_io.h"
#include "workers/engine/onnx/onnx.h"
#include "workers/engine/pipeline/prune.h"

namespace mp::local {
namespace {

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Samples as float32 [N, 1, H, W] when the file holds [N, H, W] images.
absl::StatusOr<data::Dataset> LoadData(const std::string& images, const std::string& labels,
                                       int64_t limit, std::string_view flag) {
  absl::StatusOr<data::Dataset> loaded;
  if (EndsWith(images, ".npy")) {
    loaded = data::LoadNpyDataset(images, labels, {.limit = limit});
    if (loaded.ok() && loaded->samples().dtype() != tensor::DType::kFloat32) {
      const float divisor = loaded->samples().dtype() == tensor::DType::kUint8 ? 255.0f : 1.0f;
      loaded = loaded->ToFloat32(divisor);
    }
    if (loaded.ok() && loaded->sample_dims().size() == 2) {
      std::vector<int64_t> dims = loaded->sample_dims();
      dims.insert(dims.begin(), 1);
      loaded = loaded->WithSampleShape(dims);
    }
  } else {
    loaded = data::LoadIdxDataset(images, labels, {.limit = limit});
  }
  if (!loaded.ok()) return Annotate(loaded.status(), StrCat(flag, " '", images, "'"));
  return loaded;
}

absl::StatusOr<data::Dataset> Rows(const data::Dataset& ds, int64_t begin, int64_t end) {
  data::Batch b = ds.Slice(begin, end);
  return data::Dataset::Make(b.inputs, b.labels);
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
  ASSIGN_OR_RETURN(ir::Model model, onnx::ImportModelFile(o.model_path));
  std::optional<data::Dataset> train, eval;
  if (!o.data_path.empty()) {
    ASSIGN_OR_RETURN(train,
                     LoadData(o.data_path, o.labels_path, o.limit == 0 ? -1 : o.limit, "--data"));
  }
  if (!o.eval_data_path.empty()) {
    ASSIGN_OR_RETURN(eval, LoadData(o.eval_data_path, o.eval_labels_path, -1, "--eval-data"));
  } else if (train.has_value() && o.holdout > 0) {
    const int64_t n = train->size();
    const int64_t held = static_cast<int64_t>(std::llround(o.holdout * double(n)));
    if (held > 0 && held < n) {
      ASSIGN_OR_RETURN(eval, Rows(*train, n - held, n));
      ASSIGN_OR_RETURN(train, Rows(*train, 0, n - held));
    }
  }
  ASSIGN_OR_RETURN(
      pipeline::PruneRecipeResult result,
      pipeline::RunPrune(model, recipe, train ? &*train : nullptr, eval ? &*eval : nullptr,
                         [&](const std::string& line) { out << line << "\n"; }));
  RETURN_IF_ERROR(onnx::ExportModelFile(result.model, o.output_path));
  if (!o.report_path.empty()) {
    nlohmann::json report = result.report;
    report["model"] = o.model_path;
    report["method"] = o.method;
    report["sparsity"] = o.sparsity;
    RETURN_IF_ERROR(AtomicWriteFile(o.report_path, report.dump(2) + "\n"));
  }
  auto pct = [](int64_t a, int64_t b) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.1f%%", b == 0 ? 0.0 : 100.0 * (1.0 - double(a) / double(b)));
    return std::string(buf);
  };
  const pipeline::PruneModelMetrics& before = result.before;
  const pipeline::PruneModelMetrics& after = result.after;
  out << "wrote " << o.output_path << "\n"
      << "  macs " << before.macs << " -> " << after.macs << " (-" << pct(after.macs, before.macs)
      << ")\n"
      << "  parameter_bytes " << before.parameter_bytes << " -> " << after.parameter_bytes << " (-"
      << pct(after.parameter_bytes, before.parameter_bytes) << ")\n"
      << "  zero_parameters " << before.zero_parameters << " -> " << after.zero_parameters << "\n"
      << "  weight_sparsity " << Percent(before.sparsity) << " -> " << Percent(after.sparsity)
      << "\n";
  if (before.accuracy.has_value()) {
    out << "  accuracy " << Percent(before.accuracy) << " -> " << Percent(after.accuracy) << " ("
        << after.eval_samples << " samples)\n";
  }
  if (before.latency_ms.has_value() && after.latency_ms.has_value()) {
    char buf[96];
    std::snprintf(buf, sizeof(buf), "  latency_ms_batch1 %.4f -> %.4f\n", *before.latency_ms,
                  *after.latency_ms);
    out << buf;
  }
  return absl::OkStatus();
}

}  // namespace mp::local
