// Every workflow in examples/ validates, and runs with the command its header gives, ending
// with the status its header promises (0, or 3 for examples that show a failure).

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <sstream>

#include "baton_process.hpp"

namespace baton::e2e {
namespace {

struct Example {
  fs::path file;                  // relative to the repository root
  std::vector<std::string> args;  // of the first `baton run` line in the header
  int expected_exit = 0;
};

// Reads the header comment: the first "#   baton run ..." line is the command, and a header
// that says "exits with status 3" promises a failed run.
Example ReadExample(const fs::path& rel) {
  Example ex;
  ex.file = rel;
  std::istringstream in(ReadFile(SourceDir() / rel));
  std::string line, header;
  while (std::getline(in, line) && !line.empty() && line[0] == '#') {
    header += line.substr(1) + " ";
    std::string body = line.substr(1);
    size_t start = body.find_first_not_of(' ');
    if (!ex.args.empty() || start == std::string::npos) continue;
    body = body.substr(start);
    if (body.rfind("baton run ", 0) != 0) continue;
    if (size_t hash = body.find("  #"); hash != std::string::npos) body.resize(hash);
    auto words = ShellWords(body);  // baton run FILE ...
    ex.args.assign(words.begin() + 2, words.end());
  }
  // Comment lines wrap, so collapse runs of spaces before looking for the promise.
  std::string flat;
  for (char c : header) {
    if (c == ' ' && !flat.empty() && flat.back() == ' ') continue;
    flat.push_back(c);
  }
  if (flat.find("exits with status 3") != std::string::npos) ex.expected_exit = 3;
  if (flat.find("exits with status 4") != std::string::npos) ex.expected_exit = 4;
  return ex;
}

std::vector<Example> AllExamples() {
  std::vector<Example> out;
  for (const auto& entry : fs::directory_iterator(SourceDir() / "examples")) {
    if (entry.path().extension() != ".yaml") continue;
    out.push_back(ReadExample(fs::path("examples") / entry.path().filename()));
  }
  std::sort(out.begin(), out.end(),
            [](const Example& a, const Example& b) { return a.file < b.file; });
  return out;
}

TEST(Examples, ThereIsOneExamplePerFeature) {
  std::vector<std::string> names;
  for (const auto& ex : AllExamples()) names.push_back(ex.file.stem().string());
  for (const char* want :
       {"sequence",         "dag",          "fan_out",      "conditions",  "retries",
        "timeouts",         "catch",        "exec_tools",   "llm_steps",   "structured_output",
        "scripted_replies", "budget",       "budget_pause", "inputs",      "effect_once",
        "switch",           "parallel",     "map_reduce",   "critic_loop", "converge",
        "consensus",        "plan",         "saga",         "approval",    "events",
        "triggered",        "sub_workflow", "routing",      "breaker"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
  }
}

TEST(Examples, EveryExampleValidates) {
  TempDir tmp;
  for (const auto& ex : AllExamples()) {
    Output o = Baton({"validate", ex.file.string()}, tmp.path());
    EXPECT_EQ(o.code, 0) << ex.file << "\n" << o.err;
    EXPECT_EQ(o.err, "") << ex.file;
    EXPECT_NE(o.out.find(ex.file.string() + ": ok"), std::string::npos) << o.out;
  }
}

TEST(Examples, EveryExampleRunsWithItsHeaderCommand) {
  TempDir tmp;
  std::string store = (tmp / "baton.db").string();
  for (const auto& ex : AllExamples()) {
    SCOPED_TRACE(ex.file.string());
    ASSERT_FALSE(ex.args.empty()) << "no '#   baton run ...' line in the header";
    ASSERT_EQ(ex.args[0], ex.file.string());
    std::vector<std::string> args = {"run"};
    args.insert(args.end(), ex.args.begin(), ex.args.end());
    args.insert(args.end(), {"--store", store, "-o", "json"});
    Output o = Baton(args, tmp.path());
    EXPECT_EQ(o.code, ex.expected_exit) << o.err;
    json::value summary = MustParse(o.out, ex.file.string());
    if (!summary.is_object()) continue;
    const char* status = ex.expected_exit == 0   ? "succeeded"
                         : ex.expected_exit == 4 ? "paused"
                                                 : "failed";
    // Exit status 4 also means waiting for an approval or an event (approval, events).
    if (ex.expected_exit == 4 && summary.at("status") == json::value("waiting")) status = "waiting";
    // Exit status 3 also means a failed run whose steps were undone (saga).
    if (ex.expected_exit == 3 && summary.at("status") == json::value("compensated")) {
      status = "compensated";
    }
    EXPECT_EQ(summary.at("status"), status);
  }
}

// Runs one example with extra arguments and returns its JSON summary.
json::object RunExample(const TempDir& tmp, const std::string& file,
                        std::vector<std::string> extra = {}, int expected_exit = 0) {
  std::vector<std::string> args = {
      "run", "examples/" + file, "--store", (tmp / "baton.db").string(), "-o", "json"};
  args.insert(args.end(), extra.begin(), extra.end());
  Output o = Baton(args, tmp.path());
  EXPECT_EQ(o.code, expected_exit) << file << "\n" << o.err;
  json::value v = MustParse(o.out, file);
  return v.is_object() ? v.get_object() : json::object();
}

TEST(Examples, FanOutKeepsItemOrder) {
  TempDir tmp;
  json::object s = RunExample(tmp, "fan_out.yaml", {"-i", R"(cities=["Oslo","Lima","Pune"])"});
  const auto& labels = s["outputs"].at("labels").as_array();
  ASSERT_EQ(labels.size(), 3u);
  EXPECT_EQ(labels[0].at("city"), "Oslo");
  EXPECT_EQ(labels[2].at("city"), "Pune");
  const auto& described = s["outputs"].at("descriptions").as_array();
  ASSERT_EQ(described.size(), 3u);
  EXPECT_NE(std::string(described[1].as_string()).find("lima"), std::string::npos);
}

TEST(Examples, ConditionsSkipABranchAndTheJoinStillRuns) {
  TempDir tmp;
  json::object calm = RunExample(tmp, "conditions.yaml");
  EXPECT_EQ(calm["steps"].at("escalate").at("status"), "skipped");
  EXPECT_EQ(calm["steps"].at("publish").at("status"), "succeeded");
  json::object urgent = RunExample(tmp, "conditions.yaml", {"-i", "urgent=true"});
  EXPECT_EQ(urgent["steps"].at("triage").at("status"), "skipped");
  EXPECT_EQ(urgent["outputs"].at("escalated"), true);
}

TEST(Examples, RetriesTakeMoreAttemptsThanItems) {
  TempDir tmp;
  json::object s = RunExample(tmp, "retries.yaml");
  EXPECT_GT(s["steps"].at("ask").at("attempts").to_number<int64_t>(), 4);
}

TEST(Examples, TimeoutIsCaught) {
  TempDir tmp;
  json::object s = RunExample(tmp, "timeouts.yaml");
  EXPECT_EQ(s["outputs"].at("fast"), "slept 0 s");
  EXPECT_EQ(s["outputs"].at("slow"), "gave up: step 'slow' timed out after 300ms");
}

TEST(Examples, CatchContinueAndOutput) {
  TempDir tmp;
  json::object s = RunExample(tmp, "catch.yaml");
  const auto& report = s["outputs"].at("report");
  EXPECT_TRUE(report.at("record").is_null());
  EXPECT_EQ(report.at("summary"), "(no summary)");
  EXPECT_EQ(report.at("reason"), "content_filter: the reply was filtered");
}

TEST(Examples, ExecToolsPassArgumentsLiterally) {
  TempDir tmp;
  json::object s = RunExample(tmp, "exec_tools.yaml", {"-i", "text=a; rm -rf $HOME *"});
  EXPECT_EQ(s["outputs"].at("words"), 5);
  EXPECT_EQ(s["outputs"].at("echoed").at("text"), "a; rm -rf $HOME *");
  EXPECT_EQ(s["outputs"].at("shouted"), "A; RM -RF $HOME *");
}

TEST(Examples, ScriptedRepliesAreUsed) {
  TempDir tmp;
  json::object s = RunExample(tmp, "scripted_replies.yaml");
  EXPECT_EQ(s["outputs"].at("answer"), "Scripted answer from replies_file.");
  EXPECT_EQ(s["outputs"].at("flaky"), "third time lucky");
  EXPECT_EQ(s["outputs"].at("flaky_attempts"), 3);
  EXPECT_EQ(s["outputs"].at("greeting"), "Hello from the greeter's script.");
  EXPECT_EQ(s["outputs"].at("other"), "Inline default.");
}

TEST(Examples, StructuredOutputHasConfidence) {
  TempDir tmp;
  json::object s = RunExample(tmp, "structured_output.yaml");
  double c = s["steps"].at("review").at("confidence").to_number<double>();
  EXPECT_GE(c, 0.6);
  EXPECT_LE(c, 0.99);
}

TEST(Examples, BudgetStopsTheRun) {
  TempDir tmp;
  json::object s = RunExample(tmp, "budget.yaml", {}, 3);
  EXPECT_EQ(s["error"].at("type"), "budget_exceeded");
  EXPECT_EQ(s["steps"].at("book").at("status"), "pending");
}

TEST(Examples, InputsFromAFileAndOverrides) {
  TempDir tmp;
  json::object s = RunExample(tmp, "inputs.yaml", {"-i", "@examples/inputs.json", "-i", "pages=3"});
  EXPECT_EQ(s["outputs"].at("line"), "Quarterly report: 3 page(s) for board");
  EXPECT_EQ(s["outputs"].at("tag_count"), 2);
  EXPECT_EQ(s["outputs"].at("formal"), true);
}

}  // namespace
}  // namespace baton::e2e
