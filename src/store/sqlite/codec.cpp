#include "store/sqlite/codec.hpp"

#include <string>
#include <utility>

#include "base/json.hpp"

namespace baton::store::sqlite {
namespace {

Result<json::object> DecodeObject(std::string_view text, const char* column) {
  BATON_ASSIGN_OR_RETURN(json::value value, ParseJson(text));
  if (!value.is_object())
    return Internal(std::string("journal: column ") + column + " is not an object");
  return std::move(value.get_object());
}

}  // namespace

Result<RunRecord> DecodeRun(const Statement& stmt) {
  RunRecord run;
  run.id = stmt.ColumnText(0);
  run.workflow_name = stmt.ColumnText(1);
  run.workflow_file = stmt.ColumnText(2);
  run.workflow_blob = stmt.ColumnText(3);
  run.parent_run = stmt.ColumnText(4);
  BATON_ASSIGN_OR_RETURN(run.inputs, DecodeObject(stmt.ColumnText(5), "inputs"));
  std::optional<core::RunStatus> status = core::RunStatusFromName(stmt.ColumnText(6));
  if (!status) {
    return Internal("journal: run " + run.id + " has unknown status '" +
                    std::string(stmt.ColumnText(6)) + "'");
  }
  run.status = *status;
  BATON_ASSIGN_OR_RETURN(run.outputs, ParseJson(stmt.ColumnText(7)));
  run.error = stmt.ColumnText(8);
  run.created_ms = stmt.ColumnInt(9);
  run.updated_ms = stmt.ColumnInt(10);
  run.owner_pid = stmt.ColumnInt(11);
  run.owner_host = stmt.ColumnText(12);
  run.cancel_requested = stmt.ColumnInt(13) != 0;
  run.last_seq = static_cast<uint64_t>(stmt.ColumnInt(14));
  BATON_ASSIGN_OR_RETURN(run.usage, DecodeObject(stmt.ColumnText(15), "usage"));
  return run;
}

Result<core::Event> DecodeEvent(const Statement& stmt, int first) {
  core::Event event;
  event.seq = static_cast<uint64_t>(stmt.ColumnInt(first));
  std::optional<core::EventType> type = core::EventTypeFromName(stmt.ColumnText(first + 1));
  if (!type) {
    return Internal("journal: event " + std::to_string(event.seq) + " has unknown type '" +
                    std::string(stmt.ColumnText(first + 1)) + "'");
  }
  event.type = *type;
  event.step = stmt.ColumnText(first + 2);
  event.item = static_cast<int32_t>(stmt.ColumnInt(first + 3));
  event.attempt = static_cast<int32_t>(stmt.ColumnInt(first + 4));
  event.time_ms = stmt.ColumnInt(first + 5);
  BATON_ASSIGN_OR_RETURN(event.data, DecodeObject(stmt.ColumnText(first + 6), "data"));
  return event;
}

}  // namespace baton::store::sqlite
