#pragma once

// Routing (`route:` on agent and llm steps): which agent runs a step, chosen by the capabilities
// it requires, and which model answers, chosen by a strategy (cheapest, fastest, best) among
// candidates filtered by max_cost. The choice is made once per step instance, right before its
// first model call, journaled as route_chosen before that call, and reused by every later
// attempt of the instance, including attempts after a resume. The rules are in docs/dsl.md
// ("Routing"); ChooseAgent and ChooseModel are pure so tests can drive them directly.

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "base/json.hpp"
#include "base/status.hpp"
#include "core/decider.hpp"
#include "core/events.hpp"
#include "core/run_state.hpp"
#include "core/workflow.hpp"

namespace baton::store {
class Store;
}

namespace baton::runtime {

class StepRunner;
struct CallContext;

// One candidate, as route_chosen lists it.
struct RouteCandidate {
  std::string name;                   // agent or `models:` name
  std::optional<double> cost;         // estimated USD of this call (nullopt: no known price)
  std::optional<int64_t> latency_ms;  // measured median latency (fastest only)
  std::optional<double> score;        // agents: capability fit in (0, 1]; best: model quality
  std::string excluded;               // why it cannot be chosen ("" when eligible)
};

// A decision: the chosen name, why, and every candidate in rank order (eligible ones first).
struct RouteChoice {
  std::string name;
  std::string reason;
  std::vector<RouteCandidate> candidates;
};

// What selection needs from the world, per `models:` entry. Either function may be empty.
struct RouteFacts {
  // The estimated cost of this call on the model (nullopt when its price is unknown).
  std::function<std::optional<double>(const core::ModelConfig&)> cost;
  // The model's measured median latency (nullopt when it has not been measured).
  std::function<std::optional<int64_t>(const core::ModelConfig&)> latency;
};

// Whether `route` chooses the model: it gives a strategy or models, or max_cost without
// capabilities (with capabilities alone, max_cost filters the agents). The strategy is then
// `route.strategy`, or cheapest when it gives none.
bool RoutesModel(const core::Route& route);

// The agent for `route.capabilities`. Candidates are the agents that have every required
// capability; the best fit needs the largest share of its capabilities (fit = required /
// capabilities it has, i.e. the fewest extra ones), ties go to the cheaper estimated call on the
// agent's model, then to the name. Unless `route` also chooses the model, max_cost excludes
// agents whose call is estimated above it (or cannot be priced). Fails with type
// invalid_request when no agent has every capability, budget_exceeded when max_cost excludes
// them all.
Result<RouteChoice> ChooseAgent(const core::Workflow& wf, const core::Route& route,
                                const RouteFacts& facts);

// The model for `route`: candidates are route.models (default: every `models:` entry, by
// name); max_cost excludes those estimated above it or without a price. cheapest: the lowest
// estimate (unpriced last). fastest: a candidate never measured is tried first (cheapest first,
// so that every candidate gets measured); otherwise the lowest median latency, ties by cost.
// best: the highest ModelQuality, ties by cost. Fails with type budget_exceeded when max_cost
// excludes every candidate, invalid_request on an unknown model name.
Result<RouteChoice> ChooseModel(const core::Workflow& wf, const core::Route& route,
                                const RouteFacts& facts);

// A model's rank for `best`: its `quality:` option (a number, higher is better; `declared`),
// else its output price per 1M tokens (the pricier model is assumed the better one), else
// nullopt. Declared qualities rank above price-derived ones, and both above nullopt.
struct Quality {
  double value = 0;
  bool declared = false;
};
std::optional<Quality> ModelQuality(const core::ModelConfig& config);

// route_chosen data: {agent | model: name, strategy? (models), reason, candidates: [{name,
// cost?, latency_ms?, score?, excluded?}]}. `what` is "agent" or "model".
json::object RouteChosenData(std::string_view what, const RouteChoice& choice,
                             const core::Route& route);

// The key measured latencies are kept under: "<provider>/<provider model id>".
std::string LatencyKey(std::string_view provider, std::string_view provider_model);

// Median latencies of successful model calls, per LatencyKey, over the last `window` calls
// made within `max_age` of now. Thread-safe.
class LatencyTable {
 public:
  explicit LatencyTable(const Clock& clock, size_t window = 20,
                        Millis max_age = std::chrono::hours(24));

  // Records a call that started at `at_ms` and took `duration_ms`.
  void Record(const std::string& key, int64_t at_ms, int64_t duration_ms);
  // Records the call a model_called event describes, if it succeeded on the model asked
  // (not an error, a fallback's answer or a cache hit).
  void Observe(const core::Event& model_called);
  // The median over the calls that count now; nullopt when there are none.
  std::optional<int64_t> Median(const std::string& key) const;

 private:
  const Clock& clock_;
  size_t window_;
  Millis max_age_;
  mutable std::mutex mu_;
  std::map<std::string, std::deque<std::pair<int64_t, int64_t>>> calls_;  // (at, duration)
};

// Journals events of a running step instance at once: they are stamped with the run's next
// seqs, applied to its state, and the awaitable completes once they are durable. Provided by
// the engine (on the run's strand); empty when nothing can journal ahead of the outcome.
using JournalFn = std::function<boost::asio::awaitable<Status>(std::vector<core::Event>)>;

// The step runner's routing. One per StepRunner, shared by every run of its engine; every
// method is safe to call from any run's strand.
class Router {
 public:
  Router(store::Store& store, const Clock& clock);

  // Executes instance `d` of a routed step through `runner.CallModel` with the routed agent
  // and model. The choice journaled for (step, item) by an earlier attempt is reused;
  // otherwise it is made now and journaled through ctx.journal before the call (without a
  // journal, the route_chosen events lead the outcome's facts). Never throws.
  boost::asio::awaitable<core::StepOutcome> Run(StepRunner& runner, const core::RunState& state,
                                                core::Dispatch d, CallContext ctx);

  // Feeds a model_called fact to the latency table (from the first fastest route on; before
  // that the journal holds what matters).
  void Observe(const core::Event& model_called);

  LatencyTable& latencies() { return latencies_; }

 private:
  struct Routed {
    std::string agent;                // "" when the step's own agent (or none, llm) stands
    std::string model;                // the `models:` name to call ("" = the step's own)
    std::vector<core::Event> events;  // route_chosen events made now (none when reused)
  };
  Result<Routed> Choose(const core::RunState& state, const core::Dispatch& d);
  // The agent and model names journaled for (step, item) by an earlier attempt, if any.
  std::optional<Routed> Journaled(const core::RunState& state, const core::Dispatch& d);
  // Loads the latency of recent model calls from the journal, once per process.
  void SeedLatencies();

  store::Store& store_;
  const Clock& clock_;
  LatencyTable latencies_;
  std::once_flag seeded_once_;
  std::atomic<bool> seeded_{false};
};

}  // namespace baton::runtime
