// modelpress submit --spec FILE [--priority P] [--idempotency-key K] [--max-attempts N]
//                   [--watch]
#include "client/commands.h"
#include "client/format.h"
#include "common/status.h"

namespace mp::client {

namespace v1 = ::modelpress::v1;

absl::Status SubmitAndMaybeWatch(const v1::JobSpec& spec, const SubmitOptions& options,
                                 CommandEnv& env) {
  v1::SubmitJobRequest request;
  *request.mutable_spec() = spec;
  request.set_priority(options.priority);
  request.set_idempotency_key(options.idempotency_key);
  request.set_max_attempts(options.max_attempts);
  v1::Job job;
  auto context = env.conn->Context();
  RETURN_IF_ERROR(FromGrpc(env.conn->jobs().SubmitJob(context.get(), request, &job), "submit job"));
  if (options.watch) {
    if (!env.json) *env.out << job.id() << "\n";
    return WatchCommand(job.id(), env);
  }
  if (env.json) {
    PrintJson(job, *env.out);
  } else {
    *env.out << job.id() << "\n";
  }
  return absl::OkStatus();
}

absl::Status SubmitCommand(const SubmitCommandOptions& options, CommandEnv& env) {
  ASSIGN_OR_RETURN(v1::JobSpec spec, ReadJobSpec(options.spec_path));
  return SubmitAndMaybeWatch(spec, options.submit, env);
}

}  // namespace mp::client
