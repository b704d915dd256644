// The pure decider, driven directly: no clock, no I/O, no executor.

#include "core/decider.hpp"

#include <gtest/gtest.h>

#include "dsl/loader.hpp"
#include "testing/load_workflow.hpp"

namespace baton::core {
namespace {

std::shared_ptr<const Workflow> Load(const std::string& yaml) {
  return test_util::LoadWorkflowOrFail(yaml);
}

struct Harness {
  explicit Harness(std::shared_ptr<const Workflow> wf, json::object inputs = {}) : state(wf, "r1") {
    Event started = RunStartedEvent(inputs, {}, "/tmp", false, now);
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
    Dispatch x = pending.front();
    pending.erase(pending.begin());
    return x;
  }
  std::vector<std::string> Types() const {
    std::vector<std::string> t;
    for (const auto& e : journal) {
      std::string s(EventTypeName(e.type));
      if (!e.step.empty()) s += ":" + e.step;
      if (e.item >= 0) s += "[" + std::to_string(e.item) + "]";
      t.push_back(s);
    }
    return t;
  }
  int64_t now = 1000;
  RunState state;
  std::vector<Event> journal;
  std::vector<Dispatch> pending;
  Decision last;
};

constexpr const char* kModels = R"(
models:
  m: { provider: sim, model: sim-small }
agents:
  a: { model: m, instructions: "be brief" }
)";

TEST(DeciderTest, SetChainRunsInlineInOneDecision) {
  auto wf = Load(R"(
baton: 1
name: chain
inputs:
  n: { type: integer }
steps:
  - { id: a, set: { memory.x: "${{ inputs.n + 1 }}" } }
  - { id: b, set: { y: "${{ memory.x * 2 }}" } }
  - { id: c, set: { z: "${{ steps.b.output.y + 1 }}" } }
outputs:
  z: ${{ steps.c.output.z }}
)");
  Harness h(wf, json::object{{"n", 4}});
  EXPECT_TRUE(h.pending.empty());
  EXPECT_TRUE(h.last.finished);
  EXPECT_EQ(h.state.status(), RunStatus::kSucceeded);
  EXPECT_EQ(h.state.outputs().at("z").as_int64(), 11);
  EXPECT_EQ(h.state.memory_view().at("x").as_int64(), 5);
}

TEST(DeciderTest, IndependentStepsDispatchTogetherAndJoin) {
  auto wf = Load(std::string(R"(
baton: 1
name: dag
)") + kModels + R"(
steps:
  - { id: x, agent: a, input: "one" }
  - { id: y, agent: a, input: "two", needs: [] }
  - { id: z, agent: a, input: "${{ steps.x.output }} ${{ steps.y.output }}", needs: [x, y] }
outputs:
  z: ${{ steps.z.output }}
)");
  Harness h(wf);
  ASSERT_EQ(h.pending.size(), 2u);
  Dispatch x = h.Pop(), y = h.Pop();
  EXPECT_EQ(x.input.at("input").as_string(), "one");
  EXPECT_EQ(x.input.at("system").as_string(), "be brief");
  h.Succeed(y, "B");
  EXPECT_TRUE(h.pending.empty());
  h.Succeed(x, "A");
  ASSERT_EQ(h.pending.size(), 1u);
  Dispatch z = h.Pop();
  EXPECT_EQ(z.input.at("input").as_string(), "A B");
  h.Succeed(z, "done");
  EXPECT_EQ(h.state.status(), RunStatus::kSucceeded);
  EXPECT_EQ(h.state.outputs().at("z").as_string(), "done");
  // Agent outputs are visible as memory.<step>.
  EXPECT_EQ(h.state.memory_view().at("x").as_string(), "A");
}

TEST(DeciderTest, ForEachRespectsMaxParallelAndKeepsItemOrder) {
  auto wf = Load(std::string(R"(
baton: 1
name: fan
)") + kModels + R"(
steps:
  - id: f
    for_each: ${{ [10, 20, 30, 40, 50] }}
    as: n
    max_parallel: 2
    agent: a
    input: ${{ n + index }}
outputs:
  all: ${{ steps.f.output }}
)");
  Harness h(wf);
  ASSERT_EQ(h.pending.size(), 2u);
  Dispatch d0 = h.Pop(), d1 = h.Pop();
  EXPECT_EQ(d0.item, 0);
  EXPECT_EQ(d1.input.at("input").as_int64(), 21);
  h.Succeed(d1, "r1");  // out of order
  ASSERT_EQ(h.pending.size(), 1u);
  Dispatch d2 = h.Pop();
  EXPECT_EQ(d2.item, 2);
  h.Succeed(d0, "r0");
  h.Succeed(d2, "r2");
  ASSERT_EQ(h.pending.size(), 2u);
  Dispatch d3 = h.Pop(), d4 = h.Pop();
  h.Succeed(d4, "r4");
  h.Succeed(d3, "r3");
  ASSERT_EQ(h.state.status(), RunStatus::kSucceeded);
  const auto& all = h.state.outputs().at("all").as_array();
  ASSERT_EQ(all.size(), 5u);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(all[i].as_string(), "r" + std::to_string(i));
}

TEST(DeciderTest, RetriesRetryableErrorsWithinBackoffBounds) {
  auto wf = Load(std::string(R"(
baton: 1
name: retry
)") + kModels + R"(
defaults:
  retry: { max_attempts: 3, backoff: { initial: 100ms, factor: 2, max: 1s } }
steps:
  - { id: s, agent: a, input: "x" }
)");
  Harness h(wf);
  Dispatch a1 = h.Pop();
  h.Fail(a1, Status(Code::kUnavailable, "503", "server_error"));
  EXPECT_TRUE(h.pending.empty());
  const Event& retry = h.journal.back();
  ASSERT_EQ(retry.type, EventType::kRetryScheduled);
  int64_t delay = retry.data.at("delay_ms").as_int64();
  EXPECT_GE(delay, 0);
  EXPECT_LE(delay, 100);
  EXPECT_EQ(h.last.wake_at_ms, h.now + delay);
  h.now += delay;
  Decision d;
  Decider::Advance(h.state, h.now, d);
  h.Take(d);
  Dispatch a2 = h.Pop();
  EXPECT_EQ(a2.attempt, 2);
  h.Fail(a2, Status(Code::kUnavailable, "503", "server_error"));
  h.now += 1000;
  Decision d2;
  Decider::Advance(h.state, h.now, d2);
  h.Take(d2);
  Dispatch a3 = h.Pop();
  EXPECT_EQ(a3.attempt, 3);
  h.Fail(a3, Status(Code::kUnavailable, "503", "server_error"));
  EXPECT_EQ(h.state.status(), RunStatus::kFailed);
  EXPECT_EQ(h.state.step(0).attempts, 3);
  EXPECT_EQ(h.state.error().at("type").as_string(), "server_error");
}

TEST(DeciderTest, ForEachItemRetriesAloneAndKeepsItemOrder) {
  auto wf = Load(std::string(R"(
baton: 1
name: fan-retry
)") + kModels + R"(
defaults:
  retry: { max_attempts: 2, backoff: { initial: 10ms, max: 10ms } }
steps:
  - { id: f, for_each: "${{ [1, 2, 3] }}", agent: a, input: "${{ item }}" }
outputs:
  all: ${{ steps.f.output }}
)");
  Harness h(wf);
  ASSERT_EQ(h.pending.size(), 3u);
  Dispatch d0 = h.Pop(), d1 = h.Pop(), d2 = h.Pop();
  h.Fail(d1, Status(Code::kUnavailable, "503", "server_error"));
  EXPECT_TRUE(h.pending.empty());
  EXPECT_GT(h.last.wake_at_ms, 0);
  h.Succeed(d0, "r0");
  h.Succeed(d2, "r2");
  EXPECT_EQ(h.state.status(), RunStatus::kRunning);
  h.now += 10;
  Decision d;
  Decider::Advance(h.state, h.now, d);
  h.Take(d);
  ASSERT_EQ(h.pending.size(), 1u);
  Dispatch again = h.Pop();
  EXPECT_EQ(again.item, 1);
  EXPECT_EQ(again.attempt, 2);
  h.Succeed(again, "r1");
  ASSERT_EQ(h.state.status(), RunStatus::kSucceeded);
  const auto& all = h.state.outputs().at("all").as_array();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[1].as_string(), "r1");
  EXPECT_EQ(h.state.step(0).attempts, 4);
}

TEST(DeciderTest, RetryDelayIsFullJitterCappedExponential) {
  RetryPolicy p;
  p.backoff.initial = Millis(100);
  p.backoff.factor = 2;
  p.backoff.max = Millis(500);
  for (uint64_t seed = 0; seed < 2000; ++seed) {
    for (int attempt = 1; attempt <= 6; ++attempt) {
      int64_t cap = std::min<int64_t>(500, 100LL << (attempt - 1));
      int64_t d = RetryDelay(p, attempt, seed).count();
      ASSERT_GE(d, 0);
      ASSERT_LE(d, cap);
    }
  }
  p.backoff.jitter = false;
  EXPECT_EQ(RetryDelay(p, 3, 7).count(), 400);
}

TEST(DeciderTest, NonRetryableErrorFailsAtOnceAndCancelsSiblings) {
  auto wf = Load(std::string(R"(
baton: 1
name: fail
)") + kModels + R"(
defaults:
  retry: { max_attempts: 5 }
steps:
  - { id: x, agent: a, input: "1" }
  - { id: y, agent: a, input: "2", needs: [] }
)");
  Harness h(wf);
  Dispatch x = h.Pop(), y = h.Pop();
  h.Fail(x, Status(Code::kInvalidArgument, "bad", "invalid_request"));
  EXPECT_TRUE(h.last.cancel_in_flight);
  EXPECT_FALSE(h.last.finished);
  h.Fail(y, Cancelled("cancelled"));
  EXPECT_EQ(h.state.status(), RunStatus::kFailed);
  EXPECT_EQ(h.state.error().at("step").as_string(), "x");
}

TEST(DeciderTest, CatchContinueAndOutput) {
  auto wf = Load(std::string(R"(
baton: 1
name: catch
)") + kModels + R"(
steps:
  - id: x
    agent: a
    input: "1"
    catch:
      - { errors: [tool_error], then: continue }
  - id: y
    agent: a
    input: "2"
    catch:
      - { then: { output: "fallback" } }
outputs:
  x: ${{ steps.x.output }}
  y: ${{ steps.y.output }}
  xs: ${{ steps.x.status }}
)");
  Harness h(wf);
  h.Fail(h.Pop(), Status(Code::kUnavailable, "exit 1", "tool_error"));
  h.Fail(h.Pop(), Status(Code::kInvalidArgument, "nope", "invalid_request"));
  ASSERT_EQ(h.state.status(), RunStatus::kSucceeded);
  EXPECT_TRUE(h.state.outputs().at("x").is_null());
  EXPECT_EQ(h.state.outputs().at("y").as_string(), "fallback");
  EXPECT_EQ(h.state.outputs().at("xs").as_string(), "succeeded");
}

TEST(DeciderTest, FalseConditionSkipsAndSkippedDependencyIsSatisfied) {
  auto wf = Load(R"(
baton: 1
name: cond
steps:
  - { id: a, set: { v: 1 } }
  - { id: b, if: "${{ steps.a.output.v > 5 }}", set: { big: true } }
  - { id: c, set: { done: "${{ steps.b.status }}" } }
outputs:
  c: ${{ steps.c.output.done }}
)");
  Harness h(wf);
  EXPECT_EQ(h.state.status(), RunStatus::kSucceeded);
  EXPECT_EQ(h.state.outputs().at("c").as_string(), "skipped");
}

TEST(DeciderTest, UserCancelWaitsForInFlightThenEndsCancelled) {
  auto wf = Load(std::string(R"(
baton: 1
name: cancel
)") + kModels + R"(
steps:
  - { id: x, agent: a, input: "1" }
  - { id: y, agent: a, input: "2" }
)");
  Harness h(wf);
  Dispatch x = h.Pop();
  Decision d;
  Decider::RequestCancel(h.state, "user", {}, h.now, d);
  EXPECT_TRUE(d.cancel_in_flight);
  h.Take(d);
  h.Fail(x, Cancelled("cancelled"));
  EXPECT_EQ(h.state.status(), RunStatus::kCancelled);
  EXPECT_TRUE(h.pending.empty());
}

TEST(DeciderTest, ResumeFoldsJournalAndRerunsOnlyUnfinishedWork) {
  auto wf = Load(std::string(R"(
baton: 1
name: resume
)") + kModels + R"(
steps:
  - { id: x, agent: a, input: "1" }
  - id: f
    for_each: ${{ [1, 2, 3] }}
    agent: a
    input: ${{ item }}
  - { id: z, agent: a, input: "${{ steps.f.output }}" }
outputs:
  z: ${{ steps.z.output }}
)");
  Harness h(wf);
  h.Succeed(h.Pop(), "X");
  ASSERT_EQ(h.pending.size(), 3u);
  Dispatch f0 = h.Pop(), f1 = h.Pop();
  h.Succeed(f1, "F1");
  // "Crash": a new state folds the journal so far.
  RunState resumed(wf, "r1");
  for (const auto& e : h.journal) resumed.Apply(e);
  EXPECT_EQ(resumed.steps_view().at("x").at("output").as_string(), "X");
  Decision d;
  Decider::Recover(resumed, h.now, d);
  std::vector<std::pair<int32_t, int32_t>> redo;
  for (const auto& x : d.dispatch) redo.emplace_back(x.item, x.attempt);
  // Items 0 and 2 were in flight: they run again as attempt 2; item 1 and step x are done.
  EXPECT_EQ(redo, (std::vector<std::pair<int32_t, int32_t>>{{0, 2}, {2, 2}}));
  (void)f0;
}

TEST(DeciderTest, OnceEffectInFlightAtCrashNeedsAttention) {
  auto wf = Load(std::string(R"(
baton: 1
name: once
)") + kModels + R"(
steps:
  - { id: pay, agent: a, input: "charge", effect: once }
)");
  Harness h(wf);
  (void)h.Pop();
  RunState resumed(wf, "r1");
  for (const auto& e : h.journal) resumed.Apply(e);
  Decision d;
  Decider::Recover(resumed, h.now, d);
  EXPECT_TRUE(d.dispatch.empty());
  EXPECT_EQ(resumed.status(), RunStatus::kFailed);
  EXPECT_EQ(resumed.error().at("type").as_string(), "needs_attention");
}

TEST(DeciderTest, BudgetExceededStopsTheRun) {
  auto wf = Load(std::string(R"(
baton: 1
name: budget
)") + kModels + R"(
budget: { max_tokens: 100 }
steps:
  - { id: x, agent: a, input: "1" }
  - { id: y, agent: a, input: "2" }
)");
  Harness h(wf);
  Dispatch x = h.Pop();
  Event fact;
  fact.type = EventType::kModelCalled;
  fact.step = "x";
  fact.data["usage"] = json::object{{"input_tokens", 90}, {"output_tokens", 20}, {"cost_usd", 0.0}};
  StepOutcome o{x.step, x.item, x.attempt, Status::Ok(), "X", {fact}};
  Decision d;
  Decider::OnOutcome(h.state, std::move(o), h.now, d);
  h.Take(d);
  EXPECT_TRUE(h.pending.empty());
  EXPECT_EQ(h.state.status(), RunStatus::kFailed);
  EXPECT_EQ(h.state.error().at("type").as_string(), "budget_exceeded");
}

TEST(DeciderTest, FoldOfEmittedEventsReproducesTheState) {
  auto wf = Load(std::string(R"(
baton: 1
name: fold
)") + kModels + R"(
steps:
  - { id: a, set: { memory.k: 1 } }
  - { id: f, for_each: "${{ [1, 2] }}", agent: a, input: "${{ item }}" }
outputs:
  f: ${{ steps.f.output }}
)");
  Harness h(wf);
  h.Succeed(h.Pop(), "one");
  h.Succeed(h.Pop(), "two");
  RunState folded(wf, "r1");
  for (const auto& e : h.journal) folded.Apply(e);
  EXPECT_EQ(CanonicalJson(folded.steps_view()), CanonicalJson(h.state.steps_view()));
  EXPECT_EQ(CanonicalJson(folded.memory_view()), CanonicalJson(h.state.memory_view()));
  EXPECT_EQ(CanonicalJson(folded.outputs()), CanonicalJson(h.state.outputs()));
  for (size_t i = 0; i < h.journal.size(); ++i) EXPECT_EQ(h.journal[i].seq, i + 1);
}

}  // namespace
}  // namespace baton::core
