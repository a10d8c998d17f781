// Flag sets shared by several subcommands (cli_flags.h).
#include "client/cli_flags.h"

namespace mp::client {

void AddSubmitFlags(CLI::App* cmd, SubmitOptions* o) {
  cmd->add_option("--priority", o->priority, "Higher runs first (default 0)");
  cmd->add_option("--idempotency-key", o->idempotency_key,
                  "Same key + same spec returns the same job");
  cmd->add_option("--max-attempts", o->max_attempts, "Leases before DEAD (0: server default)")
      ->check(CLI::Range(0, 10));
  cmd->add_flag("--watch", o->watch, "Watch the job until it ends (exit status: its outcome)");
}

void AddPtqSpecFlags(CLI::App* cmd, modelpress::v1::PtqSpec* s) {
  cmd->add_option_function<std::string>(
         "--calibrator", [s](const std::string& v) { s->set_calibrator(v); },
         "minmax (default), percentile, entropy, mse")
      ->check(CLI::IsMember({"minmax", "percentile", "entropy", "mse"}));
  cmd->add_option_function<double>(
      "--percentile", [s](double v) { s->set_percentile(v); },
      "For --calibrator percentile: (0, 100], default 99.99");
  cmd->add_option_function<std::string>(
         "--activation-scheme", [s](const std::string& v) { s->set_activation_scheme(v); },
         "uint8_asymmetric (default) or int8_symmetric")
      ->check(CLI::IsMember({"uint8_asymmetric", "int8_symmetric"}));
  cmd->add_flag_function(
      "--per-tensor-weights", [s](int64_t n) { s->set_per_tensor_weights(n > 0); },
      "Weights per tensor instead of per channel");
  cmd->add_option_function<std::string>(
         "--target", [s](const std::string& v) { s->set_target(v); },
         "x86_avx2, x86_vnni or arm (default: the worker's CPU)")
      ->check(CLI::IsMember({"x86_avx2", "x86_vnni", "arm"}));
  cmd->add_option_function<double>(
      "--max-accuracy-drop", [s](double v) { s->set_max_accuracy_drop(v); },
      "> 0: fall back to fp32 layer by layer to stay within this drop (0.01 = 1 point)");
  cmd->add_option_function<int32_t>(
         "--calibration-samples", [s](int32_t v) { s->set_calibration_samples(v); },
         "Use the first N calibration samples (0: all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option_function<std::string>(
         "--mode", [s](const std::string& v) { s->set_mode(v); },
         "static (default), dynamic, fp16, bf16")
      ->check(CLI::IsMember({"static", "dynamic", "fp16", "bf16"}));
  cmd->add_flag_function(
      "--reduce-range", [s](int64_t n) { s->set_reduce_range(n > 0); }, "Force 7-bit weights");
  cmd->add_option_function<int32_t>(
         "--eval-samples", [s](int32_t v) { s->set_eval_samples(v); },
         "Evaluate on the first N samples (0: all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option_function<std::vector<int32_t>>(
         "--latency-batch",
         [s](const std::vector<int32_t>& v) {
           for (int32_t b : v) s->add_latency_batches(b);
         },
         "Batch size to time (repeatable; default 1 and 64)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag_function(
      "--skip-sensitivity", [s](int64_t n) { s->set_skip_sensitivity(n > 0); },
      "Skip the per-layer sensitivity analysis");
}

}  // namespace mp::client
