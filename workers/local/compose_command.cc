#include "workers/local/compose_command.h"

#include <cstdio>
#include <filesystem>
#include <string_view>

#include "common/file_util.h"
#include "common/status.h"
#include "common/str_cat.h"
#include "nlohmann/json.hpp"
#include "workers/local/local_context.h"
#include "workers/local/recipe_flags.h"

namespace mp::local {
namespace {

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
  cmd->add_option("--model", c.model, "fp32 ONNX model")->required();
  AddTrainingDataFlags(cmd, c);
  AddPruneRecipeFlags(cmd, c.prune);
  cmd->add_option("--calib", c.calibration, "Calibration samples (default: --data)");
  cmd->add_option("--calibrator", c.ptq.calibrator, "minmax, percentile, entropy or mse");
  cmd->add_option("--activations", c.ptq.activation_scheme, "uint8_asymmetric or int8_symmetric");
  cmd->add_option("--target", c.ptq.target, "x86_avx2, x86_vnni or arm (default: this CPU)");
  cmd->add_option("--calib-samples", c.ptq.calibration_samples,
                  "Use the first N calibration samples (default 512; 0: all)");
  cmd->add_option("--latency-batch", c.ptq.latency_batches, "Batch sizes to time");
  AddQatFlags(cmd, c.qat_epochs, c.qat_lr);
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
  ASSIGN_OR_RETURN(LocalRun run, RunLocally("compose", o.threads, o.quiet ? nullptr : &log,
                                            [&](pipeline::JobContext& ctx) {
                                              return pipeline::RunComposeJob(o.compose, ctx);
                                            },
                                            {{"model", o.output_path},
                                             {"pruned_model", o.pruned_output_path},
                                             {"report", o.report_path}}));
  const nlohmann::json report =
      nlohmann::json::parse(run.report, nullptr, /*allow_exceptions=*/false);
  out << "wrote " << o.output_path << "\n";
  if (report.is_discarded() || !report.is_object()) return absl::OkStatus();
  char header[96];
  std::snprintf(header, sizeof(header), "%-22s%14s%14s%14s\n", "", "original", "pruned", "int8");
  out << header << Row(report, "accuracy", true);
  if (report["int8"].contains("accuracy_ptq")) out << Row(report, "accuracy_ptq", true);
  out << Row(report, "model_bytes", false) << Row(report, "macs", false)
      << Row(report, "parameter_bytes", false);
  for (int64_t b : o.compose.ptq.latency_batches) {
    out << Row(report, StrCat("latency_ms_batch", b), false);
  }
  return absl::OkStatus();
}

}  // namespace mp::local
