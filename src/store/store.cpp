#include "store/store.hpp"

#include <algorithm>
#include <future>
#include <utility>

namespace baton::store {

Status Store::AppendSync(std::string run_id, std::vector<core::Event> events,
                         std::optional<RunUpdate> update) {
  std::promise<Status> done;
  std::future<Status> result = done.get_future();
  Append(std::move(run_id), std::move(events), std::move(update),
         [&done](Status status) { done.set_value(std::move(status)); });
  return result.get();
}

Status Store::ScanRuns(const ScanFilter& filter, const ScanVisitor& visitor) {
  RunFilter list;
  list.workflow_name = filter.workflow_name;
  list.limit = 0;
  BATON_ASSIGN_OR_RETURN(std::vector<RunRecord> runs, ListRuns(list));
  std::erase_if(runs, [&](const RunRecord& r) { return r.created_ms < filter.created_since_ms; });
  std::sort(runs.begin(), runs.end(), [](const RunRecord& a, const RunRecord& b) {
    return a.created_ms != b.created_ms ? a.created_ms < b.created_ms : a.id < b.id;
  });
  auto wanted = [&](core::EventType type) {
    return filter.types.empty() ||
           std::find(filter.types.begin(), filter.types.end(), type) != filter.types.end();
  };
  for (const RunRecord& run : runs) {
    if (visitor.run) BATON_RETURN_IF_ERROR(visitor.run(run));
    if (!visitor.event) continue;
    BATON_ASSIGN_OR_RETURN(std::vector<core::Event> events, ReadEvents(run.id));
    for (const core::Event& e : events) {
      if (wanted(e.type)) BATON_RETURN_IF_ERROR(visitor.event(e));
    }
  }
  return Status::Ok();
}

}  // namespace baton::store
