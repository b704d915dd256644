#pragma once

// `plan:` steps without I/O: what the planner is asked, how its reply is checked, and how the
// plan's tasks run as a dynamic DAG of instances of the plan step, then the synthesizer.
//
// Instances of a plan step `i`: before plan_created, item -1 is the planner (each repair request
// is a new attempt of it); after plan_created the step is fanned out over the tasks (item k is
// task k, in plan order) and item n (the task count) is the synthesizer. Every dispatch input
// carries `agent`, the agent that executes it. Everything here is deterministic and runs on the
// run's strand with the RunState it is given.

#include <string>
#include <vector>

#include "base/json.hpp"
#include "base/status.hpp"
#include "core/decider.hpp"
#include "core/run_state.hpp"
#include "core/workflow.hpp"

namespace baton::core {

// One task of a checked plan.
struct PlannedTask {
  std::string id;
  std::string role;                       // as the planner gave it ("" when by capabilities)
  std::vector<std::string> capabilities;  // as the planner gave them
  std::string agent;                      // the agent that runs it
  std::vector<std::string> needs;         // ids of tasks whose results it gets
  json::value input;
};

// The result of checking a planner's reply: `tasks` when `errors` is empty.
struct PlanCheck {
  std::vector<PlannedTask> tasks;
  std::vector<std::string> errors;
  bool ok() const { return errors.empty(); }
};

// The agents tasks may name as roles: `roles`, or every agent of the workflow, by name.
std::vector<std::string> PlanRoles(const Workflow& wf, const PlanStep& plan);

// The agent among `roles` having every one of `capabilities` with the fewest others; ties go to
// the first by name. "" when none has them all.
std::string AgentForCapabilities(const Workflow& wf, const std::vector<std::string>& roles,
                                 const std::vector<std::string>& capabilities);

// Checks a planner's reply {tasks: [{id, role | capabilities, input, needs}]}: its shape, an
// empty plan, more than max_tasks, duplicate ids, unknown roles, capabilities no agent has,
// unknown needs and dependency cycles (named: "a -> b -> a"). Every problem is listed.
PlanCheck CheckPlan(const Workflow& wf, const PlanStep& plan, const json::value& reply);

// The output_schema of the planner's reply.
const json::value& PlanSchema();

// plan_created's form of a task list: [{id, role?, capabilities?, agent, needs, input}].
json::array PlanTasksJson(const std::vector<PlannedTask>& tasks);

// Decider hooks (decider.cpp).

// The dispatch input of instance `item` of plan step `i`: {agent, input, system?} and, for the
// planner, output_schema.
Result<json::object> RenderPlanInput(const RunState& state, int i, int32_t item);

// Handles the planner's reply (or a reply that is not the planned JSON): plan_created and the
// first tasks, or plan_rejected and a repair request. Returns false for every outcome the
// decider handles as for any instance (tasks, the synthesizer, the planner's other failures);
// when the repairs are used up it turns `o` into an `invalid_plan` failure (not retried) and
// returns false, so that `catch:` applies.
bool OnPlanOutcome(RunState& state, Decision& out, StepOutcome& o, int64_t now);

// After an instance of plan step `i` finished, or when the run advances: fails the step when a
// task failed, starts tasks whose needs succeeded (within max_parallel), then the synthesizer,
// and succeeds the step once everything is done. Starts nothing while the run is paused or
// stopping.
void SettlePlan(RunState& state, Decision& out, int i, int64_t now);

}  // namespace baton::core
