#include "store/sqlite/bus.hpp"

#include <boost/json/serialize.hpp>
#include <utility>

#include "core/events.hpp"

namespace baton::store::sqlite {

// PublishEvent without the id check (done by the caller before it writes anything).
Result<std::vector<std::string>> PublishUnchecked(Database& db, const BusEvent& event);

namespace {

constexpr const char* kRunRow = "SELECT 1 FROM runs WHERE id = ?1";
constexpr const char* kInsertSignal =
    "INSERT INTO signals (run_id, data, created_ms, consumed) VALUES (?1, ?2, ?3, 0) "
    "RETURNING id";
constexpr const char* kSelectSignals =
    "SELECT id, data, created_ms FROM signals WHERE run_id = ?1 AND consumed = 0 ORDER BY id";
constexpr const char* kConsumeSignal =
    "UPDATE signals SET consumed = 1 WHERE id = ?1 AND run_id = ?2";
constexpr const char* kClaimRun =
    "UPDATE runs SET owner_pid = ?4, owner_host = ?5, "
    "status = CASE WHEN status = 'waiting' THEN 'running' ELSE status END "
    "WHERE id = ?1 AND owner_pid = ?2 AND (?2 = 0 OR owner_host = ?3) "
    "AND status NOT IN ('succeeded', 'failed', 'cancelled', 'compensated', "
    "'compensation_failed')";
constexpr const char* kEventIdTaken = "SELECT 1 FROM bus_events WHERE id = ?1";
constexpr const char* kInsertEvent =
    "INSERT INTO bus_events (id, name, data, source_run, time_ms, triggers_done) "
    "VALUES (?1, ?2, ?3, ?4, ?5, NOT EXISTS (SELECT 1 FROM triggers WHERE event = ?2))";
constexpr const char* kSubscribersOf =
    "SELECT DISTINCT run_id FROM subscriptions WHERE event = ?1 ORDER BY run_id";
constexpr const char* kSelectEvents =
    "SELECT id, name, data, source_run, time_ms, triggers_done FROM bus_events "
    "WHERE (?1 = '' OR name = ?1) AND (?2 = 0 OR triggers_done = 0) ORDER BY seq DESC LIMIT ?3";
constexpr const char* kMarkTriggersDone = "UPDATE bus_events SET triggers_done = 1 WHERE id = ?1";
constexpr const char* kSubscribe =
    "INSERT INTO subscriptions (run_id, step, item, event) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (run_id, step, item) DO UPDATE SET event = excluded.event";
constexpr const char* kUnsubscribe =
    "DELETE FROM subscriptions WHERE run_id = ?1 AND step = ?2 AND item = ?3";
constexpr const char* kUnsubscribeRun = "DELETE FROM subscriptions WHERE run_id = ?1";
constexpr const char* kPutTrigger =
    "INSERT INTO triggers (workflow, event, workflow_file, workflow_blob, created_ms) "
    "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (workflow, event) DO UPDATE SET "
    "workflow_file = excluded.workflow_file, workflow_blob = excluded.workflow_blob, "
    "created_ms = excluded.created_ms";
constexpr const char* kSelectTriggers =
    "SELECT workflow, event, workflow_file, workflow_blob, created_ms FROM triggers "
    "WHERE ?1 = '' OR event = ?1 ORDER BY workflow, event";
constexpr const char* kDeleteTriggers = "DELETE FROM triggers WHERE workflow = ?1";

Result<bool> RunExists(Database& db, std::string_view run_id) {
  BATON_ASSIGN_OR_RETURN(Statement * select, db.Prepare(kRunRow));
  ScopedReset reset(*select);
  select->BindText(1, run_id);
  return select->Step();
}

Result<json::object> DecodeObject(std::string_view text) {
  BATON_ASSIGN_OR_RETURN(json::value v, ParseJson(text));
  if (!v.is_object()) return Internal("journal: a signal's data is not an object");
  return std::move(v.get_object());
}

}  // namespace

Status CheckWaitUpdate(Database& db, const RunUpdate& update) {
  for (size_t i = 0; i < update.publish.size(); ++i) {
    const BusEvent& e = update.publish[i];
    for (size_t j = 0; j < i; ++j) {
      if (update.publish[j].id == e.id) return FailedPrecondition("event id " + e.id + " repeats");
    }
    BATON_ASSIGN_OR_RETURN(Statement * select, db.Prepare(kEventIdTaken));
    ScopedReset reset(*select);
    select->BindText(1, e.id);
    BATON_ASSIGN_OR_RETURN(bool taken, select->Step());
    if (taken) return FailedPrecondition("event id " + e.id + " is already taken");
  }
  return Status::Ok();
}

Status ApplyWaitUpdate(Database& db, const std::string& run_id, const RunUpdate& update,
                       int64_t now_ms, bool terminal) {
  for (int64_t id : update.consume_signals) {
    BATON_ASSIGN_OR_RETURN(Statement * consume, db.Prepare(kConsumeSignal));
    ScopedReset reset(*consume);
    consume->BindInt(1, id);
    consume->BindText(2, run_id);
    BATON_RETURN_IF_ERROR(consume->Run());
  }
  for (const auto& [step, item] : update.unsubscribe) {
    BATON_ASSIGN_OR_RETURN(Statement * del, db.Prepare(kUnsubscribe));
    ScopedReset reset(*del);
    del->BindText(1, run_id);
    del->BindText(2, step);
    del->BindInt(3, item);
    BATON_RETURN_IF_ERROR(del->Run());
  }
  for (const Subscription& s : update.subscribe) {
    BATON_ASSIGN_OR_RETURN(Statement * insert, db.Prepare(kSubscribe));
    ScopedReset reset(*insert);
    insert->BindText(1, run_id);
    insert->BindText(2, s.step);
    insert->BindInt(3, s.item);
    insert->BindText(4, s.event);
    BATON_RETURN_IF_ERROR(insert->Run());
  }
  for (const BusEvent& e : update.publish) {
    BusEvent copy = e;
    if (copy.time_ms == 0) copy.time_ms = now_ms;
    BATON_RETURN_IF_ERROR(PublishUnchecked(db, copy).status());
  }
  if (terminal) {
    BATON_ASSIGN_OR_RETURN(Statement * del, db.Prepare(kUnsubscribeRun));
    ScopedReset reset(*del);
    del->BindText(1, run_id);
    BATON_RETURN_IF_ERROR(del->Run());
  }
  return Status::Ok();
}

Result<int64_t> InsertSignal(Database& db, std::string_view run_id, const json::object& data,
                             int64_t now_ms) {
  BATON_ASSIGN_OR_RETURN(bool exists, RunExists(db, run_id));
  if (!exists) return NotFound("run " + std::string(run_id) + " not found");
  std::string text = boost::json::serialize(data);
  BATON_ASSIGN_OR_RETURN(Statement * insert, db.Prepare(kInsertSignal));
  ScopedReset reset(*insert);
  insert->BindText(1, run_id);
  insert->BindText(2, text);
  insert->BindInt(3, now_ms);
  BATON_ASSIGN_OR_RETURN(bool row, insert->Step());
  if (!row) return Internal("journal: no id for the new signal");
  return insert->ColumnInt(0);
}

Result<std::vector<Signal>> SelectSignals(Database& db, std::string_view run_id) {
  std::vector<Signal> out;
  {
    BATON_ASSIGN_OR_RETURN(Statement * select, db.Prepare(kSelectSignals));
    ScopedReset reset(*select);
    select->BindText(1, run_id);
    for (;;) {
      BATON_ASSIGN_OR_RETURN(bool row, select->Step());
      if (!row) break;
      Signal s;
      s.id = select->ColumnInt(0);
      s.run_id = run_id;
      BATON_ASSIGN_OR_RETURN(s.data, DecodeObject(select->ColumnText(1)));
      s.created_ms = select->ColumnInt(2);
      out.push_back(std::move(s));
    }
  }
  if (out.empty()) {
    BATON_ASSIGN_OR_RETURN(bool exists, RunExists(db, run_id));
    if (!exists) return NotFound("run " + std::string(run_id) + " not found");
  }
  return out;
}

Result<bool> ClaimRun(Database& db, std::string_view run_id, int64_t expected_pid,
                      std::string_view expected_host, int64_t pid, std::string_view host) {
  BATON_ASSIGN_OR_RETURN(bool exists, RunExists(db, run_id));
  if (!exists) return NotFound("run " + std::string(run_id) + " not found");
  BATON_ASSIGN_OR_RETURN(Statement * update, db.Prepare(kClaimRun));
  ScopedReset reset(*update);
  update->BindText(1, run_id);
  update->BindInt(2, expected_pid);
  update->BindText(3, expected_host);
  update->BindInt(4, pid);
  update->BindText(5, host);
  BATON_RETURN_IF_ERROR(update->Run());
  return db.Changes() == 1;
}

Result<std::vector<std::string>> PublishEvent(Database& db, const BusEvent& event) {
  BATON_RETURN_IF_ERROR(CheckWaitUpdate(db, RunUpdate{.publish = {event}}));
  return PublishUnchecked(db, event);
}

Result<std::vector<std::string>> PublishUnchecked(Database& db, const BusEvent& event) {
  std::string data = boost::json::serialize(event.data);
  {
    BATON_ASSIGN_OR_RETURN(Statement * insert, db.Prepare(kInsertEvent));
    ScopedReset reset(*insert);
    insert->BindText(1, event.id);
    insert->BindText(2, event.name);
    insert->BindText(3, data);
    insert->BindText(4, event.source_run);
    insert->BindInt(5, event.time_ms);
    BATON_RETURN_IF_ERROR(insert->Run());
  }
  BATON_ASSIGN_OR_RETURN(std::vector<std::string> runs, SelectSubscribedRuns(db, event.name));
  json::object signal{
      {"kind", "event"}, {"id", event.id}, {"event", event.name}, {"data", event.data}};
  for (const std::string& run : runs) {
    BATON_RETURN_IF_ERROR(InsertSignal(db, run, signal, event.time_ms).status());
  }
  return runs;
}

Result<std::vector<BusEvent>> SelectEvents(Database& db, const EventFilter& filter) {
  BATON_ASSIGN_OR_RETURN(Statement * select, db.Prepare(kSelectEvents));
  ScopedReset reset(*select);
  select->BindText(1, filter.name);
  select->BindInt(2, filter.triggers_pending ? 1 : 0);
  select->BindInt(3, filter.limit == 0 ? -1 : static_cast<int64_t>(filter.limit));
  std::vector<BusEvent> out;
  for (;;) {
    BATON_ASSIGN_OR_RETURN(bool row, select->Step());
    if (!row) break;
    BusEvent e;
    e.id = select->ColumnText(0);
    e.name = select->ColumnText(1);
    BATON_ASSIGN_OR_RETURN(e.data, ParseJson(select->ColumnText(2)));
    e.source_run = select->ColumnText(3);
    e.time_ms = select->ColumnInt(4);
    e.triggers_done = select->ColumnInt(5) != 0;
    out.push_back(std::move(e));
  }
  return out;
}

Status MarkTriggersDone(Database& db, std::string_view event_id) {
  BATON_ASSIGN_OR_RETURN(Statement * update, db.Prepare(kMarkTriggersDone));
  ScopedReset reset(*update);
  update->BindText(1, event_id);
  BATON_RETURN_IF_ERROR(update->Run());
  if (db.Changes() == 0) return NotFound("event " + std::string(event_id) + " not found");
  return Status::Ok();
}

Result<std::vector<std::string>> SelectSubscribedRuns(Database& db, std::string_view event) {
  BATON_ASSIGN_OR_RETURN(Statement * select, db.Prepare(kSubscribersOf));
  ScopedReset reset(*select);
  select->BindText(1, event);
  std::vector<std::string> out;
  for (;;) {
    BATON_ASSIGN_OR_RETURN(bool row, select->Step());
    if (!row) break;
    out.emplace_back(select->ColumnText(0));
  }
  return out;
}

Status PutTrigger(Database& db, const TriggerRecord& t) {
  BATON_ASSIGN_OR_RETURN(Statement * insert, db.Prepare(kPutTrigger));
  ScopedReset reset(*insert);
  insert->BindText(1, t.workflow);
  insert->BindText(2, t.event);
  insert->BindText(3, t.workflow_file);
  insert->BindText(4, t.workflow_blob);
  insert->BindInt(5, t.created_ms);
  return insert->Run();
}

Result<std::vector<TriggerRecord>> SelectTriggers(Database& db, std::string_view event) {
  BATON_ASSIGN_OR_RETURN(Statement * select, db.Prepare(kSelectTriggers));
  ScopedReset reset(*select);
  select->BindText(1, event);
  std::vector<TriggerRecord> out;
  for (;;) {
    BATON_ASSIGN_OR_RETURN(bool row, select->Step());
    if (!row) break;
    TriggerRecord t;
    t.workflow = select->ColumnText(0);
    t.event = select->ColumnText(1);
    t.workflow_file = select->ColumnText(2);
    t.workflow_blob = select->ColumnText(3);
    t.created_ms = select->ColumnInt(4);
    out.push_back(std::move(t));
  }
  return out;
}

Result<int> DeleteTriggers(Database& db, std::string_view workflow) {
  BATON_ASSIGN_OR_RETURN(Statement * del, db.Prepare(kDeleteTriggers));
  ScopedReset reset(*del);
  del->BindText(1, workflow);
  BATON_RETURN_IF_ERROR(del->Run());
  return static_cast<int>(db.Changes());
}

}  // namespace baton::store::sqlite
