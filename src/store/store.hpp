#pragma once

// The journal: runs, their events, and content-addressed blobs. Every backend (memory, SQLite,
// later PostgreSQL) implements this interface and passes tests/store/conformance_test.cpp.
//
// Threading: every method is safe to call from any thread. Append is asynchronous and
// group-committed: the callback runs once the batch is durable (or failed), on a store-owned
// thread (or inline for the memory store); it must be cheap and must not call back into Append.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.hpp"
#include "base/status.hpp"
#include "core/events.hpp"

namespace baton::store {

struct RunRecord {
  std::string id;
  std::string workflow_name;
  std::string workflow_file;  // path as given at start (informational)
  std::string workflow_blob;  // hash of the workflow source in blobs (used by resume)
  std::string parent_run;     // "" for top-level runs
  json::object inputs;
  core::RunStatus status = core::RunStatus::kPending;
  json::value outputs;  // set when succeeded
  std::string error;    // set when failed ("type: message")
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  int64_t owner_pid = 0;  // process executing it (0 = none)
  std::string owner_host;
  bool cancel_requested = false;
  uint64_t last_seq = 0;  // highest event seq appended
  json::object usage;     // {input_tokens, output_tokens, cost_usd}
};

// Changes to a run's row committed atomically with an append.
// Money spent on a UTC day under a scope ("*" = everything, "workflow:<name>"), added to the
// daily spend ledger in the same transaction as the events that record the calls.
struct SpendDelta {
  std::string day;  // "YYYY-MM-DD" (UTC)
  std::string scope;
  double usd = 0;
  int64_t tokens = 0;
};

// A message in a run's inbox (store-assigned `id`, increasing): an approval decision or a bus
// event delivered to the run. `data` is {kind: "approval" | "event", ...} (docs/journal.md).
struct Signal {
  int64_t id = 0;
  std::string run_id;
  json::object data;
  int64_t created_ms = 0;
};

// An event on the journal's event bus (`emit:` steps, `baton events send`).
struct BusEvent {
  std::string id;  // unique over the store
  std::string name;
  json::value data;
  std::string source_run;  // the emitting run ("" when sent from outside)
  int64_t time_ms = 0;
  bool triggers_done = false;  // the runs of registered triggers have been created
};

// A waiting `wait:` step of a run: bus events named `event` are delivered to the run's inbox.
struct Subscription {
  std::string step;
  int32_t item = -1;
  std::string event;
};

// A workflow registered to start on bus events named `event` (`on:`), with its source.
struct TriggerRecord {
  std::string workflow;  // workflow name
  std::string event;
  std::string workflow_file;
  std::string workflow_blob;  // hash of the source in blobs
  int64_t created_ms = 0;
};

struct EventFilter {
  std::string name;               // "" = every event
  bool triggers_pending = false;  // only events whose trigger runs are not all created yet
  size_t limit = 50;              // 0 = all
};

struct RunUpdate {
  // Waits and the event bus, committed with the append (so each is applied exactly once):
  std::vector<int64_t> consume_signals;  // inbox signals this append records
  std::vector<BusEvent> publish;         // published, and delivered to subscribed runs' inboxes
  std::vector<Subscription> subscribe;   // this run starts waiting for these events
  std::vector<std::pair<std::string, int32_t>> unsubscribe;  // (step, item) waits that ended
  std::vector<SpendDelta> spend;
  std::optional<core::RunStatus> status;
  std::optional<json::value> outputs;
  std::optional<std::string> error;
  std::optional<json::object> usage;
  std::optional<int64_t> owner_pid;  // set on resume / clear on finish
  std::optional<std::string> owner_host;
};

struct RunFilter {
  std::optional<core::RunStatus> status;
  std::string workflow_name;
  size_t limit = 50;  // 0 = all
};

using AppendCallback = std::function<void(Status)>;

// Which runs and events Store::ScanRuns visits.
struct ScanFilter {
  int64_t created_since_ms = 0;        // runs created at or after this time (0: every run)
  std::string workflow_name;           // "" = every workflow
  std::vector<core::EventType> types;  // only events of these types (empty: every type)
};

// Receives what Store::ScanRuns reads: `run` once per run, then `event` for each of its events.
// A non-ok Status from either stops the scan, and ScanRuns returns it. Either may be empty.
struct ScanVisitor {
  std::function<Status(const RunRecord& run)> run;
  std::function<Status(const core::Event& event)> event;
};

class Store {
 public:
  virtual ~Store() = default;

  // Creates the run row. Fails with kAlreadyExists if the id is taken.
  virtual Status CreateRun(const RunRecord& run) = 0;

  // Like CreateRun, but queued with the appends instead of waited for: an Append for the run
  // issued after this call is ordered after the creation (and typically committed in the same
  // group). `done` reports the creation's outcome. The default calls CreateRun inline.
  virtual void CreateRunAsync(RunRecord run, AppendCallback done) { done(CreateRun(run)); }

  // Appends `events` (seqs must continue the run's sequence without gaps) and applies `update`,
  // atomically. `done` runs when the batch is durable, with the error otherwise. After an I/O
  // error the store refuses every later append with that same error (then `done` may run inline
  // on the caller's thread). The run's updated_ms becomes the last event's time_ms.
  virtual void Append(std::string run_id, std::vector<core::Event> events,
                      std::optional<RunUpdate> update, AppendCallback done) = 0;

  // Blocking convenience over Append.
  Status AppendSync(std::string run_id, std::vector<core::Event> events,
                    std::optional<RunUpdate> update = std::nullopt);

  // Events of `run_id` with seq > after_seq, in order, at most `limit` (0 = all).
  virtual Result<std::vector<core::Event>> ReadEvents(std::string_view run_id,
                                                      uint64_t after_seq = 0, size_t limit = 0) = 0;

  // The run with exactly this id, or the only run whose id starts with it (kNotFound when none,
  // kInvalidArgument when ambiguous).
  virtual Result<RunRecord> GetRun(std::string_view id_or_prefix) = 0;

  // Runs, newest first.
  virtual Result<std::vector<RunRecord>> ListRuns(const RunFilter& filter) = 0;

  // Every run matching `filter`, oldest first (created_ms, then id), each followed by its events
  // of the wanted types in seq order: one pass over many runs, for aggregations such as
  // `baton stats`. The visitors run on the calling thread and may read from the store. SQLite
  // reads everything in one read transaction (a consistent snapshot); the default
  // implementation (ListRuns, then ReadEvents per run) sees each run as of its own read.
  virtual Status ScanRuns(const ScanFilter& filter, const ScanVisitor& visitor);

  // Marks a run for cancellation; its executor observes it by polling IsCancelRequested.
  virtual Status RequestCancel(std::string_view run_id) = 0;
  virtual Result<bool> IsCancelRequested(std::string_view run_id) = 0;

  // USD spent on `day` ("YYYY-MM-DD", UTC) under `scope` by every run in this store (0 when
  // nothing was recorded).
  virtual Result<double> DailySpend(std::string_view day, std::string_view scope) = 0;

  // The response cache (the admission chain's, persistent): the value stored under `key` if it
  // has not expired at `now_ms`, else nullopt.
  virtual Result<std::optional<std::string>> GetCached(std::string_view key, int64_t now_ms) = 0;
  // Stores `value` under `key` until `expires_ms`, replacing an older value; entries expired at
  // `now_ms` may be dropped.
  virtual Status PutCached(std::string_view key, std::string_view value, int64_t now_ms,
                           int64_t expires_ms) = 0;

  // Stores `bytes` once under their SHA-256; returns the hex hash. Idempotent.
  virtual Result<std::string> PutBlob(std::string_view bytes) = 0;
  virtual Result<std::string> GetBlob(std::string_view hash) = 0;

  // ---- Waits and the event bus (docs/journal.md). A terminal status in an append's RunUpdate
  // also drops the run's subscriptions.

  // Adds a signal to the run's inbox; returns its id. kNotFound for an unknown run.
  virtual Result<int64_t> PostSignal(std::string_view run_id, json::object data,
                                     int64_t now_ms) = 0;
  // The run's signals not yet consumed (RunUpdate::consume_signals), oldest first.
  virtual Result<std::vector<Signal>> ReadSignals(std::string_view run_id) = 0;
  // Compare-and-set of the run's owner: when it is (expected_pid, expected_host) (the host is not
  // compared when expected_pid is 0) and the run has not finished, makes (pid, host) the owner
  // and a `waiting` run `running`; returns whether it did. kNotFound for an unknown run.
  virtual Result<bool> ClaimRun(std::string_view run_id, int64_t expected_pid,
                                std::string_view expected_host, int64_t pid,
                                std::string_view host) = 0;
  // Publishes `event` (its id must be new: kAlreadyExists otherwise) and delivers it, in the
  // same transaction, as one signal {kind: "event", id, event, data} to each run subscribed to
  // its name. Returns the runs it was delivered to. triggers_done is set when no trigger is
  // registered for the name.
  virtual Result<std::vector<std::string>> PublishEvent(const BusEvent& event) = 0;
  // Bus events, newest first.
  virtual Result<std::vector<BusEvent>> ListEvents(const EventFilter& filter) = 0;
  virtual Status MarkTriggersDone(std::string_view event_id) = 0;
  // Runs with a subscription to `event`.
  virtual Result<std::vector<std::string>> SubscribedRuns(std::string_view event) = 0;
  // Registers (or replaces) the trigger (workflow, event).
  virtual Status PutTrigger(const TriggerRecord& trigger) = 0;
  // Triggers for `event` ("" = all), by workflow name.
  virtual Result<std::vector<TriggerRecord>> ListTriggers(std::string_view event) = 0;
  // Removes every trigger of `workflow`; returns how many there were.
  virtual Result<int> RemoveTriggers(std::string_view workflow) = 0;

  // Waits until every Append issued before this call has completed and its callback has been
  // run and destroyed (so the store no longer holds anything the callback captured).
  virtual Status Flush() = 0;
};

struct SqliteOptions {
  bool synchronous_full = true;  // false: synchronous=NORMAL
  int busy_timeout_ms = 5000;
  std::string vfs;  // SQLite VFS name ("" = the platform default); tests inject I/O faults with it
};

std::unique_ptr<Store> NewMemoryStore();
// Opens (creating if needed) the SQLite journal at `path`; creates parent directories.
Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path, SqliteOptions options = {});

}  // namespace baton::store
