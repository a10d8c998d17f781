// Store: connections, transactions and the tenant-wide queries. Job rows are in
// job_rows.cc, model and dataset rows in model_rows.cc.
#include "server/store/store.h"

#include <sqlite3.h>

#include <filesystem>
#include <system_error>
#include <utility>

#include "common/check.h"
#include "common/status.h"
#include "common/str_cat.h"
#include "server/store/schema.h"
#include "server/store/sqlite_util.h"
#include "server/store/store_internal.h"

namespace mp::store {

using internal::Exec;
using internal::SqliteError;
using internal::Stmt;

Store::Store(StoreOptions options)
    : options_(std::move(options)), db_path_(options_.data_dir + "/modelpress.db") {}

Store::~Store() {
  {
    absl::MutexLock lock(&readers_mu_);
    for (sqlite3* db : idle_readers_) sqlite3_close_v2(db);
    idle_readers_.clear();
  }
  absl::MutexLock lock(&write_mu_);
  sqlite3_close_v2(writer_);
  writer_ = nullptr;
}

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  if (options.clock == nullptr) return absl::InvalidArgumentError("store: clock is required");
  if (options.data_dir.empty()) return absl::InvalidArgumentError("store: data_dir is empty");
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec) {
    return absl::InternalError(
        StrCat("store: create data dir '", options.data_dir, "': ", ec.message()));
  }
  std::unique_ptr<Store> store(new Store(options));
  ASSIGN_OR_RETURN(sqlite3 * writer, store->OpenConnection());
  absl::Status status = Exec(writer, "PRAGMA journal_mode=WAL", "enable WAL");
  if (status.ok()) status = internal::Migrate(writer, internal::SchemaMigrations());
  absl::MutexLock lock(&store->write_mu_);
  store->writer_ = writer;
  if (!status.ok()) return Annotate(status, StrCat("open store '", store->db_path_, "'"));
  return store;
}

absl::StatusOr<sqlite3*> Store::OpenConnection() {
  sqlite3* db = nullptr;
  // NOMUTEX: each connection is used by one thread at a time (writer mutex / reader pool).
  const int rc =
      sqlite3_open_v2(db_path_.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status status = SqliteError(db, rc, StrCat("open database '", db_path_, "'"));
    sqlite3_close_v2(db);
    return status;
  }
  sqlite3_busy_timeout(db, options_.busy_timeout_ms);
  absl::Status status =
      Exec(db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON", "set connection pragmas");
  if (!status.ok()) {
    sqlite3_close_v2(db);
    return status;
  }
  return db;
}

absl::StatusOr<sqlite3*> Store::AcquireReader() {
  {
    absl::MutexLock lock(&readers_mu_);
    if (!idle_readers_.empty()) {
      sqlite3* db = idle_readers_.back();
      idle_readers_.pop_back();
      return db;
    }
  }
  return OpenConnection();
}

void Store::ReleaseReader(sqlite3* db) {
  {
    absl::MutexLock lock(&readers_mu_);
    if (static_cast<int>(idle_readers_.size()) < options_.max_idle_readers) {
      idle_readers_.push_back(db);
      return;
    }
  }
  sqlite3_close_v2(db);
}

// ---------------------------------------------------------------------------------------
// Write transactions.

absl::StatusOr<WriteTxn> Store::BeginWrite() {
  write_mu_.Lock();
  absl::Status status = Exec(writer_, "BEGIN IMMEDIATE", "begin write transaction");
  if (!status.ok()) {
    write_mu_.Unlock();
    return status;
  }
  return WriteTxn(this, options_.clock->NowMillis());
}

WriteTxn::WriteTxn(Store* store, int64_t now_ms) : store_(store), now_ms_(now_ms) {}

WriteTxn::WriteTxn(WriteTxn&& other) noexcept
    : store_(std::exchange(other.store_, nullptr)), now_ms_(other.now_ms_) {}

WriteTxn::~WriteTxn() {
  if (store_ == nullptr) return;
  (void)Exec(store_->writer_, "ROLLBACK", "roll back write transaction");
  store_->write_mu_.Unlock();
}

sqlite3* WriteTxn::db() const {
  MP_CHECK(store_ != nullptr) << "write transaction already finished";
  return store_->writer_;
}

absl::Status WriteTxn::Commit() {
  MP_CHECK(store_ != nullptr) << "write transaction already finished";
  Store* store = std::exchange(store_, nullptr);
  absl::Status status = Exec(store->writer_, "COMMIT", "commit write transaction");
  if (!status.ok() && !sqlite3_get_autocommit(store->writer_)) {
    (void)Exec(store->writer_, "ROLLBACK", "roll back failed commit");
  }
  store->write_mu_.Unlock();
  return status;
}

// ---------------------------------------------------------------------------------------
// Whole-store queries.

absl::StatusOr<std::map<v1::JobState, int64_t>> Store::CountJobsByState() {
  Reader reader(this);
  RETURN_IF_ERROR(reader.Acquire());
  Stmt stmt(reader.db(), "SELECT state, COUNT(*) FROM jobs GROUP BY state", "count jobs");
  std::map<v1::JobState, int64_t> counts;
  while (true) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    const int64_t state = stmt.Int(0);
    if (v1::JobState_IsValid(static_cast<int>(state))) {
      counts[static_cast<v1::JobState>(state)] = stmt.Int(1);
    }
  }
  return counts;
}

absl::StatusOr<std::map<v1::JobKind, JobKindAggregate>> Store::AggregateJobsByKind(
    std::span<const double> run_bounds_ms) {
  Reader reader(this);
  RETURN_IF_ERROR(reader.Acquire());
  std::map<v1::JobKind, JobKindAggregate> out;
  Stmt states(reader.db(),
              "SELECT kind, state, COUNT(*), SUM(attempts) FROM jobs GROUP BY kind, state",
              "aggregate jobs by kind");
  while (true) {
    ASSIGN_OR_RETURN(bool row, states.Step());
    if (!row) break;
    const auto kind = static_cast<int>(states.Int(0));
    const auto state = static_cast<int>(states.Int(1));
    if (!v1::JobKind_IsValid(kind) || !v1::JobState_IsValid(state)) continue;
    JobKindAggregate& agg = out[static_cast<v1::JobKind>(kind)];
    agg.by_state[static_cast<v1::JobState>(state)] = states.Int(2);
    agg.attempts += states.Int(3);
  }
  // One SUM(run <= ?) column per bound: the histogram in a single pass.
  std::string sql = "SELECT kind, COUNT(*), SUM(finished_ms - started_ms)";
  for (size_t i = 0; i < run_bounds_ms.size(); ++i) {
    sql += StrCat(", SUM(finished_ms - started_ms <= ?", i + 1, ")");
  }
  sql += StrCat(" FROM jobs WHERE state IN (", int{v1::JOB_STATE_SUCCEEDED}, ", ",
                int{v1::JOB_STATE_FAILED}, ", ", int{v1::JOB_STATE_CANCELLED}, ", ",
                int{v1::JOB_STATE_DEAD},
                ") AND started_ms > 0 AND finished_ms >= started_ms GROUP BY kind");
  Stmt runs(reader.db(), sql, "aggregate job run times");
  for (size_t i = 0; i < run_bounds_ms.size(); ++i) {
    runs.BindDouble(static_cast<int>(i) + 1, run_bounds_ms[i]);
  }
  while (true) {
    ASSIGN_OR_RETURN(bool row, runs.Step());
    if (!row) break;
    const auto kind = static_cast<int>(runs.Int(0));
    if (!v1::JobKind_IsValid(kind)) continue;
    JobKindAggregate& agg = out[static_cast<v1::JobKind>(kind)];
    agg.finished = runs.Int(1);
    agg.run_ms_sum = runs.Int(2);
    agg.run_ms_le.clear();
    for (size_t i = 0; i < run_bounds_ms.size(); ++i) {
      agg.run_ms_le.push_back(runs.Int(static_cast<int>(i) + 3));
    }
  }
  return out;
}

absl::StatusOr<int64_t> Store::CountTenantJobs(std::string_view tenant, v1::JobState state) {
  Reader reader(this);
  RETURN_IF_ERROR(reader.Acquire());
  Stmt stmt(reader.db(), "SELECT COUNT(*) FROM jobs WHERE tenant = ?1 AND state = ?2",
            "count tenant jobs");
  stmt.Bind(1, tenant).Bind(2, int64_t{state});
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  return row ? stmt.Int(0) : 0;
}

absl::StatusOr<std::optional<int64_t>> Store::NextDueMillis(int64_t now_ms) {
  Reader reader(this);
  RETURN_IF_ERROR(reader.Acquire());
  Stmt stmt(reader.db(),
            "SELECT MIN(t) FROM ("
            " SELECT MIN(next_run_ms) AS t FROM jobs WHERE state = ?2 AND next_run_ms > ?1"
            " UNION ALL"
            " SELECT MIN(lease_expires_ms) FROM jobs WHERE state = ?3 AND lease_expires_ms > ?1)",
            "find next due time");
  stmt.Bind(1, now_ms)
      .Bind(2, int64_t{v1::JOB_STATE_QUEUED})
      .Bind(3, int64_t{v1::JOB_STATE_RUNNING});
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row || stmt.IsNull(0)) return std::optional<int64_t>();
  return std::optional<int64_t>(stmt.Int(0));
}

absl::StatusOr<TenantUsage> Store::GetTenantUsage(std::string_view tenant) {
  Reader reader(this);
  RETURN_IF_ERROR(reader.Acquire());
  Stmt stmt(reader.db(),
            "SELECT (SELECT COALESCE(SUM(blob_size), 0) FROM models WHERE tenant = ?1),"
            " (SELECT COALESCE(SUM(blob_size), 0) FROM datasets WHERE tenant = ?1),"
            " (SELECT COALESCE(SUM(artifact_bytes), 0) FROM jobs WHERE tenant = ?1)",
            "compute tenant usage");
  stmt.Bind(1, tenant);
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  TenantUsage usage;
  if (row) {
    usage.model_bytes = stmt.Int(0);
    usage.dataset_bytes = stmt.Int(1);
    usage.artifact_bytes = stmt.Int(2);
  }
  return usage;
}

absl::Status Store::IntegrityCheck() {
  Reader reader(this);
  RETURN_IF_ERROR(reader.Acquire());
  Stmt stmt(reader.db(), "PRAGMA integrity_check", "integrity check");
  std::string report;
  while (true) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    if (!report.empty()) report += "; ";
    report += stmt.Text(0);
  }
  if (report == "ok") return absl::OkStatus();
  return absl::DataLossError(StrCat("integrity check of '", db_path_, "': ", report));
}

absl::StatusOr<int> Store::SchemaVersion() {
  Reader reader(this);
  RETURN_IF_ERROR(reader.Acquire());
  Stmt stmt(reader.db(), "PRAGMA user_version", "read schema version");
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  return row ? static_cast<int>(stmt.Int(0)) : 0;
}

// ---------------------------------------------------------------------------------------
// One-transaction conveniences.

absl::Status Store::CreateModel(const ModelRecord& record) {
  ASSIGN_OR_RETURN(WriteTxn txn, BeginWrite());
  RETURN_IF_ERROR(txn.InsertModel(record));
  return txn.Commit();
}

absl::Status Store::CreateDataset(const DatasetRecord& record) {
  ASSIGN_OR_RETURN(WriteTxn txn, BeginWrite());
  RETURN_IF_ERROR(txn.InsertDataset(record));
  return txn.Commit();
}

absl::Status Store::DeleteModel(std::string_view tenant, std::string_view model_id) {
  ASSIGN_OR_RETURN(WriteTxn txn, BeginWrite());
  RETURN_IF_ERROR(txn.DeleteModel(tenant, model_id));
  return txn.Commit();
}

absl::Status Store::DeleteDataset(std::string_view tenant, std::string_view dataset_id) {
  ASSIGN_OR_RETURN(WriteTxn txn, BeginWrite());
  RETURN_IF_ERROR(txn.DeleteDataset(tenant, dataset_id));
  return txn.Commit();
}

namespace internal {

void BindAll(Stmt& stmt, const std::vector<BindValue>& values) {
  for (size_t i = 0; i < values.size(); ++i) {
    const int index = static_cast<int>(i) + 1;
    if (values[i].is_int) {
      stmt.Bind(index, values[i].int_value);
    } else {
      stmt.Bind(index, values[i].text);
    }
  }
}

}  // namespace internal
}  // namespace mp::store
