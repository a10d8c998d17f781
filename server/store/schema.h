// The database schema as a list of migration steps, keyed on `PRAGMA user_version`.
//
// Step i (0-based) moves the schema from version i to i+1. Steps are append-only: a released
// step is never edited; a schema change is a new step at the end. Migrate() applies every
// missing step, each in its own BEGIN IMMEDIATE transaction together with the user_version
// bump, so a crash leaves the database at some whole version.
#ifndef MP_SERVER_STORE_SCHEMA_H_
#define MP_SERVER_STORE_SCHEMA_H_

#include <span>
#include <string_view>

#include "absl/status/status.h"

struct sqlite3;

namespace mp::store::internal {

// The steps of this binary's schema.
std::span<const std::string_view> SchemaMigrations();

// Brings `db` to version steps.size(). FAILED_PRECONDITION if the database is newer.
absl::Status Migrate(sqlite3* db, std::span<const std::string_view> steps);

}  // namespace mp::store::internal

#endif  // MP_SERVER_STORE_SCHEMA_H_
