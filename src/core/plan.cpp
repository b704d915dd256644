#include "core/plan.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "core/decider_internal.hpp"
#include "core/step_env.hpp"

namespace baton::core {
namespace {

using internal::Emit;
using internal::ErrorObject;
using internal::MakeEvent;

std::string AsText(const json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_null()) return "";
  return ToJson(v);
}

std::string Join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

// A list of strings at `key` of `o`; false when present but not a list of strings.
bool StringsAt(const json::object& o, std::string_view key, std::vector<std::string>& out) {
  const json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return true;
  const json::array* arr = v->if_array();
  if (!arr) return false;
  for (const auto& x : *arr) {
    if (!x.is_string()) return false;
    out.emplace_back(x.get_string());
  }
  return true;
}

// Names the first dependency cycle among `tasks` (needs already known to exist), or "".
std::string FindCycle(const std::vector<PlannedTask>& tasks) {
  std::map<std::string, size_t, std::less<>> index;
  for (size_t k = 0; k < tasks.size(); ++k) index.emplace(tasks[k].id, k);
  enum Color : uint8_t { kWhite, kGrey, kBlack };
  std::vector<Color> color(tasks.size(), kWhite);
  std::vector<size_t> path;
  std::string found;
  // Iterative depth-first search: (task, next need to look at).
  for (size_t root = 0; root < tasks.size() && found.empty(); ++root) {
    if (color[root] != kWhite) continue;
    std::vector<std::pair<size_t, size_t>> stack{{root, 0}};
    color[root] = kGrey;
    path.assign(1, root);
    while (!stack.empty() && found.empty()) {
      auto& [t, next] = stack.back();
      const auto& needs = tasks[t].needs;
      if (next == needs.size()) {
        color[t] = kBlack;
        stack.pop_back();
        path.pop_back();
        continue;
      }
      auto it = index.find(needs[next++]);
      if (it == index.end()) continue;
      size_t n = it->second;
      if (color[n] == kGrey) {
        auto from = std::find(path.begin(), path.end(), n);
        std::vector<std::string> names;
        for (auto p = from; p != path.end(); ++p) names.push_back(tasks[*p].id);
        names.push_back(tasks[n].id);
        found = Join(names, " -> ");
      } else if (color[n] == kWhite) {
        color[n] = kGrey;
        path.push_back(n);
        stack.emplace_back(n, 0);
      }
    }
  }
  return found;
}

const Step& StepAt(const RunState& state, int i) {
  return state.workflow().steps[static_cast<size_t>(i)];
}

// The number of tasks of a plan step once plan_created was recorded.
size_t TaskCount(const StepState& st) { return st.fanned_out ? st.items.size() : 0; }

const json::object& TaskAt(const StepState& st, size_t k) {
  static const json::object kEmpty;
  const json::object* o = st.items[k].if_object();
  return o ? *o : kEmpty;
}

std::string TaskString(const json::object& task, std::string_view key) {
  const json::value* v = task.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

// Indices of the tasks task `k` needs.
std::vector<size_t> NeedsOf(const StepState& st, size_t k) {
  std::vector<size_t> out;
  const json::value* needs = TaskAt(st, k).if_contains("needs");
  if (!needs || !needs->is_array()) return out;
  for (const auto& id : needs->get_array()) {
    for (size_t n = 0; n < TaskCount(st); ++n) {
      if (id.is_string() && TaskString(TaskAt(st, n), "id") == id.get_string()) {
        out.push_back(n);
        break;
      }
    }
  }
  return out;
}

// The rendered instructions of `agent` (null when it has none).
Result<json::value> Instructions(const RunState& state, const StepEnv& env,
                                 const std::string& agent) {
  auto it = state.workflow().agents.find(agent);
  if (it == state.workflow().agents.end()) return json::value();
  return internal::RenderOpt(it->second.instructions, env);
}

std::string PlannerGuide(const Workflow& wf, const PlanStep& plan) {
  std::string out = fmt::format(
      "You plan work for a team. Split the request into at most {} tasks and reply with JSON "
      "only, in this form:\n"
      "{{\"tasks\": [{{\"id\": \"short_name\", \"role\": \"a role below\", \"input\": \"what "
      "the task must do\", \"needs\": [\"ids of the tasks whose results it needs\"]}}]}}\n"
      "Instead of a role a task may give \"capabilities\": [...] and the agent that has them "
      "does it. Tasks run as soon as the tasks they need are done, the others side by side; "
      "needs must not form a cycle.\n\nRoles:\n",
      plan.max_tasks);
  for (const auto& name : PlanRoles(wf, plan)) {
    auto it = wf.agents.find(name);
    if (it == wf.agents.end()) continue;
    const Agent& a = it->second;
    out += "- " + name;
    if (!a.description.empty()) out += ": " + a.description;
    if (!a.capabilities.empty()) out += " (capabilities: " + Join(a.capabilities, ", ") + ")";
    out += "\n";
  }
  return out;
}

// Whether the run's max_concurrency lets another instance start.
bool HasSlot(const RunState& state) {
  int limit = state.workflow().max_concurrency;
  return limit <= 0 || state.running_instances() < limit;
}

// Emits step_started for an instance of plan step `i` and dispatches it.
void StartPlanInstance(RunState& state, Decision& out, int i, int32_t item, int32_t attempt,
                       int64_t now) {
  const Step& step = StepAt(state, i);
  auto input = RenderPlanInput(state, i, item);
  Event e = MakeEvent(EventType::kStepStarted, step, item, attempt);
  const auto& st = state.step(i);
  size_t n = TaskCount(st);
  if (!st.fanned_out) {
    e.data["phase"] = "plan";
  } else if (item >= 0 && static_cast<size_t>(item) < n) {
    e.data["phase"] = "task";
    e.data["task"] = TaskString(TaskAt(st, static_cast<size_t>(item)), "id");
  } else {
    e.data["phase"] = "synthesize";
  }
  if (input.ok()) e.data["agent"] = input->at("agent");
  Emit(state, out, std::move(e), now);
  if (!input.ok()) {
    json::object err = ErrorObject(input.error());
    internal::FailStep(state, out, i, item, attempt, err, now);
    if (item >= 0) internal::FailStep(state, out, i, -1, attempt, err, now);
    return;
  }
  Dispatch d{i, item, attempt, std::move(input).value()};
  for (int p = step.parent; p >= 0; p = StepAt(state, p).parent) {
    if (std::holds_alternative<LoopStep>(StepAt(state, p).kind)) {
      d.iteration = state.step(p).iteration;
      break;
    }
  }
  out.dispatch.push_back(std::move(d));
}

}  // namespace

std::vector<std::string> PlanRoles(const Workflow& wf, const PlanStep& plan) {
  if (!plan.roles.empty()) return plan.roles;
  std::vector<std::string> out;
  for (const auto& [name, agent] : wf.agents) out.push_back(name);
  return out;
}

std::string AgentForCapabilities(const Workflow& wf, const std::vector<std::string>& roles,
                                 const std::vector<std::string>& capabilities) {
  std::string best;
  size_t best_extra = 0;
  for (const auto& name : roles) {
    auto it = wf.agents.find(name);
    if (it == wf.agents.end()) continue;
    const auto& has = it->second.capabilities;
    bool all = std::all_of(capabilities.begin(), capabilities.end(), [&](const std::string& c) {
      return std::find(has.begin(), has.end(), c) != has.end();
    });
    if (!all) continue;
    std::set<std::string> distinct(has.begin(), has.end());
    size_t extra =
        distinct.size() - std::set<std::string>(capabilities.begin(), capabilities.end()).size();
    if (best.empty() || extra < best_extra || (extra == best_extra && name < best)) {
      best = name;
      best_extra = extra;
    }
  }
  return best;
}

PlanCheck CheckPlan(const Workflow& wf, const PlanStep& plan, const json::value& reply) {
  PlanCheck check;
  auto& errors = check.errors;
  const json::object* obj = reply.if_object();
  const json::value* list = obj ? obj->if_contains("tasks") : nullptr;
  if (!list || !list->is_array()) {
    errors.emplace_back("the reply must be a JSON object with a 'tasks' list");
    return check;
  }
  const json::array& tasks = list->get_array();
  if (tasks.empty()) errors.emplace_back("the plan has no tasks");
  if (plan.max_tasks > 0 && tasks.size() > static_cast<size_t>(plan.max_tasks)) {
    errors.push_back(fmt::format("the plan has {} tasks, more than max_tasks ({})", tasks.size(),
                                 plan.max_tasks));
  }
  std::vector<std::string> roles = PlanRoles(wf, plan);
  std::set<std::string, std::less<>> ids;
  for (size_t k = 0; k < tasks.size(); ++k) {
    const json::object* t = tasks[k].if_object();
    if (!t) {
      errors.push_back(fmt::format("task {} must be an object", k + 1));
      continue;
    }
    PlannedTask task;
    const json::value* id = t->if_contains("id");
    if (!id || !id->is_string() || id->get_string().empty()) {
      errors.push_back(fmt::format("task {} needs an 'id' (a non-empty string)", k + 1));
      continue;
    }
    task.id = id->get_string();
    std::string who = fmt::format("task '{}'", task.id);
    if (!ids.insert(task.id).second)
      errors.push_back(fmt::format("duplicate task id '{}'", task.id));
    const json::value* role = t->if_contains("role");
    if (role && !role->is_null() && !role->is_string()) {
      errors.push_back(who + ": 'role' must be a string");
    } else if (role && role->is_string()) {
      task.role = role->get_string();
    }
    if (!StringsAt(*t, "capabilities", task.capabilities)) {
      errors.push_back(who + ": 'capabilities' must be a list of strings");
    }
    if (!task.role.empty()) {
      if (std::find(roles.begin(), roles.end(), task.role) != roles.end() &&
          wf.agents.contains(task.role)) {
        task.agent = task.role;
      } else {
        errors.push_back(
            fmt::format("{}: unknown role '{}' (roles: {})", who, task.role, Join(roles, ", ")));
      }
    } else if (!task.capabilities.empty()) {
      task.agent = AgentForCapabilities(wf, roles, task.capabilities);
      if (task.agent.empty()) {
        errors.push_back(fmt::format("{}: no role has the capabilities [{}]", who,
                                     Join(task.capabilities, ", ")));
      }
    } else if (!role || role->is_null()) {
      errors.push_back(who + ": give a 'role' or 'capabilities'");
    }
    if (!StringsAt(*t, "needs", task.needs)) {
      errors.push_back(who + ": 'needs' must be a list of task ids");
    }
    if (const json::value* in = t->if_contains("input"); in && !in->is_null()) {
      task.input = *in;
    } else {
      errors.push_back(who + ": give an 'input' (what the task must do)");
    }
    check.tasks.push_back(std::move(task));
  }
  for (const auto& task : check.tasks) {
    for (const auto& need : task.needs) {
      if (!ids.contains(need)) {
        errors.push_back(fmt::format("task '{}' needs unknown task '{}'", task.id, need));
      }
    }
  }
  if (std::string cycle = FindCycle(check.tasks); !cycle.empty()) {
    errors.push_back("the tasks' needs form a cycle: " + cycle);
  }
  if (!check.ok()) check.tasks.clear();
  return check;
}

const json::value& PlanSchema() {
  static const json::value kSchema = [] {
    json::object strings{{"type", "array"}, {"items", json::object{{"type", "string"}}}};
    json::object task{{"type", "object"},
                      {"properties", json::object{{"id", json::object{{"type", "string"}}},
                                                  {"role", json::object{{"type", "string"}}},
                                                  {"capabilities", strings},
                                                  {"input", json::object()},
                                                  {"needs", strings}}},
                      {"required", json::array{"id", "input"}}};
    return json::value(json::object{
        {"type", "object"},
        {"properties", json::object{{"tasks", json::object{{"type", "array"}, {"items", task}}}}},
        {"required", json::array{"tasks"}}});
  }();
  return kSchema;
}

json::array PlanTasksJson(const std::vector<PlannedTask>& tasks) {
  json::array out;
  for (const auto& t : tasks) {
    json::object o;
    o["id"] = t.id;
    if (!t.role.empty()) o["role"] = t.role;
    if (!t.capabilities.empty()) {
      json::array caps;
      for (const auto& c : t.capabilities) caps.emplace_back(c);
      o["capabilities"] = std::move(caps);
    }
    o["agent"] = t.agent;
    json::array needs;
    for (const auto& n : t.needs) needs.emplace_back(n);
    o["needs"] = std::move(needs);
    o["input"] = t.input;
    out.emplace_back(std::move(o));
  }
  return out;
}

Result<json::object> RenderPlanInput(const RunState& state, int i, int32_t item) {
  const Workflow& wf = state.workflow();
  const auto& plan = std::get<PlanStep>(StepAt(state, i).kind);
  const StepState& st = state.step(i);
  StepEnv env(state);
  json::object in;
  size_t n = TaskCount(st);
  std::string agent;
  std::string text;
  std::string guide;
  if (!st.fanned_out) {
    agent = plan.planner;
    BATON_ASSIGN_OR_RETURN(json::value goal, internal::RenderOpt(plan.input, env));
    text = AsText(goal);
    if (st.plan_rejections > 0) {
      text += "\n\nYour previous plan was rejected:\n";
      for (const auto& e : st.plan_errors) text += "- " + AsText(e) + "\n";
      if (!st.plan_rejected.is_null()) {
        text += "\nYour previous plan:\n" + ToJson(st.plan_rejected) + "\n";
      }
      text += "\nReply with a corrected plan.";
    }
    guide = PlannerGuide(wf, plan);
    in["output_schema"] = PlanSchema();
  } else if (item >= 0 && static_cast<size_t>(item) < n) {
    const json::object& task = TaskAt(st, static_cast<size_t>(item));
    agent = TaskString(task, "agent");
    const json::value* task_input = task.if_contains("input");
    text = task_input ? AsText(*task_input) : "";
    std::vector<size_t> needs = NeedsOf(st, static_cast<size_t>(item));
    if (!needs.empty()) {
      text += "\n\nResults of the tasks this task needs:\n";
      for (size_t k : needs) {
        text += fmt::format("\n[{}]\n{}\n", TaskString(TaskAt(st, k), "id"),
                            AsText(st.instances[k].output));
      }
    }
  } else {
    agent = plan.synthesizer;
    BATON_ASSIGN_OR_RETURN(json::value goal, internal::RenderOpt(plan.input, env));
    text = AsText(goal) + "\n\nThe tasks of the plan are done. Their results, in plan order:\n";
    for (size_t k = 0; k < n && k < st.instances.size(); ++k) {
      const json::object& task = TaskAt(st, k);
      text += fmt::format("\n[{}] ({})\n{}\n", TaskString(task, "id"), TaskString(task, "agent"),
                          AsText(st.instances[k].output));
    }
    text += "\nCombine these results into the answer to the request.";
  }
  BATON_ASSIGN_OR_RETURN(json::value sys, Instructions(state, env, agent));
  std::string system = AsText(sys);
  if (!guide.empty()) system = system.empty() ? guide : system + "\n\n" + guide;
  in["agent"] = agent;
  if (!system.empty()) in["system"] = std::move(system);
  in["input"] = std::move(text);
  return in;
}

bool OnPlanOutcome(RunState& state, Decision& out, StepOutcome& o, int64_t now) {
  const Step& step = StepAt(state, o.step);
  const auto* plan = std::get_if<PlanStep>(&step.kind);
  if (!plan) return false;
  StepState& st = state.step(o.step);
  if (st.fanned_out) return false;  // tasks and the synthesizer
  bool unreadable = !o.status.ok() && o.status.ErrorType() == "schema_validation";
  if (!o.status.ok() && !unreadable) return false;
  if (state.cancel_requested() || state.failed_step() >= 0) {
    internal::FailStep(state, out, o.step, -1, o.attempt,
                       ErrorObject("cancelled", "the run stopped before the plan was made"), now);
    return true;
  }
  int request = st.plan_rejections + 1;
  PlanCheck check;
  if (unreadable) {
    check.errors.push_back(o.status.message());
  } else {
    check = CheckPlan(state.workflow(), *plan, o.output);
  }
  if (check.ok()) {
    Event e = MakeEvent(EventType::kPlanCreated, step, -1, o.attempt);
    e.data["tasks"] = PlanTasksJson(check.tasks);
    e.data["request"] = request;
    Emit(state, out, std::move(e), now);
    SettlePlan(state, out, o.step, now);
    return true;
  }
  Event e = MakeEvent(EventType::kPlanRejected, step, -1, o.attempt);
  json::array errors;
  for (const auto& err : check.errors) errors.emplace_back(err);
  e.data["errors"] = std::move(errors);
  e.data["request"] = request;
  if (!unreadable) e.data["plan"] = o.output;
  Emit(state, out, std::move(e), now);
  if (st.plan_rejections <= plan->max_repairs) {
    StartPlanInstance(state, out, o.step, -1, o.attempt + 1, now);
    return true;
  }
  std::string message =
      plan->max_repairs == 0
          ? fmt::format("the planner's plan is invalid: {}", Join(check.errors, "; "))
          : fmt::format("the planner's plan is still invalid after {} repair request{}: {}",
                        plan->max_repairs, plan->max_repairs == 1 ? "" : "s",
                        Join(check.errors, "; "));
  o.status =
      Status(Code::kInvalidArgument, std::move(message), "invalid_plan").WithRetryHints({-1, true});
  return false;
}

void SettlePlan(RunState& state, Decision& out, int i, int64_t now) {
  StepState& st = state.step(i);
  if (st.status != StepStatus::kRunning || !st.fanned_out) return;
  const Step& step = StepAt(state, i);
  const auto& plan = std::get<PlanStep>(step.kind);
  size_t n = TaskCount(st);
  for (size_t k = 0; k < st.instances.size(); ++k) {
    const InstanceState& in = st.instances[k];
    if (in.status != StepStatus::kFailed) continue;
    json::object err = in.error;
    std::string what = k < n ? fmt::format("task '{}'", TaskString(TaskAt(st, k), "id"))
                             : std::string("the synthesizer");
    const json::value* msg = err.if_contains("message");
    err["message"] = fmt::format("{} failed: {}", what, msg ? AsText(*msg) : "");
    internal::FailStep(state, out, i, -1, 0, std::move(err), now);
    return;
  }
  if (state.paused() || state.cancel_requested() || state.failed_step() >= 0) return;
  if (st.instances.size() > n) {  // the synthesizer started
    const InstanceState& synth = st.instances[n];
    if (synth.status == StepStatus::kSucceeded) {
      internal::SucceedStep(state, out, i, synth.attempts, synth.output, now);
    }
    return;
  }
  size_t succeeded = 0;
  for (size_t k = 0; k < n; ++k) {
    const InstanceState& in = st.instances[k];
    if (in.status == StepStatus::kSucceeded) {
      ++succeeded;
      continue;
    }
    if (in.status != StepStatus::kPending || in.attempts > 0 || in.waiting_retry) continue;
    if (plan.max_parallel > 0 && st.running >= plan.max_parallel) break;
    if (!HasSlot(state)) break;  // an outcome frees one and the run advances again
    std::vector<size_t> needs = NeedsOf(st, k);
    bool ready = std::all_of(needs.begin(), needs.end(), [&](size_t d) {
      return st.instances[d].status == StepStatus::kSucceeded;
    });
    if (!ready) continue;
    StartPlanInstance(state, out, i, static_cast<int32_t>(k), 1, now);
    if (st.status != StepStatus::kRunning) return;
  }
  if (succeeded < n) return;
  if (!plan.synthesizer.empty()) {
    if (!HasSlot(state)) return;
    StartPlanInstance(state, out, i, static_cast<int32_t>(n), 1, now);
    return;
  }
  json::object results;
  for (size_t k = 0; k < n; ++k) {
    results[TaskString(TaskAt(st, k), "id")] = st.instances[k].output;
  }
  internal::SucceedStep(state, out, i, 0, json::object{{"tasks", std::move(results)}}, now);
}

// RunState's fold of plan_rejected and plan_created (declared in run_state.hpp).
void RunState::ApplyPlan(int si, const Event& e) {
  StepState& st = steps_[static_cast<size_t>(si)];
  if (st.fanned_out) return;
  // The planner's reply was judged: its request is over.
  if (!st.instances.empty() && st.instances[0].status == StepStatus::kRunning) {
    st.instances[0].status = StepStatus::kPending;
    --running_instances_;
    --st.running;
  }
  if (e.type == EventType::kPlanRejected) {
    ++st.plan_rejections;
    st.plan_errors.clear();
    if (const auto* errs = e.data.if_contains("errors"); errs && errs->is_array()) {
      st.plan_errors = errs->get_array();
    }
    const auto* plan = e.data.if_contains("plan");
    st.plan_rejected = plan ? *plan : json::value();
    return;
  }
  st.fanned_out = true;
  st.items.clear();
  if (const auto* tasks = e.data.if_contains("tasks"); tasks && tasks->is_array()) {
    st.items = tasks->get_array();
  }
  st.instances.assign(st.items.size(), InstanceState{});
  st.next_item = static_cast<int>(st.items.size());  // tasks start by their needs (SettlePlan)
  st.running = 0;
  st.waiting_retries = 0;
  st.done = 0;
}

}  // namespace baton::core
