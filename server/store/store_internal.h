// Private to mp::store: the borrowed reader connection and the row codecs shared by
// store.cc, job_rows.cc and model_rows.cc.
#ifndef MP_SERVER_STORE_STORE_INTERNAL_H_
#define MP_SERVER_STORE_STORE_INTERNAL_H_

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "server/store/sqlite_util.h"
#include "server/store/store.h"

namespace mp::store {

// A reader connection borrowed from the pool for the duration of one read.
class Store::Reader {
 public:
  explicit Reader(Store* store) : store_(store) {}
  ~Reader() {
    if (db_ != nullptr) store_->ReleaseReader(db_);
  }
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // Borrows a connection; call once before db().
  absl::Status Acquire() {
    absl::StatusOr<sqlite3*> db = store_->AcquireReader();
    if (!db.ok()) return db.status();
    db_ = *db;
    return absl::OkStatus();
  }
  sqlite3* db() const { return db_; }

 private:
  Store* store_;
  sqlite3* db_ = nullptr;
};

namespace internal {

// A value to bind: an integer or a text. (Not std::variant: GCC 12 reports false
// -Wmaybe-uninitialized on initializer lists of variants holding strings.)
struct BindValue {
  BindValue(int64_t v) : is_int(true), int_value(v) {}  // NOLINT: implicit by design
  BindValue(std::string v) : text(std::move(v)) {}      // NOLINT: implicit by design
  bool is_int = false;
  int64_t int_value = 0;
  std::string text;
};

// Binds `values` to ?1..?n.
void BindAll(Stmt& stmt, const std::vector<BindValue>& values);

// --- jobs (job_rows.cc) ---
extern const char kJobColumns[];  // the column list every job SELECT uses, in order
absl::StatusOr<JobRecord> ReadJobRow(const Stmt& stmt);
// Runs a job SELECT (built with kJobColumns) and decodes every row.
absl::StatusOr<std::vector<JobRecord>> QueryJobs(sqlite3* db, const std::string& sql,
                                                 const std::vector<BindValue>& values,
                                                 std::string_view what);

// --- models and datasets (model_rows.cc) ---
absl::Status InsertModelRow(sqlite3* db, const ModelRecord& record);
absl::Status InsertDatasetRow(sqlite3* db, const DatasetRecord& record);
absl::Status DeleteRow(sqlite3* db, std::string_view table, std::string_view noun,
                       std::string_view tenant, std::string_view id);

}  // namespace internal
}  // namespace mp::store

#endif  // MP_SERVER_STORE_STORE_INTERNAL_H_
