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
#include "workers/local/recipe_flags.h"

namespace mp::local {
namespace {

// INVALID_ARGUMENT naming `flag` unless `path` is empty or an existing file.
absl::Status CheckFile(const std::filesystem::path& path, std::string_view flag) {
  std::error_code ec;
  if (path.empty() || std::filesystem::is_regular_file(path, ec)) return absl::OkStatus();
  return absl::InvalidArgumentError(StrCat(flag, " '", path.string(), "': no such file"));
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
  cmd->add_option("--model", o.job.model, "fp32 ONNX model")->required();
  AddPruneRecipeFlags(cmd, o.job.recipe);
  cmd->add_option("-o,--output", o.output_path, "Output model")->required();
  cmd->add_option("--report", o.report_path, "JSON report");
  AddTrainingDataFlags(cmd, o.job);
  cmd->add_option("--threads", o.job.recipe.threads, "Kernel threads");
  return cmd;
}

absl::Status PruneCommand(const PruneCommandOptions& o, std::ostream& out) {
  if (o.output_path.empty()) return absl::InvalidArgumentError("-o: an output path is required");
  const pipeline::PruneJobOptions& job = o.job;
  const pipeline::PruneRecipeOptions& r = job.recipe;
  if (absl::Status s = pipeline::ValidatePruneRecipeOptions(r); !s.ok()) {
    return absl::InvalidArgumentError(StrCat("--", std::string(s.message())));
  }
  if (job.data.empty() != job.labels.empty()) {
    return absl::InvalidArgumentError("--data and --labels go together");
  }
  if (job.eval_data.empty() != job.eval_labels.empty()) {
    return absl::InvalidArgumentError("--eval-data and --eval-labels go together");
  }
  if (r.recover != "none" && job.data.empty()) {
    return absl::InvalidArgumentError(
        StrCat("--recover ", r.recover, " needs training data: --data IMAGES --labels LABELS"));
  }
  if (job.limit < 0)
    return absl::InvalidArgumentError(StrCat("--limit: ", job.limit, " must be >= 0"));
  if (!(job.holdout >= 0 && job.holdout < 1)) {
    return absl::InvalidArgumentError(StrCat("--holdout: ", job.holdout, " is outside [0, 1)"));
  }
  RETURN_IF_ERROR(CheckFile(job.model, "--model"));
  RETURN_IF_ERROR(CheckFile(job.data, "--data"));
  RETURN_IF_ERROR(CheckFile(job.labels, "--labels"));
  RETURN_IF_ERROR(CheckFile(job.eval_data, "--eval-data"));
  RETURN_IF_ERROR(CheckFile(job.eval_labels, "--eval-labels"));
  ASSIGN_OR_RETURN(LocalRun run, RunLocally("prune", r.threads, &out,
                                            [&](pipeline::JobContext& ctx) {
                                              return pipeline::RunPruneJob(job, ctx);
                                            },
                                            {{"model", o.output_path}}));
  nlohmann::json report = nlohmann::json::parse(run.report, nullptr, /*allow_exceptions=*/false);
  if (report.is_discarded()) return absl::InternalError("the prune report is not JSON");
  if (!o.report_path.empty()) {
    report["method"] = r.method;
    report["sparsity"] = r.sparsity;
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
