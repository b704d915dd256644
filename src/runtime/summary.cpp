#include <map>

#include "core/run_state.hpp"
#include "runtime/engine.hpp"

namespace baton::runtime {

json::object SummarizeRun(const core::Workflow& workflow, const std::string& run_id,
                          const std::vector<core::Event>& events, bool with_trace) {
  auto wf = std::shared_ptr<const core::Workflow>(&workflow, [](const core::Workflow*) {});
  core::RunState state(wf, run_id);
  std::map<std::string, json::array> traces;
  for (const auto& e : events) {
    state.Apply(e);
    if (e.type == core::EventType::kModelCalled) {
      json::object t = e.data;
      if (e.item >= 0) t["item"] = e.item;
      t["attempt"] = e.attempt;
      traces[e.step].push_back(std::move(t));
    }
  }
  json::object out;
  out["run_id"] = run_id;
  out["workflow"] = workflow.name;
  core::RunStatus status = state.status();
  out["status"] = core::RunStatusName(status);
  out["outputs"] = state.outputs().is_null() ? json::value(json::object()) : state.outputs();
  if (!state.error().empty() && status != core::RunStatus::kSucceeded) out["error"] = state.error();
  json::object steps;
  double run_conf_sum = 0;
  int run_conf_n = 0;
  int64_t model_calls = 0;
  for (size_t i = 0; i < workflow.steps.size(); ++i) {
    const auto& st = state.step(static_cast<int>(i));
    json::object s;
    s["status"] = core::StepStatusName(st.status);
    s["output"] = st.output;
    s["attempts"] = st.attempts;
    s["usage"] = st.usage.ToJson();
    if (!st.error.empty()) s["error"] = st.error;
    if (st.started_ms && st.finished_ms) s["duration_ms"] = st.finished_ms - st.started_ms;
    if (st.fanned_out) s["items"] = st.instances.size();
    {
      auto it = traces.find(workflow.steps[i].id);
      if (it != traces.end()) {
        if (with_trace) s["trace"] = it->second;
        double conf_sum = 0;
        int conf_n = 0;
        for (const auto& t : it->second) {
          if (const auto* c = t.as_object().if_contains("confidence"); c && c->is_double()) {
            conf_sum += c->get_double();
            ++conf_n;
          }
        }
        if (conf_n) s["confidence"] = conf_sum / conf_n;
        run_conf_sum += conf_sum;
        run_conf_n += conf_n;
        model_calls += static_cast<int64_t>(it->second.size());
        s["model_calls"] = it->second.size();
      }
    }
    steps[workflow.steps[i].id] = std::move(s);
  }
  out["steps"] = std::move(steps);
  out["usage"] = state.usage().ToJson();
  out["model_calls"] = model_calls;
  if (run_conf_n) out["confidence"] = run_conf_sum / run_conf_n;
  if (!events.empty()) {
    out["started_ms"] = events.front().time_ms;
    if (core::IsTerminal(status))
      out["duration_ms"] = events.back().time_ms - events.front().time_ms;
    if (const auto* sim = events.front().data.if_contains("sim"); sim && sim->is_bool()) {
      out["sim"] = sim->get_bool();
    }
  }
  return out;
}

}  // namespace baton::runtime
