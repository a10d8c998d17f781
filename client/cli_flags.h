// Flag sets shared by the `modelpress` subcommands (cli.cc registers them): submit options,
// the PtqSpec options (ptq, compose), and the prune / distill / compose subcommands
// (cli_compress.cc).
#ifndef MP_CLIENT_CLI_FLAGS_H_
#define MP_CLIENT_CLI_FLAGS_H_

#include <functional>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "client/commands.h"
#include "modelpress/v1/job.pb.h"

namespace mp::client {

// --priority, --idempotency-key, --max-attempts, --watch.
void AddSubmitFlags(CLI::App* cmd, SubmitOptions* o);

// Every PtqSpec option except its dataset ids (--calibrator, --percentile, ...).
void AddPtqSpecFlags(CLI::App* cmd, modelpress::v1::PtqSpec* s);

// The pruning and recovery options of a PruneSpec (not its data fields): --method,
// --sparsity, ..., --recover, --epochs, ... (as `modelpress-worker prune` names them).
void AddPruneSpecFlags(CLI::App* cmd, modelpress::v1::PruneSpec* s);

struct CompressCommands {
  PruneCommandOptions prune;
  DistillCommandOptions distill;
  ComposeCommandOptions compose;
};

// Registers `prune`, `distill` and `compose` on `app`; the chosen one's callback sets `run`.
// `options` and `run` must outlive the parse.
void AddCompressSubcommands(CLI::App& app, CompressCommands& options,
                            std::function<absl::Status(CommandEnv&)>& run);

}  // namespace mp::client

#endif  // MP_CLIENT_CLI_FLAGS_H_
