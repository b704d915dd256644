// Budgets through the real binary and a SQLite journal: checked before each model call, with
// on_exceed fail, pause (then `runs resume --max-cost-usd`), downgrade, per-step and per-agent
// limits, and daily limits kept in the journal across runs.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "baton_process.hpp"

namespace baton::e2e {
namespace {

using ::testing::HasSubstr;

class Budgets : public ::testing::Test {
 protected:
  std::string Store() const { return (tmp_ / "baton.db").string(); }
  Output Run(std::vector<std::string> args) {
    args.insert(args.end(), {"--store", Store()});
    return Baton(args, tmp_.path());
  }
  json::object Json(const Output& o) {
    json::value v = MustParse(o.out, "summary");
    return v.is_object() ? v.get_object() : json::object();
  }
  // Number of model_called events of the run.
  int ModelCalls(const std::string& id) {
    Output o = Run({"runs", "events", id, "-o", "jsonl"});
    int n = 0;
    size_t pos = 0;
    while ((pos = o.out.find("\"model_called\"", pos)) != std::string::npos) {
      ++n;
      ++pos;
    }
    return n;
  }
  TempDir tmp_;
};

TEST_F(Budgets, PauseThenResumeWithAHigherLimitFinishesWithoutRepeatingCalls) {
  Output first = Run({"run", (SourceDir() / "examples/budget_pause.yaml").string(), "-o", "json"});
  ASSERT_EQ(first.code, 4) << first.err;
  json::object s = Json(first);
  EXPECT_EQ(s["status"], "paused");
  std::string id(s["run_id"].as_string());
  EXPECT_THAT(first.err, HasSubstr("baton runs resume " + id + " --max-cost-usd"));
  EXPECT_EQ(ModelCalls(id), 2);

  // Without a higher limit the run pauses again at the same place, calling nothing.
  Output again = Run({"runs", "resume", id, "-o", "json"});
  EXPECT_EQ(again.code, 4) << again.err;
  EXPECT_EQ(ModelCalls(id), 2);

  Output resumed = Run({"runs", "resume", id, "--max-cost-usd", "0.05", "-o", "json"});
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  json::object r = Json(resumed);
  EXPECT_EQ(r["status"], "succeeded");
  EXPECT_EQ(ModelCalls(id), 3);  // the two chapters written before the pause are not redone
  EXPECT_THAT(std::string(r["outputs"].at("book").as_string()), HasSubstr("dusk"));

  Output finished = Run({"runs", "resume", id, "--max-cost-usd", "1"});
  EXPECT_NE(finished.code, 0);
}

TEST_F(Budgets, BudgetOptionsOnlyApplyToPausedRuns) {
  Output ok =
      Run({"run", (SourceDir() / "examples/sequence.yaml").string(), "-i", "name=x", "-o", "json"});
  ASSERT_EQ(ok.code, 0) << ok.err;
  std::string id(Json(ok)["run_id"].as_string());
  Output o = Run({"runs", "resume", id, "--max-cost-usd", "1"});
  EXPECT_NE(o.code, 0);
  EXPECT_THAT(o.err, HasSubstr("finished"));
}

constexpr std::string_view kDowngrade = R"(baton: 1
name: downgrade
models:
  big: { provider: sim, model: gpt-4o, max_tokens: 200 }
  small: { provider: sim, model: gpt-4o-mini, max_tokens: 200 }
budget: { max_cost_usd: 0.0025, on_exceed: downgrade, downgrade_to: small }
steps:
  - id: parts
    for_each: [a, b, c, d]
    max_parallel: 1
    llm: { model: big, prompt: "Write part ${{ item }} of a long essay about tides." }
)";

TEST_F(Budgets, DowngradeSwitchesToTheCheaperModelAndSaysSo) {
  fs::path wf = tmp_.Write("downgrade.yaml", kDowngrade);
  Output o = Run({"run", wf.string(), "-o", "json"});
  ASSERT_EQ(o.code, 0) << o.err;
  std::string id(Json(o)["run_id"].as_string());
  Output ev = Run({"runs", "events", id, "-o", "jsonl"});
  EXPECT_THAT(ev.out, HasSubstr("\"downgraded_from\":\"big\""));
  EXPECT_THAT(ev.out, HasSubstr("\"model\":\"big\""));  // the first parts fit the budget
}

constexpr std::string_view kStepBudget = R"(baton: 1
name: step-budget
models:
  m: { provider: sim, model: sim-small, max_tokens: 50 }
agents:
  writer: { model: m, instructions: "Write.", budget: { max_tokens: 1000000 } }
steps:
  - id: cheap
    llm: "Say hello."
  - id: capped
    budget: { max_tokens: 10 }
    agent: writer
    input: "Write a long poem."
)";

TEST_F(Budgets, StepBudgetFailsTheStepBeforeTheCall) {
  fs::path wf = tmp_.Write("step.yaml", kStepBudget);
  Output o = Run({"run", wf.string(), "-o", "json"});
  EXPECT_EQ(o.code, 3) << o.err;
  json::object s = Json(o);
  EXPECT_EQ(s["error"].at("type"), "budget_exceeded");
  EXPECT_THAT(std::string(s["error"].at("message").as_string()),
              HasSubstr("step 'capped' budget of 10 tokens"));
  EXPECT_EQ(ModelCalls(std::string(s["run_id"].as_string())), 1);  // `capped` never called
}

constexpr std::string_view kDaily = R"(baton: 1
name: daily
models:
  m: { provider: sim, model: gpt-4o, max_tokens: 100 }
budget: { daily_usd: 0.002 }
steps:
  - id: one
    llm: "Summarise the history of lighthouses in three sentences."
)";

TEST_F(Budgets, DailyBudgetCountsEveryRunOfTheDayInTheJournal) {
  fs::path wf = tmp_.Write("daily.yaml", kDaily);
  int succeeded = 0;
  Output last;
  for (int i = 0; i < 6 && last.code != 3; ++i) {
    last = Run({"run", wf.string(), "-o", "json"});
    if (last.code == 0) ++succeeded;
  }
  EXPECT_GE(succeeded, 1);
  EXPECT_LT(succeeded, 6);
  ASSERT_EQ(last.code, 3) << last.err;
  EXPECT_THAT(std::string(Json(last)["error"].at("message").as_string()),
              HasSubstr("daily budget of workflow 'daily'"));
}

TEST_F(Budgets, GlobalDailyBudgetFromTheConfigFile) {
  tmp_.Write("baton.yaml", "budget: { daily_usd: 0.0001 }\n");
  fs::path wf = tmp_.Write("daily.yaml", kDaily);
  // Run in the directory of baton.yaml; the first run spends more than the whole day's budget.
  std::vector<std::string> args = {"run", wf.string(), "-o", "json", "--store", Store()};
  Output first = Baton(args, tmp_.path(), tmp_.path());
  EXPECT_EQ(first.code, 3) << first.err;
  EXPECT_THAT(first.out, HasSubstr("the global daily budget"));
}

}  // namespace
}  // namespace baton::e2e
