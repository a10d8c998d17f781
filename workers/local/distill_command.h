// `modelpress-worker distill`: knowledge distillation of a smaller student from a teacher
// model, locally (the distill recipe, workers/engine/pipeline/distill.h):
//
//   modelpress-worker distill --teacher T.onnx
//       [--student S.onnx | --student-width 0.5 [--from-scratch | --keep-weights]]
//       --data IMAGES --labels LABELS [--eval-data IMAGES --eval-labels LABELS]
//       [--alpha 0.7] [--temperature 4] [--epochs 2] [--lr 1e-3] [--optimizer adam]
//       [--weight-decay 0] [--batch-size 64] [--seed 0] [--threads 1] [--limit N]
//       [--holdout 0.1] [--baseline] [--feature TEACHER_VALUE=STUDENT_VALUE[@WEIGHT] ...]
//       [--latency-iterations 20] [--qat-epochs 0] [--qat-lr 0] [--qat-target x86_avx2]
//       -o student.onnx [--int8-output student.int8.onnx] [--report report.json] [--quiet]
//
// Student: --student trains a given ONNX model; otherwise a copy of the teacher keeping
// --student-width of each prunable channel group, re-initialised (--from-scratch, the
// default) or keeping the teacher's surviving weights (--keep-weights). --baseline also
// trains the same initial student with cross-entropy alone at the same budget and seed and
// reports both. --qat-epochs N > 0 then distills the fake-quantized student N more epochs
// (quantization-aware training at --qat-lr, default --lr / 10, for --qat-target's int8
// kernels, default this CPU) and --int8-output receives the int8 QDQ model it was trained
// for (-o stays the fp32 student); --int8-output without --qat-epochs is an error.
// Evaluation data: --eval-data/--eval-labels, else the last --holdout fraction
// of --data (not trained on), else none. Data files: IDX (.gz or not) or .npy (uint8 / 255).
// Nothing is written unless the whole run succeeds. Progress lines go to `log`, the
// summary (accuracies, sizes, latency) to `out`.
#ifndef MP_WORKERS_LOCAL_DISTILL_COMMAND_H_
#define MP_WORKERS_LOCAL_DISTILL_COMMAND_H_

#include <ostream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "workers/engine/pipeline/distill.h"

namespace mp::local {

struct DistillCommandOptions {
  pipeline::DistillJobOptions job;    // job.recipe.student is set from the flags below
  bool from_scratch = false;          // --from-scratch
  bool keep_weights = false;          // --keep-weights
  bool width_given = false;           // --student-width was given
  std::vector<std::string> features;  // "TEACHER=STUDENT[@WEIGHT]"
  int threads = 1;
  std::string output_path;       // required
  std::string int8_output_path;  // optional; needs job.recipe.qat_epochs > 0
  std::string report_path;       // optional
  bool quiet = false;
};

// Registers the `distill` subcommand on `app`, parsing into `options` (which must outlive it).
CLI::App* AddDistillSubcommand(CLI::App& app, DistillCommandOptions& options);

// Resolves the student source and feature pairs from the flags into options.job (errors name
// the flag: "--alpha: 1.5 is outside [0, 1]").
absl::Status ResolveDistillFlags(DistillCommandOptions& options);

// Runs the recipe (ResolveDistillFlags first) and writes -o / --report.
absl::Status DistillCommand(DistillCommandOptions options, std::ostream& out, std::ostream& log);

}  // namespace mp::local

#endif  // MP_WORKERS_LOCAL_DISTILL_COMMAND_H_
