#include "workers/local/compose_command.h"

#include <cstdio>
#include <filesystem>
#include <string_view>

#include "common/file_util.h"
#include "common/status.h"
#include "common/str_cat.h"
#include "nlohmann/json.hpp"
#include "workers/local/local_context.h"

namespace mp::local {
namespace {

absl::Status Copy(const std::filesystem::path& from, const std::string& to) {
  ASSIGN_OR_RETURN(std::string bytes, ReadFile(from.string()));
  return AtomicWriteFile(to, bytes);
}

// One row of the comparison: "accuracy  91.20%  90.10%  89.95%".
std::string Row(const nlohmann::json& report, std::string_view key, bool percent) {
  std::string line = StrCat("  ", key);
  line.resize(std::max<size_t>(line.size() + 1, 22), ' ');
  for (const char* model : {"original", "pruned", "int8"}) {
    const nlohmann::json& m = report[model];
    char buf[40];
    if (!m.contains(std::string(key)) || !m[std::string(key)].is_number()) {
      std::snprintf(buf, sizeof(buf), "%14s", "n/a");
    } else if (percent) {
      std::snprintf(buf, sizeof(buf), "%13.2f%%", 100.0 * double(m[std::string(key)]));
    } else {
      std::snprintf(buf, sizeof(buf), "%14.6g", double(m[std::string(key)]));
    }
    line += buf;
  }
  return line + "\n";
}

}  // namespace

CLI::App* AddComposeSubcommand(CLI::App& app, ComposeCommandOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "compose", "Prune, recover (distill by default) and quantize to int8, with a comparison");
  pipeline::ComposeJobOptions& c = o.compose;
  pipeline::PruneRecipeOptions& p = c.prune;
  cmd->add_option("--model", c.model, "fp32 ONNX model")->required();
  cmd->add_option("--data", c.data, "Training images (IDX, .gz, .npy, .pb)");
  cmd->add_option("--labels", c.labels, "Training labels");
  cmd->add_option("--eval-data", c.eval_data, "Evaluation images");
  cmd->add_option("--eval-labels", c.eval_labels, "Evaluation labels");
  cmd->add_option("--limit", c.limit, "Use at most this many training samples (0: all)");
  cmd->add_option("--holdout", c.holdout,
                  "Without --eval-data: fraction of --data held out for evaluation");
  cmd->add_option("--method", p.method, "structured, magnitude or nm");
  cmd->add_option("--sparsity", p.sparsity, "Fraction of channels / weights removed, in [0, 1)");
  cmd->add_option("--norm", p.norm, "structured: filter norm, l1 or l2");
  cmd->add_option("--scope", p.scope, "magnitude: layer or global");
  cmd->add_option("--per-layer", p.per_layer, "NAME=SPARSITY override; repeatable");
  cmd->add_option("--exclude", p.exclude, "Layer left unpruned; repeatable");
  cmd->add_option("--nm", p.nm, "nm: N:M, e.g. 2:4");
  cmd->add_option("--round-to", p.round_to, "structured: kept channels rounded up to a multiple");
  cmd->add_option("--schedule", p.schedule, "oneshot, or agp (prune in --prune-steps steps)");
  cmd->add_option("--prune-steps", p.prune_steps, "agp: pruning steps");
  cmd->add_option("--recover", p.recover, "distill (default), finetune or none");
  cmd->add_option("--epochs", p.epochs, "Recovery epochs (>= 1)");
  cmd->add_option("--lr", p.lr, "Learning rate (cosine schedule)");
  cmd->add_option("--optimizer", p.optimizer, "sgd (momentum 0.9), adam or adamw");
  cmd->add_option("--weight-decay", p.weight_decay, "Weight decay (>= 0)");
  cmd->add_option("--batch-size", p.batch_size, "Training batch size");
  cmd->add_option("--alpha", p.alpha, "distill: weight of the KL term in [0, 1]");
  cmd->add_option("--temperature", p.temperature, "distill: softmax temperature (> 0)");
  cmd->add_option("--seed", p.seed, "Data order seed");
  cmd->add_option("--calib", c.calibration, "Calibration samples (default: --data)");
  cmd->add_option("--calibrator", c.ptq.calibrator, "minmax, percentile, entropy or mse");
  cmd->add_option("--activations", c.ptq.activation_scheme, "uint8_asymmetric or int8_symmetric");
  cmd->add_option("--target", c.ptq.target, "x86_avx2, x86_vnni or arm (default: this CPU)");
  cmd->add_option("--calib-samples", c.ptq.calibration_samples,
                  "Use the first N calibration samples (default 512; 0: all)");
  cmd->add_option("--latency-batch", c.ptq.latency_batches, "Batch sizes to time");
  cmd->add_option("--threads", o.threads, "Kernel threads (>= 1)")->check(CLI::Range(1, 1024));
  cmd->add_option("-o,--output", o.output_path, "Output int8 model")->required();
  cmd->add_option("--pruned-output", o.pruned_output_path, "Also write the pruned fp32 model");
  cmd->add_option("--report", o.report_path, "JSON report");
  cmd->add_flag("--quiet", o.quiet, "No progress lines");
  return cmd;
}

absl::Status ComposeCommand(const ComposeCommandOptions& o, std::ostream& out, std::ostream& log) {
  if (o.output_path.empty()) return absl::InvalidArgumentError("-o: an output path is required");
  if (o.threads < 1) return absl::InvalidArgumentError("--threads must be >= 1");
  ASSIGN_OR_RETURN(std::string dir, MakeTempDir("modelpress-compose"));
  struct Cleanup {
    std::string dir;
    ~Cleanup() { (void)RemoveAll(dir); }
  } cleanup{dir};
  LocalContext ctx(dir, o.threads, o.quiet ? nullptr : &log, "compose");
  ASSIGN_OR_RETURN(pipeline::JobResult result, pipeline::RunComposeJob(o.compose, ctx));
  nlohmann::json report;
  for (const pipeline::Artifact& a : result.artifacts) {
    if (a.name == "model") RETURN_IF_ERROR(Copy(a.path, o.output_path));
    if (a.name == "pruned_model" && !o.pruned_output_path.empty()) {
      RETURN_IF_ERROR(Copy(a.path, o.pruned_output_path));
    }
    if (a.name == "report") {
      if (!o.report_path.empty()) RETURN_IF_ERROR(Copy(a.path, o.report_path));
      ASSIGN_OR_RETURN(std::string text, ReadFile(a.path.string()));
      report = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    }
  }
  out << "wrote " << o.output_path << "\n";
  if (report.is_discarded() || !report.is_object()) return absl::OkStatus();
  char header[96];
  std::snprintf(header, sizeof(header), "%-22s%14s%14s%14s\n", "", "original", "pruned", "int8");
  out << header << Row(report, "accuracy", true) << Row(report, "model_bytes", false)
      << Row(report, "macs", false) << Row(report, "parameter_bytes", false);
  for (int64_t b : o.compose.ptq.latency_batches) {
    out << Row(report, StrCat("latency_ms_batch", b), false);
  }
  return absl::OkStatus();
}

}  // namespace mp::local
