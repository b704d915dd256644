#pragma once

// `workflow:` steps in the decider: which child run an instance executes. Private to core/.
//
// A child run's id is decided here, deterministically, and recorded in the parent's journal by
// child_run_started in the same batch as the instance's step_started, so it is durable before
// the executor creates the child. When the previous attempt of the instance was interrupted (a
// crash; Recover records the interruption), the new attempt re-attaches to that attempt's child
// instead of starting a second one; any other retry starts a new child.

#include <string>

#include "core/decider.hpp"

namespace baton::core::internal {

// The id of the child run of (`parent`, `step`, `item`, `attempt`) started at journal position
// `seq`: shaped like NewRunId ("r" + 20 base32 chars, sortable by `now_ms`).
std::string ChildRunId(const std::string& parent, const std::string& step, int32_t item,
                       int32_t attempt, uint64_t seq, int64_t now_ms);

// For a started `workflow:` instance: emits child_run_started (unless it re-attaches) and adds
// {run_id, workflow, attach} to its dispatch `input` (which already holds the rendered `with`).
void AttachChildRun(RunState& state, Decision& out, int i, int32_t item, int32_t attempt,
                    json::object& input, int64_t now);

}  // namespace baton::core::internal
