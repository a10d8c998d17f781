#include "workers/local/distill_command.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <utility>

#include "common/file_util.h"
#include "common/status.h"
#include "common/str_cat.h"
#include "workers/local/local_context.h"
#include "workers/local/recipe_flags.h"

namespace mp::local {
namespace {

// "batch_size: 0 must be >= 1" -> "--batch-size: 0 must be >= 1"; "features[1]..." ->
// "--feature 2...". Other messages are returned as they are.
absl::Status AsFlagError(const absl::Status& s) {
  std::string msg(s.message());
  if (msg.rfind("features[", 0) == 0) {
    const size_t close = msg.find(']');
    const int index = std::atoi(msg.c_str() + 9);
    return absl::Status(s.code(), StrCat("--feature ", index + 1, msg.substr(close + 1)));
  }
  size_t end = 0;
  while (end < msg.size() &&
         (std::isalnum(static_cast<unsigned char>(msg[end])) || msg[end] == '_'))
    ++end;
  if (end == 0 || end >= msg.size() || (msg[end] != ':' && msg[end] != ' ')) return s;
  std::string flag = msg.substr(0, end);
  for (char& c : flag) {
    if (c == '_') c = '-';
  }
  return absl::Status(s.code(), StrCat("--", flag, msg.substr(end)));
}

absl::StatusOr<pipeline::DistillFeaturePair> ParseFeature(const std::string& text) {
  const size_t eq = text.find('=');
  const size_t at = text.rfind('@');
  pipeline::DistillFeaturePair f;
  if (eq == std::string::npos || eq == 0) {
    return absl::InvalidArgumentError(
        StrCat("--feature '", text, "': expected TEACHER_VALUE=STUDENT_VALUE[@WEIGHT]"));
  }
  f.teacher_value = text.substr(0, eq);
  const size_t end = at != std::string::npos && at > eq ? at : text.size();
  f.student_value = text.substr(eq + 1, end - eq - 1);
  if (end < text.size()) {
    char extra = 0;
    if (std::sscanf(text.c_str() + end + 1, "%f%c", &f.weight, &extra) != 1) {
      return absl::InvalidArgumentError(
          StrCat("--feature '", text, "': weight '", text.substr(end + 1), "' is not a number"));
    }
  }
  return f;
}

std::string Percent(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f%%", 100.0 * v);
  return buf;
}

}  // namespace

CLI::App* AddDistillSubcommand(CLI::App& app, DistillCommandOptions& o) {
  CLI::App* cmd = app.add_subcommand(
      "distill", "Distill a smaller student from a teacher model (optionally vs a baseline)");
  pipeline::DistillJobOptions& j = o.job;
  pipeline::DistillRecipeOptions& r = j.recipe;
  cmd->add_option("--teacher", j.teacher, "Teacher: fp32 ONNX model")->required();
  cmd->add_option("--student", j.student, "Student: an ONNX model to train");
  cmd->add_option_function<double>(
      "--student-width",
      [&o](double w) {
        o.job.recipe.width = w;
        o.width_given = true;
      },
      "Student: the teacher keeping this fraction of each channel group, in (0, 1]");
  cmd->add_flag("--from-scratch", o.from_scratch,
                "With --student-width: re-initialise the student (default)");
  cmd->add_flag("--keep-weights", o.keep_weights,
                "With --student-width: keep the teacher's surviving weights");
  j.holdout = 0.1;
  AddTrainingDataFlags(cmd, j, /*training_required=*/true);
  cmd->add_option("--alpha", r.alpha, "Weight of the KL term in [0, 1]; CE gets 1 - alpha");
  cmd->add_option("--temperature", r.temperature, "Softmax temperature (> 0)");
  cmd->add_option("--epochs", r.epochs, "Training epochs (>= 1)");
  cmd->add_option("--lr", r.lr, "Learning rate (cosine schedule)");
  cmd->add_option("--optimizer", r.optimizer, "sgd (momentum 0.9), adam or adamw");
  cmd->add_option("--weight-decay", r.weight_decay, "Weight decay (>= 0)");
  cmd->add_option("--batch-size", r.batch_size, "Training batch size");
  cmd->add_option("--seed", r.seed, "Data order and initialisation seed");
  cmd->add_option("--threads", o.threads, "Kernel threads (>= 1)");
  cmd->add_flag("--baseline", r.baseline,
                "Also train the same student with cross-entropy alone and compare");
  cmd->add_option("--feature", o.features,
                  "Feature term TEACHER_VALUE=STUDENT_VALUE[@WEIGHT]; repeatable");
  cmd->add_option("--latency-iterations", r.latency_iterations, "Batch-1 latency runs (0: skip)");
  AddQatFlags(cmd, r.qat_epochs, r.qat_lr);
  cmd->add_option("--qat-target", r.qat_target,
                  "QAT: x86_avx2, x86_vnni or arm (default: this CPU)");
  cmd->add_option("-o,--output", o.output_path, "Output: the distilled student")->required();
  cmd->add_option("--int8-output", o.int8_output_path,
                  "With --qat-epochs: the int8 model of the QAT student");
  cmd->add_option("--report", o.report_path, "JSON report");
  cmd->add_flag("--quiet", o.quiet, "No progress lines");
  return cmd;
}

absl::Status ResolveDistillFlags(DistillCommandOptions& o) {
  pipeline::DistillRecipeOptions& r = o.job.recipe;
  if (o.from_scratch && o.keep_weights) {
    return absl::InvalidArgumentError("--from-scratch and --keep-weights exclude each other");
  }
  if (!o.job.student.empty()) {
    if (o.width_given || o.from_scratch || o.keep_weights) {
      return absl::InvalidArgumentError(
          "--student gives the student model: drop --student-width/--from-scratch/--keep-weights");
    }
    r.student = "model";
  } else {
    r.student = o.keep_weights ? "pruned" : "width";
  }
  r.features.clear();
  for (const std::string& text : o.features) {
    ASSIGN_OR_RETURN(pipeline::DistillFeaturePair f, ParseFeature(text));
    r.features.push_back(std::move(f));
  }
  if (o.threads < 1)
    return absl::InvalidArgumentError(StrCat("--threads: ", o.threads, " must be >= 1"));
  if (o.job.eval_data.empty() != o.job.eval_labels.empty()) {
    return absl::InvalidArgumentError("--eval-data and --eval-labels go together");
  }
  if (o.job.limit < 0) {
    return absl::InvalidArgumentError(StrCat("--limit: ", o.job.limit, " must be >= 0"));
  }
  if (!(o.job.holdout >= 0 && o.job.holdout < 1)) {
    return absl::InvalidArgumentError(StrCat("--holdout: ", o.job.holdout, " is outside [0, 1)"));
  }
  if (absl::Status s = pipeline::ValidateDistillRecipeOptions(r); !s.ok()) return AsFlagError(s);
  if (!o.int8_output_path.empty() && r.qat_epochs == 0) {
    return absl::InvalidArgumentError(
        "--int8-output: the int8 model comes from quantization-aware training; give --qat-epochs");
  }
  return absl::OkStatus();
}

absl::Status DistillCommand(DistillCommandOptions o, std::ostream& out, std::ostream& log) {
  if (o.output_path.empty()) return absl::InvalidArgumentError("-o: an output path is required");
  RETURN_IF_ERROR(ResolveDistillFlags(o));
  ASSIGN_OR_RETURN(LocalRun run, RunLocally("distill", o.threads, o.quiet ? nullptr : &log,
                                            [&](pipeline::JobContext& ctx) {
                                              return pipeline::RunDistillJob(o.job, ctx);
                                            },
                                            {{"model", o.output_path},
                                             {"int8_model", o.int8_output_path},
                                             {"report", o.report_path}}));
  out << "wrote " << o.output_path << "\n";
  if (!o.int8_output_path.empty()) out << "wrote " << o.int8_output_path << "\n";
  for (const pipeline::Metric& m : run.metrics) {
    const bool fraction = m.name.find("accuracy") != std::string::npos || m.name == "distill_gain";
    out << "  " << m.name << " = " << (fraction ? Percent(m.value) : StrCat(m.value)) << "\n";
  }
  return absl::OkStatus();
}

}  // namespace mp::local
