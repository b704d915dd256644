// Crash test: kill -9 the `baton` process at random moments of a workflow (crash.yaml: a DAG
// with parallel steps and a fan-out; patterns.yaml: switch, parallel joins with a cancelled
// loser, a critic loop, a tolerant fan-out, nested containers), then check that the SQLite journal
// is intact, that `baton runs resume` completes the run, that no step instance that had succeeded
// runs again (by the exec tools' own call log and by the journal), and that the final outputs equal
// those of an uninterrupted run.
//
// Iterations: BATON_CRASH_ITERATIONS (default 200). Real processes, real files, real signals.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/json.hpp"

extern char** environ;

namespace baton {
namespace {

namespace fs = std::filesystem;

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Starts `argv` with stdout to `out_path` and stderr to `err_path`; returns the pid.
pid_t Spawn(const std::vector<std::string>& argv, const fs::path& out_path,
            const fs::path& err_path) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  EXPECT_EQ(rc, 0) << "spawn " << argv[0];
  return pid;
}

int WaitExit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

struct Cmd {
  int code;
  std::string out;
  std::string err;
};

Cmd RunCmd(const std::vector<std::string>& argv, const fs::path& dir) {
  fs::path out = dir / "cmd.out", err = dir / "cmd.err";
  int code = WaitExit(Spawn(argv, out, err));
  return {code, ReadAll(out), ReadAll(err)};
}

// Opens the journal as the next baton process would (read-write, so a hot WAL left by the killed
// process is recovered) and runs PRAGMA integrity_check.
std::string IntegrityCheck(const fs::path& db) {
  sqlite3* h = nullptr;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    std::string err = sqlite3_errmsg(h);
    sqlite3_close(h);
    return "cannot open: " + err;
  }
  sqlite3_busy_timeout(h, 5000);
  std::string result;
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &st, nullptr) != SQLITE_OK) {
    std::string err = sqlite3_errmsg(h);
    sqlite3_close(h);
    return "cannot check: " + err;
  }
  while (sqlite3_step(st) == SQLITE_ROW) {
    result += reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  return result;
}

std::map<std::string, int> CountCalls(const fs::path& log) {
  std::map<std::string, int> counts;
  std::ifstream in(log);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) ++counts[line];
  }
  return counts;
}

// A workflow the crash test kills: its file, how the exec-tool log id of a step instance is
// formed ("" for steps that do not log), and the steps nested in loops (they legitimately start
// again in a later iteration after succeeding in an earlier one).
struct Scenario {
  const char* name;
  const char* file;
  std::string (*log_id)(const std::string& step, int64_t item);
  std::set<std::string> loop_steps;
};

std::string CrashLogId(const std::string& step, int64_t item) {
  if (step == "start" || step == "side") return step;
  if (step == "fan" && item >= 0) return "fan-" + std::to_string(item + 1);
  if (step == "finish") return "finish-8";
  return "";
}

std::string PatternsLogId(const std::string& step, int64_t item) {
  if (step == "start" || step == "chosen" || step == "quick" || step == "finish") return step;
  if (step == "left_mark") return "left";
  if (step == "right_mark") return "right";
  if (step == "map" && item >= 0) return "map-" + std::to_string(item + 1);
  return "";
}

const Scenario kScenarios[] = {
    {"dag", "tests/crash/crash.yaml", CrashLogId, {}},
    {"patterns", "tests/crash/patterns.yaml", PatternsLogId, {"round", "work", "critique"}},
};

class CrashTest : public ::testing::TestWithParam<Scenario> {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/baton-crash-XXXXXX";
    root_ = mkdtemp(tmpl);
    workflow_ = fs::path(BATON_SOURCE_DIR) / GetParam().file;
  }
  void TearDown() override { fs::remove_all(root_); }

  std::vector<std::string> RunArgs(const fs::path& dir) {
    return {BATON_BINARY,
            "run",
            workflow_.string(),
            "-i",
            "log=" + (dir / "calls.log").string(),
            "--store",
            (dir / "baton.db").string(),
            "-o",
            "json"};
  }

  fs::path root_;
  fs::path workflow_;
};

TEST_P(CrashTest, KillNineAtRandomPointsThenResume) {
  const Scenario& scenario = GetParam();
  int iterations = 200;
  if (const char* n = std::getenv("BATON_CRASH_ITERATIONS")) iterations = std::atoi(n);

  // Reference: an uninterrupted run.
  fs::path ref = root_ / "ref";
  fs::create_directories(ref);
  auto t0 = std::chrono::steady_clock::now();
  Cmd reference = RunCmd(RunArgs(ref), ref);
  auto ref_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  ASSERT_EQ(reference.code, 0) << reference.err;
  auto ref_json = ParseJson(reference.out);
  ASSERT_TRUE(ref_json.ok()) << reference.out;
  std::string expected = CanonicalJson(ref_json->at("outputs"));
  for (const auto& [id, n] : CountCalls(ref / "calls.log")) EXPECT_EQ(n, 1) << id;

  // Kill within the run's live window: the run itself, plus a little (process exit, which
  // includes the final WAL checkpoint, is not interesting).
  int64_t live_ms = ref_json->at("duration_ms").to_number<int64_t>() + 15;
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int64_t> delay_us(0, live_ms * 1000);
  int killed_mid_run = 0, resumed = 0, no_journal = 0, no_run = 0, finished_first = 0;
  for (int it = 0; it < iterations; ++it) {
    fs::path dir = root_ / ("it" + std::to_string(it));
    fs::create_directories(dir);
    fs::path db = dir / "baton.db";
    pid_t pid = Spawn(RunArgs(dir), dir / "run.out", dir / "run.err");
    // Most kills land within the run's live window counted from when the journal file appears
    // (process start-up varies a lot, e.g. under sanitizers on a loaded machine); every tenth
    // is counted from the spawn, so start-up itself is also hit.
    if (it % 10 != 0) {
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (!fs::exists(db) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::microseconds(500));
      }
    }
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
    kill(pid, SIGKILL);
    int code = WaitExit(pid);
    if (!fs::exists(db)) {  // killed before the journal existed
      ++no_journal;
      continue;
    }
    ASSERT_EQ(IntegrityCheck(db), "ok") << "iteration " << it;

    Cmd list = RunCmd({BATON_BINARY, "runs", "list", "--store", db.string(), "-o", "json"}, dir);
    ASSERT_EQ(list.code, 0) << list.err;
    auto runs = ParseJson(list.out);
    ASSERT_TRUE(runs.ok() && runs->is_array()) << list.out;
    if (runs->as_array().empty()) {  // killed before the run was created
      ++no_run;
      continue;
    }
    std::string run_id(runs->as_array()[0].at("run_id").as_string());
    std::string status(runs->as_array()[0].at("status").as_string());
    if (status == "succeeded") {
      // The run finished before the kill landed: the process exited, or died while exiting.
      ASSERT_TRUE(code == 0 || code == 128 + SIGKILL) << "exit " << code;
      ++finished_first;
      continue;
    }
    ASSERT_EQ(status, "interrupted") << "iteration " << it;
    ++killed_mid_run;

    // What had succeeded before the crash, by the journal.
    Cmd events = RunCmd(
        {BATON_BINARY, "runs", "events", run_id, "--store", db.string(), "-o", "jsonl"}, dir);
    ASSERT_EQ(events.code, 0) << events.err;
    std::set<std::pair<std::string, int64_t>> done_before;
    uint64_t last_seq = 0;
    std::istringstream lines(events.out);
    for (std::string line; std::getline(lines, line);) {
      auto e = ParseJson(line);
      ASSERT_TRUE(e.ok()) << line;
      const auto& o = e->as_object();
      last_seq = o.at("seq").to_number<uint64_t>();
      if (o.at("type").as_string() != "step_succeeded") continue;
      int64_t item = o.contains("item") ? o.at("item").to_number<int64_t>() : -1;
      std::string step(o.at("step").as_string());
      if (scenario.loop_steps.count(step)) continue;
      done_before.emplace(step, item);
    }
    auto calls_before = CountCalls(dir / "calls.log");

    Cmd resume =
        RunCmd({BATON_BINARY, "runs", "resume", run_id, "--store", db.string(), "-o", "json"}, dir);
    ASSERT_EQ(resume.code, 0) << "iteration " << it << ": " << resume.err;
    ++resumed;
    auto result = ParseJson(resume.out);
    ASSERT_TRUE(result.ok()) << resume.out;
    EXPECT_EQ(CanonicalJson(result->at("outputs")), expected) << "iteration " << it;
    ASSERT_EQ(IntegrityCheck(db), "ok") << "iteration " << it;

    // No succeeded instance ran again: neither by the call log nor by the journal.
    auto calls_after = CountCalls(dir / "calls.log");
    Cmd after = RunCmd(
        {BATON_BINARY, "runs", "events", run_id, "--store", db.string(), "-o", "jsonl"}, dir);
    std::istringstream after_lines(after.out);
    for (std::string line; std::getline(after_lines, line);) {
      auto e = ParseJson(line);
      ASSERT_TRUE(e.ok());
      const auto& o = e->as_object();
      if (o.at("seq").to_number<uint64_t>() <= last_seq) continue;
      if (o.at("type").as_string() != "step_started") continue;
      int64_t item = o.contains("item") ? o.at("item").to_number<int64_t>() : -1;
      std::string step(o.at("step").as_string());
      EXPECT_FALSE(done_before.count({step, item}))
          << "iteration " << it << ": " << step << "[" << item << "] ran again after resume";
    }
    for (const auto& [step, item] : done_before) {
      std::string id = scenario.log_id(step, item);
      if (id.empty()) continue;
      EXPECT_EQ(calls_after[id], calls_before[id])
          << "iteration " << it << ": " << id << " was called again after it had succeeded";
    }
    // Every instance ran at least once, and the in-flight ones at most twice.
    for (const auto& [id, n] : calls_after) {
      EXPECT_GE(n, 1) << id;
      EXPECT_LE(n, 2) << "iteration " << it << ": " << id;
    }
    fs::remove_all(dir);
  }
  RecordProperty("killed_mid_run", killed_mid_run);
  std::printf(
      "crash test (%s): %d iterations (reference run %lld ms): %d killed mid-run and resumed "
      "(%d), %d before the journal existed, %d before the run was created, %d after it "
      "finished\n",
      scenario.name, iterations, static_cast<long long>(ref_ms), killed_mid_run, resumed,
      no_journal, no_run, finished_first);
  EXPECT_GE(killed_mid_run, iterations / 4) << "the kills rarely landed mid-run";
}

INSTANTIATE_TEST_SUITE_P(Workflows, CrashTest, ::testing::ValuesIn(kScenarios),
                         [](const ::testing::TestParamInfo<Scenario>& param) {
                           return std::string(param.param.name);
                         });

}  // namespace
}  // namespace baton
