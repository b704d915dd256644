#pragma once

// The SQLite journal's schema and per-connection settings (docs/journal.md explains both).

#include "base/status.hpp"
#include "store/sqlite/database.hpp"
#include "store/store.hpp"

namespace baton::store::sqlite {

// The schema version this build reads and writes (PRAGMA user_version).
inline constexpr int64_t kSchemaVersion = 3;

// Applies the settings every connection needs: busy_timeout, foreign_keys=ON, and synchronous.
Status ConfigureConnection(Database& db, const SqliteOptions& options);

// Switches the file to WAL and creates the schema when the file is new, in one BEGIN IMMEDIATE
// transaction so two processes opening a new file at once do not both create it. Fails with
// kFailedPrecondition for a file written by a newer schema version or not in WAL mode.
Status EnsureSchema(Database& db);

}  // namespace baton::store::sqlite
