// Job and job-event rows: codecs and queries (WriteTxn job methods, Store job reads).
//
// Serialized columns: spec_pb = modelpress.v1.JobSpec; metrics_pb / artifacts_pb /
// inputs_pb = a modelpress.v1.Job with only `metrics` / `artifacts` / `inputs` set;
// job_events.metrics_pb = a modelpress.v1.JobEvent with only `metrics` set. All written
// with deterministic serialization.
#include <sqlite3.h>

#include <string>

#include "common/status.h"
#include "common/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "server/store/page_token.h"
#include "server/store/store.h"
#include "server/store/store_internal.h"

namespace mp::store {

using internal::BindValue;
using internal::Stmt;

namespace internal {

const char kJobColumns[] =
    "id, tenant, kind, model_id, spec_pb, priority, state, attempts, max_attempts, epoch,"
    " lease_owner, lease_expires_ms, next_run_ms, cancel_requested, progress, eta_seconds,"
    " step, error, metrics_pb, artifacts_pb, artifact_bytes, inputs_pb, engine_version,"
    " idempotency_key, spec_hash, created_ms, started_ms, finished_ms";

std::string Deterministic(const google::protobuf::MessageLite& message) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream output(&bytes);
    google::protobuf::io::CodedOutputStream coded(&output);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return bytes;
}

// Binds every column of kJobColumns, in order, to ?1..?28.
void BindJob(Stmt& stmt, const JobRecord& r) {
  const v1::Job& j = r.job;
  v1::Job metrics, artifacts, inputs;
  *metrics.mutable_metrics() = j.metrics();
  *artifacts.mutable_artifacts() = j.artifacts();
  *inputs.mutable_inputs() = j.inputs();
  int64_t artifact_bytes = 0;
  for (const v1::Artifact& a : j.artifacts()) artifact_bytes += a.blob().size_bytes();
  stmt.Bind(1, j.id())
      .Bind(2, r.tenant)
      .Bind(3, int64_t{j.spec().kind()})
      .Bind(4, j.spec().model_id())
      .BindBlob(5, Deterministic(j.spec()))
      .Bind(6, int64_t{j.priority()})
      .Bind(7, int64_t{j.state()})
      .Bind(8, int64_t{j.attempts()})
      .Bind(9, int64_t{j.max_attempts()})
      .Bind(10, r.epoch)
      .Bind(11, j.worker_id())
      .Bind(12, r.lease_expires_unix_ms)
      .Bind(13, r.next_run_unix_ms)
      .Bind(14, int64_t{r.cancel_requested ? 1 : 0})
      .BindDouble(15, j.progress())
      .BindDouble(16, j.eta_seconds())
      .Bind(17, j.step())
      .Bind(18, j.error())
      .BindBlob(19, Deterministic(metrics))
      .BindBlob(20, Deterministic(artifacts))
      .Bind(21, artifact_bytes)
      .BindBlob(22, Deterministic(inputs))
      .Bind(23, j.engine_version());
  if (r.idempotency_key.empty()) {
    stmt.BindNull(24);
  } else {
    stmt.Bind(24, r.idempotency_key);
  }
  stmt.Bind(25, r.spec_hash)
      .Bind(26, j.created_unix_ms())
      .Bind(27, j.started_unix_ms())
      .Bind(28, j.finished_unix_ms());
}

absl::StatusOr<JobRecord> ReadJobRow(const Stmt& s) {
  JobRecord r;
  v1::Job& j = r.job;
  j.set_id(s.Text(0));
  r.tenant = s.Text(1);
  const auto corrupt = [&](std::string_view column) {
    return absl::DataLossError(StrCat("job '", j.id(), "': column ", column, " is corrupt"));
  };
  if (!j.mutable_spec()->ParseFromString(s.Text(4))) return corrupt("spec_pb");
  j.set_priority(static_cast<int32_t>(s.Int(5)));
  j.set_state(static_cast<v1::JobState>(s.Int(6)));
  j.set_attempts(static_cast<int32_t>(s.Int(7)));
  j.set_max_attempts(static_cast<int32_t>(s.Int(8)));
  r.epoch = s.Int(9);
  j.set_worker_id(s.Text(10));
  r.lease_expires_unix_ms = s.Int(11);
  r.next_run_unix_ms = s.Int(12);
  r.cancel_requested = s.Int(13) != 0;
  j.set_progress(s.Double(14));
  j.set_eta_seconds(s.Double(15));
  j.set_step(s.Text(16));
  j.set_error(s.Text(17));
  v1::Job part;
  if (!part.ParseFromString(s.Text(18))) return corrupt("metrics_pb");
  *j.mutable_metrics() = std::move(*part.mutable_metrics());
  if (!part.ParseFromString(s.Text(19))) return corrupt("artifacts_pb");
  *j.mutable_artifacts() = std::move(*part.mutable_artifacts());
  if (!part.ParseFromString(s.Text(21))) return corrupt("inputs_pb");
  *j.mutable_inputs() = std::move(*part.mutable_inputs());
  j.set_engine_version(s.Text(22));
  r.idempotency_key = s.Text(23);
  r.spec_hash = s.Text(24);
  j.set_created_unix_ms(s.Int(25));
  j.set_started_unix_ms(s.Int(26));
  j.set_finished_unix_ms(s.Int(27));
  return r;
}

absl::StatusOr<std::vector<JobRecord>> QueryJobs(sqlite3* db, const std::string& sql,
                                                 const std::vector<BindValue>& values,
                                                 std::string_view what) {
  Stmt stmt(db, sql, what);
  BindAll(stmt, values);
  std::vector<JobRecord> rows;
  while (true) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    ASSIGN_OR_RETURN(JobRecord record, ReadJobRow(stmt));
    rows.push_back(std::move(record));
  }
  return rows;
}

}  // namespace internal

namespace {

std::string SelectJobs(std::string_view where_and_order) {
  return StrCat("SELECT ", internal::kJobColumns, " FROM jobs ", where_and_order);
}

absl::StatusOr<JobRecord> OneJob(sqlite3* db, std::string_view where,
                                 const std::vector<BindValue>& values, std::string_view job_id) {
  ASSIGN_OR_RETURN(
      std::vector<JobRecord> rows,
      internal::QueryJobs(db, SelectJobs(where), values, StrCat("read job '", job_id, "'")));
  if (rows.empty()) return absl::NotFoundError(StrCat("job '", job_id, "' not found"));
  return std::move(rows.front());
}

std::string KindList(const std::vector<v1::JobKind>& kinds, std::vector<BindValue>* values) {
  std::string list;
  for (v1::JobKind kind : kinds) {
    values->push_back(int64_t{kind});
    list += StrCat(list.empty() ? "" : ", ", "?", values->size());
  }
  return list;
}

}  // namespace

// --- WriteTxn: jobs ---

absl::StatusOr<JobRecord> WriteTxn::GetJob(std::string_view job_id) {
  return OneJob(db(), "WHERE id = ?1", {std::string(job_id)}, job_id);
}

absl::StatusOr<std::optional<JobRecord>> WriteTxn::FindJobByIdempotencyKey(std::string_view tenant,
                                                                           std::string_view key) {
  ASSIGN_OR_RETURN(
      std::vector<JobRecord> rows,
      internal::QueryJobs(db(), SelectJobs("WHERE tenant = ?1 AND idempotency_key = ?2"),
                          {std::string(tenant), std::string(key)}, "find job by idempotency key"));
  if (rows.empty()) return std::optional<JobRecord>();
  return std::optional<JobRecord>(std::move(rows.front()));
}

absl::Status WriteTxn::InsertJob(const JobRecord& record) {
  Stmt stmt(db(),
            StrCat("INSERT INTO jobs (", internal::kJobColumns,
                   ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,"
                   " ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28)"),
            StrCat("insert job '", record.job.id(), "'"));
  internal::BindJob(stmt, record);
  return stmt.Run();
}

absl::Status WriteTxn::UpdateJob(const JobRecord& record) {
  Stmt stmt(db(),
            "UPDATE jobs SET kind = ?3, model_id = ?4, spec_pb = ?5, priority = ?6, state = ?7,"
            " attempts = ?8, max_attempts = ?9, epoch = ?10, lease_owner = ?11,"
            " lease_expires_ms = ?12, next_run_ms = ?13, cancel_requested = ?14,"
            " progress = ?15, eta_seconds = ?16, step = ?17, error = ?18, metrics_pb = ?19,"
            " artifacts_pb = ?20, artifact_bytes = ?21, inputs_pb = ?22, engine_version = ?23,"
            " idempotency_key = ?24, spec_hash = ?25, created_ms = ?26, started_ms = ?27,"
            " finished_ms = ?28 WHERE id = ?1 AND tenant = ?2",
            StrCat("update job '", record.job.id(), "'"));
  internal::BindJob(stmt, record);
  RETURN_IF_ERROR(stmt.Run());
  if (sqlite3_changes(db()) != 1) {
    return absl::NotFoundError(StrCat("update job '", record.job.id(), "': not found"));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> WriteTxn::AppendEvent(std::string_view job_id, const v1::JobEvent& event) {
  v1::JobEvent metrics;
  *metrics.mutable_metrics() = event.metrics();
  Stmt stmt(db(),
            "INSERT INTO job_events (job_id, seq, unix_ms, state, progress, eta_seconds, step,"
            " metrics_pb, log) SELECT ?1, COALESCE(MAX(seq), 0) + 1, ?2, ?3, ?4, ?5, ?6, ?7, ?8"
            " FROM job_events WHERE job_id = ?1 RETURNING seq",
            StrCat("append event to job '", job_id, "'"));
  stmt.Bind(1, job_id)
      .Bind(2, event.unix_ms() != 0 ? event.unix_ms() : now_ms_)
      .Bind(3, int64_t{event.state()})
      .BindDouble(4, event.progress())
      .BindDouble(5, event.eta_seconds())
      .Bind(6, event.step())
      .BindBlob(7, internal::Deterministic(metrics))
      .Bind(8, event.log());
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return absl::InternalError(StrCat("append event to job '", job_id, "': no seq"));
  const int64_t seq = stmt.Int(0);
  RETURN_IF_ERROR(stmt.Run());
  return seq;
}

absl::StatusOr<std::vector<JobRecord>> WriteTxn::ExpiredLeases(int64_t now_ms, int limit) {
  return internal::QueryJobs(db(),
                             SelectJobs("WHERE state = ?1 AND lease_expires_ms <= ?2"
                                        " ORDER BY lease_expires_ms, id LIMIT ?3"),
                             {int64_t{v1::JOB_STATE_RUNNING}, now_ms, int64_t{limit}},
                             "find expired leases");
}

absl::StatusOr<std::optional<JobRecord>> WriteTxn::NextRunnable(
    int64_t now_ms, const std::vector<v1::JobKind>& kinds) {
  std::vector<BindValue> values = {int64_t{v1::JOB_STATE_QUEUED}, now_ms};
  std::string where = "WHERE state = ?1 AND next_run_ms <= ?2";
  if (!kinds.empty()) where += StrCat(" AND kind IN (", KindList(kinds, &values), ")");
  where += " ORDER BY priority DESC, created_ms, id LIMIT 1";
  ASSIGN_OR_RETURN(std::vector<JobRecord> rows,
                   internal::QueryJobs(db(), SelectJobs(where), values, "find runnable job"));
  if (rows.empty()) return std::optional<JobRecord>();
  return std::optional<JobRecord>(std::move(rows.front()));
}

// --- Store: job reads ---

absl::StatusOr<JobRecord> Store::GetJob(std::string_view tenant, std::string_view job_id) {
  Reader reader(this);
  RETURN_IF_ERROR(reader.Acquire());
  return OneJob(reader.db(), "WHERE id = ?1 AND tenant = ?2",
                {std::string(job_id), std::string(tenant)}, job_id);
}

absl::StatusOr<JobRecord> Store::GetJobAnyTenant(std::string_view job_id) {
  Reader reader(this);
  RETURN_IF_ERROR(reader.Acquire());
  return OneJob(reader.db(), "WHERE id = ?1", {std::string(job_id)}, job_id);
}

absl::StatusOr<Page<JobRecord>> Store::ListJobs(std::string_view tenant, const JobFilter& filter,
                                                int page_size, std::string_view page_token) {
  if (page_size < 1 || page_size > 1000) {
    return absl::InvalidArgumentError(StrCat("page_size ", page_size, " not in [1, 1000]"));
  }
  std::vector<BindValue> values = {std::string(tenant)};
  std::string where = "WHERE tenant = ?1";
  if (!filter.states.empty()) {
    std::string list;
    for (v1::JobState state : filter.states) {
      values.push_back(int64_t{state});
      list += StrCat(list.empty() ? "" : ", ", "?", values.size());
    }
    where += StrCat(" AND state IN (", list, ")");
  }
  if (filter.kind != v1::JOB_KIND_UNSPECIFIED) {
    values.push_back(int64_t{filter.kind});
    where += StrCat(" AND kind = ?", values.size());
  }
  if (!filter.model_id.empty()) {
    values.push_back(filter.model_id);
    where += StrCat(" AND model_id = ?", values.size());
  }
  if (!page_token.empty()) {
    ASSIGN_OR_RETURN(internal::PageCursor cursor, internal::DecodePageToken(page_token));
    values.push_back(cursor.created_ms);
    const size_t c = values.size();
    values.push_back(cursor.id);
    where +=
        StrCat(" AND (created_ms < ?", c, " OR (created_ms = ?", c, " AND id < ?", c + 1, "))");
  }
  values.push_back(int64_t{page_size} + 1);
  where += StrCat(" ORDER BY created_ms DESC, id DESC LIMIT ?", values.size());
  Reader reader(this);
  RETURN_IF_ERROR(reader.Acquire());
  ASSIGN_OR_RETURN(std::vector<JobRecord> rows,
                   internal::QueryJobs(reader.db(), SelectJobs(where), values, "list jobs"));
  Page<JobRecord> page;
  if (static_cast<int>(rows.size()) > page_size) {
    rows.resize(static_cast<size_t>(page_size));
    page.next_page_token =
        internal::EncodePageToken({rows.back().job.created_unix_ms(), rows.back().job.id()});
  }
  page.items = std::move(rows);
  return page;
}

absl::StatusOr<std::vector<v1::JobEvent>> Store::ListEvents(std::string_view job_id,
                                                            int64_t after_sequence, int limit) {
  Reader reader(this);
  RETURN_IF_ERROR(reader.Acquire());
  Stmt stmt(reader.db(),
            "SELECT seq, unix_ms, state, progress, eta_seconds, step, metrics_pb, log"
            " FROM job_events WHERE job_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            StrCat("list events of job '", job_id, "'"));
  stmt.Bind(1, job_id).Bind(2, after_sequence).Bind(3, int64_t{limit});
  std::vector<v1::JobEvent> events;
  while (true) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    v1::JobEvent& e = events.emplace_back();
    if (!e.ParseFromString(stmt.Text(6))) {
      return absl::DataLossError(
          StrCat("job '", job_id, "' event ", stmt.Int(0), ": metrics are corrupt"));
    }
    e.set_sequence(stmt.Int(0));
    e.set_unix_ms(stmt.Int(1));
    e.set_state(static_cast<v1::JobState>(stmt.Int(2)));
    e.set_progress(stmt.Double(3));
    e.set_eta_seconds(stmt.Double(4));
    e.set_step(stmt.Text(5));
    e.set_log(stmt.Text(7));
  }
  return events;
}

}  // namespace mp::store
