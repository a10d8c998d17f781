// Thin RAII helpers over the SQLite C API, private to mp::store: prepared statements with
// typed binds and columns, and the mapping of SQLite result codes to absl::Status
// (store.h lists the mapping).
#ifndef MP_SERVER_STORE_SQLITE_UTIL_H_
#define MP_SERVER_STORE_SQLITE_UTIL_H_

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mp::store::internal {

// Maps a SQLite result code to a status; `what` names the operation ("insert job 'job_x'").
absl::Status SqliteError(sqlite3* db, int rc, std::string_view what);

// Runs one or more statements without results (DDL, pragmas, BEGIN/COMMIT).
absl::Status Exec(sqlite3* db, std::string_view sql, std::string_view what);

// A prepared statement. Bind indices are 1-based, column indices 0-based.
class Stmt {
 public:
  // Prepares `sql`; check ok() / status() before use.
  Stmt(sqlite3* db, std::string_view sql, std::string_view what);
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  const absl::Status& status() const { return status_; }

  Stmt& Bind(int index, int64_t value);
  Stmt& Bind(int index, std::string_view text);  // TEXT
  Stmt& BindDouble(int index, double value);
  Stmt& BindBlob(int index, std::string_view bytes);
  Stmt& BindNull(int index);

  // Steps once: true if a row is available, false when done; errors map via SqliteError
  // (a bind error recorded earlier is returned first).
  absl::StatusOr<bool> Step();
  // Steps until done, expecting no rows.
  absl::Status Run();

  int64_t Int(int column) const;
  double Double(int column) const;
  std::string Text(int column) const;  // TEXT or BLOB bytes; "" for NULL
  bool IsNull(int column) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  std::string what_;
  absl::Status status_;
};

}  // namespace mp::store::internal

#endif  // MP_SERVER_STORE_SQLITE_UTIL_H_
