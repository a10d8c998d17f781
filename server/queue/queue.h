// mp::queue — the job state machine: submission, leases, fencing, retries, cancellation and
// the event log (DESIGN.md §6). Built on mp::store; knows nothing of gRPC.
//
// THE STATE MACHINE
//
//   Submit ──▶ QUEUED ──Lease──▶ RUNNING ──Complete──▶ SUCCEEDED
//                ▲  │               │  ├──Fail(permanent)──▶ FAILED
//                │  │               │  ├──Fail(retryable) / lease expiry, attempts left ─┐
//                │  │               │  ├──Fail / lease expiry, attempts exhausted ──▶ DEAD│
//                │  │               │  └──(cancel requested) Fail / Complete / expiry ─▶ CANCELLED
//                │  └──Cancel──▶ CANCELLED                                               │
//                └─────────────── backoff: next_run = now + base·2^(attempts-1) ◀────────┘
//
// Delivery is at least once. A worker holds a job through a LEASE: (job id, epoch, expiry on
// the server's clock). Lease() picks the runnable QUEUED job with the highest priority, then
// the oldest (created, then id), skipping jobs whose retry backoff has not ended and kinds
// the worker does not run. Leasing increments `attempts` (attempts are counted when a lease
// is granted, so a worker that dies before reporting anything still used one) and `epoch`
// (the fencing token), and sets the expiry to now + lease_ttl. Heartbeat and ReportProgress
// renew the expiry.
//
// FENCING. Every worker call names (job id, epoch). It is accepted only while the job is
// RUNNING with that same epoch. A lease that expired but was not yet reaped is still held
// (nobody else can have it: reaping and re-leasing happen in one write transaction, and a
// re-lease bumps the epoch). Once the lease is reaped or re-granted, or the job finished,
// the old holder is answered ABORTED — whatever it computed is discarded. Hence exactly one
// Complete (or Fail) is ever recorded per job.
//
// EXPIRY. Leases past their expiry are reaped — on every Lease() call (inside its
// transaction, before choosing) and by ReapExpired() (called by the background thread, or
// by tests with a FakeClock). A reaped job goes to CANCELLED if its owner asked to cancel,
// to DEAD if attempts >= max_attempts (a poison job that kills its worker stops after
// max_attempts, while jobs behind it keep being leased), else back to QUEUED with backoff.
// Fail(retryable) does the same with the worker's error message; Fail(permanent) -> FAILED.
//
// CANCELLATION. Cancel on QUEUED -> CANCELLED at once. On RUNNING it sets cancel_requested;
// the worker learns it from its next Heartbeat/ReportProgress reply (cancelled = true) and
// acknowledges with Fail (or Complete): the job ends CANCELLED (a Complete's metrics and
// artifacts are kept). If the worker never answers, lease expiry ends it CANCELLED.
// Cancel on a terminal job is FAILED_PRECONDITION; on a cancel-requested job it is a no-op.
//
// IDEMPOTENCY. Submit with a key looks the key up inside the same BEGIN IMMEDIATE write
// transaction that would insert the job; UNIQUE(tenant, idempotency_key) backs it up. Same
// key + same spec (sha256 of its deterministic serialization) -> the existing job; same key
// + different spec -> ALREADY_EXISTS. Concurrent submissions with one key create one job.
//
// EVENTS. Every state change and every progress report appends a JobEvent (dense sequence
// per job, from 1) in the same transaction as the change. After each commit the queue
// notifies the job's subscribers (Subscribe) and, when a job became runnable, the lease
// waiters (AddRunnableWaiter / LeaseWait).
//
// TENANTS. User-side calls take the caller's tenant; another tenant's job id answers
// NOT_FOUND, exactly like an unknown id. Worker-side calls are not tenant-scoped (workers
// are trusted infrastructure authenticated separately) and are fenced by epoch instead.
//
// Status codes (DESIGN.md §7): bad request fields INVALID_ARGUMENT; unknown or foreign id
// NOT_FOUND; key reused with another spec ALREADY_EXISTS; cancel of a finished job
// FAILED_PRECONDITION; stale or lost lease ABORTED; per-tenant queue full
// RESOURCE_EXHAUSTED; store busy or queue shut down UNAVAILABLE.
//
// Thread safety: every method may be called from any number of threads.
#ifndef MP_SERVER_QUEUE_QUEUE_H_
#define MP_SERVER_QUEUE_QUEUE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "modelpress/v1/job.pb.h"
#include "modelpress/v1/worker.pb.h"
#include "server/queue/notifier.h"
#include "server/store/store.h"

namespace mp::queue {

namespace v1 = ::modelpress::v1;

struct QueueOptions {
  int64_t lease_ttl_ms = 10'000;      // a lease lapses this long after its last renewal
  int32_t default_max_attempts = 3;   // when SubmitJobRequest.max_attempts is 0
  int32_t max_max_attempts = 10;      // larger requests are INVALID_ARGUMENT
  int64_t backoff_base_ms = 1'000;    // retry n (n >= 1) waits base * 2^(n-1) ...
  int64_t backoff_max_ms = 60'000;    // ... capped at this
  int64_t max_wait_ms = 30'000;       // cap on a LeaseWait long poll
  int32_t max_queued_per_tenant = 0;  // > 0: Submit beyond it is RESOURCE_EXHAUSTED
  int32_t default_page_size = 50;     // ListJobs page_size 0
  int32_t max_page_size = 1000;       // larger page_size is INVALID_ARGUMENT
  size_t max_idempotency_key_bytes = 128;
};

// Extra inputs of Submit that are not in the public request.
struct SubmitExtras {
  // Blobs the job reads, by role ("model", "calibration", ...): resolved by the caller
  // from the spec's ids; stored in Job.inputs and handed to the worker with the lease.
  std::map<std::string, v1::BlobRef> inputs;
  // Runs inside the submit write transaction after the new job row is inserted (not when
  // an idempotent retry returns an existing job). Returning an error rolls everything back
  // and Submit returns that error. E.g. UploadModel inserts the model row here, so a model
  // and its inspect job appear together or not at all. Must not block.
  std::function<absl::Status(store::WriteTxn& txn, const v1::Job& job)> in_txn;
};

struct SubmitResult {
  v1::Job job;
  bool created = false;  // false: an earlier submission with the same key and spec
};

class Queue {
 public:
  // `store` and `clock` are not owned and must outlive the queue.
  static absl::StatusOr<std::unique_ptr<Queue>> Create(store::Store* store, Clock* clock,
                                                       QueueOptions options = {});
  ~Queue();  // stops the background thread and wakes every LeaseWait with UNAVAILABLE
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;

  const QueueOptions& options() const { return options_; }

  // ---------------- user side (tenant-scoped) ----------------

  // Validates the request's queue fields (kind set, priority, max_attempts in
  // [0, max_max_attempts], key length); the spec's contents are the caller's to validate.
  // A spec seed of 0 is replaced by a random nonzero seed, recorded in the stored spec (the
  // idempotency hash is over the spec as submitted). Appends a QUEUED event.
  absl::StatusOr<SubmitResult> Submit(std::string_view tenant, const v1::SubmitJobRequest& request,
                                      SubmitExtras extras = {});
  absl::StatusOr<v1::Job> Get(std::string_view tenant, std::string_view job_id);
  // Applies the filters; page_size 0 -> default_page_size.
  absl::StatusOr<v1::ListJobsResponse> List(std::string_view tenant,
                                            const v1::ListJobsRequest& request);
  // See CANCELLATION above. Returns the job after the change.
  absl::StatusOr<v1::Job> Cancel(std::string_view tenant, std::string_view job_id);
  // The job's events with sequence > after_sequence, ascending, at most max_events.
  absl::StatusOr<std::vector<v1::JobEvent>> Events(std::string_view tenant, std::string_view job_id,
                                                   int64_t after_sequence, int max_events);
  // Like Events, but if there are none yet and the job is not terminal, blocks until one is
  // appended or `timeout` passes (real time), then returns what there is (maybe nothing).
  // For synchronous callers and tests; a gRPC reactor should use Subscribe instead.
  absl::StatusOr<std::vector<v1::JobEvent>> WaitForEvents(std::string_view tenant,
                                                          std::string_view job_id,
                                                          int64_t after_sequence, int max_events,
                                                          absl::Duration timeout);

  // Registers `callback`, run after every committed event of `job_id` (any tenant; check
  // access with Get first) until Unsubscribe. It runs on the committing thread, outside the
  // queue's locks: it must be quick and must not block (typically: poke a reactor, which
  // then reads Events). It must not call Unsubscribe for itself. After Unsubscribe returns
  // the callback is not running and never runs again.
  Notifier::Token Subscribe(std::string_view job_id, std::function<void()> callback);
  void Unsubscribe(Notifier::Token token);

  // ---------------- worker side (fenced by epoch) ----------------

  // Leases the next runnable job at once (reaping expired leases first). The response has
  // no `lease` when nothing is runnable. worker_id must be non-empty (INVALID_ARGUMENT);
  // request.wait_ms is ignored here. Records worker_id and engine_version in the job and
  // appends a RUNNING event.
  absl::StatusOr<v1::LeaseJobResponse> Lease(const v1::LeaseJobRequest& request);
  // Long poll: like Lease, but waits up to min(request.wait_ms, max_wait_ms) of real time
  // for a job to become runnable (a submission, a requeue, a backoff or lease expiring).
  // Blocks the calling thread; UNAVAILABLE if the queue shuts down meanwhile.
  absl::StatusOr<v1::LeaseJobResponse> LeaseWait(const v1::LeaseJobRequest& request);
  // One-shot callback for non-blocking long polls: runs once (on some thread, outside the
  // queue's locks; must not block) when a job may have become runnable, after which the
  // caller should try Lease again. RemoveRunnableWaiter returns false if it already ran (or
  // is running). The background thread (StartBackground) also fires waiters when a backoff
  // or a lease expiry comes due.
  Notifier::Token AddRunnableWaiter(std::function<void()> callback);
  bool RemoveRunnableWaiter(Notifier::Token token);

  // Renews the lease. ABORTED if the caller no longer holds it; NOT_FOUND for an unknown
  // job. The reply carries the new expiry and whether cancellation was requested.
  absl::StatusOr<v1::HeartbeatResponse> Heartbeat(const v1::HeartbeatRequest& request);
  // Appends a progress event (progress clamped to [0,1]), updates the job's progress, ETA
  // and step, and renews the lease; same fencing and reply as Heartbeat.
  absl::StatusOr<v1::HeartbeatResponse> ReportProgress(const v1::ReportProgressRequest& request);
  // Records metrics and artifacts and ends the job SUCCEEDED (CANCELLED if cancellation was
  // requested). For an INSPECT job, also stores request.inspection on the job's model (same
  // transaction; a model deleted meanwhile is skipped). ABORTED if the lease is not held.
  absl::Status Complete(const v1::CompleteJobRequest& request);
  // See the state machine above. ABORTED if the lease is not held.
  absl::Status Fail(const v1::FailJobRequest& request);
  // The job if (job_id, epoch) is a lease held right now; ABORTED otherwise (NOT_FOUND for
  // an unknown job). For authorizing worker blob fetches against the job's inputs.
  absl::StatusOr<store::JobRecord> CheckLease(std::string_view job_id, int64_t epoch);

  // ---------------- maintenance ----------------

  // Ends or requeues every lease expired at the clock's now (see EXPIRY). Returns how many
  // jobs changed state.
  absl::StatusOr<int> ReapExpired();
  // Starts a thread that every `period` (real time) reaps expired leases and fires the
  // runnable waiters when some job has come due. Call at most once; stopped by the
  // destructor or Shutdown.
  void StartBackground(absl::Duration period = absl::Seconds(1));
  // Stops the background thread, wakes every LeaseWait (UNAVAILABLE) and fires every
  // runnable waiter; later Lease calls still work (the store stays usable).
  void Shutdown();

 private:
  Queue(store::Store* store, Clock* clock, QueueOptions options);

  // Internal helpers (queue.cc, lease.cc).
  int64_t BackoffMillis(int32_t attempts) const;
  absl::Status ValidateSubmit(const v1::SubmitJobRequest& request) const;
  absl::StatusOr<store::JobRecord> HeldJob(store::WriteTxn& txn, std::string_view job_id,
                                           int64_t epoch);
  absl::Status Requeue(store::WriteTxn& txn, store::JobRecord& rec, std::string_view why,
                       bool* runnable_now);
  absl::StatusOr<int> ReapLocked(store::WriteTxn& txn, std::vector<std::string>* changed,
                                 bool* runnable);
  absl::StatusOr<v1::HeartbeatResponse> Renew(std::string_view job_id, int64_t epoch,
                                              const v1::JobEvent* progress);
  void AfterCommit(const std::vector<std::string>& changed_jobs, bool runnable);
  void BackgroundLoop(absl::Duration period);

  store::Store* const store_;
  Clock* const clock_;
  const QueueOptions options_;
  Notifier notifier_;

  absl::Mutex mu_;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  int64_t runnable_generation_ ABSL_GUARDED_BY(mu_) = 0;  // bumped on every "maybe runnable"
  std::thread background_;
};

// True for SUCCEEDED, FAILED, CANCELLED and DEAD.
bool IsTerminal(v1::JobState state);

}  // namespace mp::queue

#endif  // MP_SERVER_QUEUE_QUEUE_H_
