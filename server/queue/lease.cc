// Queue: worker-side operations — lease, renew, complete, fail — and lease expiry. The
// state machine is described in queue.h.
#include <algorithm>
#include <utility>

#include "common/status.h"
#include "common/str_cat.h"
#include "server/queue/queue.h"
#include "server/queue/queue_internal.h"

namespace mp::queue {

using internal::StateEvent;
using internal::StateName;
using store::JobRecord;
using store::WriteTxn;

namespace {

constexpr int kReapBatch = 64;

// Ends the current lease's bookkeeping (the epoch stays: it fences the old holder).
void DropLease(JobRecord& rec) { rec.lease_expires_unix_ms = 0; }

void Finish(JobRecord& rec, v1::JobState state, int64_t now_ms) {
  rec.job.set_state(state);
  rec.job.set_finished_unix_ms(now_ms);
  rec.job.set_eta_seconds(state == v1::JOB_STATE_SUCCEEDED ? 0 : -1);
  DropLease(rec);
}

}  // namespace

absl::StatusOr<JobRecord> Queue::HeldJob(WriteTxn& txn, std::string_view job_id, int64_t epoch) {
  ASSIGN_OR_RETURN(JobRecord rec, txn.GetJob(job_id));
  if (rec.job.state() != v1::JOB_STATE_RUNNING || rec.epoch != epoch) {
    return absl::AbortedError(StrCat("job '", job_id, "': lease epoch ", epoch,
                                     " is no longer held (job is ", StateName(rec.job.state()),
                                     " at epoch ", rec.epoch, ")"));
  }
  return rec;
}

absl::Status Queue::Requeue(WriteTxn& txn, JobRecord& rec, std::string_view why,
                            bool* runnable_now) {
  v1::Job& job = rec.job;
  const int64_t now = txn.now_ms();
  std::string log;
  if (rec.cancel_requested) {
    Finish(rec, v1::JOB_STATE_CANCELLED, now);
    log = StrCat(why, "; cancelled as requested");
  } else if (job.attempts() >= job.max_attempts()) {
    Finish(rec, v1::JOB_STATE_DEAD, now);
    job.set_error(StrCat(why, " (attempt ", job.attempts(), " of ", job.max_attempts(),
                         "; no attempts left)"));
    log = job.error();
  } else {
    const int64_t delay = BackoffMillis(job.attempts());
    job.set_state(v1::JOB_STATE_QUEUED);
    job.set_error(std::string(why));
    job.set_eta_seconds(-1);
    DropLease(rec);
    rec.next_run_unix_ms = now + delay;
    if (delay == 0) *runnable_now = true;
    log = StrCat(why, " (attempt ", job.attempts(), " of ", job.max_attempts(), "); retry in ",
                 delay, " ms");
  }
  RETURN_IF_ERROR(txn.UpdateJob(rec));
  return txn.AppendEvent(job.id(), StateEvent(rec, now, log)).status();
}

absl::StatusOr<int> Queue::ReapLocked(WriteTxn& txn, std::vector<std::string>* changed,
                                      bool* runnable) {
  int count = 0;
  while (true) {
    ASSIGN_OR_RETURN(std::vector<JobRecord> expired, txn.ExpiredLeases(txn.now_ms(), kReapBatch));
    for (JobRecord& rec : expired) {
      RETURN_IF_ERROR(Requeue(
          txn, rec, StrCat("lease of worker '", rec.job.worker_id(), "' expired"), runnable));
      changed->push_back(rec.job.id());
      ++count;
    }
    if (static_cast<int>(expired.size()) < kReapBatch) return count;
  }
}

absl::StatusOr<int> Queue::ReapExpired() {
  std::vector<std::string> changed;
  bool runnable = false;
  ASSIGN_OR_RETURN(WriteTxn txn, store_->BeginWrite());
  ASSIGN_OR_RETURN(int count, ReapLocked(txn, &changed, &runnable));
  if (count == 0) return 0;  // nothing written: the destructor rolls back
  RETURN_IF_ERROR(txn.Commit());
  AfterCommit(changed, runnable);
  return count;
}

absl::StatusOr<v1::LeaseJobResponse> Queue::Lease(const v1::LeaseJobRequest& request) {
  if (request.worker_id().empty()) return absl::InvalidArgumentError("lease: worker_id is empty");
  std::vector<v1::JobKind> kinds;
  for (int kind : request.kinds()) kinds.push_back(static_cast<v1::JobKind>(kind));
  std::vector<std::string> changed;
  bool runnable = false;
  ASSIGN_OR_RETURN(WriteTxn txn, store_->BeginWrite());
  const int64_t now = txn.now_ms();
  ASSIGN_OR_RETURN(int reaped, ReapLocked(txn, &changed, &runnable));
  ASSIGN_OR_RETURN(std::optional<JobRecord> next, txn.NextRunnable(now, kinds));
  v1::LeaseJobResponse response;
  if (!next.has_value()) {
    if (reaped > 0) {
      RETURN_IF_ERROR(txn.Commit());
      AfterCommit(changed, runnable);
    }
    return response;
  }
  JobRecord& rec = *next;
  v1::Job& job = rec.job;
  job.set_state(v1::JOB_STATE_RUNNING);
  job.set_attempts(job.attempts() + 1);
  job.set_worker_id(request.worker_id());
  if (!request.engine_version().empty()) job.set_engine_version(request.engine_version());
  if (job.started_unix_ms() == 0) job.set_started_unix_ms(now);
  job.set_progress(0);
  job.set_eta_seconds(-1);
  job.set_step("");
  rec.epoch += 1;
  rec.lease_expires_unix_ms = now + options_.lease_ttl_ms;
  rec.cancel_requested = false;
  RETURN_IF_ERROR(txn.UpdateJob(rec));
  RETURN_IF_ERROR(
      txn.AppendEvent(job.id(),
                      StateEvent(rec, now,
                                 StrCat("leased by worker '", request.worker_id(), "' (attempt ",
                                        job.attempts(), " of ", job.max_attempts(), ")")))
          .status());
  RETURN_IF_ERROR(txn.Commit());
  changed.push_back(job.id());
  AfterCommit(changed, runnable);

  v1::Lease* lease = response.mutable_lease();
  lease->set_job_id(job.id());
  lease->set_epoch(rec.epoch);
  lease->set_expires_unix_ms(rec.lease_expires_unix_ms);
  *response.mutable_spec() = job.spec();
  *response.mutable_inputs() = job.inputs();
  response.set_attempt(job.attempts());
  return response;
}

absl::StatusOr<v1::LeaseJobResponse> Queue::LeaseWait(const v1::LeaseJobRequest& request) {
  const int64_t wait_ms = std::clamp<int64_t>(request.wait_ms(), 0, options_.max_wait_ms);
  const absl::Time deadline = absl::Now() + absl::Milliseconds(wait_ms);
  while (true) {
    int64_t generation;
    {
      absl::MutexLock lock(&mu_);
      if (shutdown_) return absl::UnavailableError("lease: the queue is shutting down");
      generation = runnable_generation_;
    }
    ASSIGN_OR_RETURN(v1::LeaseJobResponse response, Lease(request));
    if (response.has_lease() || absl::Now() >= deadline) return response;
    // Sleep until notified, the deadline, or the next backoff / lease expiry comes due.
    absl::Time until = deadline;
    const int64_t now_ms = clock_->NowMillis();
    ASSIGN_OR_RETURN(std::optional<int64_t> due, store_->NextDueMillis(now_ms));
    if (due.has_value()) until = std::min(until, absl::Now() + absl::Milliseconds(*due - now_ms));
    absl::MutexLock lock(&mu_);
    const auto changed = [this, generation]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return shutdown_ || runnable_generation_ != generation;
    };
    mu_.AwaitWithDeadline(absl::Condition(&changed), until);
  }
}

Notifier::Token Queue::AddRunnableWaiter(std::function<void()> callback) {
  return notifier_.AddRunnableWaiter(std::move(callback));
}

bool Queue::RemoveRunnableWaiter(Notifier::Token token) {
  return notifier_.RemoveRunnableWaiter(token);
}

absl::StatusOr<v1::HeartbeatResponse> Queue::Renew(std::string_view job_id, int64_t epoch,
                                                   const v1::JobEvent* progress) {
  ASSIGN_OR_RETURN(WriteTxn txn, store_->BeginWrite());
  ASSIGN_OR_RETURN(JobRecord rec, HeldJob(txn, job_id, epoch));
  const int64_t now = txn.now_ms();
  rec.lease_expires_unix_ms = now + options_.lease_ttl_ms;
  if (progress != nullptr) {
    rec.job.set_progress(progress->progress());
    rec.job.set_eta_seconds(progress->eta_seconds());
    rec.job.set_step(progress->step());
  }
  RETURN_IF_ERROR(txn.UpdateJob(rec));
  if (progress != nullptr) {
    v1::JobEvent event = *progress;
    event.set_unix_ms(now);
    event.set_state(rec.job.state());
    RETURN_IF_ERROR(txn.AppendEvent(job_id, event).status());
  }
  RETURN_IF_ERROR(txn.Commit());
  if (progress != nullptr) AfterCommit({rec.job.id()}, /*runnable=*/false);
  v1::HeartbeatResponse reply;
  reply.set_cancelled(rec.cancel_requested);
  reply.set_expires_unix_ms(rec.lease_expires_unix_ms);
  return reply;
}

absl::StatusOr<v1::HeartbeatResponse> Queue::Heartbeat(const v1::HeartbeatRequest& request) {
  return Renew(request.job_id(), request.epoch(), nullptr);
}

absl::StatusOr<v1::HeartbeatResponse> Queue::ReportProgress(
    const v1::ReportProgressRequest& request) {
  v1::JobEvent event;
  // NaN fails both comparisons and becomes 0.
  const double p = request.progress();
  event.set_progress(p >= 0 && p <= 1 ? p : (p > 1 ? 1.0 : 0.0));
  event.set_eta_seconds(request.eta_seconds() >= 0 ? request.eta_seconds() : -1);
  event.set_step(request.step());
  *event.mutable_metrics() = request.metrics();
  event.set_log(request.log());
  return Renew(request.job_id(), request.epoch(), &event);
}

absl::Status Queue::Complete(const v1::CompleteJobRequest& request) {
  ASSIGN_OR_RETURN(WriteTxn txn, store_->BeginWrite());
  ASSIGN_OR_RETURN(JobRecord rec, HeldJob(txn, request.job_id(), request.epoch()));
  v1::Job& job = rec.job;
  const int64_t now = txn.now_ms();
  *job.mutable_metrics() = request.metrics();
  *job.mutable_artifacts() = request.artifacts();
  job.set_progress(1);
  job.set_error("");
  const bool cancelled = rec.cancel_requested;
  Finish(rec, cancelled ? v1::JOB_STATE_CANCELLED : v1::JOB_STATE_SUCCEEDED, now);
  if (job.spec().kind() == v1::JOB_KIND_INSPECT && request.has_inspection()) {
    absl::Status set =
        txn.SetModelInspection(rec.tenant, job.spec().model_id(), &request.inspection());
    if (!set.ok() && !absl::IsNotFound(set)) return set;  // a deleted model is skipped
  }
  RETURN_IF_ERROR(txn.UpdateJob(rec));
  v1::JobEvent event = StateEvent(
      rec, now, cancelled ? "completed after cancellation was requested; cancelled" : "succeeded");
  *event.mutable_metrics() = request.metrics();
  RETURN_IF_ERROR(txn.AppendEvent(job.id(), event).status());
  RETURN_IF_ERROR(txn.Commit());
  AfterCommit({job.id()}, /*runnable=*/false);
  return absl::OkStatus();
}

absl::Status Queue::Fail(const v1::FailJobRequest& request) {
  ASSIGN_OR_RETURN(WriteTxn txn, store_->BeginWrite());
  ASSIGN_OR_RETURN(JobRecord rec, HeldJob(txn, request.job_id(), request.epoch()));
  const int64_t now = txn.now_ms();
  const std::string error =
      request.error().empty() ? std::string("worker reported failure") : request.error();
  bool runnable = false;
  if (request.retryable() || rec.cancel_requested) {
    RETURN_IF_ERROR(Requeue(txn, rec, error, &runnable));
  } else {
    Finish(rec, v1::JOB_STATE_FAILED, now);
    rec.job.set_error(error);
    RETURN_IF_ERROR(txn.UpdateJob(rec));
    RETURN_IF_ERROR(txn.AppendEvent(rec.job.id(), StateEvent(rec, now, error)).status());
  }
  RETURN_IF_ERROR(txn.Commit());
  AfterCommit({rec.job.id()}, runnable);
  return absl::OkStatus();
}

absl::StatusOr<JobRecord> Queue::CheckLease(std::string_view job_id, int64_t epoch) {
  ASSIGN_OR_RETURN(JobRecord rec, store_->GetJobAnyTenant(job_id));
  if (rec.job.state() != v1::JOB_STATE_RUNNING || rec.epoch != epoch) {
    return absl::AbortedError(StrCat("job '", job_id, "': lease epoch ", epoch, " is not held"));
  }
  return rec;
}

}  // namespace mp::queue
