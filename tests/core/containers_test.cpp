// Containers (switch, parallel, loop), tolerate, priority and the per-run concurrency limit,
// driven through the pure decider. Every test also folds the journal it produced into a fresh
// RunState and checks that the fold reaches the same state (what a resumed run starts from).

#include <gtest/gtest.h>

#include "core/decider.hpp"
#include "dsl/loader.hpp"
#include "testing/load_workflow.hpp"

namespace baton::core {
namespace {

std::shared_ptr<const Workflow> Load(const std::string& yaml) {
  return test_util::LoadWorkflowOrFail(yaml);
}

struct Harness {
  explicit Harness(std::shared_ptr<const Workflow> w) : wf(std::move(w)), state(wf, "r1") {
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
    for (auto& c : d.cancel) cancelled.push_back(c);
  }
  Dispatch Pop(const std::string& step) {
    for (size_t k = 0; k < pending.size(); ++k) {
      if (wf->steps[static_cast<size_t>(pending[k].step)].id == step) {
        Dispatch x = pending[k];
        pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(k));
        return x;
      }
    }
    ADD_FAILURE() << "no dispatch of " << step;
    return {};
  }
  void Outcome(const Dispatch& x, Status st, json::value output = nullptr) {
    StepOutcome o{x.step, x.item, x.attempt, std::move(st), std::move(output), {}};
    Decision d;
    Decider::OnOutcome(state, std::move(o), now, d);
    Take(d);
  }
  std::vector<std::string> Dispatched() const {
    std::vector<std::string> ids;
    for (const auto& x : pending) ids.push_back(wf->steps[static_cast<size_t>(x.step)].id);
    return ids;
  }
  std::string Status(const std::string& id) const {
    return std::string(StepStatusName(state.step(wf->StepIndex(id)).status));
  }
  // The journal folded into a fresh state reaches the same step views.
  void ExpectFoldMatches() const {
    RunState fresh(wf, "r1");
    for (const auto& e : journal) fresh.Apply(e);
    EXPECT_EQ(CanonicalJson(fresh.steps_view()), CanonicalJson(state.steps_view()));
    EXPECT_EQ(fresh.status(), state.status());
    EXPECT_EQ(fresh.running_instances(), state.running_instances());
  }
  int Count(EventType t, const std::string& step = "") const {
    int n = 0;
    for (const auto& e : journal) n += e.type == t && (step.empty() || e.step == step);
    return n;
  }

  std::shared_ptr<const Workflow> wf;
  int64_t now = 1000;
  RunState state;
  std::vector<Event> journal;
  std::vector<Dispatch> pending;
  std::vector<std::pair<int, int32_t>> cancelled;
};

constexpr const char* kHead = R"(
baton: 1
name: t
models:
  m: { provider: sim, model: sim-small }
)";

TEST(ContainersTest, SwitchRunsTheFirstTrueCaseAndSkipsTheOthers) {
  Harness h(Load(std::string(kHead) + R"(
steps:
  - { id: n, set: { v: 5 } }
  - id: sw
    switch:
      - if: ${{ steps.n.output.v > 10 }}
        steps: [ { id: big, llm: "big" } ]
      - name: mid
        if: ${{ steps.n.output.v > 1 }}
        steps: [ { id: mid1, llm: "mid" }, { id: mid2, set: { v: 2 } } ]
      - default: [ { id: none, set: { v: 0 } } ]
  - id: after
    set: { case: "${{ steps.sw.output.case }}" }
)"));
  EXPECT_EQ(h.Dispatched(), std::vector<std::string>{"mid1"});
  EXPECT_EQ(h.Status("big"), "skipped");
  EXPECT_EQ(h.Status("none"), "skipped");
  h.Outcome(h.Pop("mid1"), Status::Ok(), "text");
  EXPECT_EQ(h.Status("mid2"), "succeeded");
  EXPECT_EQ(h.state.status(), RunStatus::kSucceeded);
  EXPECT_EQ(h.state.StepOutput(h.wf->StepIndex("after")).at("case"), "mid");
  h.ExpectFoldMatches();
}

TEST(ContainersTest, ParallelJoinAnyCancelsTheLosers) {
  Harness h(Load(std::string(kHead) + R"(
steps:
  - id: race
    parallel:
      a: [ { id: a1, llm: "a" } ]
      b: [ { id: b1, llm: "b" }, { id: b2, llm: "b2" } ]
    join: any
)"));
  EXPECT_EQ(h.Dispatched(), (std::vector<std::string>{"a1", "b1"}));
  Dispatch b1 = h.Pop("b1");
  h.Outcome(h.Pop("a1"), Status::Ok(), "A");
  EXPECT_EQ(h.Status("race"), "succeeded");
  EXPECT_EQ(h.Status("b1"), "cancelled");
  EXPECT_EQ(h.Status("b2"), "cancelled");
  ASSERT_EQ(h.cancelled.size(), 1u);
  EXPECT_EQ(h.cancelled[0].first, h.wf->StepIndex("b1"));
  // The cancelled instance's late outcome changes nothing.
  h.Outcome(b1, Status(Code::kCancelled, "cancelled", "cancelled"));
  EXPECT_EQ(h.state.status(), RunStatus::kSucceeded);
  EXPECT_EQ(h.Count(EventType::kStepCancelled), 2);
  h.ExpectFoldMatches();
}

TEST(ContainersTest, ParallelJoinAllFailsOnTheFirstFailedBranch) {
  Harness h(Load(std::string(kHead) + R"(
steps:
  - id: both
    parallel:
      a: [ { id: a1, llm: "a" } ]
      b: [ { id: b1, llm: "b" }, { id: b2, set: { v: 1 } } ]
)"));
  h.Outcome(h.Pop("b1"), Status(Code::kInvalidArgument, "bad", "invalid_request"));
  EXPECT_EQ(h.Status("b2"), "cancelled");
  EXPECT_EQ(h.Status("a1"), "cancelled");
  EXPECT_EQ(h.Status("both"), "failed");
  EXPECT_EQ(h.state.status(), RunStatus::kFailed);
  EXPECT_EQ(h.state.error().at("step"), "b1");
  h.ExpectFoldMatches();
}

TEST(ContainersTest, ParallelJoinNToleratesAFailedBranch) {
  Harness h(Load(std::string(kHead) + R"(
steps:
  - id: two
    parallel:
      a: [ { id: a1, llm: "a" } ]
      b: [ { id: b1, llm: "b" } ]
      c: [ { id: c1, llm: "c" } ]
    join: 2
)"));
  h.Outcome(h.Pop("a1"), Status(Code::kInvalidArgument, "bad", "invalid_request"));
  EXPECT_EQ(h.Status("two"), "running");
  h.Outcome(h.Pop("b1"), Status::Ok(), "B");
  h.Outcome(h.Pop("c1"), Status::Ok(), "C");
  EXPECT_EQ(h.Status("two"), "succeeded");
  const auto& out = h.state.StepOutput(h.wf->StepIndex("two")).get_object();
  EXPECT_EQ(CanonicalJson(out.at("winners")), R"(["b","c"])");
  h.ExpectFoldMatches();
}

TEST(ContainersTest, LoopRunsUntilTheConditionAndKeepsIterationsApart) {
  Harness h(Load(std::string(kHead) + R"(
steps:
  - id: l
    loop:
      max_iterations: 5
      until: ${{ steps.critic.output.ok }}
      steps:
        - { id: critic, llm: { model: m, prompt: "x", output_schema: { type: object } } }
        - { id: fix, if: "${{ !steps.critic.output.ok }}", llm: "fix" }
)"));
  for (int it = 1; it <= 3; ++it) {
    Dispatch c = h.Pop("critic");
    EXPECT_EQ(c.iteration, it);
    bool ok = it == 3;
    h.Outcome(c, Status::Ok(), json::object{{"ok", ok}, {"n", it}});
    if (!ok) h.Outcome(h.Pop("fix"), Status::Ok(), json::value("fixed " + std::to_string(it)));
  }
  EXPECT_EQ(h.Status("l"), "succeeded");
  const auto& out = h.state.StepOutput(h.wf->StepIndex("l")).get_object();
  EXPECT_EQ(out.at("iterations"), 3);
  EXPECT_EQ(out.at("stopped_by"), "until");
  EXPECT_EQ(h.Count(EventType::kIterationStarted), 3);
  EXPECT_EQ(h.Count(EventType::kIterationFinished), 3);
  h.ExpectFoldMatches();
}

TEST(ContainersTest, RepeatedIterationIsLoopDetected) {
  Harness h(Load(std::string(kHead) + R"(
steps:
  - id: l
    loop:
      max_iterations: 10
      steps: [ { id: guess, llm: "g" } ]
)"));
  h.Outcome(h.Pop("guess"), Status::Ok(), "A");
  h.Outcome(h.Pop("guess"), Status::Ok(), "B");
  h.Outcome(h.Pop("guess"), Status::Ok(), "A");
  EXPECT_EQ(h.state.status(), RunStatus::kFailed);
  EXPECT_EQ(h.state.error().at("type"), "loop_detected");
  h.ExpectFoldMatches();
}

TEST(ContainersTest, ConvergenceWithPatienceStopsAScoreThatStopsImproving) {
  Harness h(Load(std::string(kHead) + R"(
steps:
  - id: l
    loop:
      max_iterations: 10
      converge_on: { value: "${{ steps.s.output.score }}", patience: 2 }
      steps: [ { id: s, llm: { model: m, prompt: "x", output_schema: { type: object } } } ]
)"));
  for (double score : {0.5, 0.7, 0.69, 0.7}) {
    h.Outcome(h.Pop("s"), Status::Ok(), json::object{{"score", score}, {"i", score * 100}});
  }
  EXPECT_EQ(h.Status("l"), "succeeded");
  EXPECT_EQ(h.state.StepOutput(h.wf->StepIndex("l")).at("stopped_by"), "no_improvement");
  EXPECT_EQ(h.state.StepOutput(h.wf->StepIndex("l")).at("iterations"), 4);
  h.ExpectFoldMatches();
}

TEST(ContainersTest, TolerateLetsAFanOutLoseSomeItems) {
  Harness h(Load(std::string(kHead) + R"(
steps:
  - id: map
    for_each: [1, 2, 3, 4]
    tolerate: 25%
    llm: "${{ item }}"
)"));
  Dispatch x0 = h.Pop("map");
  Dispatch x1 = h.Pop("map");
  Dispatch x2 = h.Pop("map");
  Dispatch x3 = h.Pop("map");
  h.Outcome(x1, Status(Code::kInvalidArgument, "bad", "invalid_request"));
  EXPECT_EQ(h.Status("map"), "running");
  h.Outcome(x0, Status::Ok(), "a");
  h.Outcome(x2, Status::Ok(), "c");
  h.Outcome(x3, Status::Ok(), "d");
  EXPECT_EQ(h.Status("map"), "succeeded");
  EXPECT_EQ(CanonicalJson(h.state.StepOutput(0)), R"(["a",null,"c","d"])");
  h.ExpectFoldMatches();
}

TEST(ContainersTest, PriorityOrdersStartsUnderTheRunsConcurrencyLimit) {
  Harness h(Load(std::string(kHead) + R"(
max_concurrency: 1
steps:
  - { id: low, needs: [], priority: low, llm: "l" }
  - { id: normal, needs: [], llm: "n" }
  - { id: urgent, needs: [], priority: critical, llm: "c" }
  - { id: high, needs: [], priority: high, llm: "h" }
)"));
  std::vector<std::string> order;
  for (int k = 0; k < 4; ++k) {
    ASSERT_EQ(h.pending.size(), 1u);
    Dispatch x = h.pending.front();
    order.push_back(h.wf->steps[static_cast<size_t>(x.step)].id);
    h.pending.clear();
    h.Outcome(x, Status::Ok(), "ok");
  }
  EXPECT_EQ(order, (std::vector<std::string>{"urgent", "high", "normal", "low"}));
  EXPECT_EQ(h.state.status(), RunStatus::kSucceeded);
}

}  // namespace
}  // namespace baton::core
