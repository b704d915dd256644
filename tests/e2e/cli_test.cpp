// The `baton` command line: exit codes, output formats, input typing, graphs, the sim notice and
// Ctrl-C during a run.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <regex>
#include <sstream>

#include "baton_process.hpp"

namespace baton::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr std::string_view kTyped = R"(baton: 1
name: typed
inputs:
  s: { type: string }
  n: { type: integer }
  b: { type: boolean, default: false }
  anything: { default: x }
steps:
  - id: echo
    set: { s: "${{ inputs.s }}", n: "${{ inputs.n }}" }
outputs:
  s: ${{ inputs.s }}
  n: ${{ inputs.n }}
  b: ${{ inputs.b }}
  anything: ${{ inputs.anything }}
)";

constexpr std::string_view kBad = R"(baton: 1
name: bad
steps:
  - id: one
    set: { x: 1 }
  - id: two
    neds: [one]
    set: { y: 2 }
)";

// A workflow whose second step sleeps in an exec tool until it is cancelled.
constexpr std::string_view kSleeper = R"(baton: 1
name: sleeper
tools:
  nap:
    exec:
      argv: [/bin/sh, -c, 'echo $$ > "$1"; exec sleep 30', sh, "${{ with.pidfile }}"]
steps:
  - id: first
    set: { ok: true }
  - id: nap
    call: nap
    with: { pidfile: "${{ inputs.pidfile }}" }
inputs:
  pidfile: { type: string }
)";

class Cli : public ::testing::Test {
 protected:
  std::string Store() const { return (tmp_ / "baton.db").string(); }
  Output Run(std::vector<std::string> args) { return Baton(args, tmp_.path()); }
  TempDir tmp_;
};

TEST_F(Cli, VersionAndHelp) {
  Output v = Run({"--version"});
  EXPECT_EQ(v.code, 0);
  EXPECT_THAT(v.out, HasSubstr("baton "));
  Output h = Run({"run", "--help"});
  EXPECT_EQ(h.code, 0);
  EXPECT_THAT(h.out, HasSubstr("--input"));
}

TEST_F(Cli, UsageErrorsExitTwo) {
  EXPECT_EQ(Run({"run", "examples/sequence.yaml", "--bogus"}).code, 2);
  EXPECT_EQ(Run({}).code, 2);
  EXPECT_EQ(Run({"frobnicate"}).code, 2);
  EXPECT_EQ(Run({"run", "examples/sequence.yaml", "-o", "xml"}).code, 2);

  Output bad_i = Run({"run", "examples/sequence.yaml", "-i", "name", "--store", Store()});
  EXPECT_EQ(bad_i.code, 2);
  EXPECT_THAT(bad_i.err, HasSubstr("expected key=value or @file.json"));
  EXPECT_EQ(bad_i.out, "");

  Output invalid =
      Run({"run", "examples/inputs.yaml", "-i", "title=x", "-i", "pages=0", "--store", Store()});
  EXPECT_EQ(invalid.code, 2);
  EXPECT_THAT(invalid.err, HasSubstr("input 'pages'"));

  Output missing = Run({"run", "examples/inputs.yaml", "--store", Store()});
  EXPECT_EQ(missing.code, 2);
  EXPECT_THAT(missing.err, HasSubstr("missing required input 'title'"));

  Output unknown =
      Run({"run", "examples/inputs.yaml", "-i", "title=x", "-i", "colour=red", "--store", Store()});
  EXPECT_EQ(unknown.code, 2);
  EXPECT_THAT(unknown.err, HasSubstr("unknown input 'colour'"));

  Output bad_status = Run({"runs", "list", "--status", "weird", "--store", Store()});
  EXPECT_EQ(bad_status.code, 2);
  // Nothing was run by any of the above.
  Output list = Run({"runs", "list", "-o", "json", "--store", Store()});
  EXPECT_EQ(list.out, "[]\n");
}

TEST_F(Cli, FailedRunExitsThree) {
  Output o = Run({"run", "examples/budget.yaml", "--store", Store()});
  EXPECT_EQ(o.code, 3);
  EXPECT_THAT(o.out, HasSubstr("budget_exceeded"));
}

TEST_F(Cli, ValidationErrorsExitFiveWithPositions) {
  fs::path bad = tmp_.Write("bad.yaml", kBad);
  const std::regex diag(R"(^.*bad\.yaml:\d+:\d+: error: .+$)");
  for (const char* cmd : {"validate", "run", "graph"}) {
    SCOPED_TRACE(cmd);
    std::vector<std::string> args = {cmd, bad.string()};
    if (std::string(cmd) == "run") args.insert(args.end(), {"--store", Store()});
    Output o = Run(args);
    EXPECT_EQ(o.code, 5);
    EXPECT_EQ(o.out, "");
    std::istringstream lines(o.err);
    std::string line, first;
    std::getline(lines, first);
    EXPECT_TRUE(std::regex_match(first, diag)) << o.err;
    EXPECT_THAT(first,
                HasSubstr("bad.yaml:7:5: error: unknown key 'neds' (did you mean 'needs'?)"));
  }
}

TEST_F(Cli, ValidateJsonGivesDiagnostics) {
  fs::path bad = tmp_.Write("bad.yaml", kBad);
  Output o = Run({"validate", "-o", "json", bad.string(), "examples/dag.yaml"});
  EXPECT_EQ(o.code, 5);
  json::value v = MustParse(o.out, "validate -o json");
  ASSERT_TRUE(v.is_array());
  ASSERT_EQ(v.as_array().size(), 2u);
  const auto& first = v.as_array()[0].as_object();
  EXPECT_EQ(first.at("ok"), false);
  const auto& diags = first.at("diagnostics").as_array();
  ASSERT_FALSE(diags.empty());
  const auto& d = diags[0].as_object();
  EXPECT_EQ(d.at("file"), json::value(bad.string()));
  EXPECT_EQ(d.at("line"), 7);
  EXPECT_EQ(d.at("col"), 5);
  EXPECT_EQ(d.at("severity"), "error");
  EXPECT_THAT(std::string(d.at("message").as_string()), HasSubstr("unknown key 'neds'"));
  EXPECT_EQ(v.as_array()[1].at("ok"), true);
  EXPECT_TRUE(v.as_array()[1].at("diagnostics").as_array().empty());
}

TEST_F(Cli, NotFoundExitsSix) {
  Output file = Run({"run", "no/such/workflow.yaml", "--store", Store()});
  EXPECT_EQ(file.code, 6);
  EXPECT_THAT(file.err, HasSubstr("no/such/workflow.yaml"));
  for (const char* sub : {"show", "events", "cancel", "resume"}) {
    SCOPED_TRACE(sub);
    Output o = Run({"runs", sub, "r0000nosuchrun", "--store", Store()});
    EXPECT_EQ(o.code, 6);
    EXPECT_THAT(o.err, HasSubstr("no run matches 'r0000nosuchrun'"));
  }
}

TEST_F(Cli, JsonSummaryShape) {
  Output o =
      Run({"run", "examples/sequence.yaml", "-i", "name=Ada", "--store", Store(), "-o", "json"});
  ASSERT_EQ(o.code, 0) << o.err;
  json::value v = MustParse(o.out, "run -o json");
  ASSERT_TRUE(v.is_object());
  const auto& s = v.as_object();
  EXPECT_TRUE(s.at("run_id").is_string());
  EXPECT_EQ(s.at("status"), "succeeded");
  EXPECT_EQ(s.at("outputs").at("name"), "Ada");
  EXPECT_EQ(s.at("outputs").at("greetings"), 1);
  const auto& steps = s.at("steps").as_object();
  ASSERT_EQ(steps.size(), 3u);
  for (const char* id : {"remember", "greet", "count"}) {
    SCOPED_TRACE(id);
    const auto& st = steps.at(id).as_object();
    EXPECT_EQ(st.at("status"), "succeeded");
    EXPECT_TRUE(st.contains("output"));
    EXPECT_EQ(st.at("attempts"), 1);
    const auto& u = st.at("usage").as_object();
    EXPECT_TRUE(u.at("input_tokens").is_number());
    EXPECT_TRUE(u.at("output_tokens").is_number());
    EXPECT_TRUE(u.at("cost_usd").is_number());
  }
  EXPECT_EQ(steps.at("count").at("output").at("last_greeting"), steps.at("greet").at("output"));
  const auto& u = s.at("usage").as_object();
  EXPECT_GT(u.at("input_tokens").to_number<int64_t>(), 0);
  EXPECT_GT(u.at("output_tokens").to_number<int64_t>(), 0);
  EXPECT_GT(u.at("cost_usd").to_number<double>(), 0.0);
  EXPECT_EQ(u.at("input_tokens"), steps.at("greet").at("usage").at("input_tokens"));
  // With -o json, stdout holds only the summary; the run id and notes go to stderr.
  EXPECT_EQ(RunIdFromStderr(o.err), std::string(s.at("run_id").as_string()));
}

TEST_F(Cli, JsonlIsOneEventPerLine) {
  Output o = Run({"run", "examples/dag.yaml", "-i", "topic=x", "--store", Store(), "-o", "jsonl"});
  ASSERT_EQ(o.code, 0) << o.err;
  std::istringstream in(o.out);
  std::string line;
  std::vector<json::object> events;
  while (std::getline(in, line)) {
    json::value v = MustParse(line, "jsonl line");
    ASSERT_TRUE(v.is_object()) << line;
    events.push_back(v.as_object());
  }
  ASSERT_GE(events.size(), 6u);
  std::string run_id(events.front().at("run_id").as_string());
  for (const auto& e : events) {
    EXPECT_EQ(e.at("run_id"), json::value(run_id));
    EXPECT_TRUE(e.at("type").is_string());
    EXPECT_TRUE(e.at("seq").is_number());
  }
  EXPECT_EQ(events.front().at("type"), "run_started");
  EXPECT_EQ(events.back().at("type"), "run_finished");
  EXPECT_EQ(events.back().at("data").at("status"), "succeeded");
  // The same journal, read back: the same events in the same order.
  Output again = Run({"runs", "events", run_id, "-o", "jsonl", "--store", Store()});
  EXPECT_EQ(again.code, 0);
  std::istringstream back(again.out);
  size_t n = 0;
  while (std::getline(back, line)) {
    json::value v = MustParse(line, "runs events line");
    ASSERT_LT(n, events.size());
    EXPECT_EQ(v.at("seq"), events[n].at("seq"));
    EXPECT_EQ(v.at("type"), events[n].at("type"));
    EXPECT_EQ(v.at("run_id"), events[n].at("run_id"));
    ++n;
  }
  EXPECT_EQ(n, events.size());
}

TEST_F(Cli, TextPutsDataOnStdoutAndProgressOnStderr) {
  Output o = Run({"run", "examples/dag.yaml", "-i", "topic=x", "--store", Store()});
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_THAT(o.out, HasSubstr("outputs:"));
  EXPECT_THAT(o.out, HasSubstr("merge"));
  EXPECT_THAT(o.out, Not(HasSubstr("run started")));
  EXPECT_THAT(o.err, HasSubstr("run started"));
  EXPECT_THAT(o.err, HasSubstr("merge started (attempt 1)"));
  EXPECT_THAT(o.err, HasSubstr("run succeeded"));
  EXPECT_THAT(o.err, Not(HasSubstr("outputs:")));
  EXPECT_THAT(o.err, Not(HasSubstr("\x1b[")));  // no terminal, no escape sequences
}

TEST_F(Cli, SimNoticeOnlyWhenTheWorkflowUsesSim) {
  Output sim = Run({"run", "examples/sequence.yaml", "-i", "name=x", "--store", Store()});
  EXPECT_THAT(sim.err, HasSubstr("uses the built-in sim provider"));
  EXPECT_THAT(sim.out, Not(HasSubstr("uses the built-in sim provider")));
  Output json_sim =
      Run({"run", "examples/sequence.yaml", "-i", "name=x", "--store", Store(), "-o", "jsonl"});
  EXPECT_THAT(json_sim.err, HasSubstr("uses the built-in sim provider"));
  Output no_sim = Run({"run", "examples/inputs.yaml", "-i", "title=x", "--store", Store()});
  EXPECT_EQ(no_sim.code, 0);
  EXPECT_THAT(no_sim.err, Not(HasSubstr("sim provider")));
}

TEST_F(Cli, InputsAreTypedByTheirSchema) {
  fs::path wf = tmp_.Write("typed.yaml", kTyped);
  auto outputs = [&](std::vector<std::string> extra, int code = 0) {
    std::vector<std::string> args = {"run", wf.string(), "--store", Store(), "-o", "json"};
    args.insert(args.end(), extra.begin(), extra.end());
    Output o = Run(args);
    EXPECT_EQ(o.code, code) << o.err;
    if (code != 0) return json::object();
    json::value v = MustParse(o.out, "summary");
    return v.is_object() ? v.at("outputs").as_object() : json::object();
  };
  json::object a = outputs({"-i", "s=123", "-i", "n=123"});
  EXPECT_EQ(a["s"], "123");  // a string input keeps the text
  EXPECT_EQ(a["n"], 123);    // an integer input parses it
  EXPECT_EQ(a["b"], false);  // default
  EXPECT_EQ(a["anything"], "x");

  json::object b = outputs({"-i", "s=true", "-i", "n=7", "-i", "b=true", "-i", "anything=[1,2]"});
  EXPECT_EQ(b["s"], "true");
  EXPECT_EQ(b["b"], true);
  EXPECT_EQ(b["anything"], json::array({1, 2}));

  fs::path file = tmp_.Write("in.json", R"({"s": "from file", "n": 5})");
  json::object c = outputs({"-i", "@" + file.string()});
  EXPECT_EQ(c["s"], "from file");
  EXPECT_EQ(c["n"], 5);
  json::object d = outputs({"-i", "@" + file.string(), "-i", "n=6"});
  EXPECT_EQ(d["n"], 6);

  outputs({"-i", "s=x", "-i", "n=abc"}, 2);              // not an integer
  outputs({"-i", "s=x", "-i", "n=1", "-i", "zz=1"}, 2);  // unknown input
  outputs({"-i", "@" + (tmp_ / "missing.json").string()}, 2);
  fs::path not_object = tmp_.Write("list.json", "[1, 2]");
  outputs({"-i", "@" + not_object.string()}, 2);
}

TEST_F(Cli, GraphMermaidAndDot) {
  Output m = Run({"graph", "examples/dag.yaml"});
  EXPECT_EQ(m.code, 0);
  EXPECT_EQ(m.out.rfind("flowchart TD\n", 0), 0u) << m.out;
  EXPECT_THAT(m.out, HasSubstr("[\"outline<br/>llm\"]"));
  EXPECT_THAT(m.out, HasSubstr("s0 --> s1"));
  EXPECT_THAT(m.out, HasSubstr("s2 --> s3"));
  Output explicit_m = Run({"graph", "--format", "mermaid", "examples/dag.yaml"});
  EXPECT_EQ(explicit_m.out, m.out);

  Output d = Run({"graph", "--format", "dot", "examples/dag.yaml"});
  EXPECT_EQ(d.code, 0);
  EXPECT_EQ(d.out.rfind("digraph \"dag\" {", 0), 0u) << d.out;
  EXPECT_THAT(d.out, HasSubstr("\"outline\" -> \"facts\";"));
  EXPECT_THAT(d.out, HasSubstr("\"story\" -> \"merge\";"));
  EXPECT_THAT(d.out, HasSubstr("}"));

  EXPECT_EQ(Run({"graph", "--format", "svg", "examples/dag.yaml"}).code, 2);
}

// Ctrl-C during a run with an in-memory journal: the events on stdout show the whole
// cancellation, ending with run_finished.
TEST_F(Cli, SigintCancelsTheRunAndExits130) {
  std::string pidfile = (tmp_ / "nap.pid").string();
  fs::path wf = tmp_.Write("sleeper.yaml", kSleeper);
  Child c =
      Start({"run", wf.string(), "-i", "pidfile=" + pidfile, "--store", ":memory:", "-o", "jsonl"},
            tmp_.path());
  // The tool has started once it has written its pid.
  ASSERT_TRUE(PollUntil([&] { return !ReadFile(pidfile).empty(); })) << c.Err();
  kill(c.pid, SIGINT);
  int code = Wait(c);
  std::string err = c.Err();
  EXPECT_EQ(code, 130) << err;
  EXPECT_THAT(err, HasSubstr("cancelling the run"));

  std::string out = c.Out();
  ASSERT_FALSE(out.empty());
  std::string last = out.substr(out.rfind('\n', out.size() - 2) + 1);
  json::value e = MustParse(last, "last event");
  ASSERT_TRUE(e.is_object());
  EXPECT_EQ(e.at("type"), "run_finished");
  EXPECT_EQ(e.at("data").at("status"), "cancelled");
  EXPECT_THAT(out, HasSubstr("\"type\":\"run_cancel_requested\""));

  // The tool's process was stopped with the run.
  pid_t nap = std::stoi(ReadFile(pidfile));
  EXPECT_TRUE(PollUntil([&] { return kill(nap, 0) != 0; })) << "sleep " << nap << " still alive";
}

// The same with the SQLite journal, checked with `runs show` and `runs events` afterwards. The
// store's writer and checkpoint threads must not receive SIGINT (main blocks it first).
TEST_F(Cli, SigintCancelsARunWithTheSqliteJournal) {
  std::string pidfile = (tmp_ / "nap.pid").string();
  fs::path wf = tmp_.Write("sleeper.yaml", kSleeper);
  Child c =
      Start({"run", wf.string(), "-i", "pidfile=" + pidfile, "--store", Store()}, tmp_.path());
  ASSERT_TRUE(PollUntil([&] { return !ReadFile(pidfile).empty(); })) << c.Err();
  kill(c.pid, SIGINT);
  int code = Wait(c);
  std::string err = c.Err();
  EXPECT_EQ(code, 130) << err;
  EXPECT_THAT(err, HasSubstr("cancelling the run"));
  std::string id = RunIdFromStderr(err);
  ASSERT_FALSE(id.empty()) << err;

  Output show = Run({"runs", "show", id, "-o", "json", "--store", Store()});
  json::value v = MustParse(show.out, "runs show");
  ASSERT_TRUE(v.is_object());
  EXPECT_EQ(v.at("status"), "cancelled");
  EXPECT_EQ(v.at("steps").at("first").at("status"), "succeeded");

  Output events = Run({"runs", "events", id, "-o", "jsonl", "--store", Store()});
  ASSERT_FALSE(events.out.empty());
  std::string last = events.out.substr(events.out.rfind('\n', events.out.size() - 2) + 1);
  json::value e = MustParse(last, "last event");
  ASSERT_TRUE(e.is_object());
  EXPECT_EQ(e.at("type"), "run_finished");
  EXPECT_EQ(e.at("data").at("status"), "cancelled");
}

}  // namespace
}  // namespace baton::e2e
