#pragma once

// The SQLite journal's waits and event bus (schema version 3): run inboxes, published events,
// subscriptions of waiting runs and triggers. Writers run on the write connection inside the
// store's group commit; readers on a read connection. Each function uses only the connection it
// is given.

#include <string>
#include <string_view>
#include <vector>

#include "base/status.hpp"
#include "store/sqlite/database.hpp"
#include "store/store.hpp"

namespace baton::store::sqlite {

// Checks what an append's update asks of the bus before anything is written: kFailedPrecondition
// when an event to publish has an id that is taken.
Status CheckWaitUpdate(Database& db, const RunUpdate& update);

// The inbox, subscription and bus parts of an append's update for `run_id` (`now_ms`: time of
// the append's last event, for published events without one). When `terminal`, the run's
// subscriptions go.
Status ApplyWaitUpdate(Database& db, const std::string& run_id, const RunUpdate& update,
                       int64_t now_ms, bool terminal);

Result<int64_t> InsertSignal(Database& db, std::string_view run_id, const json::object& data,
                             int64_t now_ms);
Result<std::vector<Signal>> SelectSignals(Database& db, std::string_view run_id);
Result<bool> ClaimRun(Database& db, std::string_view run_id, int64_t expected_pid,
                      std::string_view expected_host, int64_t pid, std::string_view host);
Result<std::vector<std::string>> PublishEvent(Database& db, const BusEvent& event);
Result<std::vector<BusEvent>> SelectEvents(Database& db, const EventFilter& filter);
Status MarkTriggersDone(Database& db, std::string_view event_id);
Result<std::vector<std::string>> SelectSubscribedRuns(Database& db, std::string_view event);
Status PutTrigger(Database& db, const TriggerRecord& trigger);
Result<std::vector<TriggerRecord>> SelectTriggers(Database& db, std::string_view event);
Result<int> DeleteTriggers(Database& db, std::string_view workflow);

}  // namespace baton::store::sqlite
