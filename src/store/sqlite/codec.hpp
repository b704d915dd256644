#pragma once

// Conversions between the store's records and SQLite rows. The SELECTs that feed these must
// list the columns in the documented order.

#include "base/status.hpp"
#include "core/events.hpp"
#include "store/sqlite/database.hpp"
#include "store/store.hpp"

namespace baton::store::sqlite {

// Reads a run from the current row of `stmt` (the runs columns in schema order, id .. usage). Fails
// with kInternal when a stored value does not decode (a damaged or foreign file).
Result<RunRecord> DecodeRun(const Statement& stmt);

// Reads an event from the current row of `stmt`: seq, type, step, item, attempt, time_ms, data,
// starting at column `first`.
Result<core::Event> DecodeEvent(const Statement& stmt, int first = 0);

}  // namespace baton::store::sqlite
