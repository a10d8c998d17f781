// modelpress jobs [--state S]... [--kind K] [--model ID] [--limit N] | show JOB | cancel JOB
#include <algorithm>
#include <cmath>

#include "client/commands.h"
#include "client/format.h"
#include "client/watch.h"
#include "common/status.h"

namespace mp::client {

namespace v1 = ::modelpress::v1;

absl::Status JobsCommand(const JobsOptions& options, CommandEnv& env) {
  v1::ListJobsRequest base;
  for (const std::string& s : options.states) {
    ASSIGN_OR_RETURN(v1::JobState state, ParseState(s));
    base.add_states(state);
  }
  if (!options.kind.empty()) {
    ASSIGN_OR_RETURN(v1::JobKind kind, ParseKind(options.kind));
    base.set_kind(kind);
  }
  base.set_model_id(options.model_id);
  v1::ListJobsResponse all;
  std::string token;
  do {
    v1::ListJobsRequest request = base;
    request.set_page_size(std::min(options.limit - all.jobs_size(), 1000));
    request.set_page_token(token);
    v1::ListJobsResponse page;
    auto context = env.conn->Context();
    RETURN_IF_ERROR(
        FromGrpc(env.conn->jobs().ListJobs(context.get(), request, &page), "list jobs"));
    for (auto& j : *page.mutable_jobs()) *all.add_jobs() = std::move(j);
    token = page.next_page_token();
  } while (!token.empty() && all.jobs_size() < options.limit);
  if (env.json) {
    PrintJson(all, *env.out);
    return absl::OkStatus();
  }
  std::vector<std::vector<std::string>> rows = {
      {"ID", "KIND", "STATE", "PROGRESS", "STEP", "MODEL", "CREATED"}};
  for (const auto& j : all.jobs()) {
    rows.push_back({j.id(), KindName(j.spec().kind()), StateName(j.state()),
                    mp::StrCat(static_cast<int>(std::floor(j.progress() * 100)), "%"),
                    j.step().empty() ? "-" : j.step(), j.spec().model_id(),
                    FormatTime(j.created_unix_ms())});
  }
  PrintTable(rows, *env.out);
  return absl::OkStatus();
}

absl::Status ShowJobCommand(const std::string& id, CommandEnv& env) {
  v1::GetJobRequest request;
  request.set_id(id);
  v1::Job job;
  auto context = env.conn->Context();
  RETURN_IF_ERROR(
      FromGrpc(env.conn->jobs().GetJob(context.get(), request, &job), mp::StrCat("job ", id)));
  if (env.json) {
    PrintJson(job, *env.out);
    return absl::OkStatus();
  }
  std::ostream& out = *env.out;
  PrintJobSummary(job, out);
  out << "model " << job.spec().model_id() << "  priority " << job.priority() << "  attempts "
      << job.attempts() << "/" << job.max_attempts() << "\n"
      << "created " << FormatTime(job.created_unix_ms()) << "  started "
      << FormatTime(job.started_unix_ms()) << "  finished " << FormatTime(job.finished_unix_ms())
      << "\n";
  if (!IsTerminal(job.state())) {
    out << "progress " << static_cast<int>(std::floor(job.progress() * 100)) << "%"
        << (job.step().empty() ? "" : "  step " + job.step())
        << (job.eta_seconds() >= 0 ? "  eta " + FormatDuration(job.eta_seconds()) : "") << "\n";
  }
  if (!job.engine_version().empty() || !job.worker_id().empty()) {
    out << "engine " << job.engine_version() << "  worker " << job.worker_id() << "\n";
  }
  for (const auto& [role, blob] : job.inputs()) {
    out << "input " << role << ": sha256 " << blob.sha256() << " ("
        << FormatBytes(blob.size_bytes()) << ")\n";
  }
  return absl::OkStatus();
}

absl::Status CancelCommand(const std::string& id, CommandEnv& env) {
  v1::CancelJobRequest request;
  request.set_id(id);
  v1::Job job;
  auto context = env.conn->Context();
  RETURN_IF_ERROR(FromGrpc(env.conn->jobs().CancelJob(context.get(), request, &job),
                           mp::StrCat("cancel job ", id)));
  if (env.json) {
    PrintJson(job, *env.out);
  } else {
    *env.out << job.id() << " " << StateName(job.state()) << "\n";
  }
  return absl::OkStatus();
}

}  // namespace mp::client
