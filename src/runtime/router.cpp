#include "runtime/router.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <exception>

#include "core/step_env.hpp"
#include "providers/pricing.hpp"
#include "runtime/budget.hpp"
#include "runtime/step_runner.hpp"
#include "store/store.hpp"

namespace baton::runtime {
namespace {

std::string Usd(double usd) { return fmt::format("${:.6f}", usd); }

std::string CostText(const std::optional<double>& cost) {
  return cost ? "~" + Usd(*cost) : std::string("unpriced");
}

double Round3(double x) { return std::round(x * 1000.0) / 1000.0; }

std::vector<std::string> Dedupe(const std::vector<std::string>& in) {
  std::vector<std::string> out;
  for (const auto& s : in) {
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  }
  return out;
}

// Lower is better; nullopt ranks after every value.
bool CostLess(const std::optional<double>& a, const std::optional<double>& b) {
  if (a && b) return *a < *b;
  return a.has_value() && !b.has_value();
}

// Marks `c` excluded when its estimated cost is unknown or above max_cost.
void ApplyMaxCost(const core::Route& route, RouteCandidate& c) {
  if (!route.max_cost) return;
  if (!c.cost) {
    c.excluded = "no known price, so max_cost cannot be checked";
  } else if (*c.cost > *route.max_cost) {
    c.excluded =
        fmt::format("estimated {} is above max_cost {}", Usd(*c.cost), Usd(*route.max_cost));
  }
}

Status RouteError(std::string message, std::string type) {
  return Status(type == "budget_exceeded" ? Code::kResourceExhausted : Code::kInvalidArgument,
                std::move(message), std::move(type))
      .WithRetryHints({-1, true});
}

std::string ExcludedNote(const std::vector<RouteCandidate>& cs) {
  size_t n = 0;
  for (const auto& c : cs) n += c.excluded.empty() ? 0 : 1;
  if (n == 0) return "";
  return fmt::format("; {} excluded by max_cost", n);
}

std::string ExcludedList(const std::vector<RouteCandidate>& cs) {
  std::string out;
  for (const auto& c : cs) {
    out += fmt::format("{}{}: {}", out.empty() ? "" : "; ", c.name, c.excluded);
  }
  return out;
}

const json::value* Field(const json::object& o, std::string_view k) { return o.if_contains(k); }

std::string TextOf(const json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_null()) return "";
  return ToJson(v);
}

}  // namespace

bool RoutesModel(const core::Route& route) {
  return !route.strategy.empty() || !route.models.empty() ||
         (route.max_cost.has_value() && route.capabilities.empty());
}

std::optional<Quality> ModelQuality(const core::ModelConfig& config) {
  if (const auto* q = config.options.if_contains("quality"); q && q->is_number()) {
    return Quality{q->to_number<double>(), true};
  }
  auto price = providers::ResolvePrice(config);
  if (price.ok() && price->known) return Quality{price->price.output, false};
  return std::nullopt;
}

Result<RouteChoice> ChooseAgent(const core::Workflow& wf, const core::Route& route,
                                const RouteFacts& facts) {
  std::vector<std::string> required = Dedupe(route.capabilities);
  bool model_routed = RoutesModel(route);
  RouteChoice choice;
  std::map<std::string, size_t> extra;  // agent -> capabilities it has beyond the required ones
  for (const auto& [name, agent] : wf.agents) {
    std::vector<std::string> has = Dedupe(agent.capabilities);
    bool all = std::all_of(required.begin(), required.end(), [&](const std::string& r) {
      return std::find(has.begin(), has.end(), r) != has.end();
    });
    if (!all) continue;
    RouteCandidate c;
    c.name = name;
    c.score = has.empty()
                  ? 1.0
                  : Round3(static_cast<double>(required.size()) / static_cast<double>(has.size()));
    extra[name] = has.size() - required.size();
    auto model = wf.models.find(agent.model);
    if (model != wf.models.end() && facts.cost) c.cost = facts.cost(model->second);
    if (!model_routed) ApplyMaxCost(route, c);
    choice.candidates.push_back(std::move(c));
  }
  std::string wanted = fmt::format("[{}]", fmt::join(required, ", "));
  if (choice.candidates.empty()) {
    return RouteError(fmt::format("no agent has every capability in {}", wanted),
                      "invalid_request");
  }
  std::stable_sort(choice.candidates.begin(), choice.candidates.end(),
                   [&](const RouteCandidate& a, const RouteCandidate& b) {
                     if (a.excluded.empty() != b.excluded.empty()) return a.excluded.empty();
                     if (extra[a.name] != extra[b.name]) return extra[a.name] < extra[b.name];
                     if (CostLess(a.cost, b.cost)) return true;
                     if (CostLess(b.cost, a.cost)) return false;
                     return a.name < b.name;
                   });
  const RouteCandidate& best = choice.candidates[0];
  if (!best.excluded.empty()) {
    return RouteError(fmt::format("no agent with {} fits max_cost {}: {}", wanted,
                                  Usd(*route.max_cost), ExcludedList(choice.candidates)),
                      "budget_exceeded");
  }
  choice.name = best.name;
  const RouteCandidate* next = nullptr;
  if (choice.candidates.size() > 1 && choice.candidates[1].excluded.empty()) {
    next = &choice.candidates[1];
  }
  size_t k = extra[best.name];
  if (next == nullptr) {
    choice.reason = fmt::format("{} is the only agent with {}{}", best.name, wanted,
                                ExcludedNote(choice.candidates));
  } else if (extra[next->name] != k) {
    choice.reason =
        fmt::format("{} has every capability in {} and the fewest others ({}; next best {}: {})",
                    best.name, wanted, k, next->name, extra[next->name]);
  } else if (CostLess(best.cost, next->cost)) {
    choice.reason = fmt::format(
        "{} and {} fit {} equally (each has {} other capabilit{}); {} is "
        "cheaper ({} vs {})",
        best.name, next->name, wanted, k, k == 1 ? "y" : "ies", best.name, CostText(best.cost),
        CostText(next->cost));
  } else {
    choice.reason =
        fmt::format("{} and {} fit {} equally and cost the same; {} comes first by name", best.name,
                    next->name, wanted, best.name);
  }
  if (next != nullptr) choice.reason += ExcludedNote(choice.candidates);
  return choice;
}

Result<RouteChoice> ChooseModel(const core::Workflow& wf, const core::Route& route,
                                const RouteFacts& facts) {
  std::string strategy = route.strategy.empty() ? "cheapest" : route.strategy;
  if (strategy != "cheapest" && strategy != "fastest" && strategy != "best") {
    return RouteError(fmt::format("unknown routing strategy '{}'", strategy), "invalid_request");
  }
  std::vector<std::string> names;
  if (route.models.empty()) {
    for (const auto& [name, config] : wf.models) names.push_back(name);
  } else {
    names = Dedupe(route.models);
  }
  if (names.empty()) return RouteError("no models to route between", "invalid_request");
  RouteChoice choice;
  std::map<std::string, std::optional<Quality>> quality;
  for (const auto& name : names) {
    auto it = wf.models.find(name);
    if (it == wf.models.end()) {
      return RouteError(fmt::format("route names unknown model '{}'", name), "invalid_request");
    }
    RouteCandidate c;
    c.name = name;
    if (facts.cost) c.cost = facts.cost(it->second);
    if (strategy == "fastest" && facts.latency) c.latency_ms = facts.latency(it->second);
    if (strategy == "best") {
      quality[name] = ModelQuality(it->second);
      if (quality[name]) c.score = quality[name]->value;
    }
    ApplyMaxCost(route, c);
    choice.candidates.push_back(std::move(c));
  }
  auto tier = [&](const std::string& name) {
    const auto& q = quality[name];
    return !q ? 0 : (q->declared ? 2 : 1);
  };
  std::stable_sort(choice.candidates.begin(), choice.candidates.end(),
                   [&](const RouteCandidate& a, const RouteCandidate& b) {
                     if (a.excluded.empty() != b.excluded.empty()) return a.excluded.empty();
                     if (strategy == "fastest") {
                       bool am = a.latency_ms.has_value(), bm = b.latency_ms.has_value();
                       if (am != bm) return !am;  // never measured: tried first
                       if (am && *a.latency_ms != *b.latency_ms) {
                         return *a.latency_ms < *b.latency_ms;
                       }
                     } else if (strategy == "best") {
                       int ta = tier(a.name), tb = tier(b.name);
                       if (ta != tb) return ta > tb;
                       if (ta > 0 && *a.score != *b.score) return *a.score > *b.score;
                     }
                     return CostLess(a.cost, b.cost);
                   });
  const RouteCandidate& best = choice.candidates[0];
  if (!best.excluded.empty()) {
    return RouteError(fmt::format("no model fits max_cost {}: {}", Usd(*route.max_cost),
                                  ExcludedList(choice.candidates)),
                      "budget_exceeded");
  }
  choice.name = best.name;
  const RouteCandidate* next = nullptr;
  if (choice.candidates.size() > 1 && choice.candidates[1].excluded.empty()) {
    next = &choice.candidates[1];
  }
  std::string excluded = ExcludedNote(choice.candidates);
  if (next == nullptr) {
    choice.reason = fmt::format("{}: {} is the only candidate{}", strategy, best.name,
                                excluded.empty() ? "" : " within max_cost");
    return choice;
  }
  if (strategy == "cheapest") {
    choice.reason = fmt::format("cheapest: {} is estimated at {} (next: {} at {}){}", best.name,
                                CostText(best.cost), next->name, CostText(next->cost), excluded);
  } else if (strategy == "fastest") {
    if (!best.latency_ms) {
      choice.reason = fmt::format(
          "fastest: {} has no latency measurements yet, so it is tried first (cheapest "
          "unmeasured, {}){}",
          best.name, CostText(best.cost), excluded);
    } else if (!next->latency_ms || *next->latency_ms != *best.latency_ms) {
      choice.reason =
          fmt::format("fastest: {} has the lowest median latency ({} ms; next: {} at {} ms){}",
                      best.name, *best.latency_ms, next->name, *next->latency_ms, excluded);
    } else {
      choice.reason = fmt::format(
          "fastest: {} and {} have the same median latency ({} ms); {} is cheaper ({} vs {}){}",
          best.name, next->name, *best.latency_ms, best.name, CostText(best.cost),
          CostText(next->cost), excluded);
    }
  } else {
    const auto& q = quality[best.name];
    if (!q) {
      choice.reason =
          fmt::format("best: no candidate has a quality or a price; {} is the first candidate{}",
                      best.name, excluded);
    } else {
      auto rank = [](const Quality& x) {
        return x.declared ? fmt::format("quality {:g}", x.value) : fmt::format("${:g}/1M", x.value);
      };
      const auto& nq = quality[next->name];
      std::string why = q->declared
                            ? rank(*q)
                            : fmt::format("no quality:, so its output price {} tokens", rank(*q));
      std::string next_text =
          nq ? fmt::format("{} at {}", next->name, rank(*nq)) : next->name + " unranked";
      choice.reason = fmt::format("best: {} ranks highest ({}; next: {}){}", best.name, why,
                                  next_text, excluded);
    }
  }
  return choice;
}

json::object RouteChosenData(std::string_view what, const RouteChoice& choice,
                             const core::Route& route) {
  json::object data;
  data[what] = choice.name;
  if (what == "agent") {
    json::array caps;
    for (const auto& c : Dedupe(route.capabilities)) caps.emplace_back(c);
    data["capabilities"] = std::move(caps);
  } else {
    data["strategy"] = route.strategy.empty() ? "cheapest" : route.strategy;
  }
  if (route.max_cost) data["max_cost"] = *route.max_cost;
  data["reason"] = choice.reason;
  json::array candidates;
  for (const auto& c : choice.candidates) {
    json::object o{{"name", c.name}};
    if (c.cost) o["cost"] = *c.cost;
    if (c.latency_ms) o["latency_ms"] = *c.latency_ms;
    if (c.score) o["score"] = *c.score;
    if (!c.excluded.empty()) o["excluded"] = c.excluded;
    candidates.push_back(std::move(o));
  }
  data["candidates"] = std::move(candidates);
  return data;
}

std::string LatencyKey(std::string_view provider, std::string_view provider_model) {
  return fmt::format("{}/{}", provider, provider_model);
}

// ---- LatencyTable

LatencyTable::LatencyTable(const Clock& clock, size_t window, Millis max_age)
    : clock_(clock), window_(std::max<size_t>(1, window)), max_age_(max_age) {}

void LatencyTable::Record(const std::string& key, int64_t at_ms, int64_t duration_ms) {
  if (duration_ms < 0) return;
  std::lock_guard lock(mu_);
  auto& calls = calls_[key];
  // Kept in call order; the journal and live calls may arrive slightly out of order.
  auto pos = std::upper_bound(calls.begin(), calls.end(), at_ms,
                              [](int64_t t, const auto& c) { return t < c.first; });
  calls.insert(pos, {at_ms, duration_ms});
  while (calls.size() > window_) calls.pop_front();
}

void LatencyTable::Observe(const core::Event& e) {
  if (e.type != core::EventType::kModelCalled) return;
  const json::object& d = e.data;
  if (Field(d, "error") || Field(d, "answered_by") || Field(d, "answered_provider") ||
      Field(d, "cache_hit")) {
    return;
  }
  const auto* provider = Field(d, "provider");
  const auto* model = Field(d, "provider_model");
  const auto* duration = Field(d, "duration_ms");
  if (!provider || !model || !duration || !provider->is_string() || !model->is_string() ||
      !duration->is_number()) {
    return;
  }
  int64_t ms = duration->to_number<int64_t>();
  int64_t end = e.time_ms > 0 ? e.time_ms : clock_.NowMillis();
  Record(LatencyKey(provider->get_string(), model->get_string()), end - ms, ms);
}

std::optional<int64_t> LatencyTable::Median(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = calls_.find(key);
  if (it == calls_.end()) return std::nullopt;
  int64_t since = clock_.NowMillis() - max_age_.count();
  std::vector<int64_t> recent;
  for (const auto& [at, ms] : it->second) {
    if (at >= since) recent.push_back(ms);
  }
  if (recent.empty()) return std::nullopt;
  std::sort(recent.begin(), recent.end());
  size_t n = recent.size();
  return n % 2 == 1 ? recent[n / 2] : (recent[n / 2 - 1] + recent[n / 2]) / 2;
}

// ---- Router

Router::Router(store::Store& store, const Clock& clock)
    : store_(store), clock_(clock), latencies_(clock) {}

void Router::Observe(const core::Event& model_called) {
  if (seeded_.load(std::memory_order_acquire)) latencies_.Observe(model_called);
}

void Router::SeedLatencies() {
  std::call_once(seeded_once_, [this] {
    store::ScanFilter filter;
    filter.created_since_ms =
        clock_.NowMillis() - std::chrono::milliseconds(std::chrono::hours(24)).count();
    filter.types = {core::EventType::kModelCalled};
    store::ScanVisitor visitor;
    visitor.event = [this](const core::Event& e) {
      latencies_.Observe(e);
      return Status::Ok();
    };
    // Best effort: without the journal's history, fastest starts from what this process sees.
    (void)store_.ScanRuns(filter, visitor);
    seeded_.store(true, std::memory_order_release);
  });
}

std::optional<Router::Routed> Router::Journaled(const core::RunState& state,
                                                const core::Dispatch& d) {
  const core::Step& step = state.workflow().steps[static_cast<size_t>(d.step)];
  auto events = store_.ReadEvents(state.run_id());
  if (!events.ok()) return std::nullopt;
  std::optional<Routed> found;
  for (const auto& e : *events) {
    if (e.type != core::EventType::kRouteChosen || e.step != step.id || e.item != d.item) continue;
    if (!found) found.emplace();
    if (const auto* a = e.data.if_contains("agent"); a && a->is_string()) {
      found->agent = a->get_string();
    }
    if (const auto* m = e.data.if_contains("model"); m && m->is_string()) {
      found->model = m->get_string();
    }
  }
  if (found) {
    const core::Workflow& wf = state.workflow();
    if ((!found->agent.empty() && !wf.agents.count(found->agent)) ||
        (!found->model.empty() && !wf.models.count(found->model))) {
      return std::nullopt;  // not this workflow's names: choose again
    }
  }
  return found;
}

Result<Router::Routed> Router::Choose(const core::RunState& state, const core::Dispatch& d) {
  const core::Workflow& wf = state.workflow();
  const core::Step& step = wf.steps[static_cast<size_t>(d.step)];
  const core::Route& route = *step.route;
  // The call as far as it is known before the choice: its text decides the estimates.
  providers::ChatRequest req;
  if (const auto* s = d.input.if_contains("system")) req.messages.push_back({"system", TextOf(*s)});
  if (const auto* msgs = d.input.if_contains("messages"); msgs && msgs->is_array()) {
    for (const auto& m : msgs->get_array()) {
      const auto* obj = m.if_object();
      if (obj && obj->contains("content")) {
        req.messages.push_back({"user", TextOf(obj->at("content"))});
      }
    }
  } else {
    const json::value* in = d.input.if_contains("input");
    if (!in) in = d.input.if_contains("prompt");
    req.messages.push_back({"user", in ? TextOf(*in) : ""});
  }
  RouteFacts facts;
  facts.cost = [&req](const core::ModelConfig& config) -> std::optional<double> {
    auto price = providers::ResolvePrice(config);
    if (!price.ok() || !price->known) return std::nullopt;
    providers::ChatRequest r = req;
    if (const auto* m = config.options.if_contains("max_tokens"); m && m->is_int64()) {
      r.max_tokens = m->get_int64();
    }
    return EstimateCall(r, price->price).usd;
  };
  facts.latency = [this](const core::ModelConfig& config) {
    return latencies_.Median(LatencyKey(config.provider, config.model));
  };

  Routed routed;
  auto event = [&](std::string_view what, const RouteChoice& c) {
    core::Event e;
    e.type = core::EventType::kRouteChosen;
    e.step = step.id;
    e.item = d.item;
    e.attempt = d.attempt;
    e.data = RouteChosenData(what, c, route);
    routed.events.push_back(std::move(e));
  };
  if (!route.capabilities.empty()) {
    BATON_ASSIGN_OR_RETURN(RouteChoice agent, ChooseAgent(wf, route, facts));
    routed.agent = agent.name;
    event("agent", agent);
  }
  if (RoutesModel(route)) {
    if (route.strategy == "fastest") SeedLatencies();
    BATON_ASSIGN_OR_RETURN(RouteChoice model, ChooseModel(wf, route, facts));
    routed.model = model.name;
    event("model", model);
  }
  return routed;
}

boost::asio::awaitable<core::StepOutcome> Router::Run(StepRunner& runner,
                                                      const core::RunState& state, core::Dispatch d,
                                                      CallContext ctx) {
  const core::Workflow& wf = state.workflow();
  const core::Step& step = wf.steps[static_cast<size_t>(d.step)];
  core::StepOutcome failed;
  failed.step = d.step;
  failed.item = d.item;
  failed.attempt = d.attempt;

  std::optional<Routed> routed;
  if (d.attempt > 1) routed = Journaled(state, d);
  if (!routed) {
    auto chosen = Choose(state, d);
    if (!chosen.ok()) {
      failed.status = chosen.error().WithContext(fmt::format("step '{}': route", step.id));
      co_return failed;
    }
    routed = std::move(chosen).value();
  }
  std::vector<core::Event> lead;  // route_chosen facts when they cannot be journaled first
  if (!routed->events.empty()) {
    if (ctx.journal) {
      auto journaled = ctx.journal(std::move(routed->events));
      Status st = co_await std::move(journaled);
      if (!st.ok()) {
        failed.status = st;
        co_return failed;
      }
    } else {
      lead = std::move(routed->events);
    }
  }

  std::string agent_name;
  std::string model_name;
  const json::value* output_schema = nullptr;
  if (const auto* a = std::get_if<core::AgentStep>(&step.kind)) {
    agent_name = routed->agent.empty() ? a->agent : routed->agent;
    auto agent = wf.agents.find(agent_name);
    if (agent == wf.agents.end()) {
      failed.status =
          Status(Code::kInvalidArgument,
                 fmt::format("step '{}': no agent '{}'", step.id, agent_name), "invalid_request");
      co_return failed;
    }
    model_name = agent->second.model;
    if (agent->second.output_schema) output_schema = &*agent->second.output_schema;
    if (a->agent.empty()) {
      // The decider could not render the instructions of an agent chosen at run time.
      core::StepEnv env(state);
      json::value index;
      const auto& st = state.step(d.step);
      if (d.item >= 0 && static_cast<size_t>(d.item) < st.items.size()) {
        index = d.item;
        env.WithItem(step.as, &st.items[static_cast<size_t>(d.item)], &index);
      }
      const expr::Template& instructions = agent->second.instructions;
      if (!(instructions.raw().is_null() && instructions.IsConstant())) {
        auto sys = instructions.Render(env);
        if (!sys.ok()) {
          failed.status =
              sys.error().WithContext(fmt::format("agent '{}' instructions", agent_name));
          co_return failed;
        }
        if (!sys->is_null()) d.input["system"] = std::move(sys).value();
      }
    }
  } else if (const auto* l = std::get_if<core::LlmStep>(&step.kind)) {
    model_name = l->model;
    if (l->output_schema) output_schema = &*l->output_schema;
  }
  if (!routed->model.empty()) model_name = routed->model;

  core::StepOutcome o =
      co_await runner.CallModel(state, std::move(d), std::move(ctx), std::move(model_name),
                                std::move(agent_name), output_schema);
  if (!lead.empty()) {
    o.facts.insert(o.facts.begin(), std::make_move_iterator(lead.begin()),
                   std::make_move_iterator(lead.end()));
  }
  co_return o;
}

}  // namespace baton::runtime
