#pragma once

// WaitTable: the waits of a run that are pending (approvals, event waits, timers), a fold of its
// events alone (no workflow needed), so a resumed run, `baton approve` and `baton runs list
// --waiting` all know from the journal what a run waits for. Not thread-safe: owned by a
// RunState (on the run's strand) or by a reader folding a journal.

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "base/json.hpp"
#include "core/events.hpp"

namespace baton::core {

struct PendingWait {
  enum class Kind : uint8_t { kApproval, kEvent, kTimer };
  Kind kind = Kind::kApproval;
  std::string step;
  int32_t item = -1;
  int32_t attempt = 0;
  int64_t since_ms = 0;
  std::string event;                   // kEvent: the event name
  int64_t until_ms = 0;                // kTimer: when it fires
  int64_t timeout_at_ms = 0;           // kApproval / kEvent: when it times out (0: never)
  json::value prompt;                  // kApproval: the rendered prompt
  std::vector<std::string> approvers;  // kApproval: who may decide (empty: anyone)
};

class WaitTable {
 public:
  // Folds one event: approval_requested / wait_started add a wait; approval_given,
  // event_received and the end of the step (succeeded, failed, cancelled) or run remove it.
  void Fold(const Event& e);

  // Pending waits, in the order they started.
  const std::vector<PendingWait>& pending() const { return pending_; }
  bool empty() const { return pending_.empty(); }
  // The wait of (step, item), or null. item -1 with a fanned-out step: its first pending item.
  const PendingWait* Find(std::string_view step, int32_t item) const;
  // Whether an approval_given / event_received already recorded inbox signal `id`.
  bool SignalApplied(int64_t id) const { return applied_.contains(id); }
  // The earliest timer or timeout of a pending wait (0: none).
  int64_t NextDeadline() const;
  // Pending timers (kTimer waits).
  int timers() const;

 private:
  void Remove(std::string_view step, int32_t item);

  std::vector<PendingWait> pending_;
  std::unordered_set<int64_t> applied_;
};

}  // namespace baton::core
