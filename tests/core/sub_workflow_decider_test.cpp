// `workflow:` steps in the pure decider: the child run id is decided and journaled with the
// step's start; a crash re-attaches to it; a real retry starts a new child.

#include <gtest/gtest.h>

#include "core/decider.hpp"
#include "core/sub_workflow.hpp"
#include "dsl/loader.hpp"

namespace baton::core {
namespace {

constexpr const char* kChild = R"(baton: 1
name: child
inputs:
  n: { type: integer }
steps:
  - { id: double, set: { v: "${{ inputs.n * 2 }}" } }
outputs:
  v: ${{ steps.double.output.v }}
)";

std::shared_ptr<const Workflow> Load(const std::string& yaml) {
  dsl::LoadOptions options;
  options.read_file = [](const std::string& path) -> Result<std::string> {
    if (path == "lib/child.yaml") return std::string(kChild);
    return NotFound(path);
  };
  auto r = dsl::LoadWorkflowText(yaml, "test.yaml", options);
  std::string diags;
  for (const auto& d : r.diagnostics) diags += dsl::FormatDiagnostic(d) + "\n";
  EXPECT_TRUE(r.workflow) << diags;
  return r.workflow;
}

struct Harness {
  explicit Harness(std::shared_ptr<const Workflow> wf) : workflow(wf), state(wf, "rparent") {
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
  }
  void Outcome(const Dispatch& x, Status st, json::value output = nullptr) {
    StepOutcome o{x.step, x.item, x.attempt, std::move(st), std::move(output), {}};
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
  // Replays the journal into a fresh state, as a resumed process does, and recovers.
  void Crash() {
    pending.clear();
    state = RunState(workflow, "rparent");
    for (const auto& e : journal) state.Apply(e);
    now += 5000;
    Decision d;
    Decider::Recover(state, now, d);
    Take(d);
  }
  std::vector<std::string> ChildIds() const {
    std::vector<std::string> ids;
    for (const auto& e : journal) {
      if (e.type == EventType::kChildRunStarted) ids.emplace_back(e.data.at("run_id").as_string());
    }
    return ids;
  }
  int64_t now = 1000;
  std::shared_ptr<const Workflow> workflow;
  RunState state;
  std::vector<Event> journal;
  std::vector<Dispatch> pending;
};

constexpr const char* kParent = R"(baton: 1
name: parent
steps:
  - { id: pre, set: { n: 21 } }
  - id: sub
    workflow: lib/child.yaml
    with: { n: "${{ steps.pre.output.n }}" }
    retry: { max_attempts: 2, on: [child_failed], backoff: { initial: 1ms, jitter: none } }
outputs:
  v: ${{ steps.sub.output.v }}
)";

TEST(SubWorkflowDecider, StartJournalsTheChildRunWithTheStepStart) {
  Harness h(Load(kParent));
  ASSERT_EQ(h.pending.size(), 1u);
  Dispatch x = h.Pop();
  EXPECT_EQ(x.input.at("with").at("n").as_int64(), 21);
  EXPECT_EQ(x.input.at("workflow").as_string(), "child");
  std::vector<std::string> ids = h.ChildIds();
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_EQ(x.input.at("run_id").as_string(), ids[0]);
  EXPECT_FALSE(x.input.contains("attach"));
  // In the same decision as step_started, right after it: durable before the dispatch runs.
  const Event& linked = h.journal.back();
  ASSERT_EQ(linked.type, EventType::kChildRunStarted);
  EXPECT_EQ(linked.step, "sub");
  EXPECT_EQ(linked.attempt, 1);
  EXPECT_EQ(linked.data.at("workflow").as_string(), "child");
  EXPECT_EQ(linked.data.at("file").as_string(), "lib/child.yaml");
  EXPECT_EQ(h.journal[h.journal.size() - 2].type, EventType::kStepStarted);

  h.Outcome(x, Status::Ok(), json::object{{"v", 42}});
  EXPECT_EQ(h.state.status(), RunStatus::kSucceeded);
  EXPECT_EQ(h.state.outputs().at("v").as_int64(), 42);
}

TEST(SubWorkflowDecider, CrashReattachesToTheSameChild) {
  Harness h(Load(kParent));
  Dispatch first = h.Pop();
  std::string child = h.ChildIds().at(0);
  h.Crash();
  ASSERT_EQ(h.pending.size(), 1u);
  Dispatch again = h.Pop();
  EXPECT_EQ(again.attempt, 2);
  EXPECT_EQ(again.input.at("run_id").as_string(), child);
  EXPECT_TRUE(again.input.at("attach").as_bool());
  EXPECT_EQ(h.ChildIds().size(), 1u);  // no second child_run_started
  // A second crash while re-attached still names the same child.
  h.Crash();
  Dispatch third = h.Pop();
  EXPECT_EQ(third.input.at("run_id").as_string(), child);
  h.Outcome(third, Status::Ok(), json::object{{"v", 42}});
  EXPECT_EQ(h.state.status(), RunStatus::kSucceeded);
  (void)first;
}

TEST(SubWorkflowDecider, RetryAfterAChildFailureStartsANewChild) {
  Harness h(Load(kParent));
  Dispatch first = h.Pop();
  h.Outcome(first, Status(Code::kFailedPrecondition, "child run x failed", "child_failed"));
  ASSERT_TRUE(h.pending.empty());  // waits for the backoff
  h.now += 10;
  Decision d;
  Decider::Advance(h.state, h.now, d);
  h.Take(d);
  Dispatch second = h.Pop();
  std::vector<std::string> ids = h.ChildIds();
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_NE(ids[0], ids[1]);
  EXPECT_EQ(second.input.at("run_id").as_string(), ids[1]);
  EXPECT_FALSE(second.input.contains("attach"));
  // A crash now re-attaches to the second child, not the first.
  h.Crash();
  EXPECT_EQ(h.Pop().input.at("run_id").as_string(), ids[1]);
}

TEST(SubWorkflowDecider, FailureIsCatchableAsChildFailed) {
  Harness h(Load(R"(baton: 1
name: parent
steps:
  - id: sub
    workflow: lib/child.yaml
    with: { n: 1 }
    catch: [{ errors: [child_failed], then: { output: "${{ error.message }}" } }]
)"));
  Dispatch x = h.Pop();
  h.Outcome(x, Status(Code::kFailedPrecondition, "child run x (child) failed: tool_error: no",
                      "child_failed"));
  EXPECT_EQ(h.state.status(), RunStatus::kSucceeded);
  int i = h.workflow->StepIndex("sub");
  EXPECT_EQ(h.state.StepOutput(i).as_string(), "child run x (child) failed: tool_error: no");
}

TEST(SubWorkflowDecider, ChildRunIdsAreDeterministicAndShapedLikeRunIds) {
  std::string a = internal::ChildRunId("rp", "sub", -1, 1, 7, 1'700'000'000'000);
  EXPECT_EQ(a, internal::ChildRunId("rp", "sub", -1, 1, 7, 1'700'000'000'000));
  EXPECT_NE(a, internal::ChildRunId("rp", "sub", -1, 2, 7, 1'700'000'000'000));
  EXPECT_NE(a, internal::ChildRunId("rp", "sub", 0, 1, 7, 1'700'000'000'000));
  EXPECT_NE(a, internal::ChildRunId("rq", "sub", -1, 1, 7, 1'700'000'000'000));
  ASSERT_EQ(a.size(), 21u);
  EXPECT_EQ(a[0], 'r');
  // Sorted by time like NewRunId.
  EXPECT_LT(internal::ChildRunId("z", "s", -1, 1, 1, 1'000),
            internal::ChildRunId("a", "s", -1, 1, 1, 2'000));
}

}  // namespace
}  // namespace baton::core
