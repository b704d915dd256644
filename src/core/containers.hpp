#pragma once

// Containers: switch, parallel and loop steps, whose blocks of nested steps the decider runs
// like top-level ones. Private to core/; called by the decider on the run's strand.

#include <cstdint>
#include <string>

#include "core/decider.hpp"

namespace baton::core::internal {

// A ready container step: record its start and start its block(s).
void StartContainer(RunState& state, Decision& out, int i, int64_t now);

// A child of container `i` finished: finish blocks that are done, then the container when its
// join / loop condition says so.
void SettleContainer(RunState& state, Decision& out, int i, int64_t now);

// Cancels step `i` (and, for a container, everything running inside it) with `reason`; running
// instances are added to out.cancel.
void CancelStep(RunState& state, Decision& out, int i, const std::string& reason, int64_t now);

// Records step `i` as skipped and, for a container, every step nested in it.
void SkipStep(RunState& state, Decision& out, int i, const std::string& reason, int64_t now);

}  // namespace baton::core::internal
