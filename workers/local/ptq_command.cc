#include "workers/local/ptq_command.h"

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "common/file_util.h"
#include "common/status.h"
#include "common/str_cat.h"
#include "workers/local/local_context.h"

namespace mp::local {
namespace {

std::string Percent(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f%%", 100.0 * v);
  return buf;
}

}  // namespace

CLI::App* AddPtqSubcommand(CLI::App& app, PtqCommandOptions& o) {
  CLI::App* cmd = app.add_subcommand("ptq", "Post-training quantization (int8 QDQ, dynamic, fp16)");
  pipeline::PtqOptions& p = o.ptq;
  cmd->add_option("--model", p.model, "fp32 ONNX model")->required();
  cmd->add_option("--calib", p.calibration, "Calibration samples (.npy, IDX, .pb)");
  cmd->add_option("--eval", p.eval, "Evaluation samples");
  cmd->add_option("--labels", p.eval_labels, "Labels of the evaluation samples");
  cmd->add_option("--calibrator", p.calibrator, "minmax, percentile, entropy or mse");
  cmd->add_option("--percentile", p.percentile, "Percentile for --calibrator percentile");
  cmd->add_option("--activations", p.activation_scheme, "uint8_asymmetric or int8_symmetric");
  cmd->add_flag(
      "--per-tensor-weights", [&p](int64_t) { p.per_channel_weights = false; },
      "Weights per tensor instead of per channel");
  cmd->add_option("--target", p.target, "x86_avx2, x86_vnni or arm (default: this CPU)");
  cmd->add_flag("--reduce-range", p.reduce_range, "7-bit weights");
  cmd->add_option("--mode", p.mode, "static, dynamic, fp16 or bf16");
  cmd->add_option("--max-accuracy-drop", p.max_accuracy_drop,
                  "Accuracy-aware fallback: allowed drop as a fraction (0.01 = 1 point)");
  cmd->add_option("--calib-samples", p.calibration_samples, "Use the first N calibration samples");
  cmd->add_option("--eval-samples", p.eval_samples, "Use the first N evaluation samples");
  cmd->add_option("--latency-batch", p.latency_batches, "Batch sizes to time");
  cmd->add_flag(
      "--no-sensitivity", [&p](int64_t) { p.sensitivity = false; },
      "Skip the per-layer sensitivity analysis");
  cmd->add_option("--seed", p.seed, "Seed recorded in the report");
  cmd->add_option("--threads", o.threads, "Kernel threads (>= 1)")->check(CLI::Range(1, 1024));
  cmd->add_option("-o,--output", o.output_path, "Output model")->required();
  cmd->add_option("--report", o.report_path, "JSON report");
  cmd->add_flag("--quiet", o.quiet, "No progress lines");
  return cmd;
}

absl::Status PtqCommand(const PtqCommandOptions& o, std::ostream& out, std::ostream& log) {
  if (o.output_path.empty()) return absl::InvalidArgumentError("-o: an output path is required");
  if (o.threads < 1) return absl::InvalidArgumentError("--threads must be >= 1");
  ASSIGN_OR_RETURN(LocalRun run, RunLocally("ptq", o.threads, o.quiet ? nullptr : &log,
                                            [&](pipeline::JobContext& ctx) {
                                              return pipeline::RunPtq(o.ptq, ctx);
                                            },
                                            {{"model", o.output_path}, {"report", o.report_path}}));
  out << "wrote " << o.output_path << "\n";
  for (const pipeline::Metric& m : run.metrics) {
    const bool fraction = m.name.rfind("accuracy", 0) == 0 || m.name == "agreement_top1";
    out << "  " << m.name << " = " << (fraction ? Percent(m.value) : StrCat(m.value)) << "\n";
  }
  return absl::OkStatus();
}

}  // namespace mp::local
