#pragma once

// Human approvals, emit and wait steps (docs/dsl.md "approval", "emit", "wait").
//
// An approval or wait step starts like any step (step_started) and then waits without holding a
// thread: approval_requested / wait_started are journaled and RunState's WaitTable knows the
// wait from then on, so a resumed run waits for the same thing with the same deadline. A
// decision or a delivered bus event arrives through Decider::Signal; timers and timeouts fire in
// Decider::Advance. An emit step runs inline: event_emitted, then success.
//
// The Decider calls the internal functions on the run's strand with the RunState it is given.

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/decider.hpp"

namespace baton::core {

// Approval and wait steps: started, never dispatched, finished by a signal or a timer.
bool IsWaitStep(const Step& step);

// Whether the run may stop executing in this process until a signal arrives: it has pending
// approvals or event waits, nothing else is running, ready or due (no retry is pending, no timer
// wait is pending: those stay in the process), and it is not stopping or paused.
bool CanSuspend(const RunState& state);

// Milliseconds since the epoch from a JSON number (ms) or an RFC 3339 string
// ("2026-05-01T09:30:00Z", fractions and offsets accepted); nullopt otherwise.
std::optional<int64_t> ParseTimestampMs(const json::value& v);

}  // namespace baton::core

namespace baton::core::internal {

// The input of an approval / emit / wait instance: {prompt} / {data} / {until?}.
Result<json::object> RenderWaitInput(const RunState& state, int i, int32_t item);

// After step_started of an approval / emit / wait instance: records approval_requested /
// wait_started (or runs the emit). Returns false for other kinds (the caller dispatches them).
bool StartWait(RunState& state, Decision& out, int i, int32_t item, int32_t attempt,
               const json::object& input, int64_t now);

// Fires the timers and timeouts due at `now` (each finishing its step through OnOutcome, which
// advances the run). Returns whether it fired any: the run has then been advanced already.
bool FireDueWaits(RunState& state, Decision& out, int64_t now);

// Folds the next timer or timeout of a pending wait into out.wake_at_ms.
void NextWaitWake(const RunState& state, Decision& out);

// The run is stopping: cancels every pending wait (step_cancelled), so nothing keeps it from
// finishing.
void StopWaits(RunState& state, Decision& out, int64_t now);

}  // namespace baton::core::internal
