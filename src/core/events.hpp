#pragma once

// Run events: every change of a run is one of these, appended to the run's journal in order.
// RunState (run_state.hpp) is a fold of them; resume = load, fold, continue.
// The JSON form (ToJson/FromJson) is the journal and API format; see docs/events.md.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/json.hpp"
#include "base/status.hpp"

namespace baton::core {

enum class EventType : uint8_t {
  kRunStarted,      // data: {workflow, inputs, sim: bool}
  kStepStarted,     // step instance dispatched: attempt; data: {input?}
  kStepSucceeded,   // data: {output, usage?}
  kStepFailed,      // data: {error: {type, message}, final: bool}
  kStepSkipped,     // data: {reason}
  kRetryScheduled,  // data: {delay_ms, error: {type, message}}
  kFanOut,          // for_each expanded: data: {count}
  kMemoryWritten,   // data: {key, value, writer}
  kModelCalled,     // reasoning trace: data: {model, provider, prompt, reply, reasoning?, usage,
                    // confidence?}
  kToolCalled,      // data: {tool, argv?, exit_code?, duration_ms}
  kRunCancelRequested,  // data: {reason}
  kRunFinished,         // data: {status, outputs?, error?}
  kNeedsAttention,      // a once-effect step was in flight at a crash: data: {reason}
  kRunPaused,           // a budget was reached with on_exceed: pause: data: {error}
  kRunResumed,          // a paused run continues: data: {budget: {max_cost_usd?, max_tokens?,
                        // daily_usd?}} (the raised limits)
  kModelDelta,          // live only, never journaled (seq 0): a streamed piece of a model's
                        // reply: data: {text | reasoning | tool_call: {index, id?, name?,
                        // arguments}}
  // Orchestration patterns (docs/events.md lists the data of each).
  kStepCancelled,        // a started or pending step stopped because its branch lost a join or its
                         // container ended: data: {reason}
  kBranchStarted,        // switch case chosen / parallel branch started: data: {block, name}
  kBranchFinished,       // data: {block, name, status, error?}
  kIterationStarted,     // loop: data: {iteration}
  kIterationFinished,    // loop: data: {iteration, fingerprint, score?, stop?: reason}
  kParticipantAnswered,  // consensus: data: {participant, answer, vote?, error?}
  kConsensusDecided,     // consensus: data: {method, decision, votes?, reason}
  kPlanCreated,          // plan: data: {tasks: [{id, role, agent, needs, input}], attempt}
  kPlanRejected,         // plan: data: {errors: [..], attempt}
  kCompensationStarted,  // saga: data: {steps: [ids in the order they will be undone], error}
  kApprovalRequested,    // data: {prompt, timeout_at_ms?}
  kApprovalGiven,        // data: {approved, comment?, data?, by?, timed_out?, signal?}
  kEventEmitted,         // data: {event, data, id}
  kWaitStarted,          // data: {event?, until_ms?, timeout_at_ms?}
  kEventReceived,        // data: {event, data, id} (or {timer: true} / {timed_out: true})
  kChildRunStarted,      // sub-workflow: data: {run_id, workflow}
  kRouteChosen,          // data: {agent? | model?, reason, candidates}
};

std::string_view EventTypeName(EventType type);
std::optional<EventType> EventTypeFromName(std::string_view name);

// One journal record. `seq` is 1-based and dense within a run. `item` is the for_each index of
// the step instance (-1 for the step as a whole). `attempt` is 1-based (0 when not applicable).
struct Event {
  uint64_t seq = 0;
  EventType type = EventType::kRunStarted;
  int64_t time_ms = 0;
  std::string step;
  int32_t item = -1;
  int32_t attempt = 0;
  json::object data;
};

json::object EventToJson(const Event& e);
Result<Event> EventFromJson(const json::value& v);

// Terminal and non-terminal run statuses as written in the journal and shown to users.
enum class RunStatus : uint8_t {
  kPending,
  kRunning,
  kSucceeded,
  kFailed,
  kCancelled,
  kInterrupted,  // not a journal state: running, but its process is gone (derived by readers)
  kPaused,       // waiting for a human decision (a budget was reached); resumable
  kWaiting,      // nothing runs: waiting for approvals or events (store status only)
  kCompensated,  // failed, and every completed step with `compensate:` was undone
  kCompensationFailed,  // failed, and some compensation failed too (listed in the error)
};
std::string_view RunStatusName(RunStatus s);
std::optional<RunStatus> RunStatusFromName(std::string_view name);
inline bool IsTerminal(RunStatus s) {
  return s == RunStatus::kSucceeded || s == RunStatus::kFailed || s == RunStatus::kCancelled ||
         s == RunStatus::kCompensated || s == RunStatus::kCompensationFailed;
}

}  // namespace baton::core
