#pragma once

// The pure decider. Given a workflow, the folded state of a run and what just happened, it
// decides which events to record and which step instances to dispatch. No I/O, no clock (time is
// an argument), no randomness (jitter is seeded by run, step, item and attempt): the in-process
// executor and a future PostgreSQL worker call the same code, and tests drive it directly.
//
// Every event it returns has already been applied to the RunState passed in; the caller journals
// them in order (and must make them durable before starting the dispatches).

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.hpp"
#include "core/events.hpp"
#include "core/run_state.hpp"

namespace baton::core {

// A step instance to execute: kind-specific input already rendered.
//   agent: {input, system?}   llm: {prompt | messages, system?}   call: {with}
struct Dispatch {
  int step = 0;
  int32_t item = -1;
  int32_t attempt = 1;
  json::object input;
  int32_t iteration = 0;  // the innermost enclosing loop's iteration (0 outside loops)
};

// What an executor reports for a dispatched instance. `facts` are events it observed while
// executing (model_called, tool_called) and are journaled before the outcome's own events.
struct StepOutcome {
  int step = 0;
  int32_t item = -1;
  int32_t attempt = 1;
  Status status;  // ok when `output` holds the result
  json::value output;
  std::vector<Event> facts;
};

struct Decision {
  std::vector<Event> events;
  std::vector<Dispatch> dispatch;
  int64_t wake_at_ms = 0;         // earliest pending retry (0 = none)
  bool cancel_in_flight = false;  // the run is failing or cancelled: cancel running instances
  bool finished = false;          // run_finished was emitted
  bool paused = false;            // the run is paused and nothing runs: stop executing it
  // Running instances (step, item) to cancel: their branch lost a join or failed. Their outcomes
  // are ignored when they arrive.
  std::vector<std::pair<int, int32_t>> cancel;
};

// The retry delay before `attempt + 1` after `attempt` failed, with full jitter seeded by
// `seed`. Exposed for tests.
Millis RetryDelay(const RetryPolicy& policy, int32_t attempt, uint64_t seed);

// The default set of retryable error types when a policy's `on` is empty.
bool IsRetryableByDefault(std::string_view error_type);

// run_started for a new run. `env` holds the allow-listed environment captured at start.
Event RunStartedEvent(const json::object& inputs, const json::object& env,
                      const std::string& workdir, bool uses_sim, int64_t now_ms);

class Decider {
 public:
  // Starts everything that can start and finishes the run when nothing is left.
  static void Advance(RunState& state, int64_t now_ms, Decision& out);

  // Records the outcome of a dispatched instance (success, retry, catch or final failure), then
  // advances.
  static void OnOutcome(RunState& state, StepOutcome outcome, int64_t now_ms, Decision& out);

  // Records a request to stop the run: reason "user" (ends cancelled), "timeout" or
  // "budget_exceeded" (end failed with `error`).
  static void RequestCancel(RunState& state, const std::string& reason, json::object error,
                            int64_t now_ms, Decision& out);

  // Continues a paused run: records run_resumed with the raised limits (`budget`: any of
  // max_cost_usd, max_tokens, daily_usd), makes the parked instances due, and advances.
  static void Resume(RunState& state, json::object budget, int64_t now_ms, Decision& out);

  // Applies an inbox signal (core/waits.hpp), then advances: {kind: "approval", step, item?,
  // approved, comment?, data?, by?} decides a pending approval; {kind: "event", id, event, data}
  // is received by the run's pending waits for that event whose `match` accepts it. `signal` (the
  // inbox id) is recorded, and a signal already recorded is ignored, as is one nothing waits for.
  static void Signal(RunState& state, json::object signal, int64_t now_ms, Decision& out);

  // After a crash: instances that were running when the journal ends are re-dispatched as a new
  // attempt, except `effect: once` steps, which fail with needs_attention. Call once after
  // folding the journal of a resumed run, before Advance.
  static void Recover(RunState& state, int64_t now_ms, Decision& out);
};

}  // namespace baton::core
