// `baton runs list|show|events|cancel|resume` against runs made by real baton processes,
// including a run executing in another process and an orphaned one.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <sstream>

#include "baton_process.hpp"

namespace baton::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A workflow whose step `nap` sleeps in an exec tool for 30 s after writing its pid.
constexpr std::string_view kSleeper = R"(baton: 1
name: sleeper
inputs:
  pidfile: { type: string }
tools:
  nap:
    exec:
      argv: [/bin/sh, -c, 'echo $$ > "$1"; exec sleep 30', sh, "${{ with.pidfile }}"]
steps:
  - id: nap
    call: nap
    with: { pidfile: "${{ inputs.pidfile }}" }
)";

class Runs : public ::testing::Test {
 protected:
  std::string Store() const { return (tmp_ / "baton.db").string(); }
  Output Run(std::vector<std::string> args) {
    args.insert(args.end(), {"--store", Store()});
    return Baton(args, tmp_.path());
  }
  // Runs an example to the end and returns its run id.
  std::string RunExample(std::vector<std::string> args, int expected_exit = 0) {
    args.insert(args.begin(), "run");
    Output o = Run(args);
    EXPECT_EQ(o.code, expected_exit) << o.err;
    return RunIdFromStderr(o.err);
  }
  json::value RunsJson(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"runs", "list", "-o", "json"};
    args.insert(args.end(), extra.begin(), extra.end());
    Output o = Run(args);
    EXPECT_EQ(o.code, 0) << o.err;
    return MustParse(o.out, "runs list -o json");
  }
  std::string StatusOf(const std::string& id) {
    json::value runs = RunsJson({"--limit", "100"});
    if (!runs.is_array()) return "";
    for (const auto& r : runs.as_array()) {
      if (r.at("run_id") == json::value(id)) return std::string(r.at("status").as_string());
    }
    return "";
  }
  // Starts the sleeper in another baton process and waits until its tool runs; returns the
  // child and (through `id`) the run id.
  Child StartSleeper(std::string& id) {
    fs::path wf = tmp_.Write("sleeper.yaml", kSleeper);
    Child c =
        Start({"run", wf.string(), "-i", "pidfile=" + Pidfile(), "--store", Store()}, tmp_.path());
    EXPECT_TRUE(PollUntil([&] {
      return !RunIdFromStderr(c.Err()).empty() && !ReadFile(Pidfile()).empty();
    })) << c.Err();
    id = RunIdFromStderr(c.Err());
    return c;
  }
  std::string Pidfile() const { return (tmp_ / "nap.pid").string(); }

  TempDir tmp_;
};

TEST_F(Runs, ListTextJsonAndStatusFilter) {
  std::string ok = RunExample({"examples/sequence.yaml", "-i", "name=x"});
  std::string failed = RunExample({"examples/budget.yaml"}, 3);
  ASSERT_FALSE(ok.empty());
  ASSERT_FALSE(failed.empty());

  Output text = Run({"runs", "list"});
  EXPECT_EQ(text.code, 0);
  EXPECT_EQ(text.out.rfind("RUN ", 0), 0u) << text.out;
  EXPECT_THAT(text.out, HasSubstr(ok));
  EXPECT_THAT(text.out, HasSubstr(failed));
  EXPECT_THAT(text.out, HasSubstr("succeeded"));
  EXPECT_THAT(text.out, HasSubstr("failed"));

  json::value all = RunsJson();
  ASSERT_TRUE(all.is_array());
  ASSERT_EQ(all.as_array().size(), 2u);
  const auto& newest = all.as_array()[0].as_object();  // newest first
  EXPECT_EQ(newest.at("run_id"), json::value(failed));
  EXPECT_EQ(newest.at("workflow"), "budget");
  EXPECT_EQ(newest.at("status"), "failed");
  EXPECT_TRUE(newest.at("created_at").is_string());
  EXPECT_TRUE(newest.at("usage").at("input_tokens").is_number());

  json::value only_failed = RunsJson({"--status", "failed"});
  ASSERT_EQ(only_failed.as_array().size(), 1u);
  EXPECT_EQ(only_failed.as_array()[0].at("run_id"), json::value(failed));
  json::value only_ok = RunsJson({"--status", "succeeded"});
  ASSERT_EQ(only_ok.as_array().size(), 1u);
  EXPECT_EQ(only_ok.as_array()[0].at("run_id"), json::value(ok));
  EXPECT_TRUE(RunsJson({"--status", "cancelled"}).as_array().empty());
  json::value by_workflow = RunsJson({"--workflow", "sequence"});
  ASSERT_EQ(by_workflow.as_array().size(), 1u);
  EXPECT_EQ(RunsJson({"--limit", "1"}).as_array().size(), 1u);
}

TEST_F(Runs, ShowTextJsonAndTrace) {
  std::string id = RunExample({"examples/llm_steps.yaml"});
  ASSERT_FALSE(id.empty());

  Output text = Run({"runs", "show", id});
  EXPECT_EQ(text.code, 0);
  EXPECT_THAT(text.out, HasSubstr("run " + id + " · llm-steps · succeeded"));
  EXPECT_THAT(text.out, HasSubstr("classify"));
  EXPECT_THAT(text.out, HasSubstr("outputs:"));
  EXPECT_THAT(text.out, Not(HasSubstr("Label this issue")));

  Output json_out = Run({"runs", "show", id, "-o", "json"});
  json::value v = MustParse(json_out.out, "runs show -o json");
  ASSERT_TRUE(v.is_object());
  EXPECT_EQ(v.at("run_id"), json::value(id));
  EXPECT_EQ(v.at("status"), "succeeded");
  EXPECT_EQ(v.at("steps").at("classify").at("status"), "succeeded");
  EXPECT_TRUE(v.at("outputs").at("label").at("severity").is_string());

  // A unique prefix of the id works too.
  Output prefix = Run({"runs", "show", id.substr(0, id.size() - 3), "-o", "json"});
  EXPECT_EQ(prefix.code, 0);
  EXPECT_EQ(prefix.out, json_out.out);

  Output trace = Run({"runs", "show", id, "--trace"});
  EXPECT_EQ(trace.code, 0);
  EXPECT_THAT(trace.out, HasSubstr("── classify · attempt 1 · model fast"));
  EXPECT_THAT(trace.out, HasSubstr("You label bug reports."));           // system prompt
  EXPECT_THAT(trace.out, HasSubstr("Label this issue: Login fails"));    // user prompt
  EXPECT_THAT(trace.out, HasSubstr("Sorry about that. Which browser"));  // messages
  EXPECT_THAT(trace.out, HasSubstr("reply:"));
  EXPECT_THAT(trace.out, HasSubstr("[sim] "));
}

TEST_F(Runs, EventsTextAndJsonl) {
  std::string id = RunExample({"examples/retries.yaml"});
  ASSERT_FALSE(id.empty());
  Output text = Run({"runs", "events", id});
  EXPECT_EQ(text.code, 0);
  EXPECT_THAT(text.out, HasSubstr("run started (sim provider)"));
  EXPECT_THAT(text.out, HasSubstr("will retry in"));
  EXPECT_THAT(text.out, HasSubstr("after overloaded"));
  EXPECT_THAT(text.out, HasSubstr("run succeeded"));

  Output jsonl = Run({"runs", "events", id, "-o", "jsonl"});
  EXPECT_EQ(jsonl.code, 0);
  std::istringstream in(jsonl.out);
  std::string line;
  int count = 0, retries = 0;
  uint64_t last_seq = 0;
  std::string last_type;
  while (std::getline(in, line)) {
    json::value e = MustParse(line, "event");
    ASSERT_TRUE(e.is_object());
    EXPECT_EQ(e.at("run_id"), json::value(id));
    auto seq = e.at("seq").to_number<uint64_t>();
    EXPECT_EQ(seq, last_seq + 1);
    last_seq = seq;
    if (count == 0) {
      EXPECT_EQ(e.at("type"), "run_started");
    }
    if (e.at("type") == "retry_scheduled") ++retries;
    last_type = std::string(e.at("type").as_string());
    ++count;
  }
  EXPECT_EQ(last_type, "run_finished");
  EXPECT_GT(retries, 0);
  // Every text line is one event.
  EXPECT_EQ(std::count(text.out.begin(), text.out.end(), '\n'), count);
}

TEST_F(Runs, CancelARunExecutingInAnotherProcess) {
  std::string id;
  Child runner = StartSleeper(id);
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(StatusOf(id), "running");
  json::value running = RunsJson({"--status", "running"});
  ASSERT_EQ(running.as_array().size(), 1u);

  Output cancel = Run({"runs", "cancel", id});
  EXPECT_EQ(cancel.code, 0) << cancel.err;
  EXPECT_THAT(cancel.out, HasSubstr("cancellation of run " + id + " requested"));

  // The runner notices within its cancel poll and stops; the 30 s tool does not hold it up.
  auto t0 = std::chrono::steady_clock::now();
  int code = Wait(runner);
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(code, 3) << runner.Err();
  EXPECT_LT(took, std::chrono::seconds(10));
  EXPECT_EQ(StatusOf(id), "cancelled");
  Output show = Run({"runs", "show", id, "-o", "json"});
  json::value v = MustParse(show.out, "runs show");
  ASSERT_TRUE(v.is_object());
  EXPECT_EQ(v.at("status"), "cancelled");
  EXPECT_EQ(v.at("error").at("type"), "cancelled");

  Output again = Run({"runs", "cancel", id});
  EXPECT_NE(again.code, 0);
  EXPECT_THAT(again.err, HasSubstr("already finished (cancelled)"));
}

TEST_F(Runs, CancelWithWaitReturnsOnceStopped) {
  std::string id;
  Child runner = StartSleeper(id);
  ASSERT_FALSE(id.empty());
  Output cancel = Run({"runs", "cancel", id, "--wait"});
  EXPECT_EQ(cancel.code, 0) << cancel.err;
  EXPECT_EQ(cancel.out, "run " + id + " cancelled\n");
  EXPECT_EQ(Wait(runner), 3);
}

TEST_F(Runs, OrphanedRunIsInterruptedThenCancelled) {
  std::string id;
  Child runner = StartSleeper(id);
  ASSERT_FALSE(id.empty());
  kill(runner.pid, SIGKILL);
  EXPECT_EQ(Wait(runner), 128 + SIGKILL);
  // The tool's process outlives a SIGKILLed engine; stop it ourselves.
  kill(std::stoi(ReadFile(Pidfile())), SIGKILL);

  EXPECT_EQ(StatusOf(id), "interrupted");
  json::value interrupted = RunsJson({"--status", "interrupted"});
  ASSERT_EQ(interrupted.as_array().size(), 1u);
  EXPECT_EQ(interrupted.as_array()[0].at("run_id"), json::value(id));
  EXPECT_TRUE(RunsJson({"--status", "running"}).as_array().empty());
  Output show = Run({"runs", "show", id});
  EXPECT_THAT(show.out, HasSubstr("continue it with: baton runs resume " + id));

  Output cancel = Run({"runs", "cancel", id});
  EXPECT_EQ(cancel.code, 0) << cancel.err;
  EXPECT_EQ(cancel.out, "run " + id + " cancelled\n");
  EXPECT_EQ(StatusOf(id), "cancelled");
  Output events = Run({"runs", "events", id, "-o", "jsonl"});
  std::string last = events.out.substr(events.out.rfind('\n', events.out.size() - 2) + 1);
  json::value e = MustParse(last, "last event");
  ASSERT_TRUE(e.is_object());
  EXPECT_EQ(e.at("type"), "run_finished");
  EXPECT_EQ(e.at("data").at("status"), "cancelled");
}

TEST_F(Runs, ResumeOfAFinishedRunFails) {
  std::string id = RunExample({"examples/sequence.yaml", "-i", "name=x"});
  ASSERT_FALSE(id.empty());
  Output o = Run({"runs", "resume", id});
  EXPECT_NE(o.code, 0);
  EXPECT_EQ(o.out, "");
  EXPECT_THAT(o.err, HasSubstr("run " + id + " already finished (succeeded); nothing to resume"));
}

}  // namespace
}  // namespace baton::e2e
