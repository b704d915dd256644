// Runs examples/library as a real child process and checks what it prints and journals.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <sstream>

#include "baton/baton.hpp"

namespace baton {
namespace {

namespace fs = std::filesystem;

struct Child {
  int exit_code = -1;
  std::string out;
};

// Runs `command` through popen; stdout and stderr together.
Child RunCommand(const std::string& command) {
  Child c;
  FILE* f = popen((command + " 2>&1").c_str(), "r");
  if (!f) return c;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) c.out.append(buf, n);
  int status = pclose(f);
  c.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return c;
}

std::vector<std::string> Lines(const std::string& text, std::string_view prefix) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) == 0) out.push_back(line);
  }
  return out;
}

TEST(ExampleTest, LibraryExampleRunsItsWorkflowAndJournalsIt) {
  fs::path dir = fs::temp_directory_path() / ("baton_example_test_" + std::to_string(getpid()));
  fs::remove_all(dir);
  std::string db = (dir / "example.db").string();
  Child c = RunCommand(std::string(BATON_EXAMPLE_LIBRARY) + " " + db);
  ASSERT_EQ(c.exit_code, 0) << c.out;

  // Every event is printed as it happens: both fan-outs, the tool, the agent's model, memory.
  EXPECT_NE(c.out.find("event 1 run_started"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("fan_out count count=3"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("fan_out tag count=3"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("tool_called count[2] tool=\"word_count\""), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("model_called tag[1]"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("memory_written total key=\"total_words\" value=30"), std::string::npos)
      << c.out;
  EXPECT_NE(c.out.find("run_finished status=\"succeeded\""), std::string::npos) << c.out;

  // The outputs, computed by the program's tool and model.
  EXPECT_NE(c.out.find("\"words\": [\n"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("\"tags\": [\n    \"long\",\n    \"short\",\n    \"long\"\n  ]"),
            std::string::npos)
      << c.out;
  EXPECT_NE(c.out.find("\"total_words\": 30"), std::string::npos) << c.out;
  EXPECT_NE(
      c.out.find("\"summary\": \"In short: 3 documents, 30 words, tagged long, short, long.\""),
      std::string::npos)
      << c.out;

  // The run is in the journal the program was given, event for event as printed.
  auto run_lines = Lines(c.out, "run ");
  ASSERT_EQ(run_lines.size(), 1u) << c.out;
  std::istringstream words(run_lines[0]);
  std::string word, run_id, status;
  words >> word >> run_id >> status;
  EXPECT_EQ(status, "succeeded");
  {
    auto b = Baton::Open({.store = db});
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    auto events = (*b)->Events(run_id);
    ASSERT_TRUE(events.ok()) << events.status().ToString();
    EXPECT_EQ(events->size(), Lines(c.out, "event ").size());
    EXPECT_EQ(events->back().type, core::EventType::kRunFinished);
  }
  fs::remove_all(dir);
}

TEST(ExampleTest, LibraryExampleReportsAStoreItCannotOpen) {
  Child c = RunCommand(std::string(BATON_EXAMPLE_LIBRARY) + " /proc/no/such/dir/x.db");
  EXPECT_EQ(c.exit_code, 2) << c.out;
  EXPECT_NE(c.out.find("error: "), std::string::npos) << c.out;
}

}  // namespace
}  // namespace baton
