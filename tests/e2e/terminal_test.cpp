// The live step table: on a terminal `baton run` redraws a table of steps on stderr with ANSI
// escape sequences; without one it prints one plain line per event.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "baton_process.hpp"

namespace baton::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct TerminalOutput {
  int code = -1;
  std::string screen;  // stdout and stderr, both on the terminal
};

// Runs baton with stdin, stdout and stderr on a new pseudo-terminal and collects what it writes.
TerminalOutput RunOnTerminal(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {BATON_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> raw;
  for (auto& a : argv) raw.push_back(a.data());
  raw.push_back(nullptr);
  std::string dir = SourceDir().string();

  int master = -1;
  winsize size{};
  size.ws_row = 50;
  size.ws_col = 160;
  pid_t pid = forkpty(&master, nullptr, nullptr, &size);
  if (pid == 0) {
    if (chdir(dir.c_str()) != 0) _exit(126);
    execv(raw[0], raw.data());
    _exit(127);
  }
  TerminalOutput t;
  if (pid < 0) {
    ADD_FAILURE() << "forkpty failed: " << errno;
    return t;
  }
  char buf[4096];
  for (;;) {
    ssize_t n = read(master, buf, sizeof buf);
    if (n > 0) {
      t.screen.append(buf, static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;  // EIO once the child has exited and closed the terminal
    }
  }
  close(master);
  int status = 0;
  waitpid(pid, &status, 0);
  t.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return t;
}

TEST(Terminal, LiveTableRedrawsOnATerminal) {
  TempDir tmp;
  TerminalOutput t = RunOnTerminal(
      {"run", "examples/dag.yaml", "-i", "topic=x", "--store", (tmp / "baton.db").string()});
  EXPECT_EQ(t.code, 0) << t.screen;
  // Redraw: move the cursor up over the previous table and clear to the end of the screen.
  EXPECT_THAT(t.screen, ::testing::ContainsRegex("\x1b\\[[0-9]+F\x1b\\[J"));
  EXPECT_THAT(t.screen, HasSubstr("\x1b[32msucceeded"));  // colour per status
  for (const char* step : {"outline", "facts", "story", "merge"}) {
    EXPECT_THAT(t.screen, HasSubstr(step));
  }
  EXPECT_THAT(t.screen, HasSubstr("4 of 4 steps done"));
  // The table replaces the plain event lines.
  EXPECT_THAT(t.screen, Not(HasSubstr("merge started (attempt 1)")));
  EXPECT_THAT(t.screen, HasSubstr("outputs:"));
}

TEST(Terminal, PlainLinesWithoutATerminal) {
  TempDir tmp;
  Output o =
      Baton({"run", "examples/dag.yaml", "-i", "topic=x", "--store", (tmp / "baton.db").string()},
            tmp.path());
  EXPECT_EQ(o.code, 0);
  EXPECT_THAT(o.err, Not(HasSubstr("\x1b")));
  EXPECT_THAT(o.err, HasSubstr("merge started (attempt 1)"));
  EXPECT_THAT(o.err, Not(HasSubstr("steps done")));
}

}  // namespace
}  // namespace baton::e2e
