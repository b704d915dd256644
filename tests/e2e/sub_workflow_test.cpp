// `workflow:` steps through the real binary on the SQLite journal: child runs linked to their
// parent in `runs list` / `runs show`, a caught child failure, and a kill -9 of the parent while
// its children run, then `baton runs resume`, which re-attaches to the same children.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <map>
#include <sstream>

#include "baton_process.hpp"

namespace baton::e2e {
namespace {

using ::testing::HasSubstr;

class SubWorkflow : public JournalTest {
 protected:
  json::array Runs() {
    Output o = Run({"runs", "list", "-o", "json", "--limit", "100"});
    EXPECT_EQ(o.code, 0) << o.err;
    json::value v = MustParse(o.out, "runs list -o json");
    return v.is_array() ? v.as_array() : json::array();
  }
  static int Count(const std::vector<json::object>& events, std::string_view type) {
    int n = 0;
    for (const auto& e : events) n += e.at("type") == json::value(type) ? 1 : 0;
    return n;
  }
  // Children of `parent` in `runs list`: run id -> row.
  std::map<std::string, json::object> ChildrenOf(const std::string& parent) {
    std::map<std::string, json::object> out;
    for (const auto& r : Runs()) {
      const auto* p = r.as_object().if_contains("parent_run");
      if (p && *p == json::value(parent)) {
        out[std::string(r.at("run_id").as_string())] = r.as_object();
      }
    }
    return out;
  }
};

TEST_F(SubWorkflow, ChildRunsAreLinkedListedAndShown) {
  Output o = Run({"run", "examples/sub_workflow.yaml", "-o", "json"});
  ASSERT_EQ(o.code, 0) << o.err;
  std::string id = RunIdFromStderr(o.err);
  ASSERT_FALSE(id.empty()) << o.err;
  json::value summary = MustParse(o.out, "run -o json");
  ASSERT_TRUE(summary.is_object());
  const auto& outputs = summary.at("outputs");
  ASSERT_EQ(outputs.at("answers").as_array().size(), 2u);
  EXPECT_EQ(outputs.at("answers").at(0).at("question"), "What lives in tide pools?");
  EXPECT_THAT(std::string(outputs.at("answers").at(0).at("check").as_string()),
              HasSubstr("checked"));
  EXPECT_THAT(std::string(outputs.at("audit").as_string()), HasSubstr("not audited (child run "));
  EXPECT_THAT(std::string(outputs.at("audit").as_string()),
              HasSubstr("(audit) failed: tool_error: tool 'citations' exited with status 1: no "
                        "sources cited)"));
  // The children's model calls count in the parent's usage (and budget).
  EXPECT_GT(summary.at("steps").at("research").at("usage").at("cost_usd").to_number<double>(), 0);

  // Own journals, linked to the parent.
  std::map<std::string, json::object> children = ChildrenOf(id);
  ASSERT_EQ(children.size(), 3u);
  int answers = 0;
  for (const auto& [child, row] : children) {
    if (row.at("workflow") == "answer") {
      ++answers;
      EXPECT_EQ(row.at("status"), "succeeded");
    } else {
      EXPECT_EQ(row.at("workflow"), "audit");
      EXPECT_EQ(row.at("status"), "failed");
    }
    std::vector<json::object> events = Events(child);
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.front().at("type"), "run_started");
    EXPECT_EQ(events.back().at("type"), "run_finished");
  }
  EXPECT_EQ(answers, 2);
  EXPECT_EQ(Count(Events(id), "child_run_started"), 3);

  Output list = Run({"runs", "list"});
  EXPECT_EQ(list.code, 0);
  EXPECT_EQ(list.out.rfind("RUN ", 0), 0u) << list.out;
  EXPECT_THAT(list.out, HasSubstr("PARENT"));
  for (const auto& [child, row] : children) EXPECT_THAT(list.out, HasSubstr(child + " "));
  EXPECT_EQ(static_cast<int>(std::count(list.out.begin(), list.out.end(), '\n')), 5);

  Output show = Run({"runs", "show", id});
  EXPECT_EQ(show.code, 0) << show.err;
  EXPECT_THAT(show.out, HasSubstr("child runs:"));
  for (const auto& [child, row] : children) EXPECT_THAT(show.out, HasSubstr(child));
  EXPECT_THAT(show.out, HasSubstr("· audit · failed"));
  Output show_json = Run({"runs", "show", id, "-o", "json"});
  json::value v = MustParse(show_json.out, "runs show -o json");
  ASSERT_TRUE(v.is_object());
  EXPECT_EQ(v.at("children").as_array().size(), 3u);
  EXPECT_EQ(v.at("steps").at("research").at("child_runs").as_array().size(), 2u);

  // A child run is a run like any other.
  Output child_show = Run({"runs", "show", children.begin()->first});
  EXPECT_EQ(child_show.code, 0) << child_show.err;
}

TEST_F(SubWorkflow, KillDuringTheChildrenThenResumeReattaches) {
  // Each answer's fact check sleeps 3 s: kill -9 the parent while they sleep.
  Child runner = Start({"run", "examples/sub_workflow.yaml", "-i", "pause=3", "--store", Store()},
                       tmp_.path());
  std::string id;
  std::map<std::string, json::object> children;
  ASSERT_TRUE(PollUntil([&] {
    id = RunIdFromStderr(runner.Err());
    if (id.empty()) return false;
    children = ChildrenOf(id);
    if (children.size() != 2) return false;
    for (const auto& [child, row] : children) {
      bool checking = false;
      for (const auto& e : Events(child)) {
        if (e.at("type") == "step_started" && e.at("step") == "check") checking = true;
      }
      if (!checking) return false;
    }
    return true;
  })) << runner.Err();
  kill(runner.pid, SIGKILL);
  EXPECT_EQ(Wait(runner), 128 + SIGKILL);

  for (const auto& r : Runs()) EXPECT_EQ(r.at("status"), "interrupted") << ToJson(r);
  std::vector<json::object> before = Events(id);
  EXPECT_EQ(Count(before, "child_run_started"), 2);

  Output resumed = Run({"runs", "resume", id});
  EXPECT_EQ(resumed.code, 0) << resumed.err;

  // The same two children finished; only the audit child is new; nothing ran twice.
  std::map<std::string, json::object> after = ChildrenOf(id);
  ASSERT_EQ(after.size(), 3u);
  for (const auto& [child, row] : children) {
    ASSERT_TRUE(after.count(child)) << child;
    EXPECT_EQ(after[child].at("status"), "succeeded");
    std::vector<json::object> events = Events(child);
    EXPECT_EQ(Count(events, "run_started"), 1);
    EXPECT_EQ(Count(events, "model_called"), 1);  // the draft is not paid for again
    bool interrupted = false;
    for (const auto& e : events) {
      if (e.at("type") == "retry_scheduled" &&
          e.at("data").at("error").at("type") == "interrupted") {
        interrupted = true;
      }
    }
    EXPECT_TRUE(interrupted) << child;
  }
  std::vector<json::object> events = Events(id);
  EXPECT_EQ(Count(events, "child_run_started"), 3);  // the two before the crash, and the audit
  EXPECT_EQ(events.back().at("data").at("status"), "succeeded");
  EXPECT_EQ(Runs().size(), 4u);
}

TEST_F(SubWorkflow, CancellingAnOrphanedParentCancelsItsChildren) {
  Child runner = Start({"run", "examples/sub_workflow.yaml", "-i", "pause=5", "--store", Store()},
                       tmp_.path());
  std::string id;
  ASSERT_TRUE(PollUntil([&] {
    id = RunIdFromStderr(runner.Err());
    return !id.empty() && ChildrenOf(id).size() == 2;
  })) << runner.Err();
  kill(runner.pid, SIGKILL);
  EXPECT_EQ(Wait(runner), 128 + SIGKILL);
  Output cancel = Run({"runs", "cancel", id});
  EXPECT_EQ(cancel.code, 0) << cancel.err;
  EXPECT_THAT(cancel.out, HasSubstr("run " + id + " cancelled\n"));
  for (const auto& [child, row] : ChildrenOf(id)) {
    EXPECT_EQ(row.at("status"), "cancelled");
    EXPECT_THAT(cancel.out, HasSubstr("run " + child + " (child of " + id + ") cancelled\n"));
  }
}

TEST_F(SubWorkflow, ValidateReportsAMissingChildAtTheStep) {
  fs::path wf = tmp_.Write("parent.yaml", R"(baton: 1
name: parent
steps:
  - { id: sub, workflow: nowhere/child.yaml }
)");
  Output o = Baton({"validate", wf.string()}, tmp_.path());
  EXPECT_EQ(o.code, 5);
  EXPECT_THAT(o.err + o.out, HasSubstr(wf.string() +
                                       ":4:26: error: step 'sub': workflow "
                                       "'nowhere/child.yaml' does not load: "
                                       "cannot read " +
                                       (tmp_ / "nowhere/child.yaml").string()));
}

TEST_F(SubWorkflow, CancellingTheParentCancelsItsChildren) {
  Child runner = Start({"run", "examples/sub_workflow.yaml", "-i", "pause=30", "--store", Store()},
                       tmp_.path());
  std::string id;
  ASSERT_TRUE(PollUntil([&] {
    id = RunIdFromStderr(runner.Err());
    return !id.empty() && ChildrenOf(id).size() == 2;
  })) << runner.Err();
  Output cancel = Run({"runs", "cancel", id, "--wait"});
  EXPECT_EQ(cancel.code, 0) << cancel.err;
  EXPECT_EQ(Wait(runner), 3) << runner.Err();
  for (const auto& [child, row] : ChildrenOf(id)) EXPECT_EQ(row.at("status"), "cancelled");
}

}  // namespace
}  // namespace baton::e2e
