#include "dsl/route.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

namespace baton::dsl {
namespace {

const std::vector<std::string> kRouteKeys = {"capabilities", "strategy", "max_cost", "models"};
const std::vector<std::string> kStrategies = {"cheapest", "fastest", "best"};
// Every kind key a step may carry; a routed agent step has none of them.
const std::vector<std::string> kKindKeys = {"agent",    "llm",      "set",  "call",      "script",
                                            "switch",   "parallel", "loop", "consensus", "plan",
                                            "approval", "emit",     "wait", "workflow"};

bool Contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// A list of strings at `ptr`; reports a wrong type per entry. `pointers` gets each entry's.
std::optional<std::vector<std::string>> Strings(const json::value& v, const std::string& ptr,
                                                std::string_view label, Reporter& r,
                                                std::vector<std::string>& pointers) {
  if (!v.is_array()) {
    r.AtValue(ptr, fmt::format("'{}' must be a list, got {}", label, JsonTypeName(v)));
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool ok = true;
  const json::array& arr = v.get_array();
  for (size_t i = 0; i < arr.size(); ++i) {
    std::string p = ChildPointer(ptr, i);
    if (!arr[i].is_string()) {
      r.AtValue(p,
                fmt::format("'{}' entries must be strings, got {}", label, JsonTypeName(arr[i])));
      ok = false;
      continue;
    }
    out.emplace_back(arr[i].get_string());
    pointers.push_back(p);
  }
  if (!ok) return std::nullopt;
  return out;
}

}  // namespace

std::optional<core::Route> BuildRoute(const json::value& v, const std::string& ptr,
                                      const std::string& owner, Reporter& r,
                                      std::vector<NameRef>& refs) {
  if (!v.is_object()) {
    r.AtValue(ptr, fmt::format("'route' must be a mapping, got {}", JsonTypeName(v)));
    return std::nullopt;
  }
  const json::object& o = v.get_object();
  for (const auto& kv : o) {
    if (Contains(kRouteKeys, kv.key())) continue;
    r.AtKey(ChildPointer(ptr, kv.key()),
            fmt::format("unknown key '{}'{}", std::string_view(kv.key()),
                        DidYouMean(kv.key(), kRouteKeys)));
  }
  core::Route route;
  const NodeInfo& info = r.doc().Info(ptr);
  Position at = info.key.line > 0 ? info.key : info.value;
  route.loc = {at.line, at.col};
  if (o.empty()) {
    r.AtValue(ptr,
              "'route' needs 'capabilities' (to choose the agent) or 'strategy', 'models' "
              "or 'max_cost' (to choose the model)");
  }
  if (const json::value* c = o.if_contains("capabilities")) {
    std::string cp = ChildPointer(ptr, "capabilities");
    std::vector<std::string> pointers;
    if (auto l = Strings(*c, cp, "capabilities", r, pointers)) {
      if (l->empty()) r.AtValue(cp, "'capabilities' must not be empty");
      route.capabilities = std::move(*l);
    }
  }
  if (const json::value* s = o.if_contains("strategy")) {
    std::string sp = ChildPointer(ptr, "strategy");
    if (!s->is_string()) {
      r.AtValue(sp, fmt::format("'strategy' must be a string, got {}", JsonTypeName(*s)));
    } else {
      if (!Contains(kStrategies, s->get_string())) {
        r.AtValue(sp, fmt::format("'strategy' must be one of cheapest, fastest, best, got '{}'{}",
                                  std::string_view(s->get_string()),
                                  DidYouMean(s->get_string(), kStrategies)));
      }
      route.strategy = s->get_string();  // even when wrong: the checker then says no more
    }
  }
  if (const json::value* m = o.if_contains("max_cost")) {
    std::string mp = ChildPointer(ptr, "max_cost");
    if (!m->is_number()) {
      r.AtValue(
          mp, fmt::format("'max_cost' must be a number (USD per call), got {}", JsonTypeName(*m)));
    } else {
      if (m->to_number<double>() < 0) r.AtValue(mp, "'max_cost' must not be negative");
      route.max_cost = m->to_number<double>();
    }
  }
  if (const json::value* m = o.if_contains("models")) {
    std::string mp = ChildPointer(ptr, "models");
    std::vector<std::string> pointers;
    if (auto l = Strings(*m, mp, "models", r, pointers)) {
      if (l->empty()) r.AtValue(mp, "'models' must not be empty (leave it out for every model)");
      for (size_t i = 0; i < l->size(); ++i) {
        refs.push_back({NameRef::Kind::kModel, (*l)[i], pointers[i], "route of " + owner});
      }
      route.models = std::move(*l);
    }
  }
  return route;
}

bool RoutesAgent(const json::object& s) {
  for (const auto& k : kKindKeys) {
    if (s.contains(k)) return false;
  }
  const json::value* r = s.if_contains("route");
  return r && r->is_object() && r->get_object().contains("capabilities");
}

void CheckRoutedAgentKeys(const json::object& s, const std::string& ptr, Reporter& r) {
  for (const char* k : {"with", "join"}) {
    if (s.contains(k)) {
      r.AtKey(
          ChildPointer(ptr, k),
          fmt::format("'{}' is not valid on an agent step (its agent is chosen by the route)", k));
    }
  }
}

void CheckRoutes(const BuildOutput& out, Reporter& r) {
  const core::Workflow& wf = out.workflow;
  // Every capability some agent has, and who has it.
  std::map<std::string, std::vector<std::string>> holders;
  for (const auto& [name, agent] : wf.agents) {
    for (const auto& c : agent.capabilities) {
      auto& h = holders[c];
      if (!Contains(h, name)) h.push_back(name);
    }
  }
  std::vector<std::string> known;
  for (const auto& [c, h] : holders) known.push_back(c);

  for (size_t i = 0; i < wf.steps.size() && i < out.steps.size(); ++i) {
    const core::Step& step = wf.steps[i];
    if (!step.route) continue;
    const core::Route& route = *step.route;
    std::string ptr = ChildPointer(out.steps[i].pointer, "route");
    const auto* agent_step = std::get_if<core::AgentStep>(&step.kind);
    bool llm_step = std::holds_alternative<core::LlmStep>(step.kind);
    if (!agent_step && !llm_step) {
      r.AtKey(ptr, fmt::format("'route' is only valid on agent and llm steps, not on a '{}' step",
                               core::StepKindName(step.kind)));
      continue;
    }
    bool model_routed = !route.strategy.empty() || !route.models.empty() ||
                        (route.max_cost.has_value() && route.capabilities.empty());
    std::string cp = ChildPointer(ptr, "capabilities");
    if (!route.capabilities.empty()) {
      if (llm_step) {
        r.AtKey(cp,
                "'capabilities' choose an agent, and an llm step has none: route an agent "
                "step (without 'agent:'), or choose the model with 'strategy'");
        continue;
      }
      if (!agent_step->agent.empty()) {
        r.AtKey(cp, fmt::format("this step names its agent ('{}'); leave 'agent:' out to let "
                                "'capabilities' choose it",
                                agent_step->agent));
        continue;
      }
      bool all_known = true;
      for (size_t k = 0; k < route.capabilities.size(); ++k) {
        const std::string& c = route.capabilities[k];
        if (holders.count(c)) continue;
        all_known = false;
        r.AtValue(
            ChildPointer(cp, k),
            wf.agents.empty()
                ? fmt::format("no agent has capability '{}': the workflow declares no agents", c)
                : fmt::format("no agent has capability '{}'{}", c, DidYouMean(c, known)));
      }
      if (all_known) {
        bool one_has_all = std::any_of(wf.agents.begin(), wf.agents.end(), [&](const auto& kv) {
          return std::all_of(
              route.capabilities.begin(), route.capabilities.end(),
              [&](const std::string& c) { return Contains(kv.second.capabilities, c); });
        });
        if (!one_has_all) {
          std::string who;
          for (const auto& c : route.capabilities) {
            who += fmt::format("{}{}: {}", who.empty() ? "" : "; ", c, fmt::join(holders[c], ", "));
          }
          r.AtKey(cp, fmt::format("no single agent has every capability in [{}] ({})",
                                  fmt::join(route.capabilities, ", "), who));
        }
      }
    } else if (agent_step && agent_step->agent.empty()) {
      r.AtKey(ptr, "a step without 'agent:' needs 'route.capabilities' to choose its agent");
    }
    if (llm_step && !model_routed) {
      r.AtKey(ptr,
              "a route on an llm step chooses the model: give 'strategy', 'models' or "
              "'max_cost'");
    }
    if (model_routed && route.models.empty() && wf.models.empty()) {
      r.AtKey(ptr, "the route chooses a model, and 'models:' declares none");
    }
  }
}

}  // namespace baton::dsl
