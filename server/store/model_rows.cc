// Model and dataset rows. models.inspection_pb holds a serialized
// modelpress.v1.ModelInspection, NULL until the inspect job completes.
#include <sqlite3.h>

#include <string>

#include "common/status.h"
#include "common/str_cat.h"
#include "server/store/page_token.h"
#include "server/store/store.h"
#include "server/store/store_internal.h"

namespace mp::store {

using internal::BindValue;
using internal::Stmt;

namespace {

constexpr std::string_view kModelColumns =
    "id, tenant, name, blob_sha256, blob_size, created_ms, inspect_job_id, inspection_pb";
constexpr std::string_view kDatasetColumns =
    "id, tenant, name, blob_sha256, blob_size, created_ms, format";

absl::StatusOr<ModelRecord> ReadModelRow(const Stmt& s) {
  ModelRecord r;
  v1::Model& m = r.model;
  m.set_id(s.Text(0));
  r.tenant = s.Text(1);
  m.set_name(s.Text(2));
  m.mutable_blob()->set_sha256(s.Text(3));
  m.mutable_blob()->set_size_bytes(s.Int(4));
  m.set_created_unix_ms(s.Int(5));
  m.set_inspect_job_id(s.Text(6));
  if (!s.IsNull(7) && !m.mutable_inspection()->ParseFromString(s.Text(7))) {
    return absl::DataLossError(StrCat("model '", m.id(), "': inspection is corrupt"));
  }
  return r;
}

absl::StatusOr<DatasetRecord> ReadDatasetRow(const Stmt& s) {
  DatasetRecord r;
  v1::Dataset& d = r.dataset;
  d.set_id(s.Text(0));
  r.tenant = s.Text(1);
  d.set_name(s.Text(2));
  d.mutable_blob()->set_sha256(s.Text(3));
  d.mutable_blob()->set_size_bytes(s.Int(4));
  d.set_created_unix_ms(s.Int(5));
  d.set_format(s.Text(6));
  return r;
}

// Runs SELECT <columns> FROM <table> <where> and decodes rows with `read`.
template <typename Row, typename ReadFn>
absl::StatusOr<std::vector<Row>> Query(sqlite3* db, std::string_view columns,
                                       std::string_view table, std::string_view where,
                                       const std::vector<BindValue>& values, ReadFn read,
                                       std::string_view what) {
  Stmt stmt(db, StrCat("SELECT ", columns, " FROM ", table, " ", where), what);
  internal::BindAll(stmt, values);
  std::vector<Row> rows;
  while (true) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    ASSIGN_OR_RETURN(Row decoded, read(stmt));
    rows.push_back(std::move(decoded));
  }
  return rows;
}

// Keyset-paged listing of a tenant's rows, newest first. `created` reads a row's time and
// id for the next token.
template <typename Row, typename ReadFn, typename KeyFn>
absl::StatusOr<Page<Row>> ListPage(sqlite3* db, std::string_view columns, std::string_view table,
                                   std::string_view tenant, int page_size,
                                   std::string_view page_token, ReadFn read, KeyFn key) {
  if (page_size < 1 || page_size > 1000) {
    return absl::InvalidArgumentError(StrCat("page_size ", page_size, " not in [1, 1000]"));
  }
  std::vector<BindValue> values = {std::string(tenant)};
  std::string where = "WHERE tenant = ?1";
  if (!page_token.empty()) {
    ASSIGN_OR_RETURN(internal::PageCursor cursor, internal::DecodePageToken(page_token));
    values.push_back(cursor.created_ms);
    values.push_back(cursor.id);
    where += " AND (created_ms < ?2 OR (created_ms = ?2 AND id < ?3))";
  }
  values.push_back(int64_t{page_size} + 1);
  where += StrCat(" ORDER BY created_ms DESC, id DESC LIMIT ?", values.size());
  ASSIGN_OR_RETURN(std::vector<Row> rows,
                   Query<Row>(db, columns, table, where, values, read, StrCat("list ", table)));
  Page<Row> page;
  if (static_cast<int>(rows.size()) > page_size) {
    rows.resize(static_cast<size_t>(page_size));
    page.next_page_token = internal::EncodePageToken(key(rows.back()));
  }
  page.items = std::move(rows);
  return page;
}

}  // namespace

namespace internal {

absl::Status InsertModelRow(sqlite3* db, const ModelRecord& r) {
  const v1::Model& m = r.model;
  Stmt stmt(
      db,
      StrCat("INSERT INTO models (", kModelColumns, ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
      StrCat("insert model '", m.id(), "'"));
  stmt.Bind(1, m.id())
      .Bind(2, r.tenant)
      .Bind(3, m.name())
      .Bind(4, m.blob().sha256())
      .Bind(5, m.blob().size_bytes())
      .Bind(6, m.created_unix_ms())
      .Bind(7, m.inspect_job_id());
  if (m.has_inspection()) {
    stmt.BindBlob(8, m.inspection().SerializeAsString());
  } else {
    stmt.BindNull(8);
  }
  return stmt.Run();
}

absl::Status InsertDatasetRow(sqlite3* db, const DatasetRecord& r) {
  const v1::Dataset& d = r.dataset;
  Stmt stmt(
      db,
      StrCat("INSERT INTO datasets (", kDatasetColumns, ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
      StrCat("insert dataset '", d.id(), "'"));
  stmt.Bind(1, d.id())
      .Bind(2, r.tenant)
      .Bind(3, d.name())
      .Bind(4, d.blob().sha256())
      .Bind(5, d.blob().size_bytes())
      .Bind(6, d.created_unix_ms())
      .Bind(7, d.format());
  return stmt.Run();
}

absl::Status DeleteRow(sqlite3* db, std::string_view table, std::string_view noun,
                       std::string_view tenant, std::string_view id) {
  Stmt stmt(db, StrCat("DELETE FROM ", table, " WHERE id = ?1 AND tenant = ?2"),
            StrCat("delete ", noun, " '", id, "'"));
  stmt.Bind(1, id).Bind(2, tenant);
  RETURN_IF_ERROR(stmt.Run());
  if (sqlite3_changes(db) != 1) return absl::NotFoundError(StrCat(noun, " '", id, "' not found"));
  return absl::OkStatus();
}

}  // namespace internal

// --- WriteTxn: models and datasets ---

absl::Status WriteTxn::InsertModel(const ModelRecord& record) {
  return internal::InsertModelRow(db(), record);
}

absl::Status WriteTxn::InsertDataset(const DatasetRecord& record) {
  return internal::InsertDatasetRow(db(), record);
}

absl::Status WriteTxn::SetModelInspection(std::string_view tenant, std::string_view model_id,
                                          const v1::ModelInspection* inspection) {
  Stmt stmt(db(), "UPDATE models SET inspection_pb = ?3 WHERE id = ?1 AND tenant = ?2",
            StrCat("set inspection of model '", model_id, "'"));
  stmt.Bind(1, model_id).Bind(2, tenant);
  if (inspection != nullptr) {
    stmt.BindBlob(3, inspection->SerializeAsString());
  } else {
    stmt.BindNull(3);
  }
  RETURN_IF_ERROR(stmt.Run());
  if (sqlite3_changes(db()) != 1) {
    return absl::NotFoundError(StrCat("model '", model_id, "' not found"));
  }
  return absl::OkStatus();
}

absl::Status WriteTxn::SetModelInspectJob(std::string_view tenant, std::string_view model_id,
                                          std::string_view job_id) {
  Stmt stmt(db(), "UPDATE models SET inspect_job_id = ?3 WHERE id = ?1 AND tenant = ?2",
            StrCat("set inspect job of model '", model_id, "'"));
  stmt.Bind(1, model_id).Bind(2, tenant).Bind(3, job_id);
  RETURN_IF_ERROR(stmt.Run());
  if (sqlite3_changes(db()) != 1) {
    return absl::NotFoundError(StrCat("model '", model_id, "' not found"));
  }
  return absl::OkStatus();
}

absl::Status WriteTxn::DeleteModel(std::string_view tenant, std::string_view model_id) {
  return internal::DeleteRow(db(), "models", "model", tenant, model_id);
}

absl::Status WriteTxn::DeleteDataset(std::string_view tenant, std::string_view dataset_id) {
  return internal::DeleteRow(db(), "datasets", "dataset", tenant, dataset_id);
}

// --- Store: model and dataset reads ---

absl::StatusOr<ModelRecord> Store::GetModel(std::string_view tenant, std::string_view model_id) {
  Reader reader(this);
  RETURN_IF_ERROR(reader.Acquire());
  ASSIGN_OR_RETURN(
      std::vector<ModelRecord> rows,
      Query<ModelRecord>(reader.db(), kModelColumns, "models", "WHERE id = ?1 AND tenant = ?2",
                         {std::string(model_id), std::string(tenant)}, ReadModelRow,
                         StrCat("read model '", model_id, "'")));
  if (rows.empty()) return absl::NotFoundError(StrCat("model '", model_id, "' not found"));
  return std::move(rows.front());
}

absl::StatusOr<Page<ModelRecord>> Store::ListModels(std::string_view tenant, int page_size,
                                                    std::string_view page_token) {
  Reader reader(this);
  RETURN_IF_ERROR(reader.Acquire());
  return ListPage<ModelRecord>(
      reader.db(), kModelColumns, "models", tenant, page_size, page_token, ReadModelRow,
      [](const ModelRecord& r) {
        return internal::PageCursor{r.model.created_unix_ms(), r.model.id()};
      });
}

absl::StatusOr<DatasetRecord> Store::GetDataset(std::string_view tenant,
                                                std::string_view dataset_id) {
  Reader reader(this);
  RETURN_IF_ERROR(reader.Acquire());
  ASSIGN_OR_RETURN(std::vector<DatasetRecord> rows,
                   Query<DatasetRecord>(reader.db(), kDatasetColumns, "datasets",
                                        "WHERE id = ?1 AND tenant = ?2",
                                        {std::string(dataset_id), std::string(tenant)},
                                        ReadDatasetRow, StrCat("read dataset '", dataset_id, "'")));
  if (rows.empty()) return absl::NotFoundError(StrCat("dataset '", dataset_id, "' not found"));
  return std::move(rows.front());
}

absl::StatusOr<Page<DatasetRecord>> Store::ListDatasets(std::string_view tenant, int page_size,
                                                        std::string_view page_token) {
  Reader reader(this);
  RETURN_IF_ERROR(reader.Acquire());
  return ListPage<DatasetRecord>(
      reader.db(), kDatasetColumns, "datasets", tenant, page_size, page_token, ReadDatasetRow,
      [](const DatasetRecord& r) {
        return internal::PageCursor{r.dataset.created_unix_ms(), r.dataset.id()};
      });
}

}  // namespace mp::store
