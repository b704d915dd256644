#include <map>

#include "core/run_state.hpp"
#include "runtime/engine.hpp"

namespace baton::runtime {

const json::object& RunResult::summary() const {
  if (!summary_) {
    summary_ =
        std::make_shared<json::object>(final_state ? SummarizeState(*final_state) : json::object());
  }
  return *summary_;
}

const json::value& RunResult::outputs() const {
  static const json::value kNull;
  if (final_state) return final_state->outputs();
  const auto* out = summary().if_contains("outputs");
  return out ? *out : kNull;
}

void RunResult::set_summary(json::object summary) {
  summary_ = std::make_shared<json::object>(std::move(summary));
}

json::object SummarizeState(const core::RunState& state) {
  const core::Workflow& workflow = state.workflow();
  json::object out;
  out["run_id"] = state.run_id();
  out["workflow"] = workflow.name;
  core::RunStatus status = state.status();
  out["status"] = core::RunStatusName(status);
  out["outputs"] = state.outputs().is_null() ? json::value(json::object()) : state.outputs();
  if (!state.error().empty() && status != core::RunStatus::kSucceeded) out["error"] = state.error();
  json::object steps;
  steps.reserve(workflow.steps.size());
  double conf_sum = 0;
  int conf_n = 0;
  int64_t model_calls = 0;
  for (size_t i = 0; i < workflow.steps.size(); ++i) {
    const auto& st = state.step(static_cast<int>(i));
    // A saga's compensation (`<id>.compensate`) is listed once it ran.
    if (workflow.steps[i].is_compensation && st.status == core::StepStatus::kPending) continue;
    json::object s;
    s["status"] = core::StepStatusName(st.status);
    s["output"] = state.StepOutput(static_cast<int>(i));
    s["attempts"] = st.attempts;
    s["usage"] = st.usage.ToJson();
    if (!st.error.empty()) s["error"] = st.error;
    if (st.started_ms && st.finished_ms) s["duration_ms"] = st.finished_ms - st.started_ms;
    if (st.fanned_out) s["items"] = st.instances.size();
    if (st.model_calls) s["model_calls"] = st.model_calls;
    if (st.confidence_n) s["confidence"] = st.confidence_sum / st.confidence_n;
    if (std::holds_alternative<core::WorkflowStep>(workflow.steps[i].kind)) {
      json::array runs;  // each instance's latest child run (sub-workflow)
      for (const auto& in : st.instances) {
        if (!in.child_run.empty()) runs.emplace_back(in.child_run);
      }
      if (!runs.empty()) s["child_runs"] = std::move(runs);
    }
    conf_sum += st.confidence_sum;
    conf_n += st.confidence_n;
    model_calls += st.model_calls;
    steps[workflow.steps[i].id] = std::move(s);
  }
  out["steps"] = std::move(steps);
  out["usage"] = state.usage().ToJson();
  out["model_calls"] = model_calls;
  if (conf_n) out["confidence"] = conf_sum / conf_n;
  if (state.started_ms()) out["started_ms"] = state.started_ms();
  if (core::IsTerminal(status) && state.finished_ms()) {
    out["duration_ms"] = state.finished_ms() - state.started_ms();
  }
  if (state.uses_sim()) out["sim"] = true;
  return out;
}

json::object SummarizeRun(const core::Workflow& workflow, const std::string& run_id,
                          const std::vector<core::Event>& events, bool with_trace) {
  auto wf = std::shared_ptr<const core::Workflow>(&workflow, [](const core::Workflow*) {});
  core::RunState state(wf, run_id);
  std::map<std::string, json::array> traces;
  for (const auto& e : events) {
    state.Apply(e);
    if (with_trace && e.type == core::EventType::kModelCalled) {
      json::object t = e.data;
      if (e.item >= 0) t["item"] = e.item;
      t["attempt"] = e.attempt;
      traces[e.step].push_back(std::move(t));
    }
  }
  json::object out = SummarizeState(state);
  if (with_trace) {
    auto& steps = out["steps"].as_object();
    for (auto& [step, calls] : traces) {
      if (auto* s = steps.if_contains(step)) s->as_object()["trace"] = std::move(calls);
    }
  }
  return out;
}

}  // namespace baton::runtime
