// Approvals, emit and wait steps in the pure decider: signals, timers and timeouts, driven
// directly with a hand-moved clock; resume is a fold of the journal into a fresh RunState.

#include "core/waits.hpp"

#include <gtest/gtest.h>

#include "dsl/loader.hpp"
#include "testing/load_workflow.hpp"

namespace baton::core {
namespace {

std::shared_ptr<const Workflow> Load(const std::string& yaml) {
  return test_util::LoadWorkflowOrFail(yaml);
}

std::string Diagnostics(const std::string& yaml) {
  auto r = dsl::LoadWorkflowText(yaml, "test.yaml");
  std::string diags;
  for (const auto& d : r.diagnostics) diags += dsl::FormatDiagnostic(d) + "\n";
  return diags;
}

struct Harness {
  explicit Harness(std::shared_ptr<const Workflow> workflow, json::object inputs = {})
      : wf(workflow), state(std::make_unique<RunState>(workflow, "r1")) {
    Event started = RunStartedEvent(inputs, {}, "/tmp", false, now);
    state->Apply(started);
    journal.push_back(started);
    Decision d;
    Decider::Advance(*state, now, d);
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
    Decider::OnOutcome(*state, std::move(o), now, d);
    Take(d);
  }
  Dispatch Pop() {
    EXPECT_FALSE(pending.empty());
    Dispatch x = pending.front();
    pending.erase(pending.begin());
    return x;
  }
  void Signal(json::object signal) {
    Decision d;
    Decider::Signal(*state, std::move(signal), now, d);
    Take(d);
  }
  void Approve(std::string step, bool approved = true, json::object extra = {}) {
    extra["kind"] = "approval";
    extra["step"] = std::move(step);
    extra["approved"] = approved;
    extra["signal"] = ++signal_id;
    Signal(std::move(extra));
  }
  void Send(std::string name, json::value data) {
    Signal({{"kind", "event"},
            {"event", std::move(name)},
            {"data", std::move(data)},
            {"id", "ev" + std::to_string(signal_id + 1)},
            {"signal", ++signal_id}});
  }
  void AdvanceTo(int64_t t) {
    now = t;
    Decision d;
    Decider::Advance(*state, now, d);
    Take(d);
  }
  // A new process: fold the journal so far, recover, and go on from there.
  void Restart(int64_t t) {
    now = t;
    state = std::make_unique<RunState>(wf, "r1");
    for (const auto& e : journal) state->Apply(e);
    pending.clear();
    Decision d;
    Decider::Recover(*state, now, d);
    Take(d);
  }
  std::vector<std::string> Types(size_t from = 0) const {
    std::vector<std::string> t;
    for (size_t k = from; k < journal.size(); ++k) {
      const Event& e = journal[k];
      std::string s(EventTypeName(e.type));
      if (!e.step.empty()) s += ":" + e.step;
      if (e.item >= 0) s += "[" + std::to_string(e.item) + "]";
      t.push_back(s);
    }
    return t;
  }
  const Event* Last(EventType type) const {
    for (auto it = journal.rbegin(); it != journal.rend(); ++it) {
      if (it->type == type) return &*it;
    }
    return nullptr;
  }
  const json::value& Output(const std::string& step) const {
    return state->steps_view().at(step).at("output");
  }
  std::string StepStatus(const std::string& step) const {
    return std::string(state->steps_view().at(step).at("status").as_string());
  }

  std::shared_ptr<const Workflow> wf;
  int64_t now = 1'000'000;
  std::unique_ptr<RunState> state;
  std::vector<Event> journal;
  std::vector<Dispatch> pending;
  Decision last;
  int64_t signal_id = 0;
};

constexpr const char* kTools = R"(
tools:
  t: { exec: { argv: ["true"] } }
)";

TEST(WaitsTest, ApprovalWaitsWhileAnotherBranchRuns) {
  auto wf = Load(std::string(R"(
baton: 1
name: gate
)") + kTools + R"(
steps:
  - { id: work, call: t, needs: [] }
  - { id: gate, approval: "Ship ${{ inputs.v }}?", needs: [] }
  - { id: after, set: { shipped: "${{ steps.gate.output.comment }}" }, needs: [gate, work] }
inputs:
  v: { type: string }
outputs:
  by: ${{ steps.gate.output.by }}
)");
  Harness h(wf, {{"v", "1.2"}});
  EXPECT_EQ(h.Types(1), (std::vector<std::string>{"step_started:work", "step_started:gate",
                                                  "approval_requested:gate"}));
  EXPECT_EQ(h.Last(EventType::kApprovalRequested)->data.at("prompt"), "Ship 1.2?");
  EXPECT_EQ(h.pending.size(), 1u);     // only the agent is dispatched
  EXPECT_FALSE(CanSuspend(*h.state));  // the agent step still runs
  h.Succeed(h.Pop(), "text");
  EXPECT_TRUE(CanSuspend(*h.state));  // only the approval is left
  EXPECT_EQ(h.state->status(), RunStatus::kRunning);

  h.Approve("gate", true, {{"comment", "go"}, {"by", "ana"}, {"data", json::object{{"n", 1}}}});
  const Event* given = h.Last(EventType::kApprovalGiven);
  ASSERT_NE(given, nullptr);
  EXPECT_EQ(given->data.at("approved"), true);
  EXPECT_EQ(given->data.at("signal"), 1);
  EXPECT_EQ(
      h.Output("gate"),
      (json::value{
          {"approved", true}, {"comment", "go"}, {"data", json::object{{"n", 1}}}, {"by", "ana"}}));
  EXPECT_EQ(h.state->status(), RunStatus::kSucceeded);
  EXPECT_EQ(h.Output("after").at("shipped"), "go");
  EXPECT_EQ(h.state->outputs().at("by"), "ana");
  EXPECT_TRUE(h.state->waits().empty());
}

TEST(WaitsTest, TwoPendingApprovalsAreDecidedIndependently) {
  auto wf = Load(R"(
baton: 1
name: two
steps:
  - { id: legal, approval: { prompt: "legal ok?" }, needs: [] }
  - { id: money, approval: { prompt: "budget ok?", approvers: [cfo] }, needs: [] }
  - { id: go, set: { ok: true }, needs: [legal, money] }
)");
  Harness h(wf);
  ASSERT_EQ(h.state->waits().pending().size(), 2u);
  EXPECT_TRUE(CanSuspend(*h.state));
  h.Approve("nope");                          // nothing waits for it: ignored
  h.Approve("money", true, {{"by", "bob"}});  // not an approver: ignored
  EXPECT_EQ(h.state->waits().pending().size(), 2u);
  EXPECT_EQ(h.Last(EventType::kApprovalGiven), nullptr);
  h.Approve("money", true, {{"by", "cfo"}});
  EXPECT_EQ(h.StepStatus("money"), "succeeded");
  EXPECT_EQ(h.StepStatus("legal"), "running");
  // The same signal again (a redelivery) changes nothing.
  size_t before = h.journal.size();
  h.Signal({{"kind", "approval"}, {"step", "legal"}, {"approved", true}, {"signal", 3}});
  EXPECT_EQ(h.journal.size(), before);
  h.Approve("legal");
  EXPECT_EQ(h.state->status(), RunStatus::kSucceeded);
}

TEST(WaitsTest, RejectionFailsTheStepAndCatchCanHandleIt) {
  auto wf = Load(R"(
baton: 1
name: reject
steps:
  - id: soft
    approval: "may I?"
    needs: []
    catch: [{ error: approval_rejected, then: { output: "${{ error.message }}" } }]
  - { id: hard, approval: "really?", needs: [soft] }
)");
  Harness h(wf);
  h.Approve("soft", false, {{"by", "ana"}, {"comment", "too risky"}});
  EXPECT_EQ(h.StepStatus("soft"), "succeeded");
  EXPECT_EQ(h.Output("soft"), "approval of step 'soft' was rejected by ana: too risky");
  EXPECT_EQ(h.state->waits().pending().size(), 1u);
  h.Approve("hard", false);
  EXPECT_EQ(h.state->status(), RunStatus::kFailed);
  EXPECT_EQ(h.state->error().at("type"), "approval_rejected");
  EXPECT_EQ(h.state->error().at("step"), "hard");
}

TEST(WaitsTest, ApprovalTimeoutsFollowOnTimeout) {
  auto wf = Load(R"(
baton: 1
name: timeouts
steps:
  - { id: f, approval: { prompt: p, timeout: 1h, on_timeout: fail }, needs: [],
      catch: [{ error: timeout, then: continue }] }
  - { id: a, approval: { prompt: p, timeout: 2h, on_timeout: approve }, needs: [] }
  - { id: r, approval: { prompt: p, timeout: 3h, on_timeout: reject }, needs: [] }
)");
  Harness h(wf);
  int64_t start = h.now;
  EXPECT_EQ(h.last.wake_at_ms, start + 3'600'000);
  EXPECT_EQ(h.Last(EventType::kApprovalRequested)->data.at("timeout_at_ms"), start + 3 * 3'600'000);
  h.AdvanceTo(start + 3'599'999);
  EXPECT_EQ(h.Last(EventType::kApprovalGiven), nullptr);
  h.AdvanceTo(start + 3'600'000);
  EXPECT_EQ(h.StepStatus("f"), "succeeded");  // failed with timeout, caught
  EXPECT_EQ(h.state->steps_view().at("f").at("error").at("type"), "timeout");
  EXPECT_EQ(h.Last(EventType::kApprovalGiven)->data.at("timed_out"), true);
  EXPECT_EQ(h.last.wake_at_ms, start + 2 * 3'600'000);
  h.AdvanceTo(start + 2 * 3'600'000);
  EXPECT_EQ(h.Output("a").at("approved"), true);
  EXPECT_EQ(h.Output("a").at("timed_out"), true);
  h.AdvanceTo(start + 3 * 3'600'000);
  EXPECT_EQ(h.state->status(), RunStatus::kFailed);
  EXPECT_EQ(h.state->error().at("type"), "approval_rejected");
  EXPECT_EQ(h.state->error().at("step"), "r");
}

TEST(WaitsTest, TimerWaitKeepsItsDeadlineAcrossARestart) {
  auto wf = Load(R"(
baton: 1
name: timer
steps:
  - { id: nap, wait: { for: 10s } }
  - { id: done, set: { ok: "${{ steps.nap.output.timer }}" } }
)");
  Harness h(wf);
  int64_t start = h.now;
  EXPECT_EQ(h.Last(EventType::kWaitStarted)->data.at("until_ms"), start + 10'000);
  EXPECT_EQ(h.last.wake_at_ms, start + 10'000);
  EXPECT_FALSE(CanSuspend(*h.state));  // timers stay in the process
  size_t before = h.journal.size();
  h.Restart(start + 4'000);
  EXPECT_EQ(h.journal.size(), before);           // nothing re-run, nothing new
  EXPECT_EQ(h.last.wake_at_ms, start + 10'000);  // the rest of the wait only
  h.AdvanceTo(start + 10'000);
  EXPECT_EQ(h.Types(before), (std::vector<std::string>{"event_received:nap", "step_succeeded:nap",
                                                       "step_succeeded:done", "run_finished"}));
  EXPECT_EQ(h.Output("done").at("ok"), true);
}

TEST(WaitsTest, PendingApprovalSurvivesARestartAndIsDecidedAfterIt) {
  auto wf = Load(R"(
baton: 1
name: restart
steps:
  - { id: gate, approval: { prompt: "ok?", timeout: 1h } }
)");
  Harness h(wf);
  int64_t start = h.now;
  size_t before = h.journal.size();
  h.Restart(start + 60'000);
  EXPECT_EQ(h.journal.size(), before);  // not re-requested, not retried
  EXPECT_TRUE(CanSuspend(*h.state));
  EXPECT_EQ(h.last.wake_at_ms, start + 3'600'000);
  h.Approve("gate");
  EXPECT_EQ(h.state->status(), RunStatus::kSucceeded);
}

TEST(WaitsTest, EventWaitReceivesOnlyMatchingEvents) {
  auto wf = Load(R"(
baton: 1
name: events
inputs:
  order: { type: integer }
steps:
  - id: paid
    wait: { event: order.paid, match: "${{ event.order == inputs.order }}", timeout: 1h }
  - { id: note, set: { amount: "${{ steps.paid.output.data.amount }}" } }
)");
  Harness h(wf, {{"order", 7}});
  const Event* started = h.Last(EventType::kWaitStarted);
  EXPECT_EQ(started->data.at("event"), "order.paid");
  EXPECT_EQ(started->data.at("timeout_at_ms"), h.now + 3'600'000);
  EXPECT_TRUE(CanSuspend(*h.state));
  h.Send("order.shipped", json::object{{"order", 7}});  // another name
  h.Send("order.paid", json::object{{"order", 8}});     // does not match
  h.Send("order.paid", json::string("oops"));           // match fails on it: no match
  EXPECT_EQ(h.Last(EventType::kEventReceived), nullptr);
  h.Send("order.paid", json::object{{"order", 7}, {"amount", 30}});
  const Event* got = h.Last(EventType::kEventReceived);
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->data.at("id"), "ev4");
  EXPECT_EQ(h.Output("paid"), (json::value{{"event", "order.paid"},
                                           {"data", json::object{{"order", 7}, {"amount", 30}}},
                                           {"id", "ev4"}}));
  EXPECT_EQ(h.state->status(), RunStatus::kSucceeded);
  EXPECT_EQ(h.Output("note").at("amount"), 30);
}

TEST(WaitsTest, EventWaitTimeoutContinuesOrFails) {
  auto wf = Load(R"(
baton: 1
name: wait-timeouts
steps:
  - { id: soft, wait: { event: a, timeout: 1m, on_timeout: continue }, needs: [] }
  - { id: hard, wait: { event: b, timeout: 2m }, needs: [] }
)");
  Harness h(wf);
  h.AdvanceTo(h.now + 60'000);
  EXPECT_EQ(h.Output("soft"),
            (json::value{{"timed_out", true}, {"event", "a"}, {"data", nullptr}}));
  h.AdvanceTo(h.now + 60'000);
  EXPECT_EQ(h.state->status(), RunStatus::kFailed);
  EXPECT_EQ(h.state->error().at("type"), "timeout");
  EXPECT_EQ(h.state->steps_view().at("hard").at("attempts"), 1);  // a wait's timeout is final
}

TEST(WaitsTest, EmitRecordsTheEventInlineAndFansOut) {
  auto wf = Load(R"(
baton: 1
name: emitter
steps:
  - { id: one, emit: { event: job.done, data: { n: 1 } } }
  - id: many
    for_each: ${{ [1, 2] }}
    emit: { event: item.done, data: "${{ item * 10 }}" }
outputs:
  id: ${{ steps.one.output.id }}
  many: ${{ steps.many.output }}
)");
  Harness h(wf);
  EXPECT_TRUE(h.pending.empty());
  EXPECT_EQ(h.state->status(), RunStatus::kSucceeded);
  std::vector<const Event*> emitted;
  for (const auto& e : h.journal) {
    if (e.type == EventType::kEventEmitted) emitted.push_back(&e);
  }
  ASSERT_EQ(emitted.size(), 3u);
  EXPECT_EQ(emitted[0]->data.at("event"), "job.done");
  EXPECT_EQ(emitted[0]->data.at("data"), (json::value{{"n", 1}}));
  EXPECT_EQ(emitted[0]->data.at("id"), json::value("r1." + std::to_string(emitted[0]->seq)));
  EXPECT_EQ(emitted[2]->data.at("data"), 20);
  EXPECT_EQ(h.state->outputs().at("id"), emitted[0]->data.at("id"));
  EXPECT_EQ(h.state->outputs().at("many").as_array().size(), 2u);
  EXPECT_EQ(h.state->outputs().at("many").at(1).at("data"), 20);
}

TEST(WaitsTest, CancellingARunCancelsItsWaits) {
  auto wf = Load(R"(
baton: 1
name: cancel
steps:
  - { id: gate, approval: "ok?", needs: [] }
  - { id: ev, wait: { event: x }, needs: [] }
)");
  Harness h(wf);
  Decision d;
  Decider::RequestCancel(*h.state, "user", {}, h.now, d);
  h.Take(d);
  EXPECT_EQ(h.state->status(), RunStatus::kCancelled);
  EXPECT_TRUE(h.state->waits().empty());
  EXPECT_EQ(h.StepStatus("gate"), "cancelled");
  // A decision arriving after the end changes nothing.
  size_t before = h.journal.size();
  h.Approve("gate");
  EXPECT_EQ(h.journal.size(), before);
}

TEST(WaitsTest, UntilTakesATimestamp) {
  auto wf = Load(R"(
baton: 1
name: until
inputs:
  at: { type: string }
steps:
  - { id: w, wait: { until: "${{ inputs.at }}" } }
)");
  Harness h(wf, {{"at", "1970-01-01T00:20:00Z"}});
  EXPECT_EQ(h.Last(EventType::kWaitStarted)->data.at("until_ms"), 1'200'000);
  h.AdvanceTo(1'200'000);
  EXPECT_EQ(h.state->status(), RunStatus::kSucceeded);
  Harness bad(wf, {{"at", "tomorrow"}});
  EXPECT_EQ(bad.state->status(), RunStatus::kFailed);
  EXPECT_EQ(bad.state->error().at("type"), "expression");
}

TEST(WaitsTest, ParsesTimestamps) {
  EXPECT_EQ(ParseTimestampMs(json::value(5)), 5);
  EXPECT_EQ(ParseTimestampMs(json::value("1970-01-02")), 86'400'000);
  EXPECT_EQ(ParseTimestampMs(json::value("2026-05-01T09:30:00Z")), 1'777'627'800'000);
  EXPECT_EQ(ParseTimestampMs(json::value("2026-05-01T11:30:00.25+02:00")), 1'777'627'800'250);
  EXPECT_EQ(ParseTimestampMs(json::value("2026-05-01T09:30:00")), std::nullopt);
  EXPECT_EQ(ParseTimestampMs(json::value("2026-13-01")), std::nullopt);
  EXPECT_EQ(ParseTimestampMs(json::value(true)), std::nullopt);
}

TEST(WaitsTest, LoaderChecksTheWaitKinds) {
  std::string d = Diagnostics(R"(
baton: 1
name: bad
steps:
  - { id: a, approval: { prompt: p, on_timeout: approve, who: x } }
  - { id: b, wait: { for: 1s, event: x } }
  - { id: c, wait: { for: 1s, match: "${{ event.x }}" } }
  - { id: d, emit: { event: "no spaces", data: 1 } }
  - { id: e, approval: p, timeout: 1m }
  - { id: f, wait: { event: x, match: "${{ evnt.x }}" } }
on: { event: "x", match: "${{ steps.a.output }}" }
)");
  EXPECT_NE(d.find("'on_timeout' needs a 'timeout'"), std::string::npos) << d;
  EXPECT_NE(d.find("unknown key 'who'"), std::string::npos) << d;
  EXPECT_NE(d.find("'wait' needs exactly one of"), std::string::npos) << d;
  EXPECT_NE(d.find("'match' is only valid with 'event'"), std::string::npos) << d;
  EXPECT_NE(d.find("invalid event name 'no spaces'"), std::string::npos) << d;
  EXPECT_NE(d.find("has its own timeout"), std::string::npos) << d;
  EXPECT_NE(d.find("evnt"), std::string::npos) << d;
  EXPECT_NE(d.find("unknown name 'steps'"), std::string::npos) << d;

  auto ok = Load(R"(
baton: 1
name: triggered
on: [order.paid, { event: order.refunded, match: "${{ event.total > 10 }}" }]
steps:
  - { id: s, set: { x: 1 } }
)");
  ASSERT_EQ(ok->triggers.size(), 2u);
  EXPECT_EQ(ok->triggers[0].event, "order.paid");
  EXPECT_FALSE(ok->triggers[0].match.has_value());
  EXPECT_EQ(ok->triggers[1].event, "order.refunded");
  EXPECT_TRUE(ok->triggers[1].match.has_value());
}

}  // namespace
}  // namespace baton::core
