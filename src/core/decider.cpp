#include "core/decider.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "base/hash.hpp"
#include "core/consensus.hpp"
#include "core/containers.hpp"
#include "core/decider_internal.hpp"
#include "core/plan.hpp"
#include "core/saga.hpp"
#include "core/step_env.hpp"
#include "core/sub_workflow.hpp"
#include "core/waits.hpp"

namespace baton::core {
namespace internal {

json::object ErrorObject(std::string type, std::string message) {
  return json::object{{"type", std::move(type)}, {"message", std::move(message)}};
}

json::object ErrorObject(const Status& st) { return ErrorObject(st.ErrorType(), st.message()); }

// Appends `e` to the decision after stamping and applying it.
void Emit(RunState& state, Decision& out, Event e, int64_t now_ms) {
  e.seq = state.last_seq() + 1;
  e.time_ms = now_ms;
  state.Apply(e);
  if (e.type == EventType::kRunFinished) out.finished = true;
  out.events.push_back(std::move(e));
}

Event MakeEvent(EventType type, const Step& step, int32_t item, int32_t attempt) {
  Event e;
  e.type = type;
  e.step = step.id;
  e.item = item;
  e.attempt = attempt;
  return e;
}

const RetryPolicy& PolicyFor(const Workflow& wf, const Step& step) {
  return step.retry ? *step.retry : wf.default_retry;
}

ItemLocals LocalsFor(const RunState& state, int i, int32_t item) {
  ItemLocals l;
  const auto& st = state.step(i);
  if (item >= 0 && static_cast<size_t>(item) < st.items.size()) {
    l.item = &st.items[static_cast<size_t>(item)];
    l.index = item;
  }
  return l;
}

StepEnv EnvFor(const RunState& state, int i, const ItemLocals& l) {
  StepEnv env(state);
  if (l.item) env.WithItem(state.workflow().steps[static_cast<size_t>(i)].as, l.item, &l.index);
  return env;
}

Result<json::value> RenderOpt(const expr::Template& t, const StepEnv& env) {
  if (t.raw().is_null() && t.IsConstant()) return json::value();
  return t.Render(env);
}

// Renders the kind-specific input of an instance.
Result<json::object> RenderInput(const RunState& state, int i, int32_t item) {
  const Step& step = state.workflow().steps[static_cast<size_t>(i)];
  ItemLocals l = LocalsFor(state, i, item);
  StepEnv env = EnvFor(state, i, l);
  json::object in;
  if (const auto* a = std::get_if<AgentStep>(&step.kind)) {
    BATON_ASSIGN_OR_RETURN(in["input"], RenderOpt(a->input, env));
    auto agent = state.workflow().agents.find(a->agent);
    if (agent != state.workflow().agents.end()) {
      BATON_ASSIGN_OR_RETURN(json::value sys, RenderOpt(agent->second.instructions, env));
      if (!sys.is_null()) in["system"] = std::move(sys);
    }
  } else if (const auto* m = std::get_if<LlmStep>(&step.kind)) {
    BATON_ASSIGN_OR_RETURN(json::value prompt, RenderOpt(m->prompt, env));
    if (!prompt.is_null()) in["prompt"] = std::move(prompt);
    BATON_ASSIGN_OR_RETURN(json::value messages, RenderOpt(m->messages, env));
    if (!messages.is_null()) in["messages"] = std::move(messages);
    BATON_ASSIGN_OR_RETURN(json::value sys, RenderOpt(m->system, env));
    if (!sys.is_null()) in["system"] = std::move(sys);
  } else if (const auto* c = std::get_if<CallStep>(&step.kind)) {
    BATON_ASSIGN_OR_RETURN(in["with"], RenderOpt(c->with, env));
  } else if (const auto* w = std::get_if<WorkflowStep>(&step.kind)) {
    BATON_ASSIGN_OR_RETURN(in["with"], RenderOpt(w->with, env));
  } else if (std::holds_alternative<ConsensusStep>(step.kind)) {
    return RenderConsensusInput(state, i, item);
  } else if (std::holds_alternative<PlanStep>(step.kind)) {
    return RenderPlanInput(state, i, item);  // plan.cpp
  } else if (IsWaitStep(step) || std::holds_alternative<EmitStep>(step.kind)) {
    return RenderWaitInput(state, i, item);  // waits.cpp
  }
  return in;
}

// Applies the step's `output:` template to `result`.
Result<json::value> Reshape(const RunState& state, int i, json::value result) {
  const Step& step = state.workflow().steps[static_cast<size_t>(i)];
  if (!step.output) return result;
  StepEnv env(state);
  env.WithResult(&result);
  return step.output->Render(env);
}

void FailStep(RunState& state, Decision& out, int i, int32_t item, int32_t attempt,
              json::object error, int64_t now) {
  const Step& step = state.workflow().steps[static_cast<size_t>(i)];
  Event e = MakeEvent(EventType::kStepFailed, step, item, attempt);
  e.data["error"] = std::move(error);
  e.data["final"] = true;
  Emit(state, out, std::move(e), now);
}

// Records success of the step as a whole with `result` (reshaped by `output:`).
void SucceedStep(RunState& state, Decision& out, int i, int32_t attempt, json::value result,
                 int64_t now, const json::object* caught) {
  const Step& step = state.workflow().steps[static_cast<size_t>(i)];
  auto reshaped = Reshape(state, i, std::move(result));
  if (!reshaped.ok()) {
    FailStep(state, out, i, -1, attempt, ErrorObject(reshaped.error()), now);
    return;
  }
  Event e = MakeEvent(EventType::kStepSucceeded, step, -1, attempt);
  e.data["output"] = std::move(reshaped).value();
  if (caught) e.data["caught"] = *caught;
  Emit(state, out, std::move(e), now);
  if (std::holds_alternative<AgentStep>(step.kind)) {
    Event m = MakeEvent(EventType::kMemoryWritten, step);
    m.data["key"] = step.id;
    m.data["from_step"] = step.id;
    m.data["writer"] = step.id;
    Emit(state, out, std::move(m), now);
  }
}

}  // namespace internal

namespace {
using namespace internal;

// Whether a fan-out step may succeed with `failures` failed items (`tolerate:`).
bool Tolerates(const RunState& state, int i, size_t failures) {
  const Step& step = state.workflow().steps[static_cast<size_t>(i)];
  size_t items = state.step(i).instances.size();
  double allowed = std::max(static_cast<double>(step.tolerate_count),
                            step.tolerate_fraction * static_cast<double>(items));
  return static_cast<double>(failures) <= allowed + 1e-9;
}

size_t FailedItems(const StepState& st) {
  size_t n = 0;
  for (const auto& in : st.instances) n += in.status == StepStatus::kFailed ? 1 : 0;
  return n;
}

// For a fanned-out step whose instances are all finished: succeed with the ordered outputs or
// fail with the first failed item's error.
void MaybeCompleteFanOut(RunState& state, Decision& out, int i, int64_t now) {
  auto& st = state.step(i);
  if (st.status != StepStatus::kRunning || !st.fanned_out) return;
  if (std::holds_alternative<PlanStep>(state.workflow().steps[static_cast<size_t>(i)].kind)) {
    SettlePlan(state, out, i, now);  // plan.cpp: a dynamic DAG, then the synthesizer
    return;
  }
  if (st.done < static_cast<int>(st.instances.size())) return;
  json::array outputs;
  outputs.reserve(st.instances.size());
  json::array failed;
  const json::object* first_error = nullptr;
  for (size_t k = 0; k < st.instances.size(); ++k) {
    const auto& in = st.instances[k];
    if (in.status == StepStatus::kFailed) {
      if (!first_error) first_error = &in.error;
      failed.emplace_back(k);
      outputs.emplace_back(nullptr);
      continue;
    }
    outputs.push_back(in.output);
  }
  if (first_error) {
    if (!Tolerates(state, i, failed.size())) {
      FailStep(state, out, i, -1, 0, *first_error, now);
      return;
    }
  }
  const Step& step = state.workflow().steps[static_cast<size_t>(i)];
  auto reshaped = Reshape(state, i, json::value(std::move(outputs)));
  if (!reshaped.ok()) {
    FailStep(state, out, i, -1, 0, ErrorObject(reshaped.error()), now);
    return;
  }
  Event e = MakeEvent(EventType::kStepSucceeded, step, -1, 0);
  e.data["output"] = std::move(reshaped).value();
  if (!failed.empty()) {
    e.data["failed_items"] = std::move(failed);
    e.data["caught"] = *first_error;
  }
  Emit(state, out, std::move(e), now);
}

// Executes a `set` instance inline: memory writes, then success with the computed values.
void RunSetInline(RunState& state, Decision& out, int i, int32_t item, int64_t now) {
  const Step& step = state.workflow().steps[static_cast<size_t>(i)];
  const auto& set = std::get<SetStep>(step.kind);
  ItemLocals l = LocalsFor(state, i, item);
  StepEnv env = EnvFor(state, i, l);
  json::object result;
  std::vector<std::pair<const SetStep::Entry*, json::value>> values;
  values.reserve(set.entries.size());
  for (const auto& entry : set.entries) {
    auto v = entry.value.Render(env);
    if (!v.ok()) {
      json::object err = ErrorObject(v.error());
      err["message"] = fmt::format("{}: {}", entry.key, v.error().message());
      if (item >= 0) {
        FailStep(state, out, i, item, 1, err, now);
        MaybeCompleteFanOut(state, out, i, now);
      } else {
        FailStep(state, out, i, -1, 1, err, now);
      }
      return;
    }
    values.emplace_back(&entry, std::move(v).value());
  }
  for (auto& [entry, v] : values) {
    if (entry->to_memory) {
      Event m = MakeEvent(EventType::kMemoryWritten, step, item);
      m.data["key"] = entry->memory_key;
      m.data["value"] = v;
      m.data["writer"] = step.id;
      Emit(state, out, std::move(m), now);
    }
    result[entry->to_memory ? entry->memory_key : entry->key] = std::move(v);
  }
  if (item >= 0) {
    Event e = MakeEvent(EventType::kStepSucceeded, step, item, 1);
    e.data["output"] = std::move(result);
    Emit(state, out, std::move(e), now);
    MaybeCompleteFanOut(state, out, i, now);
  } else {
    SucceedStep(state, out, i, 1, json::value(std::move(result)), now);
  }
}

// Emits step_started for an instance and adds its dispatch (or fails it when its input cannot
// be rendered).
void StartInstance(RunState& state, Decision& out, int i, int32_t item, int32_t attempt,
                   int64_t now) {
  const Step& step = state.workflow().steps[static_cast<size_t>(i)];
  if (std::holds_alternative<SetStep>(step.kind)) {
    RunSetInline(state, out, i, item, now);
    return;
  }
  auto input = RenderInput(state, i, item);
  Emit(state, out, MakeEvent(EventType::kStepStarted, step, item, attempt), now);
  if (!input.ok()) {
    FailStep(state, out, i, item, attempt, ErrorObject(input.error()), now);
    if (item >= 0) MaybeCompleteFanOut(state, out, i, now);
    return;
  }
  if (StartWait(state, out, i, item, attempt, *input, now)) return;  // approval/emit/wait
  if (std::holds_alternative<WorkflowStep>(step.kind)) {
    AttachChildRun(state, out, i, item, attempt, input.value(), now);  // sub_workflow.cpp
  }
  Dispatch d{i, item, attempt, std::move(input).value()};
  for (int p = step.parent; p >= 0; p = state.workflow().steps[static_cast<size_t>(p)].parent) {
    if (std::holds_alternative<LoopStep>(state.workflow().steps[static_cast<size_t>(p)].kind)) {
      d.iteration = state.step(p).iteration;
      break;
    }
  }
  out.dispatch.push_back(std::move(d));
}

// Starts for_each instances up to max_parallel.
// Whether step `s` hands work to the executor (and so takes one of the run's slots).
bool Dispatches(const Step& s) {
  return !std::holds_alternative<SetStep>(s.kind) && !IsContainer(s.kind) &&
         !std::holds_alternative<EmitStep>(s.kind) &&
         !std::holds_alternative<ApprovalStep>(s.kind) && !std::holds_alternative<WaitStep>(s.kind);
}

// Whether the run may start another dispatched instance (the workflow's max_concurrency).
bool HasSlot(const RunState& state) {
  int limit = state.workflow().max_concurrency;
  return limit <= 0 || state.running_instances() < limit;
}

// The position in the ready queue of the next step to start: the highest priority first, then
// readiness order; a step that would dispatch waits while the run has no free slot. -1: none.
// Without priorities and with a free slot it is the front, so the common case stays O(1).
int PickReady(const RunState& state, const std::deque<int>& ready) {
  const Workflow& wf = state.workflow();
  bool slot = HasSlot(state);
  if (!wf.prioritized && slot) return ready.empty() ? -1 : 0;
  int best = -1;
  Priority best_priority = Priority::kLow;
  for (size_t k = 0; k < ready.size(); ++k) {
    int i = ready[k];
    if (state.step(i).status != StepStatus::kPending) return static_cast<int>(k);  // stale: drop
    if (!slot && Dispatches(wf.steps[static_cast<size_t>(i)])) continue;
    Priority p = wf.effective_priority[static_cast<size_t>(i)];
    if (best < 0 || p > best_priority) {
      best = static_cast<int>(k);
      best_priority = p;
    }
  }
  return best;
}

void StartItems(RunState& state, Decision& out, int i, int64_t now) {
  const Step& step = state.workflow().steps[static_cast<size_t>(i)];
  auto& st = state.step(i);
  int count = static_cast<int>(st.instances.size());
  bool inline_kind = !Dispatches(step);
  while (st.next_item < count && st.status == StepStatus::kRunning &&
         (step.max_parallel <= 0 || st.running < step.max_parallel) &&
         (inline_kind || HasSlot(state))) {
    int32_t item = st.next_item;
    if (std::holds_alternative<SetStep>(step.kind)) ++st.next_item;  // inline: no step_started
    StartInstance(state, out, i, item, 1, now);
  }
}

// A ready step: evaluate `if`, expand `for_each`, start or run inline.
void StartStep(RunState& state, Decision& out, int i, int64_t now) {
  const Step& step = state.workflow().steps[static_cast<size_t>(i)];
  if (step.if_cond) {
    StepEnv env(state);
    auto cond = step.if_cond->Evaluate(env);
    if (!cond.ok()) {
      FailStep(state, out, i, -1, 0, ErrorObject(cond.error().WithContext("if")), now);
      return;
    }
    if (!cond->is_bool()) {
      FailStep(state, out, i, -1, 0,
               ErrorObject("expression",
                           fmt::format("if: expected a boolean, got {}", JsonTypeName(*cond))),
               now);
      return;
    }
    if (!cond->get_bool()) {
      SkipStep(state, out, i, "condition is false", now);
      return;
    }
  }
  if (IsContainer(step.kind)) {
    StartContainer(state, out, i, now);
    return;
  }
  if (step.for_each) {
    StepEnv env(state);
    auto items = step.for_each->Render(env);
    if (!items.ok()) {
      FailStep(state, out, i, -1, 0, ErrorObject(items.error().WithContext("for_each")), now);
      return;
    }
    if (!items->is_array()) {
      FailStep(state, out, i, -1, 0,
               ErrorObject("expression",
                           fmt::format("for_each: expected a list, got {}", JsonTypeName(*items))),
               now);
      return;
    }
    Event e = MakeEvent(EventType::kFanOut, step);
    e.data["count"] = items->get_array().size();
    e.data["items"] = std::move(items).value();
    Emit(state, out, std::move(e), now);
    if (state.step(i).instances.empty()) {
      SucceedStep(state, out, i, 0, json::array(), now);
      return;
    }
    StartItems(state, out, i, now);
    return;
  }
  StartInstance(state, out, i, -1, 1, now);
}

void Finish(RunState& state, Decision& out, int64_t now) {
  const Workflow& wf = state.workflow();
  // Steps the run stopped in the middle of (items not started when it was cancelled or failed)
  // end failed, so no step of a finished run is left running.
  std::vector<int> unfinished = state.active_steps();
  for (int i : unfinished) {
    FailStep(state, out, i, -1, 0,
             ErrorObject("cancelled", "the run stopped before this step finished"), now);
  }
  Event e;
  e.type = EventType::kRunFinished;
  if (state.cancel_requested()) {
    if (state.cancel_reason() == "user" || state.cancel_error().empty()) {
      e.data["status"] = "cancelled";
      e.data["error"] = ErrorObject("cancelled", "the run was cancelled");
    } else {
      e.data["status"] = "failed";
      e.data["error"] = state.cancel_error();
    }
  } else if (state.failed_step() >= 0) {
    e.data["status"] = "failed";
    e.data["error"] = state.error();
  } else if (state.finished_steps() < wf.top_level.size()) {
    std::string blocked;
    for (int i : wf.top_level) {
      if (state.step(i).status == StepStatus::kPending) {
        if (!blocked.empty()) blocked += ", ";
        blocked += wf.steps[static_cast<size_t>(i)].id;
      }
    }
    e.data["status"] = "failed";
    e.data["error"] =
        ErrorObject("stalled", fmt::format("nothing can run; blocked steps: {}", blocked));
  } else {
    StepEnv env(state);
    json::object outputs;
    for (const auto& [name, tmpl] : wf.outputs) {
      auto v = tmpl.Render(env);
      if (!v.ok()) {
        e.data["status"] = "failed";
        e.data["error"] = ErrorObject(v.error().WithContext(fmt::format("outputs.{}", name)));
        Emit(state, out, std::move(e), now);
        return;
      }
      outputs[name] = std::move(v).value();
    }
    e.data["status"] = "succeeded";
    e.data["outputs"] = std::move(outputs);
  }
  e.data["usage"] = state.usage().ToJson();
  Emit(state, out, std::move(e), now);
}

// Pauses the run (once): nothing new starts until Decider::Resume.
void Pause(RunState& state, Decision& out, json::object error, int64_t now) {
  if (state.paused()) return;
  Event e;
  e.type = EventType::kRunPaused;
  e.data["error"] = std::move(error);
  Emit(state, out, std::move(e), now);
}

void CheckBudget(RunState& state, Decision& out, int64_t now) {
  const Budget& b = state.budget();
  if (state.cancel_requested() || state.paused() || state.saga().started()) return;
  const auto& u = state.usage();
  std::string why;
  if (b.max_cost_usd && u.cost_usd > *b.max_cost_usd) {
    why = fmt::format("cost ${:.6f} exceeds the budget of ${:.6f}", u.cost_usd, *b.max_cost_usd);
  } else if (b.max_tokens && u.input_tokens + u.output_tokens > *b.max_tokens) {
    why = fmt::format("{} tokens exceed the budget of {}", u.input_tokens + u.output_tokens,
                      *b.max_tokens);
  }
  if (why.empty()) return;
  if (b.on_exceed == "pause") {
    Pause(state, out, ErrorObject("budget_exceeded", why), now);
  } else {
    Decider::RequestCancel(state, "budget_exceeded", ErrorObject("budget_exceeded", why), now, out);
  }
}

}  // namespace

namespace internal {
void StartAttempt(RunState& state, Decision& out, int i, int32_t item, int32_t attempt,
                  int64_t now) {
  StartInstance(state, out, i, item, attempt, now);
}
}  // namespace internal

using namespace internal;

bool IsRetryableByDefault(std::string_view t) {
  return t == "rate_limited" || t == "overloaded" || t == "server_error" || t == "timeout" ||
         t == "network";
}

Millis RetryDelay(const RetryPolicy& policy, int32_t attempt, uint64_t seed) {
  double base = static_cast<double>(policy.backoff.initial.count()) *
                std::pow(policy.backoff.factor, std::max(0, attempt - 1));
  double cap = static_cast<double>(policy.backoff.max.count());
  double delay = std::min(base, cap);
  if (policy.backoff.jitter) delay *= UnitInterval(seed);
  return Millis(static_cast<int64_t>(delay));
}

Event RunStartedEvent(const json::object& inputs, const json::object& env,
                      const std::string& workdir, bool uses_sim, int64_t now_ms) {
  Event e;
  e.type = EventType::kRunStarted;
  e.seq = 1;
  e.time_ms = now_ms;
  e.data["inputs"] = inputs;
  if (!env.empty()) e.data["env"] = env;
  e.data["workdir"] = workdir;
  if (uses_sim) e.data["sim"] = true;
  return e;
}

void Decider::Advance(RunState& state, int64_t now, Decision& out) {
  out.paused = false;
  if (IsTerminal(state.status())) return;
  if (state.cancel_requested() || state.failed_step() >= 0) {
    StopWaits(state, out, now);                // waits.cpp
    if (AdvanceSaga(state, out, now)) return;  // saga.cpp: undo steps with compensate:
    if (state.running_instances() == 0) {
      Finish(state, out, now);
    } else {
      out.cancel_in_flight = true;
    }
    return;
  }
  if (state.paused()) {
    // Nothing new starts; once the running instances are done, the run stops here.
    out.wake_at_ms = 0;
    if (state.running_instances() == 0) out.paused = true;
    return;
  }
  if (FireDueWaits(state, out, now)) return;  // waits.cpp: it advanced the run
  auto& ready = state.ready();
  auto& settle = state.settle();
  do {
    // Cascade: inline steps finish immediately and make their successors ready; containers whose
    // children finished move on.
    for (;;) {
      int pick = PickReady(state, ready);
      if (pick < 0 && settle.empty()) break;
      if (pick >= 0) {
        int i = ready[static_cast<size_t>(pick)];
        ready.erase(ready.begin() + pick);
        // A folded journal leaves steps that already started in the queue: skip them.
        if (state.step(i).status != StepStatus::kPending) continue;
        StartStep(state, out, i, now);
      } else {
        int c = settle.front();
        settle.pop_front();
        SettleContainer(state, out, c, now);
      }
      if (state.failed_step() >= 0 || state.cancel_requested()) {
        Advance(state, now, out);
        return;
      }
    }
    // Active steps: more for_each items, due retries.
    out.wake_at_ms = 0;
    std::vector<int> active = state.active_steps();
    if (state.workflow().prioritized) {
      const auto& prio = state.workflow().effective_priority;
      std::stable_sort(active.begin(), active.end(), [&](int a, int b) {
        return prio[static_cast<size_t>(a)] > prio[static_cast<size_t>(b)];
      });
    }
    for (int i : active) {
      auto& st = state.step(i);
      if (st.status != StepStatus::kRunning) continue;
      // Only instances waiting to retry matter here; skipping the scan keeps a fan-out's outcomes
      // O(1) each instead of O(items).
      for (size_t k = 0; st.waiting_retries > 0 && k < st.instances.size(); ++k) {
        auto& in = st.instances[k];
        if (!in.waiting_retry) continue;
        if (in.retry_at_ms <= now) {
          if (!HasSlot(state)) continue;  // an outcome frees a slot and advances again
          int32_t item = st.fanned_out ? static_cast<int32_t>(k) : -1;
          StartInstance(state, out, i, item, in.attempts + 1, now);
        } else if (out.wake_at_ms == 0 || in.retry_at_ms < out.wake_at_ms) {
          out.wake_at_ms = in.retry_at_ms;
        }
      }
      if (std::holds_alternative<PlanStep>(state.workflow().steps[static_cast<size_t>(i)].kind)) {
        SettlePlan(state, out, i, now);  // plan.cpp: tasks whose needs are done
      }
      if (st.fanned_out) StartItems(state, out, i, now);
    }
    NextWaitWake(state, out);  // waits.cpp
    if (state.failed_step() >= 0) {
      Advance(state, now, out);
      return;
    }
  } while (!settle.empty() || PickReady(state, ready) >= 0);
  if (state.active_steps().empty()) Finish(state, out, now);
}

void Decider::OnOutcome(RunState& state, StepOutcome o, int64_t now, Decision& out) {
  const Workflow& wf = state.workflow();
  const Step& step = wf.steps[static_cast<size_t>(o.step)];
  for (auto& fact : o.facts) Emit(state, out, std::move(fact), now);
  auto& st = state.step(o.step);
  bool fanned = st.fanned_out;
  int32_t item = fanned ? o.item : -1;
  // An instance cancelled by the decider (its branch lost a join or failed) already ended: what
  // it spent is recorded above, its outcome is not.
  size_t slot = item >= 0 ? static_cast<size_t>(item) : 0;
  if (slot >= st.instances.size() || st.instances[slot].status != StepStatus::kRunning ||
      st.instances[slot].attempts != o.attempt) {
    CheckBudget(state, out, now);
    Advance(state, now, out);
    return;
  }
  if (OnPlanOutcome(state, out, o, now)) {  // plan.cpp: the planner's reply
    CheckBudget(state, out, now);
    Advance(state, now, out);
    return;
  }

  if (o.status.ok()) {
    if (fanned) {
      Event e = MakeEvent(EventType::kStepSucceeded, step, item, o.attempt);
      e.data["output"] = std::move(o.output);
      Emit(state, out, std::move(e), now);
      MaybeCompleteFanOut(state, out, o.step, now);
    } else {
      SucceedStep(state, out, o.step, o.attempt, std::move(o.output), now);
    }
  } else {
    std::string type = o.status.ErrorType();
    json::object err = ErrorObject(o.status);
    bool stopping = state.cancel_requested() || state.failed_step() >= 0;
    if (step.is_compensation) stopping = false;  // saga.cpp: compensations retry and catch
    const RetryPolicy& policy = PolicyFor(wf, step);
    bool retryable = policy.on.empty()
                         ? IsRetryableByDefault(type)
                         : std::find(policy.on.begin(), policy.on.end(), type) != policy.on.end();
    RetryHints hints = o.status.retry_hints();
    if (hints.no_retry) retryable = false;
    if (!stopping && !step.is_compensation && type == "budget_exceeded" &&
        state.budget().on_exceed == "pause") {
      // Park the instance until a human raises the budget; the attempt does not count.
      Event e = MakeEvent(EventType::kRetryScheduled, step, item, o.attempt);
      e.data["paused"] = true;
      e.data["delay_ms"] = 0;
      e.data["error"] = err;
      Emit(state, out, std::move(e), now);
      Pause(state, out, std::move(err), now);
      Advance(state, now, out);
      return;
    }
    if (!stopping && retryable && o.attempt < policy.max_attempts) {
      uint64_t seed =
          Fnv1a64(fmt::format("{}/{}/{}/{}", state.run_id(), step.id, o.item, o.attempt));
      Event e = MakeEvent(EventType::kRetryScheduled, step, item, o.attempt);
      // A server-given retry-after is a floor under the policy's jittered backoff.
      int64_t delay = std::max(RetryDelay(policy, o.attempt, seed).count(), hints.retry_after_ms);
      e.data["delay_ms"] = delay;
      e.data["error"] = std::move(err);
      Emit(state, out, std::move(e), now);
    } else {
      const CatchClause* clause = nullptr;
      if (!stopping) {
        for (const auto& c : step.catches) {
          if (c.errors.empty() ||
              std::find(c.errors.begin(), c.errors.end(), type) != c.errors.end()) {
            clause = &c;
            break;
          }
        }
      }
      if (clause && clause->then != CatchClause::Then::kFail) {
        json::value value;
        if (clause->then == CatchClause::Then::kOutput) {
          StepEnv env(state);
          json::value error_value = err;
          env.WithLocal("error", &error_value);
          auto v = clause->output.Render(env);
          if (!v.ok()) {
            err = ErrorObject(v.error().WithContext("catch"));
            clause = nullptr;
          } else {
            value = std::move(v).value();
          }
        }
        if (clause) {
          if (fanned) {
            Event e = MakeEvent(EventType::kStepSucceeded, step, item, o.attempt);
            e.data["output"] = std::move(value);
            e.data["caught"] = err;
            Emit(state, out, std::move(e), now);
            MaybeCompleteFanOut(state, out, o.step, now);
          } else {
            SucceedStep(state, out, o.step, o.attempt, value, now, &err);
          }
        }
      }
      if (!clause || clause->then == CatchClause::Then::kFail) {
        FailStep(state, out, o.step, item, o.attempt, err, now);
        if (fanned && st.status == StepStatus::kRunning) {
          if (Tolerates(state, o.step, FailedItems(st))) {
            MaybeCompleteFanOut(state, out, o.step, now);
          } else {
            FailStep(state, out, o.step, -1, o.attempt, err, now);
          }
        }
      }
    }
  }
  CheckBudget(state, out, now);
  Advance(state, now, out);
}

void Decider::RequestCancel(RunState& state, const std::string& reason, json::object error,
                            int64_t now, Decision& out) {
  if (IsTerminal(state.status()) || state.cancel_requested()) return;
  Event e;
  e.type = EventType::kRunCancelRequested;
  e.data["reason"] = reason;
  if (!error.empty()) e.data["error"] = std::move(error);
  Emit(state, out, std::move(e), now);
  Advance(state, now, out);
}

void Decider::Resume(RunState& state, json::object budget, int64_t now, Decision& out) {
  if (IsTerminal(state.status()) || !state.paused()) return;
  Event e;
  e.type = EventType::kRunResumed;
  if (!budget.empty()) e.data["budget"] = std::move(budget);
  Emit(state, out, std::move(e), now);
  Advance(state, now, out);
}

void Decider::Recover(RunState& state, int64_t now, Decision& out) {
  if (IsTerminal(state.status())) return;
  const Workflow& wf = state.workflow();
  std::vector<int> active = state.active_steps();
  for (int i : active) {
    const Step& step = wf.steps[static_cast<size_t>(i)];
    if (IsWaitStep(step)) continue;  // waits.cpp: a pending wait survives the restart as it is
    auto& st = state.step(i);
    for (size_t k = 0; k < st.instances.size(); ++k) {
      if (st.instances[k].status != StepStatus::kRunning) continue;
      int32_t item = st.fanned_out ? static_cast<int32_t>(k) : -1;
      int32_t attempt = st.instances[k].attempts;
      if (step.effect == Effect::kOnce) {
        Event e = MakeEvent(EventType::kNeedsAttention, step, item, attempt);
        e.data["reason"] =
            "the process stopped while this effect: once step was running; its outcome is "
            "unknown, so it is not run again";
        Emit(state, out, std::move(e), now);
        FailStep(state, out, i, item, attempt,
                 ErrorObject("needs_attention", "outcome unknown after a crash (effect: once)"),
                 now);
        if (st.fanned_out && st.status == StepStatus::kRunning) {
          FailStep(state, out, i, -1, attempt,
                   ErrorObject("needs_attention", "outcome unknown after a crash (effect: once)"),
                   now);
        }
        continue;
      }
      // The attempt in flight at the crash produced nothing durable: run it again.
      // Re-dispatch directly as the next attempt (not counted against the retry policy).
      Event restart = MakeEvent(EventType::kRetryScheduled, step, item, attempt);
      restart.data["delay_ms"] = 0;
      restart.data["error"] = ErrorObject("interrupted", "the process stopped during this attempt");
      Emit(state, out, std::move(restart), now);
    }
  }
  Advance(state, now, out);
}

}  // namespace baton::core
