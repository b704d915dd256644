// Golden event logs of the orchestration patterns. Each tests/workflows/NAME.yaml runs through
// the real binary on a fresh SQLite journal (`baton run NAME.yaml --store ... -o jsonl`, plus the
// arguments of a "# args:" header line; "# exit: N" gives the expected exit status, default 0).
// The event log is normalised so that it is deterministic: run-level events in journal order,
// then the events of each step instance (step id, item), instances in id order, each in journal
// order (the branch_* events of a parallel step grouped per branch, "step/branch"); times, ids,
// prompts, replies and jittered delays are dropped; the data fields that say
// what happened (status, reason, branch, iteration, stop...) are kept. The result must equal
// NAME.events; BATON_UPDATE_GOLDEN=1 rewrites the files instead (review the diff).

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "baton_process.hpp"

namespace baton::e2e {
namespace {

const char* const kKept[] = {
    "status",       "reason",     "name",      "block",       "iteration",
    "stop",         "stopped_by", "case",      "count",       "event",
    "approved",     "method",     "final",     "winners",     "repeats_iteration",
    "failed_items", "paused",     "timed_out", "participant", "model",
    "tool",         "key",        "decision",  "score",       "breaker",
    "steps"};

std::string Scalar(const json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  return CanonicalJson(v);
}

std::string Line(const json::object& e) {
  std::string line(e.at("type").get_string());
  if (const auto* a = e.if_contains("attempt")) line += " #" + Scalar(*a);
  const auto* d = e.if_contains("data");
  if (!d || !d->is_object()) return line;
  const auto& data = d->get_object();
  for (const char* k : kKept) {
    if (const auto* v = data.if_contains(k)) line += std::string(" ") + k + "=" + Scalar(*v);
  }
  if (const auto* err = data.if_contains("error"); err && err->is_object()) {
    if (const auto* t = err->get_object().if_contains("type")) line += " error=" + Scalar(*t);
  }
  return line;
}

// The normalised log of a jsonl event stream.
std::string Normalise(const std::string& jsonl) {
  std::vector<std::string> run;
  std::map<std::pair<std::string, int64_t>, std::vector<std::string>> steps;
  std::istringstream in(jsonl);
  std::string text;
  while (std::getline(in, text)) {
    if (text.empty()) continue;
    json::value v = MustParse(text, "event line");
    if (!v.is_object()) continue;
    const auto& e = v.get_object();
    const auto* type = e.if_contains("type");
    if (!type || !type->is_string() || type->get_string() == "model_delta") continue;
    const auto* step = e.if_contains("step");
    if (!step || !step->is_string()) {
      run.push_back(Line(e));
      continue;
    }
    int64_t item = -1;
    if (const auto* it = e.if_contains("item"); it && it->is_int64()) item = it->get_int64();
    std::string key(step->get_string());
    // Branches of one parallel step finish in any order: each gets its own group.
    const auto* d = e.if_contains("data");
    if ((type->get_string() == "branch_started" || type->get_string() == "branch_finished") && d &&
        d->is_object()) {
      if (const auto* name = d->get_object().if_contains("name"); name && name->is_string()) {
        key += "/" + std::string(name->get_string());
      }
    }
    steps[{key, item}].push_back(Line(e));
  }
  std::string out = "run:\n";
  for (const auto& l : run) out += "  " + l + "\n";
  for (const auto& [key, lines] : steps) {
    out +=
        key.second >= 0 ? key.first + "[" + std::to_string(key.second) + "]:\n" : key.first + ":\n";
    for (const auto& l : lines) out += "  " + l + "\n";
  }
  return out;
}

struct Golden {
  fs::path file;
  fs::path expected;  // the .events file
  std::vector<std::string> args;
  int exit = 0;
};

void PrintTo(const Golden& g, std::ostream* os) { *os << g.file.filename().string(); }

std::vector<Golden> AllGolden() {
  std::vector<Golden> out;
  fs::path dir = SourceDir() / "tests" / "workflows";
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".yaml") continue;
    Golden g;
    g.file = entry.path();
    g.expected = entry.path();
    g.expected.replace_extension(".events");
    std::istringstream in(ReadFile(entry.path()));
    std::string line;
    while (std::getline(in, line) && !line.empty() && line[0] == '#') {
      if (line.rfind("# args:", 0) == 0) g.args = ShellWords(line.substr(7));
      if (line.rfind("# exit:", 0) == 0) g.exit = std::atoi(line.substr(7).c_str());
    }
    out.push_back(std::move(g));
  }
  // Examples whose logs are golden too: tests/workflows/examples.txt lists them (one path
  // relative to the repository root per line); their expected logs are NAME.events here.
  std::istringstream list(ReadFile(dir / "examples.txt"));
  std::string rel;
  while (std::getline(list, rel)) {
    if (rel.empty() || rel[0] == '#') continue;
    Golden g;
    g.file = SourceDir() / rel;
    g.expected = dir / (g.file.stem().string() + ".events");
    // The exit status its header promises ("exits with status 3"), as in e2e/examples_test.cpp.
    std::istringstream header(ReadFile(g.file));
    std::string flat, line;
    while (std::getline(header, line) && !line.empty() && line[0] == '#') {
      for (char c : line.substr(1) + " ") {
        if (c != ' ' || (!flat.empty() && flat.back() != ' ')) flat.push_back(c);
      }
    }
    if (flat.find("exits with status 3") != std::string::npos) g.exit = 3;
    if (flat.find("exits with status 4") != std::string::npos) g.exit = 4;
    out.push_back(std::move(g));
  }
  std::sort(out.begin(), out.end(),
            [](const Golden& a, const Golden& b) { return a.file < b.file; });
  return out;
}

class GoldenTest : public ::testing::TestWithParam<Golden> {};

TEST_P(GoldenTest, EventLogMatches) {
  const Golden& g = GetParam();
  TempDir scratch;
  std::vector<std::string> args = {
      "run", g.file.string(), "--store", (scratch / "journal.db").string(), "-o", "jsonl"};
  args.insert(args.end(), g.args.begin(), g.args.end());
  Output r = Baton(args, scratch.path());
  ASSERT_EQ(r.code, g.exit) << g.file << "\nstderr:\n" << r.err;
  std::string got = Normalise(r.out);
  const fs::path& expected_path = g.expected;
  if (std::getenv("BATON_UPDATE_GOLDEN")) {
    std::ofstream(expected_path) << got;
    GTEST_SKIP() << "rewrote " << expected_path;
  }
  ASSERT_TRUE(fs::exists(expected_path))
      << expected_path << " is missing; run with BATON_UPDATE_GOLDEN=1 to create it:\n"
      << got;
  EXPECT_EQ(got, ReadFile(expected_path)) << g.file;
}

INSTANTIATE_TEST_SUITE_P(Workflows, GoldenTest, ::testing::ValuesIn(AllGolden()),
                         [](const ::testing::TestParamInfo<Golden>& param) {
                           std::string name = param.param.file.stem().string();
                           for (char& c : name) {
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace baton::e2e
