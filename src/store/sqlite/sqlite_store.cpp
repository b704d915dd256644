// The SQLite journal. One writer thread owns the write connection and group-commits everything
// queued; reads use a pool of read-only connections and never wait for the writer (WAL).

#include <sqlite3.h>
#include <sys/vfs.h>

#include <boost/json/serialize.hpp>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "base/hash.hpp"
#include "store/sequence.hpp"
#include "store/sqlite/bus.hpp"
#include "store/sqlite/checkpointer.hpp"
#include "store/sqlite/codec.hpp"
#include "store/sqlite/database.hpp"
#include "store/sqlite/schema.hpp"
#include "store/store.hpp"

namespace baton::store {
namespace {

using sqlite::Database;
using sqlite::ScopedReset;
using sqlite::Statement;

constexpr const char* kBegin = "BEGIN IMMEDIATE";
constexpr const char* kCommit = "COMMIT";
constexpr const char* kRollback = "ROLLBACK";
constexpr const char* kSavepoint = "SAVEPOINT batch";
constexpr const char* kRelease = "RELEASE batch";
constexpr const char* kRollbackTo = "ROLLBACK TO batch";

constexpr const char* kInsertRun =
    "INSERT INTO runs (id, workflow_name, workflow_file, workflow_blob, parent_run, inputs, "
    "status, outputs, error, created_ms, updated_ms, owner_pid, owner_host, cancel_requested, "
    "last_seq, usage) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, 0, ?15) "
    "ON CONFLICT (id) DO NOTHING";
constexpr const char* kSelectLastSeq = "SELECT last_seq FROM runs WHERE id = ?1";
constexpr const char* kInsertEvent =
    "INSERT INTO events (run_id, seq, type, step, item, attempt, time_ms, data) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
constexpr const char* kUpdateRun =
    "UPDATE runs SET last_seq = ?2, updated_ms = max(updated_ms, coalesce(?3, updated_ms)), "
    "status = coalesce(?4, status), outputs = coalesce(?5, outputs), error = coalesce(?6, error), "
    "usage = coalesce(?7, usage), owner_pid = coalesce(?8, owner_pid), "
    "owner_host = coalesce(?9, owner_host) WHERE id = ?1";
constexpr const char* kRequestCancel = "UPDATE runs SET cancel_requested = 1 WHERE id = ?1";
constexpr const char* kInsertBlob =
    "INSERT OR IGNORE INTO blobs (hash, size, data) VALUES (?1, ?2, ?3)";

constexpr const char* kSelectEvents =
    "SELECT seq, type, step, item, attempt, time_ms, data FROM events "
    "WHERE run_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3";
constexpr const char* kRunExists = "SELECT 1 FROM runs WHERE id = ?1";
constexpr const char* kIsCancelRequested = "SELECT cancel_requested FROM runs WHERE id = ?1";
constexpr const char* kSelectBlob = "SELECT data FROM blobs WHERE hash = ?1";
constexpr const char* kBlobExists = "SELECT 1 FROM blobs WHERE hash = ?1";
constexpr const char* kAddSpend =
    "INSERT INTO spend (day, scope, usd, tokens) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (day, scope) DO UPDATE SET usd = usd + excluded.usd, "
    "tokens = tokens + excluded.tokens";
constexpr const char* kSelectSpend = "SELECT usd FROM spend WHERE day = ?1 AND scope = ?2";
constexpr const char* kSelectCached =
    "SELECT value FROM response_cache WHERE key = ?1 AND expires_ms > ?2";
constexpr const char* kPutCached =
    "INSERT INTO response_cache (key, value, expires_ms) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_ms = excluded.expires_ms";
constexpr const char* kPruneCached = "DELETE FROM response_cache WHERE expires_ms <= ?1";

// Every run SELECT lists the runs columns in schema order (see codec.hpp).
#define BATON_RUN_COLUMNS                                                                  \
  "id, workflow_name, workflow_file, workflow_blob, parent_run, inputs, status, outputs, " \
  "error, created_ms, updated_ms, owner_pid, owner_host, cancel_requested, last_seq, usage "
constexpr const char* kSelectRun = "SELECT " BATON_RUN_COLUMNS "FROM runs WHERE id = ?1";
// The runs sorting right after a prefix: the first two are enough to tell unique from ambiguous.
constexpr const char* kSelectRunsAfter =
    "SELECT " BATON_RUN_COLUMNS "FROM runs WHERE id > ?1 ORDER BY id LIMIT 2";
constexpr const char* kListRuns =
    "SELECT " BATON_RUN_COLUMNS "FROM runs ORDER BY created_ms DESC, id DESC LIMIT ?3";
constexpr const char* kListRunsByStatus = "SELECT " BATON_RUN_COLUMNS
                                          "FROM runs WHERE status = ?1 "
                                          "ORDER BY created_ms DESC, id DESC LIMIT ?3";
constexpr const char* kListRunsByWorkflow = "SELECT " BATON_RUN_COLUMNS
                                            "FROM runs WHERE workflow_name = ?2 "
                                            "ORDER BY created_ms DESC, id DESC LIMIT ?3";
constexpr const char* kListRunsByBoth = "SELECT " BATON_RUN_COLUMNS
                                        "FROM runs WHERE status = ?1 AND workflow_name = ?2 "
                                        "ORDER BY created_ms DESC, id DESC LIMIT ?3";
// ScanRuns: runs oldest first, each with its events (of the types listed in ?3 as ",a,b,", or
// all when ?3 is ''); a run without such events still gives one row, with NULL event columns.
constexpr const char* kScanRuns =
    "SELECT " BATON_RUN_COLUMNS
    ", e.seq, e.type, e.step, e.item, e.attempt, e.time_ms, e.data FROM runs "
    "LEFT JOIN events e ON e.run_id = runs.id AND (?3 = '' OR instr(?3, ',' || e.type || ',') > 0) "
    "WHERE created_ms >= ?1 AND (?2 = '' OR workflow_name = ?2) "
    "ORDER BY created_ms, id, e.seq";
constexpr int kScanEventColumn = 16;  // first event column of kScanRuns
#undef BATON_RUN_COLUMNS

// Idle read connections kept open; more are opened when many threads read at once.
constexpr size_t kMaxIdleReaders = 4;

// Filesystems on which SQLite's locking (and so WAL) is not safe (sqlite.org/wal.html).
bool IsNetworkFilesystem(const std::filesystem::path& dir) {
  struct statfs info {};
  if (statfs(dir.c_str(), &info) != 0) return false;
  switch (static_cast<uint64_t>(info.f_type)) {
    case 0x6969:      // NFS
    case 0x517B:      // SMB
    case 0xFF534D42:  // CIFS
    case 0xFE534D42:  // SMB2
    case 0x564C:      // NCP
    case 0x5346414F:  // AFS
    case 0x73757245:  // CODA
      return true;
    default:
      return false;
  }
}

// One queued write. An append when `apply` is empty; otherwise `apply` runs on the write
// connection (CreateRun, RequestCancel, PutBlob).
struct WriteOp {
  std::string run_id;
  std::vector<core::Event> events;
  std::optional<RunUpdate> update;
  std::function<Status(Database&)> apply;
  AppendCallback done;
};

Status ApplyAppend(Database& db, WriteOp& op) {
  uint64_t last_seq = 0;
  {
    BATON_ASSIGN_OR_RETURN(Statement * select, db.Prepare(kSelectLastSeq));
    ScopedReset reset(*select);
    select->BindText(1, op.run_id);
    BATON_ASSIGN_OR_RETURN(bool row, select->Step());
    if (!row) return NotFound("run " + op.run_id + " not found");
    last_seq = static_cast<uint64_t>(select->ColumnInt(0));
  }
  BATON_RETURN_IF_ERROR(CheckSequence(op.run_id, last_seq, op.events));
  if (op.update) BATON_RETURN_IF_ERROR(sqlite::CheckWaitUpdate(db, *op.update));

  BATON_ASSIGN_OR_RETURN(Statement * insert, db.Prepare(kInsertEvent));
  std::string data;
  for (const core::Event& event : op.events) {
    ScopedReset reset(*insert);
    data = boost::json::serialize(event.data);
    insert->BindText(1, op.run_id);
    insert->BindInt(2, static_cast<int64_t>(event.seq));
    insert->BindText(3, core::EventTypeName(event.type));
    insert->BindText(4, event.step);
    insert->BindInt(5, event.item);
    insert->BindInt(6, event.attempt);
    insert->BindInt(7, event.time_ms);
    insert->BindText(8, data);
    BATON_RETURN_IF_ERROR(insert->Run());
  }

  BATON_ASSIGN_OR_RETURN(Statement * update, db.Prepare(kUpdateRun));
  ScopedReset reset(*update);
  update->BindText(1, op.run_id);
  update->BindInt(2, static_cast<int64_t>(op.events.empty() ? last_seq : op.events.back().seq));
  if (!op.events.empty()) update->BindInt(3, op.events.back().time_ms);
  std::string outputs;
  std::string usage;
  if (op.update && !op.update->spend.empty()) {
    BATON_ASSIGN_OR_RETURN(Statement * add, db.Prepare(kAddSpend));
    for (const SpendDelta& delta : op.update->spend) {
      ScopedReset add_reset(*add);
      add->BindText(1, delta.day);
      add->BindText(2, delta.scope);
      add->BindDouble(3, delta.usd);
      add->BindInt(4, delta.tokens);
      BATON_RETURN_IF_ERROR(add->Run());
    }
  }
  if (op.update) {
    const RunUpdate& u = *op.update;
    if (u.status) update->BindText(4, core::RunStatusName(*u.status));
    if (u.outputs) {
      outputs = boost::json::serialize(*u.outputs);
      update->BindText(5, outputs);
    }
    if (u.error) update->BindText(6, *u.error);
    if (u.usage) {
      usage = boost::json::serialize(*u.usage);
      update->BindText(7, usage);
    }
    if (u.owner_pid) update->BindInt(8, *u.owner_pid);
    if (u.owner_host) update->BindText(9, *u.owner_host);
    BATON_RETURN_IF_ERROR(sqlite::ApplyWaitUpdate(db, op.run_id, u,
                                                  op.events.empty() ? 0 : op.events.back().time_ms,
                                                  u.status && core::IsTerminal(*u.status)));
  }
  return update->Run();
}

class SqliteStore final : public Store {
 public:
  SqliteStore(std::string path, SqliteOptions options, std::unique_ptr<Database> writer)
      : path_(std::move(path)), options_(std::move(options)), writer_db_(std::move(writer)) {}

  // Starts the checkpointer and the writer thread; called once, before any other method.
  Status Start() {
    BATON_ASSIGN_OR_RETURN(
        checkpointer_,
        sqlite::Checkpointer::Start(path_, options_, [this](Status error) { Poison(error); }));
    checkpointer_->Attach(*writer_db_);
    writer_thread_ = std::thread([this] { WriterLoop(); });
    return Status::Ok();
  }

  ~SqliteStore() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    queue_cv_.notify_one();
    if (writer_thread_.joinable()) writer_thread_.join();
    // The write connection closes last, so that it checkpoints the WAL into the file.
    checkpointer_.reset();
    readers_.clear();
    writer_db_.reset();
  }

  Status CreateRun(const RunRecord& run) override {
    if (run.id.empty()) return InvalidArgument("run id is empty");
    return RunOnWriter([&run](Database& db) { return InsertRun(db, run); });
  }

  void CreateRunAsync(RunRecord run, AppendCallback done) override {
    if (run.id.empty()) {
      done(InvalidArgument("run id is empty"));
      return;
    }
    auto shared = std::make_shared<RunRecord>(std::move(run));
    Enqueue(WriteOp{
        {}, {}, {}, [shared](Database& db) { return InsertRun(db, *shared); }, std::move(done)});
  }

  static Status InsertRun(Database& db, const RunRecord& run) {
    {
      std::string inputs = boost::json::serialize(run.inputs);
      std::string outputs = boost::json::serialize(run.outputs);
      std::string usage = boost::json::serialize(run.usage);
      BATON_ASSIGN_OR_RETURN(Statement * insert, db.Prepare(kInsertRun));
      ScopedReset reset(*insert);
      insert->BindText(1, run.id);
      insert->BindText(2, run.workflow_name);
      insert->BindText(3, run.workflow_file);
      insert->BindText(4, run.workflow_blob);
      insert->BindText(5, run.parent_run);
      insert->BindText(6, inputs);
      insert->BindText(7, core::RunStatusName(run.status));
      insert->BindText(8, outputs);
      insert->BindText(9, run.error);
      insert->BindInt(10, run.created_ms);
      insert->BindInt(11, run.updated_ms);
      insert->BindInt(12, run.owner_pid);
      insert->BindText(13, run.owner_host);
      insert->BindInt(14, run.cancel_requested ? 1 : 0);
      insert->BindText(15, usage);
      BATON_RETURN_IF_ERROR(insert->Run());
      if (db.Changes() == 0) return {Code::kAlreadyExists, "run " + run.id + " already exists"};
      return Status::Ok();
    }
  }

  void Append(std::string run_id, std::vector<core::Event> events, std::optional<RunUpdate> update,
              AppendCallback done) override {
    Enqueue(WriteOp{std::move(run_id), std::move(events), std::move(update), {}, std::move(done)});
  }

  Result<std::vector<core::Event>> ReadEvents(std::string_view run_id, uint64_t after_seq,
                                              size_t limit) override {
    return WithReader([&](Database& db) -> Result<std::vector<core::Event>> {
      std::vector<core::Event> events;
      {
        BATON_ASSIGN_OR_RETURN(Statement * select, db.Prepare(kSelectEvents));
        ScopedReset reset(*select);
        select->BindText(1, run_id);
        select->BindInt(2, static_cast<int64_t>(after_seq));
        select->BindInt(3, limit == 0 ? -1 : static_cast<int64_t>(limit));
        for (;;) {
          BATON_ASSIGN_OR_RETURN(bool row, select->Step());
          if (!row) break;
          BATON_ASSIGN_OR_RETURN(core::Event event, sqlite::DecodeEvent(*select));
          events.push_back(std::move(event));
        }
      }
      if (events.empty()) {
        BATON_ASSIGN_OR_RETURN(bool exists, Exists(db, kRunExists, run_id));
        if (!exists) return NotFound("run " + std::string(run_id) + " not found");
      }
      return events;
    });
  }

  Result<RunRecord> GetRun(std::string_view id_or_prefix) override {
    if (id_or_prefix.empty()) return InvalidArgument("run id is empty");
    return WithReader([&](Database& db) -> Result<RunRecord> {
      {
        BATON_ASSIGN_OR_RETURN(Statement * exact, db.Prepare(kSelectRun));
        ScopedReset reset(*exact);
        exact->BindText(1, id_or_prefix);
        BATON_ASSIGN_OR_RETURN(bool row, exact->Step());
        if (row) return sqlite::DecodeRun(*exact);
      }
      BATON_ASSIGN_OR_RETURN(Statement * after, db.Prepare(kSelectRunsAfter));
      ScopedReset reset(*after);
      after->BindText(1, id_or_prefix);
      std::optional<RunRecord> match;
      for (;;) {
        BATON_ASSIGN_OR_RETURN(bool row, after->Step());
        if (!row || !after->ColumnText(0).starts_with(id_or_prefix)) break;
        if (match) {
          return InvalidArgument("run id prefix '" + std::string(id_or_prefix) + "' is ambiguous");
        }
        BATON_ASSIGN_OR_RETURN(match, sqlite::DecodeRun(*after));
      }
      if (!match) return NotFound("no run matches '" + std::string(id_or_prefix) + "'");
      return std::move(*match);
    });
  }

  Result<std::vector<RunRecord>> ListRuns(const RunFilter& filter) override {
    const char* sql = kListRuns;
    if (filter.status && !filter.workflow_name.empty()) {
      sql = kListRunsByBoth;
    } else if (filter.status) {
      sql = kListRunsByStatus;
    } else if (!filter.workflow_name.empty()) {
      sql = kListRunsByWorkflow;
    }
    return WithReader([&](Database& db) -> Result<std::vector<RunRecord>> {
      BATON_ASSIGN_OR_RETURN(Statement * select, db.Prepare(sql));
      ScopedReset reset(*select);
      if (filter.status) select->BindText(1, core::RunStatusName(*filter.status));
      if (!filter.workflow_name.empty()) select->BindText(2, filter.workflow_name);
      select->BindInt(3, filter.limit == 0 ? -1 : static_cast<int64_t>(filter.limit));
      std::vector<RunRecord> runs;
      for (;;) {
        BATON_ASSIGN_OR_RETURN(bool row, select->Step());
        if (!row) break;
        BATON_ASSIGN_OR_RETURN(RunRecord run, sqlite::DecodeRun(*select));
        runs.push_back(std::move(run));
      }
      return runs;
    });
  }

  Status ScanRuns(const ScanFilter& filter, const ScanVisitor& visitor) override {
    std::string types;
    if (!filter.types.empty()) {
      types = ",";
      for (core::EventType type : filter.types) {
        types += core::EventTypeName(type);
        types += ',';
      }
    }
    return WithReader([&](Database& db) -> Status {
      BATON_ASSIGN_OR_RETURN(Statement * select, db.Prepare(kScanRuns));
      ScopedReset reset(*select);
      select->BindInt(1, filter.created_since_ms);
      select->BindText(2, filter.workflow_name);
      select->BindText(3, types);
      std::string current;
      bool first = true;
      for (;;) {
        BATON_ASSIGN_OR_RETURN(bool row, select->Step());
        if (!row) break;
        if (first || select->ColumnText(0) != current) {
          first = false;
          current = select->ColumnText(0);
          if (visitor.run) {
            BATON_ASSIGN_OR_RETURN(RunRecord run, sqlite::DecodeRun(*select));
            BATON_RETURN_IF_ERROR(visitor.run(run));
          }
        }
        if (!visitor.event || select->ColumnIsNull(kScanEventColumn)) continue;
        BATON_ASSIGN_OR_RETURN(core::Event event, sqlite::DecodeEvent(*select, kScanEventColumn));
        BATON_RETURN_IF_ERROR(visitor.event(event));
      }
      return Status::Ok();
    });
  }

  Status RequestCancel(std::string_view run_id) override {
    return RunOnWriter([run_id](Database& db) -> Status {
      BATON_ASSIGN_OR_RETURN(Statement * update, db.Prepare(kRequestCancel));
      ScopedReset reset(*update);
      update->BindText(1, run_id);
      BATON_RETURN_IF_ERROR(update->Run());
      if (db.Changes() == 0) return NotFound("run " + std::string(run_id) + " not found");
      return Status::Ok();
    });
  }

  Result<bool> IsCancelRequested(std::string_view run_id) override {
    return WithReader([&](Database& db) -> Result<bool> {
      BATON_ASSIGN_OR_RETURN(Statement * select, db.Prepare(kIsCancelRequested));
      ScopedReset reset(*select);
      select->BindText(1, run_id);
      BATON_ASSIGN_OR_RETURN(bool row, select->Step());
      if (!row) return NotFound("run " + std::string(run_id) + " not found");
      return select->ColumnInt(0) != 0;
    });
  }

  Result<double> DailySpend(std::string_view day, std::string_view scope) override {
    return WithReader([&](Database& db) -> Result<double> {
      BATON_ASSIGN_OR_RETURN(Statement * select, db.Prepare(kSelectSpend));
      ScopedReset reset(*select);
      select->BindText(1, day);
      select->BindText(2, scope);
      BATON_ASSIGN_OR_RETURN(bool row, select->Step());
      return row ? select->ColumnDouble(0) : 0.0;
    });
  }

  Result<std::optional<std::string>> GetCached(std::string_view key, int64_t now_ms) override {
    return WithReader([&](Database& db) -> Result<std::optional<std::string>> {
      BATON_ASSIGN_OR_RETURN(Statement * select, db.Prepare(kSelectCached));
      ScopedReset reset(*select);
      select->BindText(1, key);
      select->BindInt(2, now_ms);
      BATON_ASSIGN_OR_RETURN(bool row, select->Step());
      if (!row) return std::optional<std::string>();
      return std::optional<std::string>(std::string(select->ColumnText(0)));
    });
  }

  Status PutCached(std::string_view key, std::string_view value, int64_t now_ms,
                   int64_t expires_ms) override {
    return RunOnWriter([&](Database& db) -> Status {
      BATON_ASSIGN_OR_RETURN(Statement * put, db.Prepare(kPutCached));
      ScopedReset reset(*put);
      put->BindText(1, key);
      put->BindText(2, value);
      put->BindInt(3, expires_ms);
      BATON_RETURN_IF_ERROR(put->Run());
      // Expired entries go on the way (the cache is opt-in and small).
      BATON_ASSIGN_OR_RETURN(Statement * prune, db.Prepare(kPruneCached));
      ScopedReset prune_reset(*prune);
      prune->BindInt(1, now_ms);
      return prune->Run();
    });
  }

  Result<std::string> PutBlob(std::string_view bytes) override {
    std::string hash = Sha256Hex(bytes);
    // Most puts of a repeated payload end here, without a trip through the writer.
    BATON_ASSIGN_OR_RETURN(bool present,
                           WithReader([&](Database& db) { return Exists(db, kBlobExists, hash); }));
    if (present) return hash;
    BATON_RETURN_IF_ERROR(RunOnWriter([&](Database& db) -> Status {
      BATON_ASSIGN_OR_RETURN(Statement * insert, db.Prepare(kInsertBlob));
      ScopedReset reset(*insert);
      insert->BindText(1, hash);
      insert->BindInt(2, static_cast<int64_t>(bytes.size()));
      insert->BindBlob(3, bytes);
      return insert->Run();
    }));
    return hash;
  }

  Result<std::string> GetBlob(std::string_view hash) override {
    return WithReader([&](Database& db) -> Result<std::string> {
      BATON_ASSIGN_OR_RETURN(Statement * select, db.Prepare(kSelectBlob));
      ScopedReset reset(*select);
      select->BindText(1, hash);
      BATON_ASSIGN_OR_RETURN(bool row, select->Step());
      if (!row) return NotFound("blob " + std::string(hash) + " not found");
      return std::string(select->ColumnBlob(0));
    });
  }

  // ---- Waits and the event bus (store/sqlite/bus.hpp).

  Result<int64_t> PostSignal(std::string_view run_id, json::object data, int64_t now_ms) override {
    int64_t id = 0;
    BATON_RETURN_IF_ERROR(RunOnWriter([&](Database& db) -> Status {
      BATON_ASSIGN_OR_RETURN(id, sqlite::InsertSignal(db, run_id, data, now_ms));
      return Status::Ok();
    }));
    return id;
  }

  Result<std::vector<Signal>> ReadSignals(std::string_view run_id) override {
    return WithReader([&](Database& db) { return sqlite::SelectSignals(db, run_id); });
  }

  Result<bool> ClaimRun(std::string_view run_id, int64_t expected_pid,
                        std::string_view expected_host, int64_t pid,
                        std::string_view host) override {
    bool claimed = false;
    BATON_RETURN_IF_ERROR(RunOnWriter([&](Database& db) -> Status {
      BATON_ASSIGN_OR_RETURN(claimed,
                             sqlite::ClaimRun(db, run_id, expected_pid, expected_host, pid, host));
      return Status::Ok();
    }));
    return claimed;
  }

  Result<std::vector<std::string>> PublishEvent(const BusEvent& event) override {
    std::vector<std::string> runs;
    BATON_RETURN_IF_ERROR(RunOnWriter([&](Database& db) -> Status {
      auto published = sqlite::PublishEvent(db, event);
      if (!published.ok() && published.error().code() == Code::kFailedPrecondition) {
        return {Code::kAlreadyExists, published.error().message()};
      }
      BATON_ASSIGN_OR_RETURN(runs, std::move(published));
      return Status::Ok();
    }));
    return runs;
  }

  Result<std::vector<BusEvent>> ListEvents(const EventFilter& filter) override {
    return WithReader([&](Database& db) { return sqlite::SelectEvents(db, filter); });
  }

  Status MarkTriggersDone(std::string_view event_id) override {
    return RunOnWriter([&](Database& db) { return sqlite::MarkTriggersDone(db, event_id); });
  }

  Result<std::vector<std::string>> SubscribedRuns(std::string_view event) override {
    return WithReader([&](Database& db) { return sqlite::SelectSubscribedRuns(db, event); });
  }

  Status PutTrigger(const TriggerRecord& trigger) override {
    return RunOnWriter([&](Database& db) { return sqlite::PutTrigger(db, trigger); });
  }

  Result<std::vector<TriggerRecord>> ListTriggers(std::string_view event) override {
    return WithReader([&](Database& db) { return sqlite::SelectTriggers(db, event); });
  }

  Result<int> RemoveTriggers(std::string_view workflow) override {
    int removed = 0;
    BATON_RETURN_IF_ERROR(RunOnWriter([&](Database& db) -> Status {
      BATON_ASSIGN_OR_RETURN(removed, sqlite::DeleteTriggers(db, workflow));
      return Status::Ok();
    }));
    return removed;
  }

  // Ok unless the store is poisoned, in which case the poisoning error.
  Status Flush() override {
    std::unique_lock lock(mu_);
    uint64_t target = enqueued_;
    flush_cv_.wait(lock, [&] { return completed_ >= target; });
    return bg_error_;
  }

 private:
  static Result<bool> Exists(Database& db, const char* sql, std::string_view key) {
    BATON_ASSIGN_OR_RETURN(Statement * select, db.Prepare(sql));
    ScopedReset reset(*select);
    select->BindText(1, key);
    return select->Step();
  }

  // Queues `op`, or fails it at once when the store is poisoned.
  void Enqueue(WriteOp op) {
    std::unique_lock lock(mu_);
    if (!bg_error_.ok()) {
      Status error = bg_error_;
      lock.unlock();
      if (op.done) op.done(std::move(error));
      return;
    }
    queue_.push_back(std::move(op));
    ++enqueued_;
    lock.unlock();
    queue_cv_.notify_one();
  }

  // Runs `apply` on the write connection inside the next group commit and waits for the commit.
  Status RunOnWriter(std::function<Status(Database&)> apply) {
    std::promise<Status> done;
    std::future<Status> result = done.get_future();
    Enqueue(
        WriteOp{{}, {}, {}, std::move(apply), [&done](Status s) { done.set_value(std::move(s)); }});
    return result.get();
  }

  // Runs `read` on a read-only connection from the pool (opening one when none is idle).
  template <typename F>
  auto WithReader(F&& read) -> decltype(read(std::declval<Database&>())) {
    std::unique_ptr<Database> db;
    {
      std::lock_guard lock(readers_mu_);
      if (!readers_.empty()) {
        db = std::move(readers_.back());
        readers_.pop_back();
      }
    }
    if (!db) {
      BATON_ASSIGN_OR_RETURN(db, Database::Open(path_, SQLITE_OPEN_READONLY, options_.vfs));
      BATON_RETURN_IF_ERROR(sqlite::ConfigureConnection(*db, options_));
    }
    auto result = read(*db);
    std::lock_guard lock(readers_mu_);
    if (readers_.size() < kMaxIdleReaders) readers_.push_back(std::move(db));
    return result;
  }

  void WriterLoop() {
    std::vector<WriteOp> group;
    std::vector<Status> results;
    for (;;) {
      {
        std::unique_lock lock(mu_);
        queue_cv_.wait(lock, [&] { return !queue_.empty() || stopping_; });
        if (queue_.empty()) return;  // stopping, and everything queued has been written
        group.swap(queue_);
      }
      results.assign(group.size(), Status::Ok());
      CommitGroup(group, results);
      FinishGroup(group, results);
    }
  }

  // Reports a committed group. The ops (and the callbacks, which may hold their callers'
  // executors) are destroyed before the group counts as completed: once Flush() returns, the
  // store holds nothing of its callers.
  void FinishGroup(std::vector<WriteOp>& group, std::vector<Status>& results) {
    for (size_t i = 0; i < group.size(); ++i) {
      if (group[i].done) group[i].done(std::move(results[i]));
    }
    size_t n = group.size();
    group.clear();
    {
      std::lock_guard lock(mu_);
      completed_ += n;
    }
    flush_cv_.notify_all();
  }

  // Writes `group` in one transaction, one savepoint per op, and fills `results`. An op that
  // fails on its own is rolled back alone; an I/O error or a failed commit fails the whole group
  // and poisons the store.
  void CommitGroup(std::vector<WriteOp>& group, std::vector<Status>& results) {
    Database& db = *writer_db_;
    Status fatal = PoisonedStatus();
    if (fatal.ok()) {
      fatal = RunControl(kBegin);
      // A busy lock held by another process fails this group only.
      if (!fatal.ok() && !sqlite::IsIoError(fatal)) {
        results.assign(group.size(), fatal);
        return;
      }
    }
    // A lone op needs no savepoint: when it fails, the whole transaction is rolled back. Appends
    // need none either: ApplyAppend checks the sequence before it writes anything, so after its
    // first write only an I/O error (which fails the whole group) can stop it.
    const bool many = group.size() > 1;
    for (size_t i = 0; i < group.size() && fatal.ok(); ++i) {
      const bool isolate = many && group[i].apply != nullptr;
      if (isolate) {
        fatal = RunControl(kSavepoint);
        if (!fatal.ok()) break;
      }
      WriteOp& op = group[i];
      Status status = op.apply ? op.apply(db) : ApplyAppend(db, op);
      if (!op.apply && !status.ok() && status.code() != Code::kNotFound &&
          status.code() != Code::kFailedPrecondition) {
        // Not a validation failure: the append may have written part of its rows.
        fatal = status;
        break;
      }
      if (status.ok()) {
        if (isolate) fatal = RunControl(kRelease);
      } else if (sqlite::IsIoError(status)) {
        fatal = status;
      } else if (isolate || (many && !op.apply)) {
        // An isolated op rolls back to its savepoint; a failed append wrote nothing.
        results[i] = std::move(status);
        if (isolate) {
          fatal = RunControl(kRollbackTo);
          if (fatal.ok()) fatal = RunControl(kRelease);
        }
      } else {
        results[i] = std::move(status);
        fatal = RunControl(kRollback);
        if (fatal.ok()) return;
      }
    }
    if (fatal.ok()) fatal = RunControl(kCommit);
    if (fatal.ok()) return;
    if (sqlite3_get_autocommit(db.raw()) == 0) (void)RunControl(kRollback);
    Poison(fatal);
    Status error = PoisonedStatus();
    for (Status& result : results) {
      if (result.ok()) result = error;
    }
  }

  Status RunControl(const char* sql) {
    BATON_ASSIGN_OR_RETURN(Statement * stmt, writer_db_->Prepare(sql));
    ScopedReset reset(*stmt);
    return stmt->Run();
  }

  Status PoisonedStatus() {
    std::lock_guard lock(mu_);
    return bg_error_;
  }

  // Records the first fatal error; every later write fails with it.
  void Poison(const Status& error) {
    std::lock_guard lock(mu_);
    if (bg_error_.ok()) bg_error_ = error.WithContext("journal write failed");
  }

  const std::string path_;
  const SqliteOptions options_;
  std::unique_ptr<Database> writer_db_;  // used only by writer_thread_
  std::unique_ptr<sqlite::Checkpointer> checkpointer_;

  std::mutex mu_;
  std::condition_variable queue_cv_;  // queue_ gained an op, or stopping_
  std::condition_variable flush_cv_;  // completed_ advanced
  std::vector<WriteOp> queue_;
  uint64_t enqueued_ = 0;
  uint64_t completed_ = 0;
  bool stopping_ = false;
  Status bg_error_;

  std::mutex readers_mu_;
  std::vector<std::unique_ptr<Database>> readers_;

  std::thread writer_thread_;
};

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path, SqliteOptions options) {
  if (path.empty() || path == ":memory:") {
    return InvalidArgument("journal: a file path is required, got '" + path + "'");
  }
  std::filesystem::path file(path);
  std::filesystem::path dir = file.has_parent_path() ? file.parent_path() : ".";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Unavailable("journal: cannot create " + dir.string() + ": " + ec.message());
  if (IsNetworkFilesystem(dir)) {
    return FailedPrecondition("journal: " + path +
                              " is on a network filesystem; SQLite WAL needs a local disk");
  }
  BATON_ASSIGN_OR_RETURN(
      std::unique_ptr<Database> db,
      Database::Open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, options.vfs));
  BATON_RETURN_IF_ERROR(sqlite::ConfigureConnection(*db, options));
  BATON_RETURN_IF_ERROR(sqlite::EnsureSchema(*db));
  auto store = std::make_unique<SqliteStore>(path, std::move(options), std::move(db));
  BATON_RETURN_IF_ERROR(store->Start());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace baton::store
