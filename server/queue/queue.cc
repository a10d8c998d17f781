// Queue: user-side operations (submit, get, list, cancel, events), notifications and the
// background thread. Worker-side operations are in lease.cc; the design is in queue.h.
#include "server/queue/queue.h"

#include <algorithm>
#include <random>
#include <utility>

#include "common/ids.h"
#include "common/sha256.h"
#include "common/status.h"
#include "common/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "server/queue/queue_internal.h"
#include "spdlog/spdlog.h"

namespace mp::queue {

using internal::StateEvent;
using internal::StateName;
using store::JobRecord;
using store::WriteTxn;

namespace {

std::string SpecHash(const v1::JobSpec& spec) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream output(&bytes);
    google::protobuf::io::CodedOutputStream coded(&output);
    coded.SetSerializationDeterministic(true);
    spec.SerializeToCodedStream(&coded);
  }
  return Sha256Hex(bytes);
}

uint64_t RandomSeed() {
  static absl::Mutex mu(absl::kConstInit);
  static std::mt19937_64* rng = nullptr;
  absl::MutexLock lock(&mu);
  if (rng == nullptr) rng = new std::mt19937_64(std::random_device{}());
  uint64_t seed = 0;
  while (seed == 0) seed = (*rng)();
  return seed;
}

}  // namespace

bool IsTerminal(v1::JobState state) {
  return state == v1::JOB_STATE_SUCCEEDED || state == v1::JOB_STATE_FAILED ||
         state == v1::JOB_STATE_CANCELLED || state == v1::JOB_STATE_DEAD;
}

Queue::Queue(store::Store* store, Clock* clock, QueueOptions options)
    : store_(store), clock_(clock), options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<Queue>> Queue::Create(store::Store* store, Clock* clock,
                                                     QueueOptions options) {
  if (store == nullptr || clock == nullptr) {
    return absl::InvalidArgumentError("queue: store and clock are required");
  }
  if (options.lease_ttl_ms <= 0 || options.backoff_base_ms < 0 ||
      options.backoff_max_ms < options.backoff_base_ms || options.default_max_attempts < 1 ||
      options.default_max_attempts > options.max_max_attempts || options.default_page_size < 1 ||
      options.max_page_size > 1000 || options.default_page_size > options.max_page_size) {
    return absl::InvalidArgumentError("queue: inconsistent QueueOptions");
  }
  return std::unique_ptr<Queue>(new Queue(store, clock, std::move(options)));
}

Queue::~Queue() { Shutdown(); }

int64_t Queue::BackoffMillis(int32_t attempts) const {
  int64_t delay = options_.backoff_base_ms;
  for (int32_t i = 1; i < attempts && delay < options_.backoff_max_ms; ++i) delay *= 2;
  return std::min(delay, options_.backoff_max_ms);
}

absl::Status Queue::ValidateSubmit(const v1::SubmitJobRequest& request) const {
  const v1::JobKind kind = request.spec().kind();
  if (kind == v1::JOB_KIND_UNSPECIFIED || !v1::JobKind_IsValid(kind)) {
    return absl::InvalidArgumentError(StrCat("spec.kind ", int{kind}, " is not a job kind"));
  }
  if (request.max_attempts() < 0 || request.max_attempts() > options_.max_max_attempts) {
    return absl::InvalidArgumentError(StrCat("max_attempts ", request.max_attempts(),
                                             " not in [0, ", options_.max_max_attempts, "]"));
  }
  if (request.idempotency_key().size() > options_.max_idempotency_key_bytes) {
    return absl::InvalidArgumentError(StrCat("idempotency_key has ",
                                             request.idempotency_key().size(), " bytes, at most ",
                                             options_.max_idempotency_key_bytes, " allowed"));
  }
  return absl::OkStatus();
}

absl::StatusOr<SubmitResult> Queue::Submit(std::string_view tenant,
                                           const v1::SubmitJobRequest& request,
                                           SubmitExtras extras) {
  if (tenant.empty()) return absl::InvalidArgumentError("submit: tenant is empty");
  RETURN_IF_ERROR(ValidateSubmit(request));
  const std::string& key = request.idempotency_key();
  JobRecord rec;
  rec.tenant = std::string(tenant);
  rec.idempotency_key = key;
  rec.spec_hash = SpecHash(request.spec());
  v1::Job& job = rec.job;
  job.set_id(JobId::New().value());
  *job.mutable_spec() = request.spec();
  if (job.spec().seed() == 0) job.mutable_spec()->set_seed(RandomSeed());
  job.set_state(v1::JOB_STATE_QUEUED);
  job.set_priority(request.priority());
  job.set_max_attempts(request.max_attempts() > 0 ? request.max_attempts()
                                                  : options_.default_max_attempts);
  job.set_eta_seconds(-1);
  for (const auto& [role, blob] : extras.inputs) (*job.mutable_inputs())[role] = blob;

  // Two rounds at most: a lost race on UNIQUE(tenant, key) with another process is resolved
  // by reading the winner's job in a fresh transaction.
  for (int round = 0; round < 2; ++round) {
    ASSIGN_OR_RETURN(WriteTxn txn, store_->BeginWrite());
    if (!key.empty()) {
      ASSIGN_OR_RETURN(std::optional<JobRecord> existing, txn.FindJobByIdempotencyKey(tenant, key));
      if (existing.has_value()) {
        if (existing->spec_hash != rec.spec_hash) {
          return absl::AlreadyExistsError(StrCat("idempotency_key '", key, "' was used for job '",
                                                 existing->job.id(), "' with a different spec"));
        }
        return SubmitResult{std::move(existing->job), false};
      }
    }
    if (options_.max_queued_per_tenant > 0) {
      ASSIGN_OR_RETURN(int64_t queued, store_->CountTenantJobs(tenant, v1::JOB_STATE_QUEUED));
      if (queued >= options_.max_queued_per_tenant) {
        return absl::ResourceExhaustedError(StrCat("queue full: tenant has ", queued,
                                                   " queued jobs, the limit is ",
                                                   options_.max_queued_per_tenant));
      }
    }
    job.set_created_unix_ms(txn.now_ms());
    rec.next_run_unix_ms = txn.now_ms();
    absl::Status inserted = txn.InsertJob(rec);
    if (absl::IsAlreadyExists(inserted) && !key.empty() && round == 0) continue;
    RETURN_IF_ERROR(inserted);
    RETURN_IF_ERROR(txn.AppendEvent(job.id(), StateEvent(rec, txn.now_ms(), "submitted")).status());
    if (extras.in_txn) RETURN_IF_ERROR(extras.in_txn(txn, job));
    RETURN_IF_ERROR(txn.Commit());
    AfterCommit({job.id()}, /*runnable=*/true);
    return SubmitResult{std::move(job), true};
  }
  return absl::UnavailableError(StrCat("submit: idempotency_key '", key, "' is contended"));
}

absl::StatusOr<v1::Job> Queue::Get(std::string_view tenant, std::string_view job_id) {
  RETURN_IF_ERROR(JobId::Parse(job_id).status());
  ASSIGN_OR_RETURN(JobRecord rec, store_->GetJob(tenant, job_id));
  return std::move(rec.job);
}

absl::StatusOr<v1::ListJobsResponse> Queue::List(std::string_view tenant,
                                                 const v1::ListJobsRequest& request) {
  int page_size = request.page_size();
  if (page_size == 0) page_size = options_.default_page_size;
  if (page_size < 0 || page_size > options_.max_page_size) {
    return absl::InvalidArgumentError(
        StrCat("page_size ", request.page_size(), " not in [0, ", options_.max_page_size, "]"));
  }
  store::JobFilter filter;
  for (int state : request.states()) filter.states.push_back(static_cast<v1::JobState>(state));
  filter.kind = request.kind();
  filter.model_id = request.model_id();
  ASSIGN_OR_RETURN(store::Page<JobRecord> page,
                   store_->ListJobs(tenant, filter, page_size, request.page_token()));
  v1::ListJobsResponse response;
  for (JobRecord& rec : page.items) *response.add_jobs() = std::move(rec.job);
  response.set_next_page_token(page.next_page_token);
  return response;
}

absl::StatusOr<v1::Job> Queue::Cancel(std::string_view tenant, std::string_view job_id) {
  RETURN_IF_ERROR(JobId::Parse(job_id).status());
  ASSIGN_OR_RETURN(WriteTxn txn, store_->BeginWrite());
  ASSIGN_OR_RETURN(JobRecord rec, txn.GetJob(job_id));
  if (rec.tenant != tenant) return absl::NotFoundError(StrCat("job '", job_id, "' not found"));
  v1::Job& job = rec.job;
  if (IsTerminal(job.state())) {
    return absl::FailedPreconditionError(
        StrCat("job '", job_id, "' is already ", StateName(job.state()), "; cannot cancel"));
  }
  if (job.state() == v1::JOB_STATE_RUNNING && rec.cancel_requested) return std::move(job);
  std::string log;
  if (job.state() == v1::JOB_STATE_QUEUED) {
    job.set_state(v1::JOB_STATE_CANCELLED);
    job.set_finished_unix_ms(txn.now_ms());
    log = "cancelled";
  } else {
    rec.cancel_requested = true;
    log = StrCat("cancellation requested; waiting for worker '", job.worker_id(), "'");
  }
  RETURN_IF_ERROR(txn.UpdateJob(rec));
  RETURN_IF_ERROR(txn.AppendEvent(job.id(), StateEvent(rec, txn.now_ms(), log)).status());
  RETURN_IF_ERROR(txn.Commit());
  AfterCommit({job.id()}, /*runnable=*/false);
  return std::move(job);
}

absl::StatusOr<std::vector<v1::JobEvent>> Queue::Events(std::string_view tenant,
                                                        std::string_view job_id,
                                                        int64_t after_sequence, int max_events) {
  RETURN_IF_ERROR(Get(tenant, job_id).status());
  return store_->ListEvents(job_id, after_sequence, max_events > 0 ? max_events : 1000);
}

absl::StatusOr<std::vector<v1::JobEvent>> Queue::WaitForEvents(std::string_view tenant,
                                                               std::string_view job_id,
                                                               int64_t after_sequence,
                                                               int max_events,
                                                               absl::Duration timeout) {
  RETURN_IF_ERROR(Get(tenant, job_id).status());
  struct Waker {
    absl::Mutex mu;
    bool fired ABSL_GUARDED_BY(mu) = false;
  };
  auto waker = std::make_shared<Waker>();
  // Subscribe before reading, so an event committed in between is not missed.
  const Notifier::Token token = notifier_.Subscribe(job_id, [waker] {
    absl::MutexLock lock(&waker->mu);
    waker->fired = true;
  });
  absl::StatusOr<std::vector<v1::JobEvent>> events =
      Events(tenant, job_id, after_sequence, max_events);
  if (events.ok() && events->empty()) {
    absl::StatusOr<v1::Job> job = Get(tenant, job_id);
    if (job.ok() && !IsTerminal(job->state())) {
      {
        absl::MutexLock lock(&waker->mu);
        waker->mu.AwaitWithTimeout(absl::Condition(&waker->fired), timeout);
      }
      events = Events(tenant, job_id, after_sequence, max_events);
    }
  }
  notifier_.Unsubscribe(token);
  return events;
}

Notifier::Token Queue::Subscribe(std::string_view job_id, std::function<void()> callback) {
  return notifier_.Subscribe(job_id, std::move(callback));
}

void Queue::Unsubscribe(Notifier::Token token) { notifier_.Unsubscribe(token); }

void Queue::AfterCommit(const std::vector<std::string>& changed_jobs, bool runnable) {
  if (runnable) {
    {
      absl::MutexLock lock(&mu_);
      ++runnable_generation_;
    }
    notifier_.NotifyRunnable();
  }
  for (const std::string& id : changed_jobs) notifier_.NotifyJob(id);
}

void Queue::StartBackground(absl::Duration period) {
  absl::MutexLock lock(&mu_);
  if (background_.joinable() || shutdown_) return;
  background_ = std::thread([this, period] { BackgroundLoop(period); });
}

void Queue::BackgroundLoop(absl::Duration period) {
  std::optional<int64_t> due;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&shutdown_), period);
      if (shutdown_) return;
    }
    absl::StatusOr<int> reaped = ReapExpired();  // notifies by itself when it requeues
    if (!reaped.ok()) spdlog::warn("queue: reaping expired leases: {}", reaped.status().ToString());
    const int64_t now = clock_->NowMillis();
    if (due.has_value() && *due <= now) AfterCommit({}, /*runnable=*/true);
    absl::StatusOr<std::optional<int64_t>> next = store_->NextDueMillis(now);
    due = next.ok() ? *next : std::nullopt;
  }
}

void Queue::Shutdown() {
  std::thread background;
  {
    absl::MutexLock lock(&mu_);
    shutdown_ = true;
    ++runnable_generation_;
    background = std::move(background_);
  }
  if (background.joinable()) background.join();
  notifier_.NotifyRunnable();
}

}  // namespace mp::queue
