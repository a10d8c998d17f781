#include "server/store/schema.h"

#include <sqlite3.h>

#include <cstdint>

#include "common/status.h"
#include "common/str_cat.h"
#include "server/store/sqlite_util.h"

namespace mp::store::internal {
namespace {

// Version 1: tenants, models, datasets, jobs, job events. States and kinds are the
// modelpress.v1 enum numbers; times are Unix milliseconds; *_pb columns hold serialized
// protos (see job_rows.cc / model_rows.cc for which message each holds).
constexpr std::string_view kV1 = R"sql(
CREATE TABLE models (
  id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  name TEXT NOT NULL,
  blob_sha256 TEXT NOT NULL,
  blob_size INTEGER NOT NULL,
  created_ms INTEGER NOT NULL,
  inspect_job_id TEXT NOT NULL DEFAULT '',
  inspection_pb BLOB
) STRICT;
CREATE INDEX models_by_tenant ON models(tenant, created_ms DESC, id DESC);

CREATE TABLE datasets (
  id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  name TEXT NOT NULL,
  blob_sha256 TEXT NOT NULL,
  blob_size INTEGER NOT NULL,
  format TEXT NOT NULL,
  created_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX datasets_by_tenant ON datasets(tenant, created_ms DESC, id DESC);

CREATE TABLE jobs (
  id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  kind INTEGER NOT NULL,
  model_id TEXT NOT NULL,
  spec_pb BLOB NOT NULL,
  priority INTEGER NOT NULL,
  state INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  max_attempts INTEGER NOT NULL,
  epoch INTEGER NOT NULL,
  lease_owner TEXT NOT NULL,
  lease_expires_ms INTEGER NOT NULL,
  next_run_ms INTEGER NOT NULL,
  cancel_requested INTEGER NOT NULL,
  progress REAL NOT NULL,
  eta_seconds REAL NOT NULL,
  step TEXT NOT NULL,
  error TEXT NOT NULL,
  metrics_pb BLOB NOT NULL,
  artifacts_pb BLOB NOT NULL,
  artifact_bytes INTEGER NOT NULL,
  inputs_pb BLOB NOT NULL,
  engine_version TEXT NOT NULL,
  idempotency_key TEXT,
  spec_hash TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  started_ms INTEGER NOT NULL,
  finished_ms INTEGER NOT NULL,
  UNIQUE (tenant, idempotency_key)
) STRICT;
CREATE INDEX jobs_by_tenant ON jobs(tenant, created_ms DESC, id DESC);
CREATE INDEX jobs_runnable ON jobs(state, priority DESC, created_ms, id);
CREATE INDEX jobs_by_lease ON jobs(state, lease_expires_ms);

CREATE TABLE job_events (
  job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  unix_ms INTEGER NOT NULL,
  state INTEGER NOT NULL,
  progress REAL NOT NULL,
  eta_seconds REAL NOT NULL,
  step TEXT NOT NULL,
  metrics_pb BLOB NOT NULL,
  log TEXT NOT NULL,
  PRIMARY KEY (job_id, seq)
) STRICT, WITHOUT ROWID;
)sql";

constexpr std::string_view kSteps[] = {kV1};

absl::StatusOr<int64_t> UserVersion(sqlite3* db) {
  Stmt stmt(db, "PRAGMA user_version", "read schema version");
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return absl::InternalError("read schema version: no row");
  return stmt.Int(0);
}

}  // namespace

std::span<const std::string_view> SchemaMigrations() { return kSteps; }

absl::Status Migrate(sqlite3* db, std::span<const std::string_view> steps) {
  ASSIGN_OR_RETURN(int64_t version, UserVersion(db));
  const int64_t target = static_cast<int64_t>(steps.size());
  if (version > target) {
    return absl::FailedPreconditionError(
        StrCat("database schema version ", version, " is newer than this binary's ", target));
  }
  for (int64_t v = version; v < target; ++v) {
    const std::string what = StrCat("migrate schema to version ", v + 1);
    RETURN_IF_ERROR(Exec(db, "BEGIN IMMEDIATE", what));
    // Re-check under the write lock: another process may have migrated meanwhile.
    absl::StatusOr<int64_t> now = UserVersion(db);
    absl::Status status = now.status();
    if (status.ok() && *now == v) {
      status = Exec(db, steps[static_cast<size_t>(v)], what);
      if (status.ok()) status = Exec(db, StrCat("PRAGMA user_version = ", v + 1), what);
    }
    if (status.ok()) status = Exec(db, "COMMIT", what);
    if (!status.ok()) {
      (void)Exec(db, "ROLLBACK", what);
      return status;
    }
  }
  return absl::OkStatus();
}

}  // namespace mp::store::internal
