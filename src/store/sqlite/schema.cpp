#include "store/sqlite/schema.hpp"

#include <string>

namespace baton::store::sqlite {
namespace {

// JSON columns hold compact JSON text; status holds core::RunStatusName().
constexpr const char* kCreateSchema = R"sql(
CREATE TABLE runs (
  id               TEXT PRIMARY KEY,
  workflow_name    TEXT NOT NULL,
  workflow_file    TEXT NOT NULL,
  workflow_blob    TEXT NOT NULL,
  parent_run       TEXT NOT NULL,
  inputs           TEXT NOT NULL,
  status           TEXT NOT NULL,
  outputs          TEXT NOT NULL,
  error            TEXT NOT NULL,
  created_ms       INTEGER NOT NULL,
  updated_ms       INTEGER NOT NULL,
  owner_pid        INTEGER NOT NULL,
  owner_host       TEXT NOT NULL,
  cancel_requested INTEGER NOT NULL,
  last_seq         INTEGER NOT NULL,
  usage            TEXT NOT NULL
);
CREATE INDEX runs_by_time ON runs (created_ms DESC, id DESC);
CREATE INDEX runs_by_status ON runs (status, created_ms DESC, id DESC);
CREATE INDEX runs_by_workflow ON runs (workflow_name, created_ms DESC, id DESC);
CREATE TABLE events (
  run_id  TEXT NOT NULL REFERENCES runs (id),
  seq     INTEGER NOT NULL,
  type    TEXT NOT NULL,
  step    TEXT NOT NULL,
  item    INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  time_ms INTEGER NOT NULL,
  data    TEXT NOT NULL,
  PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE TABLE blobs (
  hash TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  data BLOB NOT NULL
);
)sql";

// Version 2: the daily spend ledger (budgets per day) and the response cache.
constexpr const char* kCreateSpend = R"sql(
CREATE TABLE spend (
  day    TEXT NOT NULL,
  scope  TEXT NOT NULL,
  usd    REAL NOT NULL,
  tokens INTEGER NOT NULL,
  PRIMARY KEY (day, scope)
) WITHOUT ROWID;
CREATE TABLE response_cache (
  key        TEXT PRIMARY KEY,
  value      TEXT NOT NULL,
  expires_ms INTEGER NOT NULL
);
)sql";

// Version 3: waits and the event bus: run inboxes (signals), published events, the waiting
// runs' subscriptions, and triggers (workflows started by events).
constexpr const char* kCreateBus = R"sql(
CREATE TABLE signals (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id     TEXT NOT NULL,
  data       TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  consumed   INTEGER NOT NULL
);
CREATE INDEX signals_pending ON signals (run_id, id) WHERE consumed = 0;
CREATE TABLE bus_events (
  seq           INTEGER PRIMARY KEY AUTOINCREMENT,
  id            TEXT NOT NULL UNIQUE,
  name          TEXT NOT NULL,
  data          TEXT NOT NULL,
  source_run    TEXT NOT NULL,
  time_ms       INTEGER NOT NULL,
  triggers_done INTEGER NOT NULL
);
CREATE INDEX bus_events_by_name ON bus_events (name, seq);
CREATE TABLE subscriptions (
  run_id   TEXT NOT NULL,
  step     TEXT NOT NULL,
  item     INTEGER NOT NULL,
  event    TEXT NOT NULL,
  PRIMARY KEY (run_id, step, item)
) WITHOUT ROWID;
CREATE INDEX subscriptions_by_event ON subscriptions (event, run_id);
CREATE TABLE triggers (
  workflow      TEXT NOT NULL,
  event         TEXT NOT NULL,
  workflow_file TEXT NOT NULL,
  workflow_blob TEXT NOT NULL,
  created_ms    INTEGER NOT NULL,
  PRIMARY KEY (workflow, event)
) WITHOUT ROWID;
CREATE INDEX triggers_by_event ON triggers (event);
)sql";

}  // namespace

Status ConfigureConnection(Database& db, const SqliteOptions& options) {
  std::string pragmas = "PRAGMA busy_timeout = " + std::to_string(options.busy_timeout_ms) +
                        "; PRAGMA foreign_keys = ON; PRAGMA synchronous = " +
                        (options.synchronous_full ? "FULL" : "NORMAL") + ";";
  return db.Exec(pragmas.c_str());
}

Status EnsureSchema(Database& db) {
  // journal_mode is persistent in the file; setting it again is a no-op.
  {
    BATON_ASSIGN_OR_RETURN(Statement * wal, db.Prepare("PRAGMA journal_mode = WAL"));
    ScopedReset reset(*wal);
    BATON_ASSIGN_OR_RETURN(bool row, wal->Step());
    if (!row || wal->ColumnText(0) != "wal") {
      return FailedPrecondition("journal: cannot switch the database to WAL mode");
    }
  }
  BATON_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  Result<int64_t> version = db.QueryInt("PRAGMA user_version");
  Status status = version.status();
  if (status.ok() && *version >= 0 && *version < kSchemaVersion) {
    if (*version == 0) status = db.Exec(kCreateSchema);
    if (status.ok() && *version <= 1) status = db.Exec(kCreateSpend);
    if (status.ok() && *version <= 2) status = db.Exec(kCreateBus);
    if (status.ok()) {
      status = db.Exec(("PRAGMA user_version = " + std::to_string(kSchemaVersion)).c_str());
    }
  } else if (status.ok() && *version != kSchemaVersion) {
    status = FailedPrecondition("journal: schema version " + std::to_string(*version) +
                                " is not supported (this build uses " +
                                std::to_string(kSchemaVersion) + ")");
  }
  if (!status.ok()) {
    (void)db.Exec("ROLLBACK");
    return status;
  }
  return db.Exec("COMMIT");
}

}  // namespace baton::store::sqlite
