// `plan:` without I/O: checking planners' replies, routing tasks by capabilities, and the decider
// running a plan (repairs, the dynamic DAG, the synthesizer, resume from a folded journal).

#include "core/plan.hpp"

#include <gtest/gtest.h>

#include "core/decider.hpp"
#include "dsl/loader.hpp"
#include "testing/load_workflow.hpp"

namespace baton::core {
namespace {

std::shared_ptr<const Workflow> Load(const std::string& yaml) {
  return test_util::LoadWorkflowOrFail(yaml);
}

std::string Errors(const std::string& yaml) {
  auto r = dsl::LoadWorkflowText(yaml, "test.yaml");
  EXPECT_FALSE(r.workflow);
  std::string diags;
  for (const auto& d : r.diagnostics) diags += dsl::FormatDiagnostic(d) + "\n";
  return diags;
}

json::value J(std::string_view text) {
  auto v = ParseJson(text);
  EXPECT_TRUE(v.ok()) << text;
  return v.ok() ? *v : json::value();
}

std::string Text(const json::value& v) { return v.is_string() ? std::string(v.get_string()) : ""; }

struct Harness {
  explicit Harness(std::shared_ptr<const Workflow> wf) : state(wf, "r1") {
    Event started = RunStartedEvent({}, {}, "/tmp", false, now);
    state.Apply(started);
    journal.push_back(started);
    Decision d;
    Decider::Advance(state, now, d);
    Take(d);
  }
  void Take(Decision& d) {
    for (auto& e : d.events) journal.push_back(e);
    for (auto& x : d.dispatch) pending.push_back(std::move(x));
    last = std::move(d);
  }
  void Succeed(const Dispatch& x, json::value output) {
    StepOutcome o{x.step, x.item, x.attempt, Status::Ok(), std::move(output), {}};
    Decision d;
    Decider::OnOutcome(state, std::move(o), now, d);
    Take(d);
  }
  void Fail(const Dispatch& x, Status st) {
    StepOutcome o{x.step, x.item, x.attempt, std::move(st), {}, {}};
    Decision d;
    Decider::OnOutcome(state, std::move(o), now, d);
    Take(d);
  }
  Dispatch Pop() {
    EXPECT_FALSE(pending.empty());
    if (pending.empty()) return {};
    Dispatch x = pending.front();
    pending.erase(pending.begin());
    return x;
  }
  // Takes the pending dispatch of item `item`.
  Dispatch PopItem(int32_t item) {
    for (size_t k = 0; k < pending.size(); ++k) {
      if (pending[k].item != item) continue;
      Dispatch x = pending[k];
      pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(k));
      return x;
    }
    ADD_FAILURE() << "no dispatch of item " << item;
    return {};
  }
  std::vector<const Event*> Of(EventType type) const {
    std::vector<const Event*> out;
    for (const auto& e : journal) {
      if (e.type == type) out.push_back(&e);
    }
    return out;
  }
  int64_t now = 1000;
  RunState state;
  std::vector<Event> journal;
  std::vector<Dispatch> pending;
  Decision last;
};

constexpr const char* kTeam = R"(
baton: 1
name: team
models:
  m: { provider: sim, model: sim-small }
agents:
  boss: { model: m, instructions: "You plan." }
  researcher:
    model: m
    description: Finds facts
    capabilities: [research, web]
    instructions: "You research."
  analyst: { model: m, capabilities: [research, math, charts], instructions: "You analyse." }
  statistician: { model: m, capabilities: [research, math] }
  writer: { model: m, description: Writes prose, capabilities: [writing] }
steps:
)";

std::string Team(const std::string& steps) { return std::string(kTeam) + steps; }

const char* kPlanStep = R"(
  - id: p
    plan:
      planner: boss
      input: "Report on tides"
      roles: [researcher, analyst, statistician, writer]
      synthesizer: writer
outputs:
  report: ${{ steps.p.output }}
)";

// a and b run side by side; c needs both.
constexpr const char* kDiamond = R"({"tasks": [
  {"id": "a", "role": "researcher", "input": "find tides"},
  {"id": "b", "capabilities": ["math"], "input": "compute heights"},
  {"id": "c", "role": "writer", "input": "write it up", "needs": ["a", "b"]}]})";

TEST(PlanCheckTest, AcceptsAValidPlanAndResolvesAgents) {
  auto wf = Load(Team(kPlanStep));
  const auto& plan = std::get<PlanStep>(wf->steps[0].kind);
  PlanCheck c = CheckPlan(*wf, plan, J(kDiamond));
  ASSERT_TRUE(c.ok()) << c.errors.front();
  ASSERT_EQ(c.tasks.size(), 3u);
  EXPECT_EQ(c.tasks[0].agent, "researcher");
  // [math]: analyst (research, math, charts) has one extra, statistician (research, math) one.
  EXPECT_EQ(c.tasks[1].agent, "statistician");
  EXPECT_EQ(c.tasks[2].needs, (std::vector<std::string>{"a", "b"}));
}

TEST(PlanCheckTest, CapabilitiesPickFewestExtrasThenName) {
  auto wf = Load(Team(kPlanStep));
  std::vector<std::string> all = {"writer", "statistician", "researcher", "analyst", "boss"};
  EXPECT_EQ(AgentForCapabilities(*wf, all, {"research"}), "researcher");  // ties by name: 1 extra
  EXPECT_EQ(AgentForCapabilities(*wf, all, {"research", "math"}), "statistician");
  EXPECT_EQ(AgentForCapabilities(*wf, all, {"charts"}), "analyst");
  EXPECT_EQ(AgentForCapabilities(*wf, all, {"research", "writing"}), "");
  EXPECT_EQ(AgentForCapabilities(*wf, {"writer"}, {"research"}), "");  // only among the roles
}

TEST(PlanCheckTest, ListsEveryProblem) {
  auto wf = Load(Team(kPlanStep));
  const auto& plan = std::get<PlanStep>(wf->steps[0].kind);
  PlanCheck c = CheckPlan(*wf, plan, J(R"({"tasks": [
    {"id": "a", "role": "boss", "input": "x"},
    {"id": "a", "role": "writer", "input": "y"},
    {"id": "b", "capabilities": ["flying"], "input": "z"},
    {"id": "c", "input": "w", "needs": ["nope"]},
    {"input": "no id"},
    {"id": "d", "role": "writer"}]})"));
  ASSERT_FALSE(c.ok());
  std::string all;
  for (const auto& e : c.errors) all += e + "\n";
  EXPECT_NE(all.find("task 'a': unknown role 'boss' (roles: researcher, analyst, statistician, "
                     "writer)"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("duplicate task id 'a'"), std::string::npos) << all;
  EXPECT_NE(all.find("task 'b': no role has the capabilities [flying]"), std::string::npos) << all;
  EXPECT_NE(all.find("task 'c': give a 'role' or 'capabilities'"), std::string::npos) << all;
  EXPECT_NE(all.find("task 'c' needs unknown task 'nope'"), std::string::npos) << all;
  EXPECT_NE(all.find("task 5 needs an 'id'"), std::string::npos) << all;
  EXPECT_NE(all.find("task 'd': give an 'input'"), std::string::npos) << all;
  EXPECT_TRUE(c.tasks.empty());
}

TEST(PlanCheckTest, NamesTheCycle) {
  auto wf = Load(Team(kPlanStep));
  const auto& plan = std::get<PlanStep>(wf->steps[0].kind);
  PlanCheck c = CheckPlan(*wf, plan, J(R"({"tasks": [
    {"id": "start", "role": "writer", "input": "s"},
    {"id": "x", "role": "writer", "input": "1", "needs": ["start", "z"]},
    {"id": "y", "role": "writer", "input": "2", "needs": ["x"]},
    {"id": "z", "role": "writer", "input": "3", "needs": ["y"]}]})"));
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0], "the tasks' needs form a cycle: x -> z -> y -> x");
  PlanCheck self = CheckPlan(*wf, plan, J(R"({"tasks": [
    {"id": "s", "role": "writer", "input": "s", "needs": ["s"]}]})"));
  ASSERT_EQ(self.errors.size(), 1u);
  EXPECT_EQ(self.errors[0], "the tasks' needs form a cycle: s -> s");
}

TEST(PlanCheckTest, EmptyTooManyAndShapeless) {
  auto wf = Load(Team(R"(
  - id: p
    plan: { planner: boss, input: go, max_tasks: 2 }
)"));
  const auto& plan = std::get<PlanStep>(wf->steps[0].kind);
  EXPECT_EQ(CheckPlan(*wf, plan, J(R"({"tasks": []})")).errors,
            (std::vector<std::string>{"the plan has no tasks"}));
  EXPECT_EQ(CheckPlan(*wf, plan, J(R"("just do it")")).errors,
            (std::vector<std::string>{"the reply must be a JSON object with a 'tasks' list"}));
  PlanCheck many = CheckPlan(*wf, plan, J(R"({"tasks": [
    {"id": "a", "role": "writer", "input": 1}, {"id": "b", "role": "writer", "input": 2},
    {"id": "c", "role": "writer", "input": 3}]})"));
  EXPECT_EQ(many.errors,
            (std::vector<std::string>{"the plan has 3 tasks, more than max_tasks (2)"}));
  // Without `roles`, every agent is a role.
  EXPECT_TRUE(
      CheckPlan(*wf, plan, J(R"({"tasks": [{"id": "a", "role": "boss", "input": 1}]})")).ok());
}

TEST(PlanDeciderTest, RunsTheDagThenTheSynthesizer) {
  auto wf = Load(Team(kPlanStep));
  Harness h(wf);
  ASSERT_EQ(h.pending.size(), 1u);
  Dispatch planner = h.Pop();
  EXPECT_EQ(planner.item, -1);
  EXPECT_EQ(Text(planner.input.at("agent")), "boss");
  EXPECT_EQ(Text(planner.input.at("input")), "Report on tides");
  std::string system = Text(planner.input.at("system"));
  EXPECT_EQ(system.rfind("You plan.\n\n", 0), 0u) << system;
  EXPECT_NE(system.find("- researcher: Finds facts (capabilities: research, web)"),
            std::string::npos)
      << system;
  EXPECT_EQ(system.find("- boss"), std::string::npos) << system;  // not among the roles
  EXPECT_EQ(planner.input.at("output_schema"), PlanSchema());

  h.Succeed(planner, J(kDiamond));
  auto created = h.Of(EventType::kPlanCreated);
  ASSERT_EQ(created.size(), 1u);
  EXPECT_EQ(created[0]->data.at("tasks"), J(R"([
    {"id": "a", "role": "researcher", "agent": "researcher", "needs": [], "input": "find tides"},
    {"id": "b", "capabilities": ["math"], "agent": "statistician", "needs": [],
     "input": "compute heights"},
    {"id": "c", "role": "writer", "agent": "writer", "needs": ["a", "b"],
     "input": "write it up"}])"));
  ASSERT_EQ(h.pending.size(), 2u);  // a and b side by side; c waits for both
  Dispatch a = h.PopItem(0), b = h.PopItem(1);
  EXPECT_EQ(Text(a.input.at("agent")), "researcher");
  EXPECT_EQ(Text(a.input.at("system")), "You research.");
  EXPECT_EQ(Text(a.input.at("input")), "find tides");
  EXPECT_EQ(Text(b.input.at("agent")), "statistician");
  EXPECT_FALSE(b.input.contains("system"));
  h.Succeed(b, "heights: 2m");
  EXPECT_TRUE(h.pending.empty());
  h.Succeed(a, "tides follow the moon");
  Dispatch c = h.PopItem(2);
  EXPECT_EQ(Text(c.input.at("agent")), "writer");
  EXPECT_EQ(Text(c.input.at("input")),
            "write it up\n\nResults of the tasks this task needs:\n\n[a]\ntides follow the "
            "moon\n\n[b]\nheights: 2m\n");
  h.Succeed(c, "draft");
  Dispatch synth = h.PopItem(3);
  EXPECT_EQ(Text(synth.input.at("agent")), "writer");
  std::string in = Text(synth.input.at("input"));
  EXPECT_EQ(in.rfind("Report on tides\n\n", 0), 0u) << in;
  EXPECT_LT(in.find("[a] (researcher)"), in.find("[b] (statistician)")) << in;
  EXPECT_LT(in.find("[b] (statistician)"), in.find("[c] (writer)\ndraft")) << in;
  h.Succeed(synth, "final report");
  EXPECT_TRUE(h.last.finished);
  EXPECT_EQ(h.state.status(), RunStatus::kSucceeded);
  EXPECT_EQ(Text(h.state.outputs().at("report")), "final report");
  EXPECT_EQ(h.state.running_instances(), 0);
}

TEST(PlanDeciderTest, WithoutSynthesizerTheOutputIsTheTaskResults) {
  auto wf = Load(Team(R"(
  - id: p
    plan: { planner: boss, input: go, max_parallel: 1 }
outputs:
  out: ${{ steps.p.output }}
)"));
  Harness h(wf);
  h.Succeed(h.Pop(), J(R"({"tasks": [{"id": "x", "role": "writer", "input": "1"},
                                     {"id": "y", "role": "writer", "input": "2"}]})"));
  ASSERT_EQ(h.pending.size(), 1u);  // max_parallel: 1
  h.Succeed(h.PopItem(0), "X");
  ASSERT_EQ(h.pending.size(), 1u);
  h.Succeed(h.PopItem(1), "Y");
  EXPECT_EQ(h.state.status(), RunStatus::kSucceeded);
  EXPECT_EQ(h.state.outputs().at("out"), J(R"({"tasks": {"x": "X", "y": "Y"}})"));
}

TEST(PlanDeciderTest, AnInvalidPlanIsSentBackForRepair) {
  auto wf = Load(Team(kPlanStep));
  Harness h(wf);
  Dispatch first = h.Pop();
  h.Succeed(first, J(R"({"tasks": [{"id": "a", "role": "poet", "input": "x"}]})"));
  auto rejected = h.Of(EventType::kPlanRejected);
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(
      rejected[0]->data.at("errors"),
      J(R"j(["task 'a': unknown role 'poet' (roles: researcher, analyst, statistician, writer)"])j"));
  EXPECT_EQ(rejected[0]->data.at("request").as_int64(), 1);
  ASSERT_EQ(h.pending.size(), 1u);
  Dispatch repair = h.Pop();
  EXPECT_EQ(repair.item, -1);
  EXPECT_EQ(repair.attempt, 2);
  std::string in = Text(repair.input.at("input"));
  EXPECT_NE(in.find("Your previous plan was rejected:\n- task 'a': unknown role 'poet'"),
            std::string::npos)
      << in;
  EXPECT_NE(in.find(R"("role":"poet")"), std::string::npos) << in;  // the plan it sent
  // A reply that is not the planned JSON at all is repaired too.
  h.Fail(repair,
         Status(Code::kInvalidArgument, "the model's reply is not JSON", "schema_validation"));
  ASSERT_EQ(h.Of(EventType::kPlanRejected).size(), 2u);
  Dispatch again = h.Pop();
  EXPECT_EQ(again.attempt, 3);
  h.Succeed(again, J(kDiamond));
  auto created = h.Of(EventType::kPlanCreated);
  ASSERT_EQ(created.size(), 1u);
  EXPECT_EQ(created[0]->data.at("request").as_int64(), 3);
  EXPECT_EQ(h.pending.size(), 2u);
}

TEST(PlanDeciderTest, RepairsAreBoundedThenInvalidPlan) {
  auto wf = Load(Team(R"(
  - id: p
    plan: { planner: boss, input: go, max_repairs: 1 }
)"));
  Harness h(wf);
  const char* cyclic = R"({"tasks": [{"id": "a", "role": "writer", "input": 1, "needs": ["b"]},
                                     {"id": "b", "role": "writer", "input": 2, "needs": ["a"]}]})";
  h.Succeed(h.Pop(), J(cyclic));
  h.Succeed(h.Pop(), J(cyclic));
  EXPECT_TRUE(h.pending.empty());
  EXPECT_EQ(h.Of(EventType::kPlanRejected).size(), 2u);
  EXPECT_TRUE(h.last.finished);
  EXPECT_EQ(h.state.status(), RunStatus::kFailed);
  EXPECT_EQ(Text(h.state.error().at("type")), "invalid_plan");
  EXPECT_EQ(Text(h.state.error().at("message")),
            "the planner's plan is still invalid after 1 repair request: the tasks' needs form a "
            "cycle: a -> b -> a");
  EXPECT_EQ(h.state.running_instances(), 0);
}

TEST(PlanDeciderTest, InvalidPlanCanBeCaught) {
  auto wf = Load(Team(R"(
  - id: p
    plan: { planner: boss, input: go, max_repairs: 0 }
    catch: [{ error: invalid_plan, then: { output: "no plan" } }]
outputs:
  out: ${{ steps.p.output }}
)"));
  Harness h(wf);
  h.Succeed(h.Pop(), J(R"({"tasks": []})"));
  EXPECT_EQ(h.state.status(), RunStatus::kSucceeded);
  EXPECT_EQ(Text(h.state.outputs().at("out")), "no plan");
}

TEST(PlanDeciderTest, AFailedTaskFailsThePlanAndRetriesFollowThePolicy) {
  auto wf = Load(Team(R"(
  - id: p
    plan: { planner: boss, input: go }
    retry: { max_attempts: 2, backoff: { initial: 10ms, jitter: none } }
)"));
  Harness h(wf);
  h.Succeed(h.Pop(), J(R"({"tasks": [{"id": "x", "role": "writer", "input": "1"},
                                     {"id": "y", "role": "writer", "input": "2"}]})"));
  Dispatch x = h.PopItem(0);
  h.Fail(x, Status(Code::kUnavailable, "503", "server_error"));
  EXPECT_EQ(h.Of(EventType::kRetryScheduled).size(), 1u);
  h.now += 10;
  Decision d;
  Decider::Advance(h.state, h.now, d);
  h.Take(d);
  Dispatch x2 = h.PopItem(0);
  EXPECT_EQ(x2.attempt, 2);
  EXPECT_EQ(Text(x2.input.at("agent")), "writer");
  h.Fail(x2, Status(Code::kInvalidArgument, "bad", "invalid_request"));
  EXPECT_EQ(h.state.step(0).status, StepStatus::kFailed);
  EXPECT_TRUE(h.last.cancel_in_flight);  // task y is stopped
  h.Fail(h.PopItem(1), Status(Code::kCancelled, "cancelled"));
  EXPECT_EQ(h.state.status(), RunStatus::kFailed);
  EXPECT_EQ(h.state.running_instances(), 0);
  EXPECT_EQ(Text(h.state.error().at("step")), "p");
}

// The journal of a run stopped at any point folds into a state that continues the run exactly as
// the uninterrupted one did.
TEST(PlanDeciderTest, AFoldedJournalResumesMidPlan) {
  auto wf = Load(Team(kPlanStep));
  Harness h(wf);
  h.Succeed(h.Pop(), J(R"({"tasks": [{"id": "a", "role": "poet", "input": "x"}]})"));
  {
    // Stopped during the repair request: it is asked again, with the errors.
    RunState resumed(wf, "r1");
    for (const auto& e : h.journal) resumed.Apply(e);
    Decision d;
    Decider::Recover(resumed, h.now, d);
    ASSERT_EQ(d.dispatch.size(), 1u);
    EXPECT_EQ(d.dispatch[0].item, -1);
    EXPECT_EQ(d.dispatch[0].attempt, 3);
    EXPECT_NE(Text(d.dispatch[0].input.at("input")).find("unknown role 'poet'"), std::string::npos);
  }
  h.Succeed(h.Pop(), J(kDiamond));
  Dispatch a = h.PopItem(0), b = h.PopItem(1);
  h.Succeed(a, "A");
  // Stopped while b runs: a is not run again, b is, and c follows with both results.
  RunState resumed(wf, "r1");
  for (const auto& e : h.journal) resumed.Apply(e);
  EXPECT_EQ(resumed.running_instances(), 1);
  Decision d;
  Decider::Recover(resumed, h.now, d);
  ASSERT_EQ(d.dispatch.size(), 1u);
  EXPECT_EQ(d.dispatch[0].item, 1);
  EXPECT_EQ(d.dispatch[0].attempt, 2);
  EXPECT_EQ(d.dispatch[0].input, b.input);
  Harness r = std::move(h);
  r.state = std::move(resumed);
  r.pending.clear();
  r.Take(d);
  r.Succeed(r.PopItem(1), "B");
  Dispatch c = r.PopItem(2);
  EXPECT_NE(Text(c.input.at("input")).find("[a]\nA\n\n[b]\nB\n"), std::string::npos);
  r.Succeed(c, "C");
  r.Succeed(r.PopItem(3), "report");
  EXPECT_EQ(r.state.status(), RunStatus::kSucceeded);
  EXPECT_EQ(Text(r.state.outputs().at("report")), "report");
  // And the whole journal folds to the same end.
  RunState replay(wf, "r1");
  for (const auto& e : r.journal) replay.Apply(e);
  EXPECT_EQ(replay.status(), RunStatus::kSucceeded);
  EXPECT_EQ(replay.outputs(), r.state.outputs());
  EXPECT_EQ(replay.steps_view(), r.state.steps_view());
}

TEST(PlanLoadTest, ChecksAgentsAndFields) {
  std::string errs = Errors(Team(R"(
  - id: p
    for_each: ${{ [1] }}
    plan: { planner: nobody, input: go, roles: [writer, ghost], synthesizer: writter,
            max_tasks: 0, colour: red }
)"));
  EXPECT_NE(errs.find("'for_each' is not valid on a plan step"), std::string::npos) << errs;
  EXPECT_NE(errs.find("nobody"), std::string::npos) << errs;
  EXPECT_NE(errs.find("ghost"), std::string::npos) << errs;
  EXPECT_NE(errs.find("writter"), std::string::npos) << errs;
  EXPECT_NE(errs.find("'max_tasks' must be at least 1"), std::string::npos) << errs;
  EXPECT_NE(errs.find("colour"), std::string::npos) << errs;
  EXPECT_NE(Errors(Team("  - { id: p, plan: { input: go } }\n")).find("'planner'"),
            std::string::npos);
}

}  // namespace
}  // namespace baton::core
