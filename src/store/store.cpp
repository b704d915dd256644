#include "store/store.hpp"

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

}  // namespace baton::store
