// mp::store — the server's durable state in SQLite (DESIGN.md §2, §6). The only module that
// includes sqlite3.h.
//
// What lives here: tenants' models, datasets, jobs and job events, as rows of one SQLite
// database `<data_dir>/modelpress.db`. Bytes of models, datasets and artifacts never live in
// the database: they are content-addressed files (blob_store.h) that rows name by sha256.
//
// Rows carry the public proto message (modelpress.v1.Job / Model / Dataset) plus the
// internal columns that are not part of the API (tenant, lease epoch and expiry, backoff,
// idempotency key). Columns that queries filter or sort on are real SQL columns; nested
// repeated data (spec, metrics, artifacts, inputs, inspection) is stored as serialized proto
// bytes in BLOB columns.
//
// Durability and concurrency (the connection discipline):
//   * journal_mode=WAL, synchronous=FULL (a commit is on disk when Commit() returns),
//     foreign_keys=ON, busy_timeout (StoreOptions) for other processes holding the lock.
//   * ONE writer connection behind a mutex. A WriteTxn holds that mutex from BeginWrite()
//     to Commit()/destruction and runs inside `BEGIN IMMEDIATE`, so writers in this process
//     are serialized without ever seeing SQLITE_BUSY from each other, and a write
//     transaction that reads (e.g. "is this key taken?") then writes cannot be interleaved.
//     Keep write transactions short: no RPCs, file I/O or waiting inside one.
//   * A pool of reader connections. Every read method on Store borrows one, runs a single
//     statement (its own implicit, short read transaction: a consistent snapshot of the last
//     commit) and returns it. In WAL mode readers never block the writer nor each other.
//   * SQLITE_BUSY / SQLITE_LOCKED after busy_timeout map to UNAVAILABLE ("store busy");
//     SQLITE_FULL to RESOURCE_EXHAUSTED; a unique-constraint violation to ALREADY_EXISTS;
//     anything else to INTERNAL. Messages name the operation and the row.
//   * Every method is thread-safe.
//
// Schema changes are a list of migration steps keyed on `PRAGMA user_version`
// (schema.cc); Open() applies the missing ones, each in its own transaction.
//
// Times are integer Unix milliseconds from the injected mp::Clock.
// Tenant isolation: every read or write of a user's row takes the tenant, and a row of
// another tenant answers NOT_FOUND exactly like a missing row.
#ifndef MP_SERVER_STORE_STORE_H_
#define MP_SERVER_STORE_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "modelpress/v1/job.pb.h"
#include "modelpress/v1/model.pb.h"

struct sqlite3;

namespace mp::store {

namespace v1 = ::modelpress::v1;

struct StoreOptions {
  std::string data_dir;        // created if missing; the database is data_dir/modelpress.db
  Clock* clock = nullptr;      // required; not owned
  int busy_timeout_ms = 5000;  // how long a statement waits for another process's lock
  int max_idle_readers = 8;    // reader connections kept open between reads
};

// A job row: the public view plus the queue's internal columns.
struct JobRecord {
  std::string tenant;
  // Public view. job.id() is the primary key; job.spec().kind() and job.spec().model_id()
  // are also stored as columns for filtering. job.worker_id() is the lease owner.
  v1::Job job;
  int64_t epoch = 0;                  // fencing token of the current/last lease (0: never)
  int64_t lease_expires_unix_ms = 0;  // RUNNING: when the lease lapses; otherwise 0
  int64_t next_run_unix_ms = 0;       // QUEUED: not leasable before this (retry backoff)
  bool cancel_requested = false;      // RUNNING: the owner asked to cancel
  std::string idempotency_key;        // empty: none. UNIQUE per tenant when non-empty
  std::string spec_hash;              // lowercase hex sha256 of the submitted spec
};

// A model row. model.id() is the primary key; model.inspection() is stored only when
// has_inspection().
struct ModelRecord {
  std::string tenant;
  v1::Model model;
};

struct DatasetRecord {
  std::string tenant;
  v1::Dataset dataset;
};

// Filters for ListJobs; empty / UNSPECIFIED fields match everything.
struct JobFilter {
  std::vector<v1::JobState> states;
  v1::JobKind kind = v1::JOB_KIND_UNSPECIFIED;
  std::string model_id;
};

// One page of a listing. Pages are ordered newest first (created desc, id desc);
// next_page_token is empty on the last page. Tokens are opaque to clients; a malformed one
// is INVALID_ARGUMENT. A token stays valid while rows are added or removed (keyset paging).
template <typename T>
struct Page {
  std::vector<T> items;
  std::string next_page_token;
};

// Bytes a tenant stores: sum of its models', datasets' and jobs' artifacts' sizes (each row
// counted, even when two rows share one blob). For quotas.
struct TenantUsage {
  int64_t model_bytes = 0;
  int64_t dataset_bytes = 0;
  int64_t artifact_bytes = 0;
  int64_t total() const { return model_bytes + dataset_bytes + artifact_bytes; }
};

// Aggregates of one job kind over every tenant (for /metrics; Store::AggregateJobsByKind).
struct JobKindAggregate {
  std::map<v1::JobState, int64_t> by_state;  // jobs per state; absent states are 0
  int64_t attempts = 0;                      // sum of the jobs' attempts
  // Terminal jobs (SUCCEEDED, FAILED, CANCELLED, DEAD) that started, with
  // 0 < started_ms <= finished_ms: their number, the sum of their run times
  // (finished - started), and for each bound b of the query's `run_bounds_ms`, how many ran
  // at most b ms (cumulative, like Prometheus `le` buckets; same order as the bounds).
  int64_t finished = 0;
  int64_t run_ms_sum = 0;
  std::vector<int64_t> run_ms_le;
};

class Store;

// A write transaction (BEGIN IMMEDIATE on the writer connection, holding the writer mutex).
// Obtain with Store::BeginWrite(); destroyed without Commit() it rolls back. Movable, not
// copyable; use from one thread. After any method fails, the only useful call is the
// destructor (roll back) — do not Commit a transaction whose steps failed.
class WriteTxn {
 public:
  WriteTxn(WriteTxn&& other) noexcept;
  WriteTxn& operator=(WriteTxn&&) = delete;
  WriteTxn(const WriteTxn&) = delete;
  ~WriteTxn();

  // Commits. UNAVAILABLE if the store is busy (then nothing was written).
  absl::Status Commit();

  // The clock time taken when the transaction began; use it for every time written in it.
  int64_t now_ms() const { return now_ms_; }

  // --- jobs ---
  // The job with this id, any tenant (the queue checks tenants). NOT_FOUND if missing.
  absl::StatusOr<JobRecord> GetJob(std::string_view job_id);
  // The tenant's job carrying this idempotency key, if any.
  absl::StatusOr<std::optional<JobRecord>> FindJobByIdempotencyKey(std::string_view tenant,
                                                                   std::string_view key);
  // Inserts a new job. ALREADY_EXISTS if the id, or (tenant, idempotency_key), is taken.
  absl::Status InsertJob(const JobRecord& record);
  // Overwrites every mutable column of an existing job (state, attempts, epoch, lease,
  // progress, metrics, artifacts, ...). NOT_FOUND if missing.
  absl::Status UpdateJob(const JobRecord& record);
  // Appends an event to the job's log. The sequence is assigned here (previous + 1, dense
  // from 1) and returned; event.sequence() is ignored.
  absl::StatusOr<int64_t> AppendEvent(std::string_view job_id, const v1::JobEvent& event);
  // RUNNING jobs whose lease expired at or before `now_ms`, oldest expiry first.
  absl::StatusOr<std::vector<JobRecord>> ExpiredLeases(int64_t now_ms, int limit);
  // The QUEUED job to lease next at `now_ms`: next_run <= now, kind in `kinds` (empty: any),
  // highest priority first, then oldest (created asc, id asc). nullopt if none.
  absl::StatusOr<std::optional<JobRecord>> NextRunnable(int64_t now_ms,
                                                        const std::vector<v1::JobKind>& kinds);

  // --- models and datasets ---
  absl::Status InsertModel(const ModelRecord& record);  // ALREADY_EXISTS if the id is taken
  // Sets (or clears, when `inspection` is nullptr) the model's inspection. NOT_FOUND if the
  // tenant has no such model.
  absl::Status SetModelInspection(std::string_view tenant, std::string_view model_id,
                                  const v1::ModelInspection* inspection);
  absl::Status SetModelInspectJob(std::string_view tenant, std::string_view model_id,
                                  std::string_view job_id);
  absl::Status DeleteModel(std::string_view tenant, std::string_view model_id);  // NOT_FOUND
  absl::Status InsertDataset(const DatasetRecord& record);
  absl::Status DeleteDataset(std::string_view tenant, std::string_view dataset_id);

 private:
  friend class Store;
  WriteTxn(Store* store, int64_t now_ms);
  sqlite3* db() const;

  Store* store_;  // nullptr once committed, rolled back or moved from
  int64_t now_ms_;
};

class Store {
 public:
  // Opens (creating if needed) the database under options.data_dir, sets the pragmas above
  // and applies pending migrations. FAILED_PRECONDITION if the database's schema is newer
  // than this binary knows.
  static absl::StatusOr<std::unique_ptr<Store>> Open(const StoreOptions& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  Clock* clock() const { return options_.clock; }
  const std::string& db_path() const { return db_path_; }

  // Starts a write transaction; blocks while another thread of this process holds one.
  // UNAVAILABLE if another process holds the database lock past busy_timeout.
  absl::StatusOr<WriteTxn> BeginWrite();

  // --- reads: one short read transaction each; tenant-scoped ones answer NOT_FOUND for
  // another tenant's id ---
  absl::StatusOr<JobRecord> GetJob(std::string_view tenant, std::string_view job_id);
  // Any tenant; for worker-side calls, which are not tenant-scoped.
  absl::StatusOr<JobRecord> GetJobAnyTenant(std::string_view job_id);
  // page_size must be in [1, 1000] (the caller applies defaults).
  absl::StatusOr<Page<JobRecord>> ListJobs(std::string_view tenant, const JobFilter& filter,
                                           int page_size, std::string_view page_token);
  // Events of one job with sequence > after_sequence, ascending, at most `limit`.
  absl::StatusOr<std::vector<v1::JobEvent>> ListEvents(std::string_view job_id,
                                                       int64_t after_sequence, int limit);
  // Number of jobs per state over all tenants (for /metrics); absent states are 0.
  absl::StatusOr<std::map<v1::JobState, int64_t>> CountJobsByState();
  // Per-kind aggregates over all tenants, computed by SQLite in two grouped queries (no row
  // is decoded, whatever the number of jobs). Kinds without jobs are absent.
  absl::StatusOr<std::map<v1::JobKind, JobKindAggregate>> AggregateJobsByKind(
      std::span<const double> run_bounds_ms);
  // Number of a tenant's jobs in `state` (e.g. QUEUED, for a per-tenant queue limit).
  absl::StatusOr<int64_t> CountTenantJobs(std::string_view tenant, v1::JobState state);
  // The earliest time after `now_ms` at which a job may become leasable without any new
  // write: a QUEUED job's backoff ending or a RUNNING job's lease expiring. nullopt if none.
  absl::StatusOr<std::optional<int64_t>> NextDueMillis(int64_t now_ms);

  absl::StatusOr<ModelRecord> GetModel(std::string_view tenant, std::string_view model_id);
  absl::StatusOr<Page<ModelRecord>> ListModels(std::string_view tenant, int page_size,
                                               std::string_view page_token);
  absl::StatusOr<DatasetRecord> GetDataset(std::string_view tenant, std::string_view dataset_id);
  absl::StatusOr<Page<DatasetRecord>> ListDatasets(std::string_view tenant, int page_size,
                                                   std::string_view page_token);
  absl::StatusOr<TenantUsage> GetTenantUsage(std::string_view tenant);

  // --- conveniences: one write transaction each ---
  absl::Status CreateModel(const ModelRecord& record);
  absl::Status CreateDataset(const DatasetRecord& record);
  absl::Status DeleteModel(std::string_view tenant, std::string_view model_id);
  absl::Status DeleteDataset(std::string_view tenant, std::string_view dataset_id);

  // Runs `PRAGMA integrity_check`; OK iff SQLite answers "ok", else DATA_LOSS with its
  // report.
  absl::Status IntegrityCheck();
  // The schema version (PRAGMA user_version) after migrations.
  absl::StatusOr<int> SchemaVersion();

 private:
  friend class WriteTxn;
  class Reader;  // a borrowed reader connection (store.cc)

  explicit Store(StoreOptions options);
  absl::StatusOr<sqlite3*> OpenConnection();
  absl::StatusOr<sqlite3*> AcquireReader();
  void ReleaseReader(sqlite3* db);

  StoreOptions options_;
  std::string db_path_;
  absl::Mutex write_mu_;  // held by the live WriteTxn
  sqlite3* writer_ ABSL_GUARDED_BY(write_mu_) = nullptr;
  absl::Mutex readers_mu_;
  std::vector<sqlite3*> idle_readers_ ABSL_GUARDED_BY(readers_mu_);
};

}  // namespace mp::store

#endif  // MP_SERVER_STORE_STORE_H_
