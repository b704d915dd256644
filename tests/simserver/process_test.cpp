// The real `baton sim-server` binary as a child process: it prints its address once ready,
// serves, and stops cleanly on SIGTERM.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <string>
#include <vector>

#include "test_client.hpp"

extern char** environ;

namespace baton::simserver::testing {
namespace {

struct Child {
  pid_t pid = -1;
  int out = -1;  // the child's stdout
  int err = -1;  // the child's stderr
};

Child Spawn(const std::vector<std::string>& args) {
  int out[2], err[2];
  EXPECT_EQ(pipe(out), 0);
  EXPECT_EQ(pipe(err), 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  posix_spawn_file_actions_addclose(&fa, out[0]);
  posix_spawn_file_actions_addclose(&fa, err[0]);
  std::vector<std::string> all = {BATON_BINARY};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  Child c;
  int rc = posix_spawn(&c.pid, BATON_BINARY, &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  EXPECT_EQ(rc, 0);
  close(out[1]);
  close(err[1]);
  c.out = out[0];
  c.err = err[0];
  return c;
}

// Reads `fd` until `pattern` matches what arrived, or it closes, or `limit` passes.
std::string ReadUntil(int fd, const std::regex& pattern, std::smatch& match,
                      std::chrono::milliseconds limit = std::chrono::seconds(30)) {
  std::string text;
  auto end = std::chrono::steady_clock::now() + limit;
  while (!std::regex_search(text, match, pattern)) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  return text;
}

std::string ReadAll(int fd) {
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  return text;
}

int WaitExit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

TEST(SimServerProcessTest, ServesUntilSigterm) {
  Child c = Spawn({"sim-server", "--port", "0", "--seed", "7", "--latency", "10ms", "--api-key",
                   "sk-proc", "--fault", "503,count=1,protocol=anthropic"});
  std::smatch m;
  std::regex listening(R"(sim-server listening on http://127\.0\.0\.1:(\d+)\n)");
  std::string out = ReadUntil(c.out, listening, m);
  ASSERT_FALSE(m.empty()) << "stdout: " << out;
  uint16_t port = static_cast<uint16_t>(std::stoi(m[1].str()));

  EXPECT_EQ(Get(port, "/healthz").status, 200);
  json::value ask =
      ParseOrFail(R"({"model":"gpt-sim","messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(PostJson(port, "/v1/chat/completions", ask, {{"Authorization", "Bearer wrong"}}).status,
            401);
  auto ok = PostJson(port, "/v1/chat/completions", ask, {{"Authorization", "Bearer sk-proc"}});
  EXPECT_EQ(ok.status, 200) << ok.body;
  json::value a =
      ParseOrFail(R"({"model":"c","max_tokens":5,"messages":[{"role":"user","content":"hi"}]})");
  std::vector<Header> ah = {{"x-api-key", "sk-proc"}, {"anthropic-version", "2023-06-01"}};
  EXPECT_EQ(PostJson(port, "/v1/messages", a, ah).status, 503);
  EXPECT_EQ(PostJson(port, "/v1/messages", a, ah).status, 200);

  kill(c.pid, SIGTERM);
  EXPECT_EQ(WaitExit(c.pid), 0);
  std::string err = ReadAll(c.err);
  EXPECT_NE(err.find("stopping"), std::string::npos) << err;
  close(c.out);
  close(c.err);
}

TEST(SimServerProcessTest, BadFaultSpecIsAUsageError) {
  Child c = Spawn({"sim-server", "--port", "0", "--fault", "explode"});
  EXPECT_EQ(WaitExit(c.pid), 2);
  std::string err = ReadAll(c.err);
  EXPECT_NE(err.find("unknown fault"), std::string::npos) << err;
  close(c.out);
  close(c.err);
}

TEST(SimServerProcessTest, BusyPortFails) {
  Child first = Spawn({"sim-server", "--port", "0"});
  std::smatch m;
  // `m` points into `out`, which must outlive it.
  std::string out =
      ReadUntil(first.out, std::regex(R"(listening on http://127\.0\.0\.1:(\d+)\n)"), m);
  ASSERT_FALSE(m.empty());
  Child second = Spawn({"sim-server", "--port", m[1].str()});
  EXPECT_EQ(WaitExit(second.pid), 1);
  EXPECT_NE(ReadAll(second.err).find("cannot listen"), std::string::npos);
  kill(first.pid, SIGINT);
  EXPECT_EQ(WaitExit(first.pid), 0);
  for (int fd : {first.out, first.err, second.out, second.err}) close(fd);
}

}  // namespace
}  // namespace baton::simserver::testing
