#include "tools/process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/this_coro.hpp>
#include <cerrno>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace baton::tools {
namespace {

namespace asio = boost::asio;

// Runs one process to completion on a fresh io_context.
Result<ProcessResult> RunSync(ProcessSpec spec) {
  asio::io_context io;
  std::optional<Result<ProcessResult>> out;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { out = co_await RunProcess(std::move(spec)); },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  io.run();
  return std::move(out).value();
}

ProcessSpec Spec(std::vector<std::string> argv) {
  ProcessSpec spec;
  spec.argv = std::move(argv);
  return spec;
}

// A shell is used only to give the test children behaviours; RunProcess never uses one.
ProcessSpec Sh(const std::string& script, std::vector<std::string> args = {}) {
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", script, "sh"};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  return spec;
}

std::set<std::string> OpenFds() {
  std::set<std::string> fds;
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return fds;
  int own = ::dirfd(dir);
  while (dirent* e = ::readdir(dir)) {
    std::string name = e->d_name;
    if (name == "." || name == ".." || name == std::to_string(own)) continue;
    fds.insert(name);
  }
  ::closedir(dir);
  return fds;
}

// Makes this process the reaper of orphaned descendants for the scope, so a test can collect a
// grandchild's fate with waitpid() instead of polling.
class SubreaperScope {
 public:
  SubreaperScope() { EXPECT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0); }
  ~SubreaperScope() { ::prctl(PR_SET_CHILD_SUBREAPER, 0); }
};

// Reaps `pid` (an orphan reparented to us) and returns its wait status. Blocks until it dies.
int ReapOrphan(pid_t pid) {
  int status = 0;
  pid_t got;
  do {
    got = ::waitpid(pid, &status, 0);
  } while (got < 0 && errno == EINTR);
  EXPECT_EQ(got, pid) << std::strerror(errno);
  return status;
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "baton_tools_XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Every test runs twice: exit observed through a pidfd, and through the polling fallback.
class ProcessTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override { TEST_SetPidfdDisabled(GetParam()); }
  void TearDown() override { TEST_SetPidfdDisabled(false); }
};

INSTANTIATE_TEST_SUITE_P(ExitWatch, ProcessTest, ::testing::Values(false, true),
                         [](const auto& param_info) {
                           return param_info.param ? "Polling" : "Pidfd";
                         });

TEST_P(ProcessTest, ArgvReachesTheChildLiterally) {
  std::vector<std::string> args = {"a; rm -rf /", "$(id)",      "`id`",  "*",       "$HOME", "",
                                   "two words",   "q\"u'o\\te", "| cat", "> /tmp/x"};
  ProcessSpec spec = Spec({"printf", "[%s]\\n"});
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  Result<ProcessResult> r = RunSync(spec);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::string expected;
  for (const auto& a : args) expected += "[" + a + "]\n";
  EXPECT_EQ(r->out, expected);
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->term_signal, 0);
  EXPECT_FALSE(r->timed_out);
}

TEST_P(ProcessTest, StdinIsPipedThenClosed) {
  ProcessSpec spec = Spec({"/bin/cat"});
  spec.stdin_data = "hello\nworld";
  Result<ProcessResult> r = RunSync(spec);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->out, "hello\nworld");
  EXPECT_EQ(r->exit_code, 0);
}

TEST_P(ProcessTest, NoStdinMeansImmediateEof) {
  Result<ProcessResult> r = RunSync(Spec({"/bin/cat"}));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->out, "");
  EXPECT_EQ(r->exit_code, 0);
}

TEST_P(ProcessTest, StdinIgnoredByChildDoesNotHurtTheParent) {
  ProcessSpec spec = Spec({"/bin/true"});
  spec.stdin_data.assign(1 << 20, 'x');  // more than a pipe holds: the write meets EPIPE
  Result<ProcessResult> r = RunSync(spec);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->exit_code, 0);
}

TEST_P(ProcessTest, LargeStdinThroughCatIsTruncatedWithoutDeadlock) {
  ProcessSpec spec = Spec({"/bin/cat"});
  spec.stdin_data.assign(10 << 20, 'y');
  spec.max_output_bytes = 1 << 20;
  Result<ProcessResult> r = RunSync(spec);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->out.size(), size_t{1} << 20);
  EXPECT_TRUE(r->out_truncated);
  EXPECT_EQ(r->out.find_first_not_of('y'), std::string::npos);
  EXPECT_EQ(r->exit_code, 0);  // cat was drained to the end, not killed
}

TEST_P(ProcessTest, TenMegabytesOnBothStreamsAreCappedAndDrained) {
  ProcessSpec spec =
      Sh("head -c 10485760 /dev/zero; head -c 10485760 /dev/zero >&2; echo done >&2");
  Result<ProcessResult> r = RunSync(spec);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->out.size(), size_t{4} << 20);
  EXPECT_EQ(r->err.size(), size_t{4} << 20);
  EXPECT_TRUE(r->out_truncated);
  EXPECT_TRUE(r->err_truncated);
  EXPECT_EQ(r->exit_code, 0);
}

TEST_P(ProcessTest, OutputExactlyAtTheCapIsNotTruncated) {
  ProcessSpec spec = Sh("head -c 1000 /dev/zero");
  spec.max_output_bytes = 1000;
  Result<ProcessResult> r = RunSync(spec);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out.size(), 1000u);
  EXPECT_FALSE(r->out_truncated);

  spec.max_output_bytes = 999;
  r = RunSync(spec);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out.size(), 999u);
  EXPECT_TRUE(r->out_truncated);
}

TEST_P(ProcessTest, StderrIsSeparateAndExitCodeReported) {
  Result<ProcessResult> r = RunSync(Sh("echo out; echo err >&2; exit 42"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "err\n");
  EXPECT_EQ(r->exit_code, 42);
  EXPECT_EQ(r->term_signal, 0);
  EXPECT_GE(r->duration_ms, 0);
}

TEST_P(ProcessTest, DeathBySignalIsReportedNotAnError) {
  Result<ProcessResult> r = RunSync(Sh("kill -KILL $$"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->exit_code, -1);
  EXPECT_EQ(r->term_signal, SIGKILL);
  EXPECT_FALSE(r->timed_out);
}

TEST_P(ProcessTest, TimeoutKillsTheWholeProcessGroup) {
  SubreaperScope reaper;
  ProcessSpec spec = Sh("sleep 30 & echo $!; wait");
  spec.timeout = Millis(200);
  Result<ProcessResult> r = RunSync(spec);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->term_signal, SIGTERM);
  pid_t grandchild = std::stoi(r->out);
  int status = ReapOrphan(grandchild);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(::kill(grandchild, 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

TEST_P(ProcessTest, TimeoutEscalatesToSigkill) {
  ProcessSpec spec = Sh("trap '' TERM; sleep 30");  // sleep inherits the ignored SIGTERM
  spec.timeout = Millis(300);
  spec.kill_grace = Millis(100);
  Result<ProcessResult> r = RunSync(spec);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->term_signal, SIGKILL);
}

TEST_P(ProcessTest, LeftoversAreKilledWhenTheLeaderExits) {
  SubreaperScope reaper;
  // The background sleep holds stdout open; the result must not wait for it.
  Result<ProcessResult> r = RunSync(Sh("sleep 30 & echo $!"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_FALSE(r->timed_out);
  pid_t grandchild = std::stoi(r->out);
  int status = ReapOrphan(grandchild);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
}

// Cancels a child once it has reported, through a FIFO, the pid of a grandchild it started.
void RunCancelled(asio::cancellation_type type) {
  SubreaperScope reaper;
  TempDir dir;
  std::string fifo = dir.path() + "/ready";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  int fd = ::open(fifo.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(fd, 0);

  asio::io_context io;
  asio::posix::stream_descriptor ready(io, fd);
  asio::cancellation_signal signal;
  std::optional<Result<ProcessResult>> out;
  ProcessSpec spec = Sh("sleep 30 & echo $! > \"$1\"; wait", {fifo});
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        if (type == asio::cancellation_type::partial) {
          co_await asio::this_coro::reset_cancellation_state(asio::enable_partial_cancellation());
        }
        out = co_await RunProcess(std::move(spec));
      },
      asio::bind_cancellation_slot(signal.slot(), [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      }));
  std::string line;
  asio::async_read_until(ready, asio::dynamic_buffer(line), '\n',
                         [&](boost::system::error_code ec, size_t) {
                           ASSERT_FALSE(ec) << ec.message();
                           signal.emit(type);
                         });
  io.run();

  ASSERT_TRUE(out.has_value());
  ASSERT_FALSE(out->ok());
  EXPECT_EQ(out->error().code(), Code::kCancelled);
  pid_t grandchild = std::stoi(line);
  int status = ReapOrphan(grandchild);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(::kill(grandchild, 0), -1);
}

TEST_P(ProcessTest, TerminalCancellationKillsTheGroup) {
  RunCancelled(asio::cancellation_type::terminal);
}

TEST_P(ProcessTest, PartialCancellationKillsTheGroup) {
  RunCancelled(asio::cancellation_type::partial);
}

TEST_P(ProcessTest, MissingExecutable) {
  Result<ProcessResult> r = RunSync(Spec({"baton-no-such-command-xyz", "arg"}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kNotFound);
  EXPECT_EQ(r.error().ErrorType(), "tool_error");
  EXPECT_NE(r.error().message().find("baton-no-such-command-xyz"), std::string::npos);

  r = RunSync(Spec({"/nonexistent/bin/tool"}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kNotFound);
  EXPECT_NE(r.error().message().find("/nonexistent/bin/tool"), std::string::npos);
}

TEST_P(ProcessTest, NotExecutableOrDirectory) {
  TempDir dir;
  std::string file = dir.path() + "/plain";
  std::ofstream(file) << "#!/bin/sh\necho hi\n";
  Result<ProcessResult> r = RunSync(Spec({file}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kFailedPrecondition);
  EXPECT_EQ(r.error().ErrorType(), "tool_error");
  EXPECT_NE(r.error().message().find(file), std::string::npos);

  r = RunSync(Spec({dir.path()}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kFailedPrecondition);
}

TEST_P(ProcessTest, BadCwd) {
  ProcessSpec spec = Spec({"/bin/echo", "x"});
  spec.cwd = "/nonexistent-baton-dir";
  Result<ProcessResult> r = RunSync(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kFailedPrecondition);
  EXPECT_EQ(r.error().ErrorType(), "tool_error");
  EXPECT_NE(r.error().message().find("/bin/echo"), std::string::npos);
  EXPECT_NE(r.error().message().find("/nonexistent-baton-dir"), std::string::npos);

  spec.cwd = "/bin/echo";  // a file
  r = RunSync(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kFailedPrecondition);
}

TEST_P(ProcessTest, CwdAndRelativeExecutable) {
  TempDir dir;
  std::string script = dir.path() + "/run.sh";
  std::ofstream(script) << "#!/bin/sh\npwd\n";
  ASSERT_EQ(::chmod(script.c_str(), 0700), 0);
  ProcessSpec spec = Spec({"./run.sh"});
  spec.cwd = dir.path();
  Result<ProcessResult> r = RunSync(spec);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->out, std::filesystem::canonical(dir.path()).string() + "\n");
}

TEST_P(ProcessTest, MalformedSpecs) {
  Result<ProcessResult> r = RunSync(Spec({}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kInvalidArgument);

  r = RunSync(Spec({"/bin/echo", std::string("a\0b", 3)}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kInvalidArgument);

  ProcessSpec spec = Spec({"/bin/echo"});
  spec.env = {{"A=B", "c"}};
  r = RunSync(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST_P(ProcessTest, EnvironmentIsAnAllowList) {
  ASSERT_EQ(::setenv("BATON_CANARY_SECRET", "s3cr3t-canary", 1), 0);
  ProcessSpec spec = Spec({"/usr/bin/env"});
  spec.env = {{"DECLARED", "yes"}, {"HOME", "/declared/home"}};
  Result<ProcessResult> r = RunSync(spec);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->out.find("s3cr3t-canary"), std::string::npos);
  EXPECT_EQ(r->out.find("BATON_CANARY_SECRET"), std::string::npos);
  const std::set<std::string> allowed = {"PATH", "HOME",   "LANG", "LC_ALL",
                                         "TZ",   "TMPDIR", "USER", "DECLARED"};
  std::vector<std::string> lines = Lines(r->out);
  for (const auto& line : lines) {
    EXPECT_TRUE(allowed.contains(line.substr(0, line.find('=')))) << line;
  }
  EXPECT_NE(std::find(lines.begin(), lines.end(), "DECLARED=yes"), lines.end());
  EXPECT_NE(std::find(lines.begin(), lines.end(), "HOME=/declared/home"), lines.end());
  EXPECT_EQ(std::count_if(lines.begin(), lines.end(),
                          [](const std::string& l) { return l.starts_with("HOME="); }),
            1);

  // The same canary is visible when the whole environment is inherited: the check above can fail.
  spec.inherit_env = true;
  r = RunSync(spec);
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->out.find("BATON_CANARY_SECRET=s3cr3t-canary"), std::string::npos);
  ::unsetenv("BATON_CANARY_SECRET");
}

TEST_P(ProcessTest, PathComesFromTheChildEnvironment) {
  TempDir dir;
  std::string script = dir.path() + "/baton-only-here";
  std::ofstream(script) << "#!/bin/sh\necho found\n";
  ASSERT_EQ(::chmod(script.c_str(), 0700), 0);
  ProcessSpec spec = Spec({"baton-only-here"});
  EXPECT_EQ(RunSync(spec).error().code(), Code::kNotFound);
  spec.env = {{"PATH", "relative/ignored:" + dir.path() + ":/usr/bin:/bin"}};
  Result<ProcessResult> r = RunSync(spec);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->out, "found\n");
}

TEST_P(ProcessTest, NoDescriptorReachesTheChild) {
  // Opened without O_CLOEXEC on purpose: only the explicit close in the child keeps it out.
  int leaky = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(leaky, 3);
  std::string probe = "/proc/self/fd/" + std::to_string(leaky);
  Result<ProcessResult> r =
      RunSync(Sh("if [ -e \"$1\" ]; then echo leaked; else echo clean; fi", {probe}));
  ::close(leaky);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->out, "clean\n");
}

TEST_P(ProcessTest, NoDescriptorLeftOpenAfterwards) {
  std::set<std::string> before = OpenFds();
  ASSERT_TRUE(RunSync(Spec({"/bin/echo", "hi"})).ok());
  ProcessSpec with_stdin = Spec({"/bin/cat"});
  with_stdin.stdin_data = "data";
  ASSERT_TRUE(RunSync(with_stdin).ok());
  ProcessSpec timed = Spec({"/bin/sleep", "30"});
  timed.timeout = Millis(50);
  ASSERT_TRUE(RunSync(timed)->timed_out);
  EXPECT_FALSE(RunSync(Spec({"baton-no-such-command-xyz"})).ok());
  ProcessSpec bad_cwd = Spec({"/bin/echo"});
  bad_cwd.cwd = "/nonexistent-baton-dir";
  EXPECT_FALSE(RunSync(bad_cwd).ok());
  RunCancelled(asio::cancellation_type::terminal);
  EXPECT_EQ(OpenFds(), before);
}

TEST_P(ProcessTest, TwoHundredConcurrentProcessesOnTwoThreads) {
  rlimit limit;
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  if (limit.rlim_cur < 4096 && limit.rlim_max > limit.rlim_cur) {
    rlimit raised = limit;
    raised.rlim_cur = std::min<rlim_t>(4096, limit.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &raised);
  }
  std::set<std::string> before = OpenFds();
  constexpr int kCount = 200;
  std::vector<std::optional<Result<ProcessResult>>> results(kCount);
  {
    asio::io_context io;
    for (int i = 0; i < kCount; ++i) {
      ProcessSpec spec = (i % 2 == 0) ? Spec({"/bin/echo", std::to_string(i)}) : Spec({"/bin/cat"});
      if (i % 2 == 1) spec.stdin_data = std::to_string(i) + "\n";
      asio::co_spawn(
          io,
          [&results, i, spec = std::move(spec)]() mutable -> asio::awaitable<void> {
            results[i] = co_await RunProcess(std::move(spec));
          },
          [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
          });
    }
    std::thread helper([&io] { io.run(); });
    io.run();
    helper.join();
  }  // the io_context's own descriptors close here
  for (int i = 0; i < kCount; ++i) {
    ASSERT_TRUE(results[i].has_value()) << i;
    ASSERT_TRUE(results[i]->ok()) << i << ": " << results[i]->status().ToString();
    EXPECT_EQ((*results[i])->out, std::to_string(i) + "\n");
    EXPECT_EQ((*results[i])->exit_code, 0);
  }
  EXPECT_EQ(OpenFds(), before);
}

}  // namespace
}  // namespace baton::tools
