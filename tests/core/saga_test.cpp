// Sagas (`compensate:`), driven through the pure decider: no clock, no I/O, no executor.

#include <gtest/gtest.h>

#include <algorithm>

#include "core/decider.hpp"
#include "dsl/loader.hpp"

namespace baton::core {
namespace {

struct Loaded {
  std::shared_ptr<const Workflow> workflow;
  std::string diagnostics;
};

Loaded TryLoad(const std::string& yaml) {
  auto r = dsl::LoadWorkflowText(yaml, "test.yaml");
  Loaded out{r.workflow, ""};
  for (const auto& d : r.diagnostics) out.diagnostics += dsl::FormatDiagnostic(d) + "\n";
  return out;
}

std::shared_ptr<const Workflow> Load(const std::string& yaml) {
  Loaded l = TryLoad(yaml);
  EXPECT_TRUE(l.workflow) << l.diagnostics;
  return l.workflow;
}

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
  void Fail(const Dispatch& x, std::string type) {
    StepOutcome o{x.step, x.item, x.attempt, Status(Code::kInternal, "it broke", std::move(type)),
                  {},     {}};
    Decision d;
    Decider::OnOutcome(state, std::move(o), now, d);
    Take(d);
  }
  // Pops the pending dispatch of step `id` (fails the test when there is none).
  Dispatch Pop(const std::string& id) {
    for (size_t k = 0; k < pending.size(); ++k) {
      if (state.workflow().steps[static_cast<size_t>(pending[k].step)].id == id) {
        Dispatch x = pending[k];
        pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(k));
        return x;
      }
    }
    ADD_FAILURE() << "no dispatch of " << id;
    return Dispatch{};
  }
  std::vector<std::string> PendingIds() const {
    std::vector<std::string> ids;
    for (const auto& x : pending) ids.push_back(state.workflow().steps[size_t(x.step)].id);
    return ids;
  }
  // "type:step" of every journaled event of `type`.
  std::vector<std::string> Of(EventType type) const {
    std::vector<std::string> out;
    for (const auto& e : journal) {
      if (e.type == type) out.push_back(e.step);
    }
    return out;
  }
  const Event* Find(EventType type) const {
    for (const auto& e : journal) {
      if (e.type == type) return &e;
    }
    return nullptr;
  }
  int64_t now = 1000;
  RunState state;
  std::vector<Event> journal;
  std::vector<Dispatch> pending;
  Decision last;
};

std::vector<std::string> Strings(const json::value& v) {
  std::vector<std::string> out;
  for (const auto& s : v.as_array()) out.emplace_back(s.as_string());
  return out;
}

constexpr const char* kHeader = R"(
baton: 1
name: saga
models:
  m: { provider: sim, model: sim-small }
agents:
  a: { model: m }
)";

// flight and hotel undo themselves; charge fails.
constexpr const char* kTrip = R"(
steps:
  - id: flight
    agent: a
    input: book a flight
    compensate: { agent: a, input: "cancel ${{ steps.flight.output }}" }
  - id: hotel
    agent: a
    input: book a hotel
    compensate:
      agent: a
      input: "cancel ${{ steps.hotel.output }}"
      retry: { max_attempts: 2, on: [tool_error], backoff: { initial: 1s, jitter: none } }
  - { id: charge, agent: a, input: charge the card }
)";

TEST(SagaTest, CompensatesInReverseOrderOfCompletionOneAtATime) {
  Harness h(Load(std::string(kHeader) + kTrip));
  h.Succeed(h.Pop("flight"), "F-1");
  h.Succeed(h.Pop("hotel"), "H-7");
  h.Fail(h.Pop("charge"), "tool_error");

  const Event* started = h.Find(EventType::kCompensationStarted);
  ASSERT_NE(started, nullptr);
  EXPECT_EQ(Strings(started->data.at("steps")), (std::vector<std::string>{"hotel", "flight"}));
  EXPECT_EQ(started->data.at("error").at("step").as_string(), "charge");
  // One at a time: only the hotel's compensation runs, with the hotel's output.
  ASSERT_EQ(h.PendingIds(), std::vector<std::string>{"hotel.compensate"});
  Dispatch undo_hotel = h.Pop("hotel.compensate");
  EXPECT_EQ(undo_hotel.input.at("input").as_string(), "cancel H-7");
  EXPECT_FALSE(h.last.cancel_in_flight);
  h.Succeed(undo_hotel, "ok");
  ASSERT_EQ(h.PendingIds(), std::vector<std::string>{"flight.compensate"});
  Dispatch undo_flight = h.Pop("flight.compensate");
  EXPECT_EQ(undo_flight.input.at("input").as_string(), "cancel F-1");
  EXPECT_FALSE(h.last.finished);
  h.Succeed(undo_flight, "ok");

  EXPECT_TRUE(h.last.finished);
  EXPECT_EQ(h.state.status(), RunStatus::kCompensated);
  // The run's error stays the failure that started the compensation.
  EXPECT_EQ(h.state.error().at("step").as_string(), "charge");
  EXPECT_EQ(h.state.error().at("type").as_string(), "tool_error");
  EXPECT_EQ(h.Of(EventType::kStepSucceeded),
            (std::vector<std::string>{"flight", "hotel", "hotel.compensate", "flight.compensate"}));
}

TEST(SagaTest, FailingCompensationIsRetriedThenTheRunEndsCompensationFailed) {
  Harness h(Load(std::string(kHeader) + kTrip));
  h.Succeed(h.Pop("flight"), "F-1");
  h.Succeed(h.Pop("hotel"), "H-7");
  h.Fail(h.Pop("charge"), "tool_error");
  h.Fail(h.Pop("hotel.compensate"), "tool_error");
  // Its retry policy applies although the run is failing.
  ASSERT_EQ(h.Of(EventType::kRetryScheduled), std::vector<std::string>{"hotel.compensate"});
  EXPECT_TRUE(h.pending.empty());
  EXPECT_EQ(h.last.wake_at_ms, h.now + 1000);
  h.now += 1000;
  Decision d;
  Decider::Advance(h.state, h.now, d);
  h.Take(d);
  Dispatch again = h.Pop("hotel.compensate");
  EXPECT_EQ(again.attempt, 2);
  h.Fail(again, "tool_error");
  // The rest is still undone.
  h.Succeed(h.Pop("flight.compensate"), "ok");

  EXPECT_EQ(h.state.status(), RunStatus::kCompensationFailed);
  const json::object& err = h.state.error();
  EXPECT_EQ(err.at("type").as_string(), "compensation_failed");
  ASSERT_EQ(err.at("not_undone").as_array().size(), 1u);
  EXPECT_EQ(err.at("not_undone").as_array()[0].at("step").as_string(), "hotel");
  EXPECT_EQ(err.at("not_undone").as_array()[0].at("error").at("type").as_string(), "tool_error");
  EXPECT_EQ(err.at("cause").at("step").as_string(), "charge");
  EXPECT_NE(std::string(err.at("message").as_string()).find("hotel"), std::string::npos);
}

TEST(SagaTest, NothingToCompensateIsAPlainFailure) {
  Harness h(Load(std::string(kHeader) + kTrip));
  h.Fail(h.Pop("flight"), "tool_error");
  EXPECT_EQ(h.state.status(), RunStatus::kFailed);
  EXPECT_EQ(h.Find(EventType::kCompensationStarted), nullptr);
  EXPECT_TRUE(h.pending.empty());
}

TEST(SagaTest, AUserCancelIsNotCompensated) {
  Harness h(Load(std::string(kHeader) + kTrip));
  h.Succeed(h.Pop("flight"), "F-1");
  Decision d;
  Decider::RequestCancel(h.state, "user", {}, h.now, d);
  h.Take(d);
  EXPECT_TRUE(h.last.cancel_in_flight);
  h.Fail(h.Pop("hotel"), "cancelled");
  EXPECT_EQ(h.state.status(), RunStatus::kCancelled);
  EXPECT_EQ(h.Find(EventType::kCompensationStarted), nullptr);
}

TEST(SagaTest, RunTimeoutWaitsForRunningStepsThenCompensates) {
  Harness h(Load(std::string(kHeader) + kTrip));
  h.Succeed(h.Pop("flight"), "F-1");
  Decision d;
  Decider::RequestCancel(h.state, "timeout",
                         json::object{{"type", "timeout"}, {"message", "the run timed out"}}, h.now,
                         d);
  h.Take(d);
  // The hotel is still running: it is cancelled first, nothing is undone yet.
  EXPECT_TRUE(h.last.cancel_in_flight);
  EXPECT_EQ(h.Find(EventType::kCompensationStarted), nullptr);
  // It finished after all: it is undone too.
  h.Succeed(h.Pop("hotel"), "H-7");
  const Event* started = h.Find(EventType::kCompensationStarted);
  ASSERT_NE(started, nullptr);
  EXPECT_EQ(Strings(started->data.at("steps")), (std::vector<std::string>{"hotel", "flight"}));
  EXPECT_EQ(started->data.at("error").at("type").as_string(), "timeout");
  // The charge never started.
  EXPECT_EQ(h.state.step(h.state.workflow().StepIndex("charge")).status, StepStatus::kPending);
  h.Succeed(h.Pop("hotel.compensate"), "ok");
  h.Succeed(h.Pop("flight.compensate"), "ok");
  EXPECT_EQ(h.state.status(), RunStatus::kCompensated);
  EXPECT_EQ(h.state.error().at("type").as_string(), "timeout");
}

TEST(SagaTest, ResumesAHalfDoneCompensationWithoutRepeatingFinishedOnes) {
  auto wf = Load(std::string(kHeader) + kTrip);
  Harness h(wf);
  h.Succeed(h.Pop("flight"), "F-1");
  h.Succeed(h.Pop("hotel"), "H-7");
  h.Fail(h.Pop("charge"), "tool_error");
  h.Succeed(h.Pop("hotel.compensate"), "ok");
  (void)h.Pop("flight.compensate");  // in flight when the process dies

  RunState resumed(wf, "r1");
  for (const auto& e : h.journal) resumed.Apply(e);
  EXPECT_TRUE(resumed.saga().started());
  Decision d;
  Decider::Recover(resumed, h.now, d);
  ASSERT_EQ(d.dispatch.size(), 1u);
  EXPECT_EQ(wf->steps[static_cast<size_t>(d.dispatch[0].step)].id, "flight.compensate");
  EXPECT_EQ(d.dispatch[0].attempt, 2);
  EXPECT_EQ(d.dispatch[0].input.at("input").as_string(), "cancel F-1");
  Decision d2;
  StepOutcome o{d.dispatch[0].step, -1, 2, Status::Ok(), "ok", {}};
  Decider::OnOutcome(resumed, std::move(o), h.now, d2);
  EXPECT_TRUE(d2.finished);
  EXPECT_EQ(resumed.status(), RunStatus::kCompensated);
  for (const auto& e : d.events) {
    EXPECT_FALSE(e.type == EventType::kStepStarted && e.step == "hotel.compensate");
  }
}

TEST(SagaTest, ResumesBetweenTheFailureAndTheCompensation) {
  auto wf = Load(std::string(kHeader) + kTrip);
  Harness h(wf);
  h.Succeed(h.Pop("flight"), "F-1");
  h.Succeed(h.Pop("hotel"), "H-7");
  // The journal ends with the charge's failure, before compensation_started.
  std::vector<Event> journal = h.journal;
  (void)h.Pop("charge");
  Event failed;
  failed.type = EventType::kStepFailed;
  failed.seq = journal.back().seq + 1;
  failed.step = "charge";
  failed.attempt = 1;
  failed.data["error"] = json::object{{"type", "tool_error"}, {"message", "declined"}};
  failed.data["final"] = true;
  journal.push_back(failed);
  RunState resumed(wf, "r1");
  for (const auto& e : journal) resumed.Apply(e);
  Decision d;
  Decider::Recover(resumed, h.now, d);
  ASSERT_EQ(d.dispatch.size(), 1u);
  EXPECT_EQ(wf->steps[static_cast<size_t>(d.dispatch[0].step)].id, "hotel.compensate");
}

TEST(SagaTest, SetCompensationsRunInlineAndCaughtSuccessesAreNotUndone) {
  Harness h(Load(std::string(kHeader) + R"(
steps:
  - id: reserve
    set: { memory.seats: 2 }
    compensate: { set: { memory.seats: 0 } }
  - id: upgrade
    agent: a
    input: upgrade
    catch: [{ then: { output: none } }]
    compensate: { set: { memory.upgrade: undone } }
  - { id: pay, agent: a, input: pay }
)"));
  h.Fail(h.Pop("upgrade"), "tool_error");  // caught: the upgrade did not happen
  h.Fail(h.Pop("pay"), "tool_error");
  const Event* started = h.Find(EventType::kCompensationStarted);
  ASSERT_NE(started, nullptr);
  EXPECT_EQ(Strings(started->data.at("steps")), std::vector<std::string>{"reserve"});
  EXPECT_EQ(h.state.status(), RunStatus::kCompensated);
  EXPECT_EQ(h.state.memory_view().at("seats").as_int64(), 0);
  // memory.upgrade is the caught output (an agent step's output), not the compensation's.
  EXPECT_EQ(h.state.memory_view().at("upgrade").as_string(), "none");
}

TEST(SagaTest, AStepThatSucceededInSeveralLoopIterationsIsUndoneOnce) {
  Harness h(Load(std::string(kHeader) + R"(
steps:
  - id: retry_loop
    loop:
      max_iterations: 3
      on_repeat: exit
      steps:
        - id: hold
          agent: a
          input: hold a seat
          compensate: { agent: a, input: "release ${{ steps.hold.output }}" }
  - { id: pay, agent: a, input: pay }
)"));
  h.Succeed(h.Pop("hold"), "seat-1");
  h.Succeed(h.Pop("hold"), "seat-2");
  h.Succeed(h.Pop("hold"), "seat-3");
  h.Fail(h.Pop("pay"), "tool_error");
  const Event* started = h.Find(EventType::kCompensationStarted);
  ASSERT_NE(started, nullptr);
  EXPECT_EQ(Strings(started->data.at("steps")), std::vector<std::string>{"hold"});
  Dispatch undo = h.Pop("hold.compensate");
  EXPECT_EQ(undo.input.at("input").as_string(), "release seat-3");
  h.Succeed(undo, "ok");
  EXPECT_TRUE(h.pending.empty());
  EXPECT_EQ(h.state.status(), RunStatus::kCompensated);
}

TEST(SagaTest, StepsInsideBranchesAreUndoneAfterTheContainerFailed) {
  Harness h(Load(std::string(kHeader) + R"(
steps:
  - id: book
    parallel:
      car:
        - id: car
          agent: a
          input: rent a car
          compensate: { agent: a, input: "return ${{ steps.car.output }}" }
      train:
        - { id: train, agent: a, input: book a train }
)"));
  h.Succeed(h.Pop("car"), "C-1");
  h.Fail(h.Pop("train"), "tool_error");
  const Event* started = h.Find(EventType::kCompensationStarted);
  ASSERT_NE(started, nullptr);
  EXPECT_EQ(Strings(started->data.at("steps")), std::vector<std::string>{"car"});
  EXPECT_EQ(started->data.at("error").at("step").as_string(), "train");
  Dispatch undo = h.Pop("car.compensate");
  EXPECT_EQ(undo.input.at("input").as_string(), "return C-1");
  h.Succeed(undo, "ok");
  EXPECT_EQ(h.state.status(), RunStatus::kCompensated);
  // The container is not re-settled by its child's compensation.
  EXPECT_EQ(h.state.step(h.state.workflow().StepIndex("book")).status, StepStatus::kFailed);
}

TEST(SagaTest, AFanOutCutShortEndsFailedBeforeTheCompensationStarts) {
  Harness h(Load(std::string(kHeader) + R"(
steps:
  - id: reserve
    agent: a
    input: reserve
    compensate: { agent: a, input: release }
  - id: notify
    for_each: ${{ [1, 2, 3] }}
    max_parallel: 1
    agent: a
    input: ${{ item }}
)"));
  h.Succeed(h.Pop("reserve"), "R");
  h.Fail(h.Pop("notify"), "tool_error");
  // Item 0 failed; items 1 and 2 never started: the step ends failed, then the undo starts.
  int notify = h.state.workflow().StepIndex("notify");
  EXPECT_EQ(h.state.step(notify).status, StepStatus::kFailed);
  ASSERT_EQ(h.PendingIds(), std::vector<std::string>{"reserve.compensate"});
  h.Succeed(h.Pop("reserve.compensate"), "ok");
  EXPECT_EQ(h.state.status(), RunStatus::kCompensated);
  EXPECT_TRUE(h.state.active_steps().empty());
}

TEST(SagaTest, ASucceedingRunNeverCompensates) {
  Harness h(Load(std::string(kHeader) + kTrip));
  h.Succeed(h.Pop("flight"), "F-1");
  h.Succeed(h.Pop("hotel"), "H-7");
  h.Succeed(h.Pop("charge"), "paid");
  EXPECT_EQ(h.state.status(), RunStatus::kSucceeded);
  EXPECT_TRUE(h.pending.empty());
  EXPECT_EQ(h.state.step(h.state.workflow().StepIndex("flight.compensate")).status,
            StepStatus::kPending);
}

TEST(SagaTest, LoaderBuildsHiddenCompensationSteps) {
  auto wf = Load(std::string(kHeader) + kTrip);
  int flight = wf->StepIndex("flight");
  int undo = wf->StepIndex("flight.compensate");
  ASSERT_GE(undo, 0);
  EXPECT_EQ(wf->steps[static_cast<size_t>(flight)].compensation, undo);
  EXPECT_TRUE(wf->steps[static_cast<size_t>(undo)].is_compensation);
  EXPECT_EQ(wf->top_level.size(), 3u);
  int hotel_undo = wf->StepIndex("hotel.compensate");
  ASSERT_TRUE(wf->steps[static_cast<size_t>(hotel_undo)].retry);
  EXPECT_EQ(wf->steps[static_cast<size_t>(hotel_undo)].retry->max_attempts, 2);
  // hotel still follows flight (the compensation is not in the list of steps).
  EXPECT_EQ(wf->steps[static_cast<size_t>(wf->StepIndex("hotel"))].needs,
            std::vector<std::string>{"flight"});
}

TEST(SagaTest, LoaderRejectsBadCompensations) {
  struct Case {
    const char* steps;
    const char* want;
  };
  const Case cases[] = {
      {"  - { id: x, agent: a, input: hi, compensate: { input: hi } }\n",
       "'compensate' needs one of call, agent, llm or set"},
      {"  - { id: x, agent: a, input: hi, compensate: { agent: a, id: y } }\n", "unknown key 'id'"},
      {"  - { id: x, agent: a, input: hi, compensate: { agent: a, set: { k: 1 } } }\n",
       "'compensate' does one thing"},
      {"  - { id: x, agent: a, input: hi, compensate: { parallel: [] } }\n",
       "unknown key 'parallel'"},
      {"  - { id: x, agent: a, input: hi, compensate: { agent: a, input: '${{ steps.y.output "
       "}}' } }\n  - { id: y, agent: a, input: hi }\n",
       "the compensation of step 'x' reads steps.y, which does not run before that step"},
  };
  for (const auto& c : cases) {
    Loaded l = TryLoad(std::string(kHeader) + "steps:\n" + c.steps);
    EXPECT_FALSE(l.workflow) << c.steps;
    EXPECT_NE(l.diagnostics.find(c.want), std::string::npos) << c.steps << "\n" << l.diagnostics;
  }
  // It may read its own step's output and what that step may read.
  Loaded ok = TryLoad(std::string(kHeader) + R"(steps:
  - { id: w, agent: a, input: hi }
  - { id: x, agent: a, input: hi, compensate: { agent: a, input: "${{ steps.x.output }} ${{ steps.w.output }}" } }
)");
  EXPECT_TRUE(ok.workflow) << ok.diagnostics;
}

}  // namespace
}  // namespace baton::core
