#pragma once

// Building blocks shared by the decider and the pattern files it delegates to (containers,
// waits, plans, sagas). Private to core/. Every function runs on the run's strand with the
// RunState it is given; events are stamped, applied to the state and appended to `out`.

#include <string>

#include "core/decider.hpp"
#include "core/step_env.hpp"

namespace baton::core::internal {

json::object ErrorObject(std::string type, std::string message);
json::object ErrorObject(const Status& st);

// Stamps `e` with the next seq and `now_ms`, applies it to `state` and appends it to `out`.
void Emit(RunState& state, Decision& out, Event e, int64_t now_ms);

Event MakeEvent(EventType type, const Step& step, int32_t item = -1, int32_t attempt = 0);

// The for_each item value and index of instance `item` of step `i` (item null when none).
struct ItemLocals {
  const json::value* item = nullptr;
  json::value index;
};
ItemLocals LocalsFor(const RunState& state, int i, int32_t item);
StepEnv EnvFor(const RunState& state, int i, const ItemLocals& l);

// Renders an optional template (null when it was not given).
Result<json::value> RenderOpt(const expr::Template& t, const StepEnv& env);

// Records a final failure of instance `item` (-1: the step as a whole).
void FailStep(RunState& state, Decision& out, int i, int32_t item, int32_t attempt,
              json::object error, int64_t now);

// Starts attempt `attempt` of instance `item` of step `i`: step_started and a dispatch (a `set`
// step runs inline). Used by sagas to run compensations outside the ready queue.
void StartAttempt(RunState& state, Decision& out, int i, int32_t item, int32_t attempt,
                  int64_t now);

// Records success of the step as a whole with `result` (reshaped by `output:`); `caught` is the
// error a catch clause turned into this success.
void SucceedStep(RunState& state, Decision& out, int i, int32_t attempt, json::value result,
                 int64_t now, const json::object* caught = nullptr);

}  // namespace baton::core::internal
