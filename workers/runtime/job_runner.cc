#include "workers/runtime/job_runner.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <new>
#include <system_error>
#include <thread>

#include "absl/strings/ascii.h"
#include "common/file_util.h"
#include "common/status.h"
#include "spdlog/spdlog.h"
#include "workers/runtime/blob_transfer.h"

namespace mp::runtime {

namespace v1 = ::modelpress::v1;

namespace {

bool ValidRole(const std::string& role) {
  return !role.empty() && role.size() <= 64 && std::all_of(role.begin(), role.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) ||
           std::isdigit(static_cast<unsigned char>(c)) || c == '_';
  });
}

// File extension for a fetched input, from its first bytes.
std::string ExtensionFor(const std::string& role, const std::filesystem::path& path) {
  if (role == "model") return ".onnx";
  char head[4] = {0, 0, 0, 0};
  std::ifstream in(path, std::ios::binary);
  in.read(head, 4);
  const auto b = [&](int i) { return static_cast<unsigned char>(head[i]); };
  if (in.gcount() >= 4 && b(0) == 0x93 && head[1] == 'N' && head[2] == 'U' && head[3] == 'M') {
    return ".npy";
  }
  if (in.gcount() >= 2 && b(0) == 0x1f && b(1) == 0x8b) return ".idx.gz";
  if (in.gcount() >= 4 && b(0) == 0 && b(1) == 0 && b(2) >= 0x08 && b(2) <= 0x0e && b(3) >= 1) {
    return ".idx";
  }
  return ".pb";
}

bool IsLeaseLoss(const absl::Status& s) { return s.code() == absl::StatusCode::kAborted; }

}  // namespace

bool IsPermanentJobError(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kUnimplemented:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return true;
    default:
      return false;
  }
}

std::string KindName(v1::JobKind kind) {
  std::string name = v1::JobKind_Name(kind);
  if (name.empty()) return mp::StrCat("#", static_cast<int>(kind));
  constexpr std::string_view kPrefix = "JOB_KIND_";
  if (name.rfind(kPrefix, 0) == 0) name = name.substr(kPrefix.size());
  return absl::AsciiStrToLower(name);
}

JobRunner::JobRunner(v1::WorkerService::StubInterface& stub, const WorkerOptions& options,
                     const RecipeTable& recipes, std::function<void(JobMonitor*)> track)
    : stub_(stub), options_(options), recipes_(recipes), track_(std::move(track)) {}

void JobRunner::Fail(const std::string& job_id, int64_t epoch, const absl::Status& error) {
  v1::FailJobRequest request;
  request.set_job_id(job_id);
  request.set_epoch(epoch);
  request.set_error(std::string(error.message()));
  request.set_retryable(!IsPermanentJobError(error));
  spdlog::warn("job {}: failed ({}): {}", job_id, request.retryable() ? "retryable" : "final",
               request.error());
  Backoff backoff(options_.backoff_initial_ms, options_.backoff_max_ms);
  for (int attempt = 1;; ++attempt) {
    v1::FailJobResponse response;
    auto context = NewContext(options_.rpc, options_.rpc.timeout_ms);
    const absl::Status s = FromGrpc(stub_.FailJob(context.get(), request, &response), "FailJob");
    if (s.ok()) return;
    if (!IsTransient(s) || attempt >= options_.max_terminal_attempts) {
      spdlog::warn("job {}: {}", job_id, std::string(s.message()));
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff.NextDelayMs()));
  }
}

void JobRunner::Complete(const v1::CompleteJobRequest& request) {
  Backoff backoff(options_.backoff_initial_ms, options_.backoff_max_ms);
  for (int attempt = 1;; ++attempt) {
    v1::CompleteJobResponse response;
    auto context = NewContext(options_.rpc, options_.rpc.timeout_ms);
    const absl::Status s =
        FromGrpc(stub_.CompleteJob(context.get(), request, &response), "CompleteJob");
    if (s.ok()) {
      spdlog::info("job {}: succeeded", request.job_id());
      return;
    }
    if (!IsTransient(s) || attempt >= options_.max_terminal_attempts) {
      spdlog::warn("job {}: {}", request.job_id(), std::string(s.message()));
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff.NextDelayMs()));
  }
}

absl::Status JobRunner::Execute(const v1::LeaseJobResponse& lease, const Recipe& recipe,
                                const std::string& dir, JobMonitor& monitor,
                                v1::CompleteJobRequest* request) {
  const v1::Lease& l = lease.lease();
  LeasedJob job;
  job.job_id = l.job_id();
  job.epoch = l.epoch();
  job.attempt = lease.attempt();
  job.spec = lease.spec();

  const std::filesystem::path inputs = std::filesystem::path(dir) / "inputs";
  std::error_code ec;
  std::filesystem::create_directories(inputs, ec);
  if (ec) return absl::InternalError(mp::StrCat("cannot create '", inputs.string(), "'"));
  for (const auto& [role, blob] : lease.inputs()) {
    if (!ValidRole(role)) {
      return absl::FailedPreconditionError(mp::StrCat("lease input role '", role, "' is invalid"));
    }
    if (monitor.cancelled()) return absl::CancelledError("cancelled while fetching inputs");
    const std::filesystem::path tmp = inputs / (role + ".part");
    RETURN_IF_ERROR(
        mp::Annotate(FetchBlobToFile(stub_, options_.rpc, job.job_id, job.epoch, blob, tmp),
                     mp::StrCat("input '", role, "'")));
    const std::filesystem::path final_path = inputs / (role + ExtensionFor(role, tmp));
    std::filesystem::rename(tmp, final_path, ec);
    if (ec) return absl::InternalError(mp::StrCat("rename '", tmp.string(), "': ", ec.message()));
    job.inputs[role] = final_path;
  }

  absl::StatusOr<RecipeOutput> out = absl::InternalError("recipe did not run");
  try {
    out = recipe(job, monitor);
  } catch (const std::bad_alloc&) {
    out = absl::ResourceExhaustedError(
        mp::StrCat(KindName(job.spec.kind()), " job: out of memory (worker memory limit)"));
  }
  if (!out.ok()) return out.status();
  monitor.Flush();
  if (monitor.cancelled()) return absl::CancelledError("cancelled");

  request->set_job_id(job.job_id);
  request->set_epoch(job.epoch);
  MetricsToProto(out->result.metrics, request->mutable_metrics());
  for (const pipeline::Artifact& artifact : out->result.artifacts) {
    absl::StatusOr<v1::BlobRef> ref = PutBlobFromFile(stub_, options_.rpc, artifact.path);
    if (!ref.ok()) return mp::Annotate(ref.status(), mp::StrCat("artifact '", artifact.name, "'"));
    v1::Artifact* a = request->add_artifacts();
    a->set_name(artifact.name);
    *a->mutable_blob() = *ref;
  }
  if (out->inspection) *request->mutable_inspection() = *out->inspection;
  return absl::OkStatus();
}

void JobRunner::Run(const v1::LeaseJobResponse& lease) {
  const std::string& job_id = lease.lease().job_id();
  const int64_t epoch = lease.lease().epoch();
  const v1::JobKind kind = lease.spec().kind();
  spdlog::info("job {}: leased (kind {}, attempt {}, epoch {})", job_id, KindName(kind),
               lease.attempt(), epoch);
  auto recipe = recipes_.find(kind);
  if (recipe == recipes_.end()) {
    Fail(job_id, epoch,
         absl::UnimplementedError(
             mp::StrCat("kind ", KindName(kind), " is not supported by this worker")));
    return;
  }

  const int64_t ttl_ms = lease.lease().expires_unix_ms() - options_.clock->NowMillis();
  MonitorConfig config{
      .job_id = job_id,
      .epoch = epoch,
      .heartbeat_interval_ms =
          std::clamp(ttl_ms / 3, options_.min_heartbeat_ms, options_.max_heartbeat_ms),
      .progress_interval_ms = options_.progress_interval_ms,
      .max_job_seconds = options_.max_job_seconds,
      .drain_seconds = options_.drain_seconds,
      .drain_grace_ms = options_.drain_grace_ms,
      .threads = std::max(1, options_.threads),
      .clock = options_.clock,
      .hard_exit = options_.hard_exit,
  };
  auto dir = MakeTempDir("job-", options_.work_dir.string());
  if (!dir.ok()) {
    Fail(job_id, epoch, mp::Annotate(dir.status(), "worker work dir"));
    return;
  }
  config.work_dir = std::filesystem::path(*dir) / "work";
  std::error_code ec;
  std::filesystem::create_directories(config.work_dir, ec);

  JobMonitor monitor(stub_, options_.rpc, std::move(config));
  monitor.Start();
  track_(&monitor);
  v1::CompleteJobRequest request;
  const absl::Status status = Execute(lease, recipe->second, *dir, monitor, &request);
  const JobMonitor::Outcome outcome = monitor.outcome();
  if (outcome == JobMonitor::Outcome::kActive && IsLeaseLoss(status)) {
    spdlog::warn("job {}: lease lost ({}); dropping it", job_id, std::string(status.message()));
  } else if (monitor.ClaimTerminal()) {
    if (status.ok()) {
      Complete(request);
    } else {
      Fail(job_id, epoch, status);
    }
  } else {
    spdlog::info("job {}: dropped (cancelled, lease lost, or ended by the worker)", job_id);
  }
  track_(nullptr);
  monitor.Stop();
  if (absl::Status s = RemoveAll(*dir); !s.ok()) {
    spdlog::warn("job {}: {}", job_id, std::string(s.message()));
  }
}

}  // namespace mp::runtime
