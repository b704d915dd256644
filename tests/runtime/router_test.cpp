// Routing: agent selection by capabilities and model selection by strategy (pure functions with
// hand-made costs and latencies), the latency table (fake clock), the DSL checks of `route:`,
// and routed steps run by the real engine on the sim provider: route_chosen is durable before
// the call, and a retry or a resumed run reuses the journaled choice.

#include "runtime/router.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <map>

#include "core/decider.hpp"
#include "core/graph.hpp"
#include "dsl/loader.hpp"
#include "providers/registry.hpp"
#include "runtime/engine.hpp"
#include "store/store.hpp"
#include "testing/load_workflow.hpp"
#include "tools/tool.hpp"

namespace baton::runtime {
namespace {

std::shared_ptr<const core::Workflow> Load(const std::string& yaml) {
  return test_util::LoadWorkflowOrFail(yaml);
}

// The diagnostics of a workflow that must not load, one per line.
std::string Errors(const std::string& yaml) {
  auto r = dsl::LoadWorkflowText(yaml, "bad.yaml");
  EXPECT_FALSE(r.workflow) << yaml;
  std::string out;
  for (const auto& d : r.diagnostics) out += dsl::FormatDiagnostic(d) + "\n";
  return out;
}

const core::Step& StepOf(const core::Workflow& wf, const std::string& id) {
  return wf.steps[static_cast<size_t>(wf.StepIndex(id))];
}

std::vector<std::string> Names(const RouteChoice& c) {
  std::vector<std::string> out;
  for (const auto& cand : c.candidates) out.push_back(cand.name);
  return out;
}

// Costs and latencies by model name, as a test wants them.
RouteFacts Facts(std::map<std::string, double> costs,
                 std::map<std::string, int64_t> latencies = {}) {
  RouteFacts f;
  f.cost = [costs](const core::ModelConfig& m) -> std::optional<double> {
    auto it = costs.find(m.name);
    if (it == costs.end()) return std::nullopt;
    return it->second;
  };
  f.latency = [latencies](const core::ModelConfig& m) -> std::optional<int64_t> {
    auto it = latencies.find(m.name);
    if (it == latencies.end()) return std::nullopt;
    return it->second;
  };
  return f;
}

constexpr const char* kTeam = R"y(
baton: 1
name: team
models:
  cheap: { provider: sim, model: sim-small }
  mid: { provider: sim, model: sim-mid, price: { input: 0.5, output: 2 } }
  pricey: { provider: sim, model: sim-large }
agents:
  generalist: { model: cheap, capabilities: [research, writing, math] }
  researcher: { model: pricey, capabilities: [research, web] }
  scout: { model: mid, capabilities: [research, web] }
  writer: { model: cheap, capabilities: [writing] }
steps:
  - { id: research, route: { capabilities: [research, web] }, input: x }
  - { id: any, route: { capabilities: [research] }, input: x }
  - { id: write, route: { capabilities: [writing] }, input: x }
)y";

TEST(ChooseAgent, FewestExtraCapabilitiesWinThenTheCheaperModel) {
  auto wf = Load(kTeam);
  ASSERT_TRUE(wf);
  RouteFacts facts = Facts({{"cheap", 0.001}, {"mid", 0.002}, {"pricey", 0.01}});

  // researcher and scout both have exactly [research, web]: scout's model is cheaper.
  auto c = ChooseAgent(*wf, *StepOf(*wf, "research").route, facts);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->name, "scout");
  EXPECT_EQ(Names(*c), (std::vector<std::string>{"scout", "researcher"}));
  EXPECT_DOUBLE_EQ(*c->candidates[0].score, 1.0);
  EXPECT_DOUBLE_EQ(*c->candidates[0].cost, 0.002);
  EXPECT_NE(c->reason.find("scout is cheaper"), std::string::npos) << c->reason;

  // [research]: the two specialists (1 extra) beat the generalist (2 extra).
  c = ChooseAgent(*wf, *StepOf(*wf, "any").route, facts);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(Names(*c), (std::vector<std::string>{"scout", "researcher", "generalist"}));
  EXPECT_DOUBLE_EQ(*c->candidates[2].score, 0.333);

  // [writing]: writer has nothing else.
  c = ChooseAgent(*wf, *StepOf(*wf, "write").route, facts);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->name, "writer");
  EXPECT_NE(c->reason.find("fewest others (0; next best generalist: 2)"), std::string::npos)
      << c->reason;

  // Equal fit and equal cost: by name.
  c = ChooseAgent(*wf, *StepOf(*wf, "research").route, Facts({{"mid", 0.01}, {"pricey", 0.01}}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->name, "researcher");
  EXPECT_NE(c->reason.find("first by name"), std::string::npos) << c->reason;
}

TEST(ChooseAgent, MaxCostExcludesAgentsAndNoAgentIsAnError) {
  auto wf = Load(kTeam);
  ASSERT_TRUE(wf);
  RouteFacts facts = Facts({{"cheap", 0.001}, {"mid", 0.002}, {"pricey", 0.01}});
  core::Route route = *StepOf(*wf, "any").route;
  route.max_cost = 0.0015;
  auto c = ChooseAgent(*wf, route, facts);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->name, "generalist");
  EXPECT_EQ(c->candidates.back().excluded.empty(), false);
  EXPECT_NE(c->reason.find("excluded by max_cost"), std::string::npos) << c->reason;

  route.max_cost = 0.0001;
  c = ChooseAgent(*wf, route, facts);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().ErrorType(), "budget_exceeded");
  EXPECT_NE(c.status().message().find("max_cost"), std::string::npos);

  route.capabilities = {"research", "flying"};
  c = ChooseAgent(*wf, route, facts);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().ErrorType(), "invalid_request");
}

constexpr const char* kModels = R"y(
baton: 1
name: models
models:
  a: { provider: sim, model: sim-a }
  b: { provider: sim, model: sim-b }
  c: { provider: sim, model: sim-c }
steps:
  - { id: x, llm: { prompt: hi }, route: { strategy: cheapest } }
)y";

core::Route WithStrategy(const core::Workflow& wf, std::string strategy) {
  core::Route r = *StepOf(wf, "x").route;
  r.strategy = std::move(strategy);
  return r;
}

TEST(ChooseModel, CheapestRanksByEstimateAndUnpricedLast) {
  auto wf = Load(kModels);
  ASSERT_TRUE(wf);
  auto c = ChooseModel(*wf, WithStrategy(*wf, "cheapest"), Facts({{"b", 0.3}, {"c", 0.2}}));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(Names(*c), (std::vector<std::string>{"c", "b", "a"}));
  EXPECT_NE(c->reason.find("cheapest: c is estimated at ~$0.200000 (next: b at ~$0.300000)"),
            std::string::npos)
      << c->reason;

  // max_cost: b is above it, a cannot be priced.
  core::Route r = WithStrategy(*wf, "cheapest");
  r.max_cost = 0.25;
  c = ChooseModel(*wf, r, Facts({{"b", 0.3}, {"c", 0.2}}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->name, "c");
  EXPECT_NE(c->reason.find("only candidate within max_cost"), std::string::npos) << c->reason;
  EXPECT_EQ(c->candidates[1].excluded, "estimated $0.300000 is above max_cost $0.250000");
  EXPECT_EQ(c->candidates[2].excluded, "no known price, so max_cost cannot be checked");

  r.max_cost = 0.1;
  c = ChooseModel(*wf, r, Facts({{"b", 0.3}, {"c", 0.2}}));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().ErrorType(), "budget_exceeded");

  // Restricted to route.models, in their order for ties.
  r = WithStrategy(*wf, "cheapest");
  r.models = {"b", "a"};
  c = ChooseModel(*wf, r, Facts({{"a", 0.1}, {"b", 0.1}, {"c", 0.01}}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(Names(*c), (std::vector<std::string>{"b", "a"}));
}

TEST(ChooseModel, FastestTriesUnmeasuredModelsFirstThenTheLowestMedian) {
  auto wf = Load(kModels);
  ASSERT_TRUE(wf);
  core::Route r = WithStrategy(*wf, "fastest");
  std::map<std::string, double> costs = {{"a", 0.3}, {"b", 0.1}, {"c", 0.2}};

  // Nothing measured: the price order.
  auto c = ChooseModel(*wf, r, Facts(costs));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(Names(*c), (std::vector<std::string>{"b", "c", "a"}));
  EXPECT_NE(c->reason.find("no latency measurements yet"), std::string::npos) << c->reason;

  // b measured: the cheapest unmeasured (c) goes first, then a, then b.
  c = ChooseModel(*wf, r, Facts(costs, {{"b", 40}}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(Names(*c), (std::vector<std::string>{"c", "a", "b"}));

  // All measured: the lowest median wins.
  c = ChooseModel(*wf, r, Facts(costs, {{"a", 15}, {"b", 40}, {"c", 90}}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(Names(*c), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(*c->candidates[0].latency_ms, 15);
  EXPECT_NE(c->reason.find("lowest median latency (15 ms; next: b at 40 ms)"), std::string::npos)
      << c->reason;

  // Equal medians: the cheaper one.
  c = ChooseModel(*wf, r, Facts(costs, {{"a", 20}, {"b", 20}, {"c", 20}}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(Names(*c), (std::vector<std::string>{"b", "c", "a"}));
}

TEST(ChooseModel, BestRanksDeclaredQualityThenPriceThenUnranked) {
  auto wf = Load(R"y(
baton: 1
name: best
models:
  small: { provider: sim, model: sim-small }
  large: { provider: sim, model: sim-large }
  tuned: { provider: sim, model: sim-tuned, quality: 2 }
  star: { provider: sim, model: sim-star, quality: 7.5 }
  mystery: { provider: sim, model: sim-mystery }
steps:
  - { id: x, llm: { prompt: hi }, route: { strategy: best } }
)y");
  ASSERT_TRUE(wf);
  const core::Route& r = *StepOf(*wf, "x").route;
  auto c = ChooseModel(*wf, r, Facts({{"small", 0.1}, {"large", 1.0}}));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(Names(*c), (std::vector<std::string>{"star", "tuned", "large", "small", "mystery"}));
  EXPECT_DOUBLE_EQ(*c->candidates[0].score, 7.5);
  EXPECT_DOUBLE_EQ(*c->candidates[2].score, 4.0);  // sim-large's output price
  EXPECT_FALSE(c->candidates[4].score.has_value());
  EXPECT_NE(c->reason.find("best: star ranks highest (quality 7.5; next: tuned at quality 2)"),
            std::string::npos)
      << c->reason;

  core::Route priced = r;
  priced.models = {"small", "large"};
  c = ChooseModel(*wf, priced, Facts({}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->name, "large");
  EXPECT_NE(c->reason.find("(no quality:, so its output price $4/1M tokens; next: small at "
                           "$0.4/1M)"),
            std::string::npos)
      << c->reason;
}

TEST(RouteChosenData, ListsTheChoiceReasonAndCandidates) {
  auto wf = Load(kModels);
  ASSERT_TRUE(wf);
  core::Route r = WithStrategy(*wf, "fastest");
  r.max_cost = 0.25;
  auto c = ChooseModel(*wf, r, Facts({{"b", 0.1}, {"c", 0.2}}, {{"b", 30}}));
  ASSERT_TRUE(c.ok());
  json::object d = RouteChosenData("model", *c, r);
  EXPECT_EQ(d.at("model"), "c");
  EXPECT_EQ(d.at("strategy"), "fastest");
  EXPECT_EQ(d.at("max_cost").as_double(), 0.25);
  EXPECT_FALSE(d.contains("agent"));
  const auto& cands = d.at("candidates").as_array();
  ASSERT_EQ(cands.size(), 3u);
  EXPECT_EQ(cands[0].at("name"), "c");
  EXPECT_FALSE(cands[0].as_object().contains("latency_ms"));
  EXPECT_EQ(cands[1].at("latency_ms").as_int64(), 30);
  EXPECT_EQ(cands[2].at("name"), "a");
  EXPECT_TRUE(cands[2].as_object().contains("excluded"));
}

TEST(LatencyTable, RollingMedianOverRecentCalls) {
  FakeClock clock;
  LatencyTable t(clock, /*window=*/4, std::chrono::minutes(10));
  int64_t now = clock.NowMillis();
  EXPECT_FALSE(t.Median("sim/a").has_value());
  t.Record("sim/a", now - 100, 30);
  EXPECT_EQ(*t.Median("sim/a"), 30);
  t.Record("sim/a", now - 90, 10);
  EXPECT_EQ(*t.Median("sim/a"), 20);  // even count: the mean of the middle two
  t.Record("sim/a", now - 80, 50);
  EXPECT_EQ(*t.Median("sim/a"), 30);
  // The window keeps the last four calls (by time): 30 falls out.
  t.Record("sim/a", now - 70, 60);
  t.Record("sim/a", now - 60, 70);
  EXPECT_EQ(*t.Median("sim/a"), 55);  // 10, 50, 60, 70
  // An older call arriving late is the first to go: it does not push out newer ones.
  t.Record("sim/a", now - 500, 1);
  EXPECT_EQ(*t.Median("sim/a"), 55);
  // Calls older than max_age stop counting.
  clock.Advance(std::chrono::minutes(11));
  EXPECT_FALSE(t.Median("sim/a").has_value());
  t.Record("sim/a", clock.NowMillis(), 5);
  EXPECT_EQ(*t.Median("sim/a"), 5);
}

TEST(LatencyTable, ObserveCountsOnlyCallsTheModelAnsweredItself) {
  FakeClock clock;
  LatencyTable t(clock);
  core::Event e;
  e.type = core::EventType::kModelCalled;
  e.time_ms = clock.NowMillis();
  e.data = json::object{{"provider", "sim"}, {"provider_model", "sim-a"}, {"duration_ms", 40}};
  t.Observe(e);
  core::Event failed = e;
  failed.data["error"] = json::object{{"type", "timeout"}};
  failed.data["duration_ms"] = 5000;
  t.Observe(failed);
  core::Event fallback = e;
  fallback.data["answered_by"] = "sim-b";
  fallback.data["duration_ms"] = 1;
  t.Observe(fallback);
  core::Event cached = e;
  cached.data["cache_hit"] = true;
  cached.data["duration_ms"] = 0;
  t.Observe(cached);
  EXPECT_EQ(*t.Median(LatencyKey("sim", "sim-a")), 40);
  EXPECT_FALSE(t.Median(LatencyKey("sim", "sim-b")).has_value());
}

// ---- the language

TEST(RouteDsl, ParsesEveryField) {
  auto wf = Load(R"y(
baton: 1
name: parse
models:
  a: { provider: sim, model: sim-small }
  b: { provider: sim, model: sim-large, quality: 3 }
agents:
  r: { model: a, capabilities: [research] }
steps:
  - { id: x, route: { capabilities: [research] }, input: "q" }
  - { id: y, llm: { prompt: hi }, route: { strategy: fastest, max_cost: 0.5, models: [b, a] } }
  - { id: z, agent: r, input: q, route: { models: [b] } }
)y");
  ASSERT_TRUE(wf);
  const core::Step& x = StepOf(*wf, "x");
  ASSERT_TRUE(std::holds_alternative<core::AgentStep>(x.kind));
  EXPECT_EQ(std::get<core::AgentStep>(x.kind).agent, "");
  EXPECT_EQ(x.route->capabilities, std::vector<std::string>{"research"});
  EXPECT_FALSE(RoutesModel(*x.route));
  EXPECT_EQ(x.route->loc.line, 10);
  const core::Route& y = *StepOf(*wf, "y").route;
  EXPECT_EQ(y.strategy, "fastest");
  EXPECT_EQ(*y.max_cost, 0.5);
  EXPECT_EQ(y.models, (std::vector<std::string>{"b", "a"}));
  EXPECT_TRUE(RoutesModel(StepOf(*wf, "z").route.value()));
  EXPECT_EQ(wf->models.at("b").options.at("quality").as_int64(), 3);
}

constexpr const char* kHead = R"y(baton: 1
name: bad
models:
  a: { provider: sim, model: sim-small }
  b: { provider: sim, model: sim-large }
agents:
  researcher: { model: a, capabilities: [research, web] }
  writer: { model: b, capabilities: [writing] }
steps:
)y";

TEST(RouteDsl, ReportsBadRoutesWithPositions) {
  std::string e =
      Errors(std::string(kHead) + "  - { id: x, route: { capabilities: [reserch] }, input: q }\n");
  EXPECT_NE(e.find("bad.yaml:10:38: error: no agent has capability 'reserch' (did you mean "
                   "'research'?)"),
            std::string::npos)
      << e;
  e = Errors(std::string(kHead) +
             "  - { id: x, route: { capabilities: [research, writing] }, input: q }\n");
  EXPECT_NE(e.find("bad.yaml:10:23: error: no single agent has every capability in [research, "
                   "writing] (research: researcher; writing: writer)"),
            std::string::npos)
      << e;
  e = Errors(std::string(kHead) +
             "  - { id: x, llm: { prompt: hi }, route: { strategy: cheapest, models: [a, c] } }\n");
  EXPECT_NE(e.find("bad.yaml:10:76: error: route of step 'x' uses unknown model 'c'"),
            std::string::npos)
      << e;
  e = Errors(std::string(kHead) +
             "  - { id: x, llm: { prompt: hi }, route: { strategy: fast } }\n");
  EXPECT_NE(e.find("bad.yaml:10:54: error: 'strategy' must be one of cheapest, fastest, best, got "
                   "'fast'"),
            std::string::npos)
      << e;
  EXPECT_EQ(e.find("a route on an llm step chooses the model"), std::string::npos) << e;
  e = Errors(std::string(kHead) + "  - { id: x, set: { v: 1 }, route: { strategy: best } }\n");
  EXPECT_NE(e.find("error: 'route' is only valid on agent and llm steps, not on a 'set' step"),
            std::string::npos)
      << e;
  e = Errors(std::string(kHead) +
             "  - { id: x, agent: writer, route: { capabilities: [writing] }, input: q }\n");
  EXPECT_NE(e.find("this step names its agent ('writer')"), std::string::npos) << e;
  e = Errors(std::string(kHead) +
             "  - { id: x, llm: { prompt: hi }, route: { capabilities: [writing] } }\n");
  EXPECT_NE(e.find("'capabilities' choose an agent, and an llm step has none"), std::string::npos)
      << e;
  e = Errors(std::string(kHead) +
             "  - { id: x, route: { capabilities: [writing] }, input: q, with: {} }\n");
  EXPECT_NE(e.find("'with' is not valid on an agent step"), std::string::npos) << e;
  e = Errors(std::string(kHead) + "  - { id: x, route: { strategy: best }, input: q }\n");
  EXPECT_NE(e.find("step 'x' has no kind"), std::string::npos) << e;
  e = Errors(std::string(kHead) +
             "  - { id: x, llm: { prompt: hi }, route: { max_cost: -1, "
             "speed: 2 } }\n");
  EXPECT_NE(e.find("'max_cost' must not be negative"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown key 'speed'"), std::string::npos) << e;
  e = Errors(std::string(kHead) + "  - { id: x, llm: { prompt: hi }, route: {} }\n");
  EXPECT_NE(e.find("'route' needs 'capabilities'"), std::string::npos) << e;
  e = Errors(
      "baton: 1\nname: q\nmodels:\n  a: { provider: sim, quality: high }\nsteps:\n"
      "  - { id: x, llm: { prompt: hi } }\n");
  EXPECT_NE(e.find("'quality' must be a number"), std::string::npos) << e;
}

TEST(RouteDsl, MaxCostChoosesTheModelOnlyWithoutCapabilities) {
  core::Route r;
  r.max_cost = 0.01;
  EXPECT_TRUE(RoutesModel(r));  // an llm step: the cheapest model within max_cost
  r.capabilities = {"web"};
  EXPECT_FALSE(RoutesModel(r));  // filters the agents instead
  r.strategy = "best";
  EXPECT_TRUE(RoutesModel(r));
  EXPECT_FALSE(RoutesModel(core::Route{}));
}

TEST(RouteDsl, GraphLabelsSayHowTheStepIsRouted) {
  auto wf = Load(R"y(
baton: 1
name: g
models:
  a: { provider: sim, model: sim-small }
agents:
  r: { model: a, capabilities: [research, web] }
steps:
  - { id: x, route: { capabilities: [research, web], strategy: fastest }, input: q }
  - { id: y, llm: { prompt: hi }, route: { max_cost: 1 } }
)y");
  ASSERT_TRUE(wf);
  EXPECT_EQ(core::StepKindLabel(StepOf(*wf, "x")), "agent: by [research, web] · fastest model");
  EXPECT_EQ(core::StepKindLabel(StepOf(*wf, "y")), "llm · cheapest model");
}

TEST(RouteDsl, AnLlmStepWithARouteNeedNotNameItsModel) {
  EXPECT_TRUE(Load(std::string(kHead) +
                   "  - { id: x, llm: { prompt: hi }, route: { strategy: cheapest } }\n"));
}

// ---- the engine

// A provider that answers "ok" and records, at the moment of each call, whether the journal
// already holds a route_chosen event for the calling step.
struct ProbeLog {
  std::mutex mu;
  std::vector<std::pair<std::string, bool>> calls;  // (model, route_chosen durable)
};

class ProbeModel final : public providers::ChatModel {
 public:
  ProbeModel(store::Store& store, ProbeLog& log, std::string model)
      : store_(store), log_(log), model_(std::move(model)) {}
  boost::asio::awaitable<Result<providers::ChatResponse>> Complete(
      providers::ChatRequest request) override {
    bool durable = false;
    auto events = store_.ReadEvents(request.run_id);
    if (events.ok()) {
      for (const auto& e : *events) {
        if (e.type == core::EventType::kRouteChosen && e.step == request.step_id) durable = true;
      }
    }
    {
      std::lock_guard lock(log_.mu);
      log_.calls.emplace_back(model_, durable);
    }
    providers::ChatResponse r;
    r.text = "ok from " + model_;
    r.usage.input_tokens = 10;
    r.usage.output_tokens = 2;
    co_return r;
  }
  std::string_view provider() const override { return "probe"; }

 private:
  store::Store& store_;
  ProbeLog& log_;
  std::string model_;
};

class RoutedRuns : public ::testing::Test {
 protected:
  RoutedRuns() : store_(store::NewMemoryStore()) {
    providers::RegisterBuiltinProviders(models_);
    EXPECT_TRUE(models_
                    .Register("probe",
                              [this](const core::ModelConfig& c)
                                  -> Result<std::unique_ptr<providers::ChatModel>> {
                                return std::unique_ptr<providers::ChatModel>(
                                    new ProbeModel(*store_, probe_, c.model));
                              })
                    .ok());
  }
  RunResult RunToEnd(std::shared_ptr<const core::Workflow> wf) {
    Engine engine(*store_, models_, tools_, {});
    auto id = engine.Start(wf, {});
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    auto r = engine.Wait(*id);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return *r;
  }
  std::vector<core::Event> Events(const std::string& run_id, core::EventType type) {
    auto all = store_->ReadEvents(run_id);
    EXPECT_TRUE(all.ok());
    std::vector<core::Event> out;
    for (auto& e : *all) {
      if (e.type == type) out.push_back(std::move(e));
    }
    return out;
  }
  std::unique_ptr<store::Store> store_;
  providers::ModelRegistry models_;
  tools::ToolRegistry tools_;
  ProbeLog probe_;
};

TEST_F(RoutedRuns, RouteChosenIsDurableBeforeTheCallAndNamesTheAgentAndModel) {
  auto wf = Load(R"y(
baton: 1
name: routed
models:
  cheap: { provider: probe, model: p-cheap, price: { input: 0.1, output: 0.4 } }
  dear: { provider: probe, model: p-dear, price: { input: 5, output: 20 } }
agents:
  analyst: { model: dear, capabilities: [analysis, math], instructions: "You analyse." }
  counter: { model: dear, capabilities: [math], instructions: "You count for ${{ workflow.name }}." }
steps:
  - id: sums
    for_each: [1, 2]
    route: { capabilities: [math] }
    input: "add ${{ item }}"
  - id: both
    route: { capabilities: [math], strategy: cheapest }
    input: "add"
  - id: pick
    llm: { prompt: "hello" }
    route: { strategy: best, max_cost: 0.001 }
)y");
  ASSERT_TRUE(wf);
  RunResult r = RunToEnd(wf);
  ASSERT_EQ(r.status, core::RunStatus::kSucceeded) << ToJson(r.summary());
  {
    std::lock_guard lock(probe_.mu);
    ASSERT_EQ(probe_.calls.size(), 4u);
    for (const auto& [model, durable] : probe_.calls) EXPECT_TRUE(durable) << model;
  }
  auto routes = Events(r.run_id, core::EventType::kRouteChosen);
  auto calls = Events(r.run_id, core::EventType::kModelCalled);
  ASSERT_EQ(routes.size(), 5u);  // sums[0], sums[1], both (agent + model), pick
  ASSERT_EQ(calls.size(), 4u);
  std::map<std::pair<std::string, int>, std::vector<const core::Event*>> by_instance;
  for (const auto& e : routes) by_instance[{e.step, e.item}].push_back(&e);
  for (const auto& c : calls) {
    auto& rs = by_instance[{c.step, c.item}];
    ASSERT_FALSE(rs.empty()) << c.step;
    for (const auto* e : rs) EXPECT_LT(e->seq, c.seq) << c.step;
  }
  // sums: counter ([math] and nothing else) on its own model, instructions rendered per item.
  const auto& s1 = *by_instance[{"sums", 1}][0];
  EXPECT_EQ(s1.data.at("agent"), "counter");
  EXPECT_EQ(s1.attempt, 1);
  for (const auto& c : calls) {
    if (c.step != "sums") continue;
    EXPECT_EQ(c.data.at("model"), "dear");
    const auto& prompt = c.data.at("prompt").as_array();
    EXPECT_EQ(prompt[0].at("role"), "system");
    EXPECT_EQ(prompt[0].at("content"), "You count for routed.");
    EXPECT_EQ(prompt[1].at("content"), c.item == 0 ? "add 1" : "add 2");
  }
  // both: the agent, then the model on which it runs.
  const auto& both = by_instance[{"both", -1}];
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[0]->data.at("agent"), "counter");
  EXPECT_EQ(both[1]->data.at("model"), "cheap");
  EXPECT_EQ(both[1]->data.at("strategy"), "cheapest");
  // pick: best by price would be dear, but max_cost leaves only cheap.
  const auto& pick = *by_instance[{"pick", -1}][0];
  EXPECT_EQ(pick.data.at("model"), "cheap");
  EXPECT_EQ(pick.data.at("candidates").as_array().size(), 2u);
  EXPECT_TRUE(pick.data.at("candidates").as_array()[1].as_object().contains("excluded"));
  for (const auto& c : calls) {
    if (c.step == "both" || c.step == "pick") {
      EXPECT_EQ(c.data.at("model"), "cheap") << c.step;
    }
  }
  // The agent's output is in memory under the step id, like any agent step.
  EXPECT_EQ(r.summary().at("steps").at("both").at("status"), "succeeded");
}

TEST_F(RoutedRuns, ARetryReusesTheChoiceOfTheFirstAttempt) {
  auto wf = Load(R"y(
baton: 1
name: retried
models:
  cheap:
    provider: sim
    model: sim-small
    sim: { replies: [{ error: server_error }, "fine"] }
  dear: { provider: sim, model: sim-large }
steps:
  - id: x
    llm: { prompt: "hello" }
    route: { strategy: cheapest }
    retry: { max_attempts: 3, backoff: { initial: 1ms, max: 2ms } }
)y");
  ASSERT_TRUE(wf);
  RunResult r = RunToEnd(wf);
  ASSERT_EQ(r.status, core::RunStatus::kSucceeded) << ToJson(r.summary());
  auto routes = Events(r.run_id, core::EventType::kRouteChosen);
  auto calls = Events(r.run_id, core::EventType::kModelCalled);
  ASSERT_EQ(routes.size(), 1u);
  EXPECT_EQ(routes[0].data.at("model"), "cheap");
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].attempt, 1);
  EXPECT_EQ(calls[1].attempt, 2);
  for (const auto& c : calls) EXPECT_EQ(c.data.at("model"), "cheap");
}

TEST_F(RoutedRuns, AResumedRunReusesTheJournaledChoice) {
  auto wf = Load(R"y(
baton: 1
name: resumed
models:
  cheap: { provider: probe, model: p-cheap, price: { input: 0.1, output: 0.4 } }
  dear: { provider: probe, model: p-dear, price: { input: 5, output: 20 } }
steps:
  - { id: x, llm: { prompt: "hello" }, route: { strategy: cheapest } }
)y");
  ASSERT_TRUE(wf);
  // The journal of a process that chose `dear` (say, before a price change) and died in the
  // call: run_started, step_started, route_chosen.
  store::RunRecord rec;
  rec.id = "run-crashed";
  rec.workflow_name = "resumed";
  rec.status = core::RunStatus::kRunning;
  rec.created_ms = SystemClock::Get().NowMillis();
  ASSERT_TRUE(store_->CreateRun(rec).ok());
  std::vector<core::Event> journal;
  journal.push_back(core::RunStartedEvent({}, {}, "/tmp", false, rec.created_ms));
  core::Event started;
  started.type = core::EventType::kStepStarted;
  started.step = "x";
  started.attempt = 1;
  journal.push_back(started);
  core::Event chosen = started;
  chosen.type = core::EventType::kRouteChosen;
  chosen.data = json::object{{"model", "dear"}, {"reason", "journaled earlier"}};
  journal.push_back(chosen);
  for (size_t i = 0; i < journal.size(); ++i) {
    journal[i].seq = i + 1;
    journal[i].time_ms = rec.created_ms;
  }
  ASSERT_TRUE(store_->AppendSync(rec.id, journal).ok());

  Engine engine(*store_, models_, tools_, {});
  ASSERT_TRUE(engine.Resume(wf, rec.id, {}).ok());
  auto r = engine.Wait(rec.id);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->status, core::RunStatus::kSucceeded) << ToJson(r->summary());
  auto routes = Events(rec.id, core::EventType::kRouteChosen);
  auto calls = Events(rec.id, core::EventType::kModelCalled);
  ASSERT_EQ(routes.size(), 1u);  // not chosen again
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].attempt, 2);
  EXPECT_EQ(calls[0].data.at("model"), "dear");
}

TEST_F(RoutedRuns, FastestMeasuresEveryCandidateThenKeepsToTheFastest) {
  auto wf = Load(R"y(
baton: 1
name: fastest
models:
  a: { provider: sim, model: sim-small, sim: { latency: 30ms } }
  b: { provider: sim, model: sim-large, sim: { latency: 1ms } }
  c: { provider: sim, model: sim-other, price: { input: 2, output: 8 }, sim: { latency: 60ms } }
steps:
  - { id: x, llm: { prompt: "hello" }, route: { strategy: fastest } }
)y");
  ASSERT_TRUE(wf);
  // Each run is a new engine (a new process, as with the CLI): what it knows comes from the
  // journal. Unmeasured candidates go first, cheapest first: a, b, c.
  std::vector<std::string> chosen;
  json::array last_candidates;
  for (int i = 0; i < 5; ++i) {
    RunResult r = RunToEnd(wf);
    ASSERT_EQ(r.status, core::RunStatus::kSucceeded);
    auto routes = Events(r.run_id, core::EventType::kRouteChosen);
    ASSERT_EQ(routes.size(), 1u);
    chosen.emplace_back(routes[0].data.at("model").as_string());
    last_candidates = routes[0].data.at("candidates").as_array();
  }
  EXPECT_EQ(std::vector<std::string>(chosen.begin(), chosen.begin() + 3),
            (std::vector<std::string>{"a", "b", "c"}));
  // From then on every candidate is measured, and the choice is the lowest median of what the
  // journal recorded (whatever the machine's timing made of the sim latencies).
  ASSERT_EQ(last_candidates.size(), 3u);
  int64_t lowest = INT64_MAX;
  for (const auto& c : last_candidates) {
    ASSERT_TRUE(c.as_object().contains("latency_ms")) << ToJson(last_candidates);
    lowest = std::min(lowest, c.at("latency_ms").as_int64());
  }
  EXPECT_EQ(last_candidates[0].at("latency_ms").as_int64(), lowest);
  EXPECT_EQ(chosen[4], std::string(last_candidates[0].at("name").as_string()));
}

}  // namespace
}  // namespace baton::runtime
