#pragma once

// Helpers for end-to-end tests: start the real `baton` binary (BATON_BINARY) as a child process
// with stdout and stderr captured separately, wait for it, and poll for a state with a bound.
// Every function is for the test's main thread; nothing here is thread-safe.

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.hpp"

namespace baton::e2e {

namespace fs = std::filesystem;

// The repository root: example paths and `replies_file` are relative to it.
fs::path SourceDir();

// A fresh directory under /tmp, removed (with its contents) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(std::string_view name) const { return path_ / name; }
  // Writes `text` to `name` inside the directory and returns the file's path.
  fs::path Write(std::string_view name, std::string_view text) const;

 private:
  fs::path path_;
};

struct Output {
  int code = -1;    // exit status, or 128 + signal number
  std::string out;  // everything written to stdout
  std::string err;  // everything written to stderr
};

// A baton process running in the background, its stdout and stderr going to files.
struct Child {
  pid_t pid = -1;
  fs::path out_path;
  fs::path err_path;
  std::string Out() const;
  std::string Err() const;
};

// Starts `baton <args...>` in `cwd` (the repository root by default), stdin from /dev/null,
// stdout and stderr to new files in `scratch`. The child's environment is this process's
// without provider keys, base URLs, proxies and user configuration (so tests never reach a real
// provider), with XDG_CONFIG_HOME inside `scratch`, plus `env` ("NAME=value" entries).
Child Start(const std::vector<std::string>& args, const fs::path& scratch,
            const fs::path& cwd = SourceDir(), const std::vector<std::string>& env = {});

// Waits for the child to end; returns its exit status (128 + signal when killed).
int Wait(const Child& child);

// Start + Wait, with the captured output.
Output Baton(const std::vector<std::string>& args, const fs::path& scratch,
             const fs::path& cwd = SourceDir(), const std::vector<std::string>& env = {});

// Calls `done` until it returns true or `limit` passes (checking every 20 ms); returns whether
// it became true. For waiting on another process's state without assuming timing.
bool PollUntil(const std::function<bool()>& done,
               std::chrono::milliseconds limit = std::chrono::seconds(20));

std::string ReadFile(const fs::path& path);

// Parses JSON, or returns null after recording a test failure naming `what`.
json::value MustParse(std::string_view text, std::string_view what);

// Splits a command line as a POSIX shell would for plain words, '...' and "..." quoting
// (no expansion, no escapes inside single quotes).
std::vector<std::string> ShellWords(std::string_view line);

// The run id that `baton run` prints on stderr ("run <id>"), or "".
std::string RunIdFromStderr(std::string_view err);

// A test with its own scratch directory and SQLite journal in it: runs `baton` against that
// journal and reads runs' events back.
class JournalTest : public ::testing::Test {
 protected:
  std::string Store() const { return (tmp_ / "baton.db").string(); }
  // `baton <args...> --store <journal>` in the scratch directory.
  Output Run(std::vector<std::string> args);
  // The run's events as JSON objects, in journal order (`runs events ID -o jsonl`).
  std::vector<json::object> Events(const std::string& run_id);

  TempDir tmp_;
};

}  // namespace baton::e2e
