#include "core/wait_table.hpp"

#include <algorithm>

namespace baton::core {
namespace {

int64_t IntOf(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (!v) return 0;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->get_double());
  return 0;
}

}  // namespace

void WaitTable::Fold(const Event& e) {
  switch (e.type) {
    case EventType::kApprovalRequested: {
      Remove(e.step, e.item);
      PendingWait w;
      w.kind = PendingWait::Kind::kApproval;
      w.step = e.step;
      w.item = e.item;
      w.attempt = e.attempt;
      w.since_ms = e.time_ms;
      w.timeout_at_ms = IntOf(e.data, "timeout_at_ms");
      if (const auto* p = e.data.if_contains("prompt")) w.prompt = *p;
      if (const auto* a = e.data.if_contains("approvers"); a && a->is_array()) {
        for (const auto& name : a->get_array()) {
          if (name.is_string()) w.approvers.emplace_back(name.get_string());
        }
      }
      pending_.push_back(std::move(w));
      break;
    }
    case EventType::kWaitStarted: {
      Remove(e.step, e.item);
      PendingWait w;
      w.step = e.step;
      w.item = e.item;
      w.attempt = e.attempt;
      w.since_ms = e.time_ms;
      if (const auto* ev = e.data.if_contains("event"); ev && ev->is_string()) {
        w.kind = PendingWait::Kind::kEvent;
        w.event = ev->get_string();
      } else {
        w.kind = PendingWait::Kind::kTimer;
        w.until_ms = IntOf(e.data, "until_ms");
      }
      w.timeout_at_ms = IntOf(e.data, "timeout_at_ms");
      pending_.push_back(std::move(w));
      break;
    }
    case EventType::kApprovalGiven:
    case EventType::kEventReceived:
      if (int64_t id = IntOf(e.data, "signal"); id > 0) applied_.insert(id);
      Remove(e.step, e.item);
      break;
    case EventType::kStepSucceeded:
    case EventType::kStepFailed:
    case EventType::kStepCancelled:
      if (!pending_.empty()) {
        if (e.item >= 0) {
          Remove(e.step, e.item);
        } else {
          std::erase_if(pending_, [&](const PendingWait& w) { return w.step == e.step; });
        }
      }
      break;
    case EventType::kRunFinished:
      pending_.clear();
      break;
    default:
      break;
  }
}

void WaitTable::Remove(std::string_view step, int32_t item) {
  std::erase_if(pending_, [&](const PendingWait& w) { return w.step == step && w.item == item; });
}

const PendingWait* WaitTable::Find(std::string_view step, int32_t item) const {
  for (const auto& w : pending_) {
    if (w.step == step && (w.item == item || item < 0)) return &w;
  }
  return nullptr;
}

int64_t WaitTable::NextDeadline() const {
  int64_t next = 0;
  for (const auto& w : pending_) {
    for (int64_t t : {w.until_ms, w.timeout_at_ms}) {
      if (t > 0 && (next == 0 || t < next)) next = t;
    }
  }
  return next;
}

int WaitTable::timers() const {
  return static_cast<int>(std::count_if(pending_.begin(), pending_.end(), [](const auto& w) {
    return w.kind == PendingWait::Kind::kTimer;
  }));
}

}  // namespace baton::core
