// `plan:` through the real `baton` binary on the SQLite journal: the example (a plan repaired
// once, run as a DAG, then synthesized), an invalid plan failing the run after the repairs, and
// a run killed (SIGKILL) while a task runs, then resumed from the journal.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <sstream>

#include "baton_process.hpp"

namespace baton::e2e {
namespace {

using ::testing::HasSubstr;

class Plan : public JournalTest {
 protected:
  // Events of `type` (of instance `item` when >= -1).
  static std::vector<const json::object*> Of(const std::vector<json::object>& events,
                                             std::string_view type, int item = -2) {
    std::vector<const json::object*> out;
    for (const auto& e : events) {
      if (e.at("type") != json::value(type)) continue;
      if (item >= -1) {
        const auto* it = e.if_contains("item");
        int64_t got = it && it->is_int64() ? it->get_int64() : -1;
        if (got != item) continue;
      }
      out.push_back(&e);
    }
    return out;
  }
  static int64_t Seq(const json::object* e) { return e->at("seq").to_number<int64_t>(); }
};

TEST_F(Plan, ExampleRepairsThePlanRunsTheDagAndSynthesizes) {
  Output o = Run({"run", "examples/plan.yaml", "-o", "json"});
  ASSERT_EQ(o.code, 0) << o.err;
  json::value s = MustParse(o.out, "summary");
  ASSERT_TRUE(s.is_object());
  EXPECT_EQ(s.at("outputs").at("answer"),
            "Tides: the Moon's pull, from 384,400 km away, lifts the seas twice a day.");

  std::string id = RunIdFromStderr(o.err);
  ASSERT_FALSE(id.empty()) << o.err;
  std::vector<json::object> events = Events(id);
  auto rejected = Of(events, "plan_rejected");
  ASSERT_EQ(rejected.size(), 1u);
  std::string errors = ToJson(rejected[0]->at("data").at("errors"));
  EXPECT_THAT(errors, HasSubstr("task 'facts': unknown role 'oceanographer'"));
  EXPECT_THAT(errors, HasSubstr("the tasks' needs form a cycle: draft -> draft"));
  auto created = Of(events, "plan_created");
  ASSERT_EQ(created.size(), 1u);
  const auto& tasks = created[0]->at("data").at("tasks").as_array();
  ASSERT_EQ(tasks.size(), 3u);
  EXPECT_EQ(tasks[0].at("agent"), "researcher");
  EXPECT_EQ(tasks[1].at("agent"), "astronomer");  // by capabilities
  EXPECT_EQ(tasks[2].at("agent"), "writer");
  // The planner twice, three tasks, the synthesizer.
  EXPECT_EQ(Of(events, "model_called").size(), 6u);
  EXPECT_EQ(Of(events, "step_started", -1).size(), 2u);
  // `draft` starts after both tasks it needs succeeded, and gets their results.
  ASSERT_EQ(Of(events, "step_started", 2).size(), 1u);
  int64_t draft = Seq(Of(events, "step_started", 2)[0]);
  EXPECT_LT(Seq(Of(events, "step_succeeded", 0)[0]), draft);
  EXPECT_LT(Seq(Of(events, "step_succeeded", 1)[0]), draft);
  for (const auto* e : Of(events, "model_called", 2)) {
    std::string prompt = ToJson(e->at("data").at("prompt"));
    EXPECT_THAT(prompt, HasSubstr("[distance]"));
    EXPECT_THAT(prompt, HasSubstr("About 384,400 km on average."));
  }
  EXPECT_EQ(Of(events, "step_started", 3).size(), 1u);  // the synthesizer

  Output text = Run({"runs", "events", id});
  EXPECT_THAT(text.out, HasSubstr("plan rejected"));
  EXPECT_THAT(text.out, HasSubstr("plan with 3 tasks"));
}

TEST_F(Plan, AnInvalidPlanAfterTheRepairsFailsTheRun) {
  fs::path wf = tmp_.Write("bad.yaml", R"(baton: 1
name: bad-plan
models:
  m:
    provider: sim
    model: sim-small
    sim: { replies: { boss: [{ json: { tasks: [] } }, "not json at all"] } }
agents:
  boss: { model: m }
  worker: { model: m }
steps:
  - id: p
    plan: { planner: boss, input: "Do it", max_repairs: 1 }
)");
  Output o = Run({"run", wf.string(), "-o", "json"});
  EXPECT_EQ(o.code, 3) << o.err;
  json::value s = MustParse(o.out, "summary");
  ASSERT_TRUE(s.is_object());
  EXPECT_EQ(s.at("status"), "failed");
  EXPECT_EQ(s.at("error").at("type"), "invalid_plan");
  EXPECT_THAT(std::string(s.at("error").at("message").as_string()),
              HasSubstr("still invalid after 1 repair request"));
  std::vector<json::object> events = Events(RunIdFromStderr(o.err));
  auto rejected = Of(events, "plan_rejected");
  ASSERT_EQ(rejected.size(), 2u);
  EXPECT_EQ(rejected[0]->at("data").at("errors").as_array()[0], "the plan has no tasks");
  EXPECT_THAT(ToJson(rejected[1]->at("data").at("errors")), HasSubstr("not JSON"));
  EXPECT_TRUE(Of(events, "plan_created").empty());
}

TEST_F(Plan, KilledWhileATaskRunsResumesFromTheJournal) {
  // `slow` answers after 3 s, so the process is killed while task `b` runs.
  fs::path wf = tmp_.Write("slow.yaml", R"(baton: 1
name: slow-plan
models:
  fast:
    provider: sim
    model: sim-small
    sim:
      replies:
        boss:
          - json:
              tasks:
                - { id: a, role: quick, input: one }
                - { id: b, role: slowpoke, input: two }
                - { id: c, role: quick, input: three, needs: [a, b] }
        quick: ["done"]
  slow: { provider: sim, model: sim-small, sim: { latency: 3s, replies: ["slow done"] } }
agents:
  boss: { model: fast }
  quick: { model: fast }
  slowpoke: { model: slow }
steps:
  - id: p
    plan: { planner: boss, input: "Do it", roles: [quick, slowpoke] }
outputs:
  tasks: ${{ steps.p.output.tasks }}
)");
  Child c = Start({"run", wf.string(), "--store", Store()}, tmp_.path());
  std::string id;
  ASSERT_TRUE(PollUntil([&] {
    id = RunIdFromStderr(c.Err());
    if (id.empty()) return false;
    std::vector<json::object> events = Events(id);
    return !Of(events, "step_started", 1).empty() && !Of(events, "step_succeeded", 0).empty();
  })) << c.Err();
  kill(c.pid, SIGKILL);
  ASSERT_EQ(Wait(c), 128 + SIGKILL);
  std::vector<json::object> before = Events(id);
  ASSERT_TRUE(Of(before, "step_succeeded", 1).empty());  // 3 s of latency: still running
  ASSERT_EQ(Of(before, "plan_created").size(), 1u);

  Output resumed = Run({"runs", "resume", id, "-o", "json"});
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  json::value s = MustParse(resumed.out, "summary");
  ASSERT_TRUE(s.is_object());
  EXPECT_EQ(s.at("status"), "succeeded");
  EXPECT_EQ(s.at("outputs").at("tasks"),
            MustParse(R"({"a": "done", "b": "slow done", "c": "done"})", "tasks"));
  std::vector<json::object> after = Events(id);
  EXPECT_EQ(Of(after, "plan_created").size(), 1u);
  EXPECT_EQ(Of(after, "step_started", -1).size(), 1u);  // the planner is not asked again
  EXPECT_EQ(Of(after, "step_started", 0).size(), 1u);   // nor is a finished task run again
  EXPECT_EQ(Of(after, "step_started", 1).size(), 2u);   // the task in flight runs again
  EXPECT_EQ(Of(after, "step_started", 2).size(), 1u);
}

}  // namespace
}  // namespace baton::e2e
