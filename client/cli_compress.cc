// The flags of `modelpress prune`, `distill` and `compose` (cli_flags.h). Each flag sets one
// field of the job's spec; unset flags leave the field 0 / "" (the documented default,
// job.proto). Names follow `modelpress-worker prune` where the local command has the option.
#include <cstdlib>
#include <string>
#include <vector>

#include "client/cli_flags.h"

namespace mp::client {

namespace v1 = ::modelpress::v1;

namespace {

template <typename T, typename Set>
CLI::Option* Opt(CLI::App* cmd, const std::string& name, Set set, const std::string& help) {
  return cmd->add_option_function<T>(name, set, help);
}

// --data, --labels, --eval-data, --eval-labels, --limit, --holdout of a spec with the data
// fields (PruneSpec, DistillSpec, ComposeSpec).
template <typename Spec>
void AddDataFlags(CLI::App* cmd, TrainingDataArgs* d, Spec* s, bool data_required) {
  auto* data = cmd->add_option("--data", d->data, "Training samples: dataset id or local file");
  if (data_required) data->required();
  cmd->add_option("--labels", d->labels, "Training labels: dataset id or local file");
  cmd->add_option("--eval-data", d->eval_data, "Evaluation samples: dataset id or local file");
  cmd->add_option("--eval-labels", d->eval_labels, "Evaluation labels: dataset id or local file");
  Opt<int64_t>(
      cmd, "--limit", [s](int64_t v) { s->set_limit(v); },
      "Use at most N training samples (0: all)")
      ->check(CLI::NonNegativeNumber);
  Opt<double>(
      cmd, "--holdout", [s](double v) { s->set_holdout(v); },
      "Without --eval-data: fraction of the training data held out for evaluation, [0, 1)");
}

// The training hyperparameters shared by PruneSpec and DistillSpec.
template <typename Spec>
void AddTrainingFlags(CLI::App* cmd, Spec* s) {
  Opt<int32_t>(
      cmd, "--epochs", [s](int32_t v) { s->set_epochs(v); }, "Training epochs")
      ->check(CLI::PositiveNumber);
  Opt<int32_t>(
      cmd, "--batch-size", [s](int32_t v) { s->set_batch_size(v); },
      "Training batch size (default 64)")
      ->check(CLI::PositiveNumber);
  Opt<double>(
      cmd, "--lr", [s](double v) { s->set_lr(v); }, "Learning rate (cosine schedule; 1e-3)");
  Opt<std::string>(
      cmd, "--optimizer", [s](const std::string& v) { s->set_optimizer(v); },
      "adam (default), adamw, sgd (momentum 0.9)")
      ->check(CLI::IsMember({"sgd", "adam", "adamw"}));
  Opt<double>(
      cmd, "--weight-decay", [s](double v) { s->set_weight_decay(v); }, "Weight decay (>= 0)");
  Opt<double>(
      cmd, "--alpha", [s](double v) { s->set_alpha(v); },
      "Distillation: weight of the KL term, [0, 1] (default 0.7; 0: labels only)")
      ->check(CLI::Range(0.0, 1.0));
  Opt<double>(
      cmd, "--temperature", [s](double v) { s->set_temperature(v); },
      "Distillation: softmax temperature (default 4)");
  Opt<int32_t>(
      cmd, "--latency-iterations", [s](int32_t v) { s->set_latency_iterations(v); },
      "Timed batch-1 runs (default 20)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag_function(
      "--skip-latency", [s](int64_t n) { s->set_skip_latency(n > 0); },
      "Skip the latency measurement");
}

// --qat-epochs and --qat-lr of a spec with the QAT fields (DistillSpec, ComposeSpec).
template <typename Spec>
void AddQatFlags(CLI::App* cmd, Spec* s, const std::string& what) {
  Opt<int32_t>(
      cmd, "--qat-epochs", [s](int32_t v) { s->set_qat_epochs(v); },
      "Quantization-aware training: epochs after " + what + " (default 0: none)")
      ->check(CLI::Range(0, 1000));
  Opt<double>(
      cmd, "--qat-lr", [s](double v) { s->set_qat_lr(v); },
      "With --qat-epochs: QAT learning rate (default: the training lr / 10)");
}

}  // namespace

void AddPruneSpecFlags(CLI::App* cmd, v1::PruneSpec* s) {
  Opt<std::string>(
      cmd, "--method", [s](const std::string& v) { s->set_method(v); },
      "structured (default; channels), magnitude, nm")
      ->check(CLI::IsMember({"structured", "magnitude", "nm"}));
  Opt<double>(
      cmd, "--sparsity", [s](double v) { s->set_sparsity(v); },
      "Fraction of channels / weights removed, [0, 1) (default 0.5)");
  Opt<std::string>(
      cmd, "--norm", [s](const std::string& v) { s->set_norm(v); },
      "structured: l1 (default) or l2")
      ->check(CLI::IsMember({"l1", "l2"}));
  Opt<std::string>(
      cmd, "--scope", [s](const std::string& v) { s->set_scope(v); },
      "magnitude: layer (default) or global")
      ->check(CLI::IsMember({"layer", "global"}));
  Opt<std::vector<std::string>>(
      cmd, "--per-layer",
      [s](const std::vector<std::string>& v) {
        for (const std::string& e : v) s->add_per_layer(e);
      },
      "NAME=SPARSITY override (repeatable)");
  Opt<std::vector<std::string>>(
      cmd, "--exclude",
      [s](const std::vector<std::string>& v) {
        for (const std::string& e : v) s->add_exclude(e);
      },
      "Layer left unpruned (repeatable)");
  Opt<std::string>(
      cmd, "--nm", [s](const std::string& v) { s->set_nm(v); }, "nm: N:M (default 2:4)");
  Opt<int64_t>(
      cmd, "--round-to", [s](int64_t v) { s->set_round_to(v); },
      "structured: kept channels rounded up to a multiple (default 1)")
      ->check(CLI::PositiveNumber);
  Opt<std::string>(
      cmd, "--schedule", [s](const std::string& v) { s->set_schedule(v); },
      "oneshot (default) or agp (gradual; needs --recover)")
      ->check(CLI::IsMember({"oneshot", "agp"}));
  Opt<int32_t>(
      cmd, "--prune-steps", [s](int32_t v) { s->set_prune_steps(v); },
      "agp: pruning rounds (default 4)")
      ->check(CLI::PositiveNumber);
  Opt<std::string>(
      cmd, "--recover", [s](const std::string& v) { s->set_recover(v); },
      "none, finetune or distill (prune default none, compose default distill)")
      ->check(CLI::IsMember({"none", "finetune", "distill"}));
  cmd->add_flag_function(
      "--skip-epoch-eval", [s](int64_t n) { s->set_skip_epoch_eval(n > 0); },
      "Do not evaluate after every epoch");
  AddTrainingFlags(cmd, s);
}

void AddCompressSubcommands(CLI::App& app, CompressCommands& o,
                            std::function<absl::Status(CommandEnv&)>& run) {
  PruneCommandOptions* p = &o.prune;
  CLI::App* c = app.add_subcommand("prune", "Prune a model, optionally recovering accuracy");
  c->add_option("model", p->model, "Model id (model_...) or a local .onnx file")->required();
  AddDataFlags(c, &p->data, &p->spec, /*data_required=*/false);
  AddPruneSpecFlags(c, &p->spec);
  c->add_option("--seed", p->seed, "Seed (0: the server picks one)");
  AddSubmitFlags(c, &p->submit);
  c->callback([&run, p] { run = [p](CommandEnv& e) { return PruneCommand(*p, e); }; });

  DistillCommandOptions* d = &o.distill;
  v1::DistillSpec* ds = &d->spec;
  c = app.add_subcommand("distill", "Train a student model from a teacher (distillation)");
  c->add_option("teacher", d->teacher, "Teacher: model id or a local .onnx file")->required();
  c->add_option("--student", d->student_model,
                "Student: model id or a local .onnx file (default: the teacher narrowed to "
                "--student-width)");
  Opt<double>(
      c, "--student-width", [ds](double v) { ds->set_width(v); },
      "Without --student: fraction of the teacher's channels kept, (0, 1] (default 0.5)");
  c->add_flag_function(
      "--from-scratch",
      [ds](int64_t n) {
        if (n > 0) ds->set_student("width");
      },
      "Without --student: re-initialise the narrowed student (the default)");
  c->add_flag_function(
      "--keep-weights",
      [ds](int64_t n) {
        if (n > 0) ds->set_student("pruned");
      },
      "Without --student: keep the teacher's surviving weights");
  c->add_flag_function(
      "--baseline", [ds](int64_t n) { ds->set_baseline(n > 0); },
      "Also train the student on the labels alone, for comparison");
  Opt<std::vector<std::string>>(
      c, "--feature",
      [ds](const std::vector<std::string>& v) {
        for (const std::string& e : v) {
          v1::DistillFeaturePair* f = ds->add_features();
          const size_t eq = e.find('=');
          const size_t at = e.find('@', eq == std::string::npos ? 0 : eq);
          f->set_teacher_value(e.substr(0, eq));
          if (eq != std::string::npos) f->set_student_value(e.substr(eq + 1, at - eq - 1));
          if (at != std::string::npos) f->set_weight(std::atof(e.c_str() + at + 1));
        }
      },
      "TEACHER_VALUE=STUDENT_VALUE[@WEIGHT]: an intermediate-feature MSE term (repeatable)");
  AddDataFlags(c, &d->data, ds, /*data_required=*/true);
  AddTrainingFlags(c, ds);
  AddQatFlags(c, ds, "distillation; also writes the int8 student, artifact int8_model");
  Opt<std::string>(
      c, "--qat-target", [ds](const std::string& v) { ds->set_qat_target(v); },
      "With --qat-epochs: int8 target x86_avx2, x86_vnni or arm (default: the worker's CPU)")
      ->check(CLI::IsMember({"x86_avx2", "x86_vnni", "arm"}));
  c->add_option("--seed", d->seed, "Seed (0: the server picks one)");
  AddSubmitFlags(c, &d->submit);
  c->callback([&run, d] { run = [d](CommandEnv& e) { return DistillCommand(*d, e); }; });

  ComposeCommandOptions* k = &o.compose;
  c = app.add_subcommand("compose", "Prune, recover and quantize a model in one job");
  c->add_option("model", k->model, "Model id (model_...) or a local .onnx file")->required();
  AddDataFlags(c, &k->data, &k->spec, /*data_required=*/false);
  c->add_option("--calib", k->calib,
                "Calibration samples: dataset id or local file (default: the training data)");
  AddPruneSpecFlags(c, k->spec.mutable_prune());
  AddPtqSpecFlags(c, k->spec.mutable_ptq());
  AddQatFlags(c, &k->spec, "recovery, for --target; PTQ then uses the learned ranges");
  c->add_option("--seed", k->seed, "Seed (0: the server picks one)");
  AddSubmitFlags(c, &k->submit);
  c->callback([&run, k] { run = [k](CommandEnv& e) { return ComposeCommand(*k, e); }; });
}

}  // namespace mp::client
