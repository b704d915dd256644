#pragma once

// Sagas: steps with `compensate:`. When a run fails (a step failed, the run timed out, a budget
// was exceeded; not a user cancel), the decider undoes the steps with `compensate:` that
// succeeded, one at a time in reverse order of completion, and finishes the run `compensated` or
// `compensation_failed`. Each compensation is a hidden step ("<id>.compensate",
// Step::is_compensation) journaled like any other; its retry policy and timeout apply.
//
// SagaLog is the fold (owned by RunState); AdvanceSaga is the decider's part. Both run on the
// run's strand.

#include <cstdint>
#include <vector>

#include "base/json.hpp"
#include "core/events.hpp"
#include "core/workflow.hpp"

namespace baton::core {

class SagaLog {
 public:
  // Folds one event; `step` is the index of e.step in `wf` (-1: none).
  void Fold(const Workflow& wf, const Event& e, int step);

  // Steps with `compensate:` that succeeded, in completion order, each once (at its latest
  // success: a step in a loop is undone once). A success through a `catch:` clause (the step's
  // own work failed) is not listed; a fan-out that tolerated failed items is.
  const std::vector<int>& completed() const { return completed_; }
  // Whether compensation_started was recorded.
  bool started() const { return started_; }
  // The steps being undone, in order (from compensation_started).
  const std::vector<int>& undo() const { return undo_; }
  // The failure that started the compensation.
  const json::object& error() const { return error_; }

 private:
  std::vector<int> completed_;
  bool started_ = false;
  std::vector<int> undo_;
  json::object error_;
};

class RunState;
struct Decision;

namespace internal {

// Called by Decider::Advance while the run is failing or cancelled. Returns false when there is
// nothing to undo (or the run was cancelled by a user, or instances of failed work are still
// running); otherwise it has taken the run over: it records compensation_started once nothing
// runs, starts the next compensation (or its due retry) and, when all have ended, records
// run_finished (compensated / compensation_failed).
bool AdvanceSaga(RunState& state, Decision& out, int64_t now);

}  // namespace internal
}  // namespace baton::core
