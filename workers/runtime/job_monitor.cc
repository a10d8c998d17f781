#include "workers/runtime/job_monitor.h"

#include <algorithm>
#include <utility>

#include "common/str_cat.h"
#include "spdlog/spdlog.h"

namespace mp::runtime {

namespace v1 = ::modelpress::v1;

namespace {

constexpr int64_t kNanosPerMilli = 1'000'000;
constexpr int64_t kMaxPollMs = 100;

void ToProto(const pipeline::ProgressUpdate& u, v1::ReportProgressRequest* r) {
  r->set_progress(std::clamp(u.fraction, 0.0, 1.0));
  r->set_eta_seconds(u.eta_seconds);
  r->set_step(u.step);
  r->set_log(u.log);
  for (const auto& m : u.metrics) {
    v1::Metric* p = r->add_metrics();
    p->set_name(m.name);
    p->set_value(m.value);
  }
}

}  // namespace

JobMonitor::JobMonitor(v1::WorkerService::StubInterface& stub, RpcConfig rpc, MonitorConfig config)
    : stub_(stub), rpc_(std::move(rpc)), config_(std::move(config)) {}

JobMonitor::~JobMonitor() { Stop(); }

void JobMonitor::Start() {
  absl::MutexLock lock(&mu_);
  if (started_) return;
  started_ = true;
  start_nanos_ = last_renewal_nanos_ = config_.clock->MonotonicNanos();
  thread_ = std::thread([this] { Loop(); });
}

void JobMonitor::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    cv_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
}

void JobMonitor::Flush() {
  absl::MutexLock lock(&mu_);
  if (!started_) return;
  flush_requested_ = true;
  cv_.SignalAll();
  while ((pending_.has_value() || in_flight_) && !stop_ && outcome_ == Outcome::kActive) {
    cv_.Wait(&mu_);
  }
  flush_requested_ = false;
}

void JobMonitor::Drain() {
  absl::MutexLock lock(&mu_);
  if (!drain_start_nanos_) drain_start_nanos_ = config_.clock->MonotonicNanos();
  cv_.SignalAll();
}

bool JobMonitor::ClaimTerminal() {
  absl::MutexLock lock(&mu_);
  // A Heartbeat / ReportProgress answered after Complete/FailJob would only be refused.
  while (in_flight_ && outcome_ == Outcome::kActive) cv_.Wait(&mu_);
  if (outcome_ != Outcome::kActive) return false;
  outcome_ = Outcome::kFinishing;
  pending_.reset();
  return true;
}

JobMonitor::Outcome JobMonitor::outcome() const {
  absl::MutexLock lock(&mu_);
  return outcome_;
}

absl::Status JobMonitor::Report(const pipeline::ProgressUpdate& update) {
  absl::MutexLock lock(&mu_);
  switch (outcome_) {
    case Outcome::kCancelled:
      return absl::CancelledError("the job was cancelled");
    case Outcome::kLeaseLost:
      return absl::CancelledError("the worker lost the job's lease");
    case Outcome::kWatchdog:
      return absl::CancelledError("the job exceeded --max-job-seconds");
    case Outcome::kDrained:
      return absl::CancelledError("the worker is shutting down");
    default:
      break;
  }
  pending_ = update;
  cv_.SignalAll();
  return absl::OkStatus();
}

void JobMonitor::SetOutcome(Outcome outcome) {
  outcome_ = outcome;
  cancelled_.store(true, std::memory_order_release);
  cv_.SignalAll();
}

void JobMonitor::HandleReply(const absl::Status& status, const v1::HeartbeatResponse& reply) {
  if (status.ok()) {
    if (reply.cancelled() && outcome_ == Outcome::kActive) {
      spdlog::info("job {}: cancelled by the server", config_.job_id);
      SetOutcome(Outcome::kCancelled);
    }
    return;
  }
  switch (status.code()) {
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kFailedPrecondition:
      if (outcome_ == Outcome::kActive) {
        spdlog::warn("job {}: lease lost ({})", config_.job_id, std::string(status.message()));
        SetOutcome(Outcome::kLeaseLost);
      }
      return;
    default:
      spdlog::warn("job {}: {} (retrying)", config_.job_id, std::string(status.message()));
  }
}

void JobMonitor::EndByMonitor(Outcome outcome, const std::string& error) {
  SetOutcome(outcome);
  spdlog::warn("job {}: {}", config_.job_id, error);
  v1::FailJobRequest request;
  request.set_job_id(config_.job_id);
  request.set_epoch(config_.epoch);
  request.set_error(error);
  request.set_retryable(true);
  mu_.Unlock();
  v1::FailJobResponse response;
  auto context = NewContext(rpc_, rpc_.timeout_ms);
  const absl::Status s = FromGrpc(stub_.FailJob(context.get(), request, &response), "FailJob");
  if (!s.ok()) spdlog::warn("job {}: {}", config_.job_id, std::string(s.message()));
  if (outcome == Outcome::kWatchdog) config_.hard_exit(kWatchdogExitCode);
  mu_.Lock();
}

void JobMonitor::Loop() {
  absl::MutexLock lock(&mu_);
  const int64_t progress_interval = config_.progress_interval_ms * kNanosPerMilli;
  const int64_t heartbeat_interval = config_.heartbeat_interval_ms * kNanosPerMilli;
  while (!stop_) {
    const int64_t now = config_.clock->MonotonicNanos();
    if (outcome_ == Outcome::kActive) {
      if (config_.max_job_seconds > 0 &&
          now - start_nanos_ >= config_.max_job_seconds * 1'000 * kNanosPerMilli) {
        EndByMonitor(Outcome::kWatchdog,
                     mp::StrCat("the job exceeded --max-job-seconds=", config_.max_job_seconds,
                                "; the worker restarts"));
        continue;
      }
      if (drain_start_nanos_ &&
          now - *drain_start_nanos_ >= config_.drain_seconds * 1'000 * kNanosPerMilli) {
        drain_failed_nanos_ = now;
        EndByMonitor(Outcome::kDrained,
                     mp::StrCat("the worker shut down (drain of ", config_.drain_seconds,
                                " s ran out); the job will run again"));
        continue;
      }
    }
    if (outcome_ == Outcome::kDrained && drain_failed_nanos_ &&
        now - *drain_failed_nanos_ >= config_.drain_grace_ms * kNanosPerMilli) {
      spdlog::warn("job {}: the recipe did not stop after the drain; exiting", config_.job_id);
      drain_failed_nanos_.reset();
      mu_.Unlock();
      config_.hard_exit(0);
      mu_.Lock();
      continue;
    }
    // Nothing is sent once the job has an end (kFinishing: the runner's terminal call).
    const bool live = outcome_ == Outcome::kActive;
    if (!live) pending_.reset();
    const bool progress_due =
        live && pending_.has_value() &&
        (flush_requested_ || !progress_sent_ || now - last_progress_nanos_ >= progress_interval);
    const bool heartbeat_due = live && now - last_renewal_nanos_ >= heartbeat_interval;
    if (progress_due || heartbeat_due) {
      v1::HeartbeatResponse reply;
      absl::Status status;
      in_flight_ = true;
      if (progress_due) {
        v1::ReportProgressRequest request;
        request.set_job_id(config_.job_id);
        request.set_epoch(config_.epoch);
        ToProto(*pending_, &request);
        pending_.reset();
        mu_.Unlock();
        auto context = NewContext(rpc_, rpc_.timeout_ms);
        status = FromGrpc(stub_.ReportProgress(context.get(), request, &reply), "ReportProgress");
        mu_.Lock();
        last_progress_nanos_ = now;
        progress_sent_ = true;
      } else {
        v1::HeartbeatRequest request;
        request.set_job_id(config_.job_id);
        request.set_epoch(config_.epoch);
        mu_.Unlock();
        auto context = NewContext(rpc_, rpc_.timeout_ms);
        status = FromGrpc(stub_.Heartbeat(context.get(), request, &reply), "Heartbeat");
        mu_.Lock();
      }
      in_flight_ = false;
      last_renewal_nanos_ = now;
      HandleReply(status, reply);
      cv_.SignalAll();  // Flush() waits for in_flight_ / pending_
      continue;
    }
    // Sleep until the next thing that can fall due (at most kMaxPollMs: a FakeClock moves
    // without waking us).
    int64_t wait = heartbeat_interval - (now - last_renewal_nanos_);
    if (live && pending_.has_value()) {
      wait = std::min(wait, progress_interval - (now - last_progress_nanos_));
    }
    wait = std::clamp<int64_t>(wait, kNanosPerMilli, kMaxPollMs * kNanosPerMilli);
    cv_.WaitWithTimeout(&mu_, absl::Nanoseconds(wait));
  }
}

}  // namespace mp::runtime
