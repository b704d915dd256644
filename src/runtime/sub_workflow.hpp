#pragma once

// `workflow:` steps in the executor: the child run is started (or re-attached to) in the
// parent's Engine and awaited on the parent's strand, holding neither a thread nor a concurrency
// permit while it runs.

#include <boost/asio/awaitable.hpp>
#include <optional>

#include "base/clock.hpp"
#include "base/json.hpp"
#include "base/status.hpp"
#include "core/decider.hpp"
#include "core/run_state.hpp"

namespace baton::store {
class Store;
}

namespace baton::runtime {

class Engine;

// Executes dispatched `workflow:` instance `d` of the run whose state is `parent`; runs on that
// run's strand, and `parent` must stay alive until the awaitable completes. d.input holds
// {with, run_id, workflow} (core/sub_workflow.hpp). A child run that does not exist yet is
// started with that id; an unfinished one is resumed in `engine` (or followed through `store`
// while another live process executes it); a finished one gives its result at once.
// The outcome is the child's outputs, or a `child_failed` error naming the child's error type and
// message. Cancelling the awaiting coroutine (the parent is cancelled, fails or times out)
// cancels the child and completes once the child has stopped; `timeout` (the step's) does the
// same and fails with `timeout`. Never throws.
boost::asio::awaitable<core::StepOutcome> RunSubWorkflow(Engine& engine, store::Store& store,
                                                         const core::RunState& parent,
                                                         core::Dispatch d,
                                                         std::optional<Millis> timeout);

// Stores the text of every sub-workflow reachable from `workflow` as a blob and returns
// {file: blob hash} for run_started's `sources` (empty when it has none). Any thread.
Result<json::object> StoreSubWorkflowSources(store::Store& store, const core::Workflow& workflow);

}  // namespace baton::runtime
