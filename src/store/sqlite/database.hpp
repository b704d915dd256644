#pragma once

// A small RAII layer over the SQLite C API: a connection that owns its cached prepared
// statements, and statements that bind, step and read columns. Neither is thread-safe: one
// thread uses a connection (and its statements) at a time.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/status.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace baton::store::sqlite {

// Status for SQLite result code `rc` on `db` (may be null), prefixed with `context`.
// I/O-class failures (IOERR, FULL, CORRUPT, NOTADB, CANTOPEN, NOMEM, PROTOCOL) come back with
// code kInternal and type "io_error"; BUSY/LOCKED with kUnavailable; the rest with kInternal.
Status SqliteError(int rc, sqlite3* db, std::string_view context);

// True when `status` reports an I/O-class failure: the database can no longer be trusted to have
// written what it was told to write.
bool IsIoError(const Status& status);

class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Parameters are 1-based. Text and blobs are not copied: they must stay alive until Reset().
  void BindInt(int index, int64_t value);
  void BindDouble(int index, double value);
  void BindText(int index, std::string_view value);
  void BindBlob(int index, std::string_view value);
  void BindNull(int index);

  // Advances: true with a row to read, false when done.
  Result<bool> Step();
  // Steps to completion, ignoring rows.
  Status Run();
  // Ends the statement's execution (and so its read transaction) and clears the bindings.
  void Reset();

  // Columns are 0-based; views are valid until the next Step or Reset.
  int64_t ColumnInt(int column) const;
  double ColumnDouble(int column) const;
  std::string_view ColumnText(int column) const;
  std::string_view ColumnBlob(int column) const;
  bool ColumnIsNull(int column) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

// Resets a statement when the scope ends, so that no read transaction outlives one call.
class ScopedReset {
 public:
  explicit ScopedReset(Statement& stmt) : stmt_(stmt) {}
  ~ScopedReset() { stmt_.Reset(); }
  ScopedReset(const ScopedReset&) = delete;
  ScopedReset& operator=(const ScopedReset&) = delete;

 private:
  Statement& stmt_;
};

class Database {
 public:
  // Opens `path` with sqlite3_open_v2 `flags` (SQLITE_OPEN_*), in multi-thread mode (no
  // connection mutex), through VFS `vfs` ("" = the default).
  static Result<std::unique_ptr<Database>> Open(const std::string& path, int flags,
                                                const std::string& vfs);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs one or more SQL statements that return no rows needed by the caller.
  Status Exec(const char* sql);
  // The prepared statement for `sql`, prepared on first use and cached by the pointer's identity:
  // pass the same string constant every time.
  Result<Statement*> Prepare(const char* sql);
  // Reads a single integer, e.g. from "PRAGMA user_version".
  Result<int64_t> QueryInt(const char* sql);
  // Rows changed by the most recent INSERT/UPDATE/DELETE.
  int64_t Changes() const;

  sqlite3* raw() const { return db_; }

 private:
  explicit Database(sqlite3* db) : db_(db) {}

  sqlite3* db_;
  std::unordered_map<const char*, std::unique_ptr<Statement>> statements_;
};

}  // namespace baton::store::sqlite
