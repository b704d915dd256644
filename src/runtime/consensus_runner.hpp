#pragma once

// Executes a dispatched `consensus:` instance: asks every participant the same question
// concurrently on the run's strand (each through StepRunner::CallModel, so admission, budgets and
// the sim apply as for agent steps), asks the judge when the method or a tie needs one, and
// decides (core/consensus.hpp). The outcome's facts are, in participant order, each participant's
// model_called and participant_answered, then the judge's model_called, then consensus_decided;
// they are journaled only with the outcome, so a crash in the middle re-runs the whole step.

#include <boost/asio/awaitable.hpp>

#include "core/decider.hpp"
#include "core/run_state.hpp"
#include "runtime/step_runner.hpp"

namespace baton::runtime {

// Runs instance `d` of a consensus step. `state` is owned by the caller's strand and outlives the
// awaitable; the awaitable must be awaited on that strand. Never throws for expected failures:
// they are in the outcome's status (no_quorum, no_consensus, a judge's call error, cancelled).
boost::asio::awaitable<core::StepOutcome> RunConsensus(StepRunner& runner,
                                                       const core::RunState& state,
                                                       core::Dispatch d, CallContext ctx);

}  // namespace baton::runtime
