#include "runtime/inbox.hpp"

#include <fmt/format.h>

#include "base/clock.hpp"
#include "core/run_state.hpp"

namespace baton::runtime {

Result<int> ApplyInbox(store::Store& store, core::RunState& state, int64_t now_ms,
                       core::Decision& out, std::vector<int64_t>& consumed) {
  BATON_ASSIGN_OR_RETURN(std::vector<store::Signal> signals, store.ReadSignals(state.run_id()));
  int read = 0;
  for (auto& s : signals) {
    if (std::find(consumed.begin(), consumed.end(), s.id) != consumed.end()) continue;
    consumed.push_back(s.id);
    ++read;
    json::object data = std::move(s.data);
    data["signal"] = s.id;
    core::Decider::Signal(state, std::move(data), now_ms, out);
  }
  return read;
}

std::vector<json::object> AddWaitUpdates(const core::RunState& state,
                                         const std::vector<core::Event>& events,
                                         std::vector<int64_t>& consumed,
                                         std::optional<store::RunUpdate>& update) {
  std::vector<json::object> published;
  auto u = [&]() -> store::RunUpdate& {
    if (!update) update.emplace();
    return *update;
  };
  if (!consumed.empty()) {
    auto& list = u().consume_signals;
    list.insert(list.end(), consumed.begin(), consumed.end());
    consumed.clear();
  }
  for (const core::Event& e : events) {
    switch (e.type) {
      case core::EventType::kEventEmitted: {
        store::BusEvent b;
        const auto* id = e.data.if_contains("id");
        const auto* name = e.data.if_contains("event");
        if (!id || !id->is_string() || !name || !name->is_string()) break;
        b.id = id->get_string();
        b.name = name->get_string();
        if (const auto* d = e.data.if_contains("data")) b.data = *d;
        b.source_run = state.run_id();
        b.time_ms = e.time_ms;
        published.push_back(json::object{{"id", b.id},
                                         {"event", b.name},
                                         {"data", b.data},
                                         {"run_id", b.source_run},
                                         {"time_ms", b.time_ms}});
        u().publish.push_back(std::move(b));
        break;
      }
      case core::EventType::kWaitStarted:
        if (const auto* name = e.data.if_contains("event"); name && name->is_string()) {
          u().subscribe.push_back({e.step, e.item, std::string(name->get_string())});
        }
        break;
      case core::EventType::kEventReceived:
      case core::EventType::kStepCancelled:
      case core::EventType::kStepFailed: {
        int i = state.workflow().StepIndex(e.step);
        if (i < 0) break;
        const auto* wait = std::get_if<core::WaitStep>(&state.workflow().steps[i].kind);
        if (wait && !wait->event.empty()) u().unsubscribe.emplace_back(e.step, e.item);
        break;
      }
      default:
        break;
    }
  }
  return published;
}

std::vector<std::string> DescribeWaits(const core::RunState& state) {
  std::vector<std::string> out;
  for (const auto& w : state.waits().pending()) {
    std::string step = w.item >= 0 ? fmt::format("{}[{}]", w.step, w.item) : w.step;
    std::string line;
    switch (w.kind) {
      case core::PendingWait::Kind::kApproval:
        line = fmt::format("approval of step '{}'", step);
        if (w.prompt.is_string()) {
          line += fmt::format(": {}", w.prompt.get_string().c_str());
        } else if (!w.prompt.is_null()) {
          line += ": " + ToJson(w.prompt);
        }
        break;
      case core::PendingWait::Kind::kEvent:
        line = fmt::format("step '{}' waits for event '{}'", step, w.event);
        break;
      case core::PendingWait::Kind::kTimer:
        line = fmt::format("step '{}' waits until {}", step, FormatTimestamp(w.until_ms));
        break;
    }
    if (w.timeout_at_ms > 0)
      line += fmt::format(" (times out at {})", FormatTimestamp(w.timeout_at_ms));
    out.push_back(std::move(line));
  }
  return out;
}

}  // namespace baton::runtime
