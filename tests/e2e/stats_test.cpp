// `baton stats` through the real binary on a SQLite journal written by real runs: a run with
// retried steps, a failed run, an agent run and a model whose circuit breaker opened.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "baton_process.hpp"

namespace baton::e2e {
namespace {

using ::testing::HasSubstr;

class Stats : public JournalTest {
 protected:
  // Runs an example to the end and returns its run id.
  std::string RunExample(std::vector<std::string> args, int expected_exit = 0) {
    args.insert(args.begin(), "run");
    Output o = Run(args);
    EXPECT_EQ(o.code, expected_exit) << o.err;
    return RunIdFromStderr(o.err);
  }
  json::object StatsJson(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"stats", "-o", "json"};
    args.insert(args.end(), extra.begin(), extra.end());
    Output o = Run(args);
    EXPECT_EQ(o.code, 0) << o.err;
    json::value v = MustParse(o.out, "stats -o json");
    return v.is_object() ? v.as_object() : json::object();
  }
};

const json::object& Row(const json::object& stats, std::string_view section, std::string_view name,
                        std::string_view key = "name") {
  static const json::object kNone;
  if (const auto* rows = stats.if_contains(section); rows && rows->is_array()) {
    for (const auto& row : rows->as_array()) {
      if (row.at(key) == json::value(name)) return row.as_object();
    }
  }
  ADD_FAILURE() << "no " << section << " row " << name;
  return kNone;
}

int64_t Int(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_number() ? v->to_number<int64_t>() : -1;
}

TEST_F(Stats, FiguresOfRealRunsOnSqlite) {
  std::string retried = RunExample({"examples/retries.yaml"});
  std::string failed = RunExample({"examples/budget.yaml"}, 3);
  std::string agent = RunExample({"examples/sequence.yaml", "-i", "name=Ada"});
  std::string breaker = RunExample({"examples/breaker.yaml"});
  ASSERT_FALSE(retried.empty());
  ASSERT_FALSE(failed.empty());

  // What the runs themselves say, to compare with.
  Output show = Run({"runs", "show", retried, "-o", "json"});
  json::value summary = MustParse(show.out, "runs show -o json");
  int64_t attempts = summary.at("steps").at("ask").at("attempts").to_number<int64_t>();
  ASSERT_GT(attempts, 4) << "the example is meant to retry";

  json::object s = StatsJson();
  EXPECT_EQ(Int(s, "runs"), 4);
  EXPECT_GT(Int(s, "events"), 20);

  const json::object& retries = Row(s, "workflows", "retries");
  EXPECT_EQ(Int(retries, "runs"), 1);
  EXPECT_EQ(Int(retries, "succeeded"), 1);
  EXPECT_EQ(retries.at("success_rate"), 1.0);
  EXPECT_EQ(Int(retries, "retries"), attempts - 4);  // four items, one first attempt each
  EXPECT_TRUE(retries.at("duration_ms").at("p95").is_number());
  const json::object& budget = Row(s, "workflows", "budget");
  EXPECT_EQ(Int(budget, "failed"), 1);
  EXPECT_EQ(budget.at("success_rate"), 0.0);
  EXPECT_GT(budget.at("tokens").at("input").to_number<int64_t>(), 0);

  // llm steps: retries' ask, breaker's ask, and budget's chapters, which failed.
  const json::object& llm = Row(s, "patterns", "llm", "kind");
  EXPECT_EQ(Int(llm, "steps"), 3);
  EXPECT_EQ(Int(llm, "succeeded"), 2);
  EXPECT_EQ(Int(llm, "failed"), 1);
  EXPECT_EQ(Int(llm, "retries"), attempts - 4);
  // set steps: retries' report and sequence's remember and count (budget's book never ran).
  const json::object& set = Row(s, "patterns", "set", "kind");
  EXPECT_EQ(Int(set, "steps"), 3);
  EXPECT_EQ(Int(set, "succeeded"), 3);
  const json::object& greeter = Row(s, "agents", "greeter");
  EXPECT_EQ(Int(greeter, "steps"), 1);
  EXPECT_EQ(Int(greeter, "model_calls"), 1);
  EXPECT_EQ(Int(Row(s, "patterns", "agent", "kind"), "succeeded"), 1);

  const json::object& flaky = Row(s, "models", "flaky");
  EXPECT_EQ(Int(flaky, "calls"), attempts);
  EXPECT_EQ(Int(flaky, "failed"), attempts - 4);
  EXPECT_EQ(Int(flaky.at("errors").as_object(), "overloaded"), attempts - 4);
  EXPECT_EQ(Int(flaky, "retries"), attempts - 4);

  // examples/breaker.yaml: smart fails twice (its breaker opens), then is skipped twice.
  const json::object& smart = Row(s, "models", "smart");
  EXPECT_EQ(Int(smart, "calls"), 4);
  EXPECT_EQ(Int(smart, "succeeded"), 4);  // cheap answered each
  EXPECT_EQ(Int(smart, "fallbacks"), 4);
  const json::object& b = smart.at("breaker").as_object();
  EXPECT_EQ(b.at("state"), "open");
  EXPECT_EQ(Int(b, "opened"), 1);
  EXPECT_EQ(Int(b, "rejections"), 2);
  Output events = Run({"runs", "events", breaker, "-o", "jsonl"});
  EXPECT_THAT(events.out, HasSubstr("\"breaker\":\"open\""));

  // The table.
  Output text = Run({"stats"});
  EXPECT_EQ(text.code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("4 runs, "));
  EXPECT_THAT(text.out, HasSubstr("WORKFLOW"));
  EXPECT_THAT(text.out, HasSubstr("PATTERN"));
  EXPECT_THAT(text.out, HasSubstr("AGENT"));
  EXPECT_THAT(text.out, HasSubstr("MODEL"));
  EXPECT_THAT(text.out, HasSubstr("greeter"));
  EXPECT_THAT(text.out, HasSubstr("smart (sim/sim-large)"));
  EXPECT_THAT(text.out, HasSubstr("open (opened 1x, 2 rejected)"));
}

TEST_F(Stats, FiltersAndErrors) {
  RunExample({"examples/sequence.yaml", "-i", "name=Ada"});
  RunExample({"examples/retries.yaml"});

  json::object one = StatsJson({"--workflow", "sequence"});
  EXPECT_EQ(Int(one, "runs"), 1);
  EXPECT_EQ(one.at("workflows").as_array().size(), 1u);
  EXPECT_EQ(Int(StatsJson({"--since", "1d"}), "runs"), 2);
  json::object future = StatsJson({"--since", "2999-01-01"});
  EXPECT_EQ(Int(future, "runs"), 0);
  EXPECT_EQ(future.at("since"), "2999-01-01T00:00:00.000Z");

  Output none = Run({"stats", "--since", "2999-01-01T00:00:00Z"});
  EXPECT_EQ(none.code, 0);
  EXPECT_THAT(none.out, HasSubstr("no runs since 2999-01-01T00:00:00.000Z"));
  Output bad = Run({"stats", "--since", "yesterday"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_THAT(bad.err, HasSubstr("--since 'yesterday'"));

  // An empty journal is not an error.
  Output empty = Baton({"stats", "--store", (tmp_ / "empty.db").string()}, tmp_.path());
  EXPECT_EQ(empty.code, 0) << empty.err;
  EXPECT_EQ(empty.out, "no runs\n");
}

}  // namespace
}  // namespace baton::e2e
