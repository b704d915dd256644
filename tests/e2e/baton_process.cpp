#include "baton_process.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace baton::e2e {

fs::path SourceDir() { return fs::path(BATON_SOURCE_DIR); }

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "baton-e2e-XXXXXX").string();
  char* made = mkdtemp(tmpl.data());
  if (made == nullptr) {
    ADD_FAILURE() << "mkdtemp failed";
    return;
  }
  path_ = made;
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) fs::remove_all(path_, ec);
}

fs::path TempDir::Write(std::string_view name, std::string_view text) const {
  fs::path p = path_ / name;
  std::ofstream(p, std::ios::binary) << text;
  return p;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Child::Out() const { return ReadFile(out_path); }
std::string Child::Err() const { return ReadFile(err_path); }

namespace {

// The environment children get: this process's, without anything that would point baton at a
// real provider or a user's configuration (tests are hermetic), plus `extra` ("NAME=value").
std::vector<std::string> ChildEnvironment(const fs::path& scratch,
                                          const std::vector<std::string>& extra) {
  static const char* kDropped[] = {
      "OPENAI_",     "ANTHROPIC_",    "GEMINI_",          "GOOGLE_API_KEY", "OPENROUTER_",
      "VLLM_",       "BATON_CONFIG=", "XDG_CONFIG_HOME=", "HTTP_PROXY=",    "HTTPS_PROXY=",
      "http_proxy=", "https_proxy=",  "ALL_PROXY=",       "all_proxy="};
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view v(*e);
    bool drop = false;
    for (const char* prefix : kDropped) drop = drop || v.rfind(prefix, 0) == 0;
    if (!drop) env.emplace_back(v);
  }
  env.push_back("XDG_CONFIG_HOME=" + (scratch / "xdg-config").string());
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

}  // namespace

Child Start(const std::vector<std::string>& args, const fs::path& scratch, const fs::path& cwd,
            const std::vector<std::string>& env) {
  static int counter = 0;
  ++counter;
  Child c;
  c.out_path = scratch / ("out." + std::to_string(counter));
  c.err_path = scratch / ("err." + std::to_string(counter));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, c.out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, c.err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
  std::vector<std::string> argv = {BATON_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> raw;
  for (auto& a : argv) raw.push_back(a.data());
  raw.push_back(nullptr);
  std::vector<std::string> env_strings = ChildEnvironment(scratch, env);
  std::vector<char*> env_raw;
  for (auto& e : env_strings) env_raw.push_back(e.data());
  env_raw.push_back(nullptr);
  int rc = posix_spawn(&c.pid, raw[0], &fa, nullptr, raw.data(), env_raw.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    ADD_FAILURE() << "posix_spawn " << BATON_BINARY << ": " << rc;
    c.pid = -1;
  }
  return c;
}

int Wait(const Child& child) {
  if (child.pid <= 0) return -1;
  int status = 0;
  while (waitpid(child.pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

Output Baton(const std::vector<std::string>& args, const fs::path& scratch, const fs::path& cwd,
             const std::vector<std::string>& env) {
  Child c = Start(args, scratch, cwd, env);
  Output o;
  o.code = Wait(c);
  o.out = c.Out();
  o.err = c.Err();
  return o;
}

bool PollUntil(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

json::value MustParse(std::string_view text, std::string_view what) {
  auto v = ParseJson(text);
  if (!v.ok()) {
    ADD_FAILURE() << what << " is not JSON: " << v.error().message() << "\n" << text;
    return nullptr;
  }
  return std::move(v).value();
}

std::vector<std::string> ShellWords(std::string_view line) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (char c : line) {
    if (quote) {
      if (c == quote) {
        quote = 0;
      } else {
        word.push_back(c);
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == ' ' || c == '\t') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else {
      word.push_back(c);
      in_word = true;
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

std::string RunIdFromStderr(std::string_view err) {
  size_t pos = 0;
  while (pos < err.size()) {
    size_t end = err.find('\n', pos);
    if (end == std::string_view::npos) end = err.size();
    std::string_view line = err.substr(pos, end - pos);
    if (line.size() > 4 && line.substr(0, 4) == "run " && line.find(' ', 4) == line.npos) {
      return std::string(line.substr(4));
    }
    pos = end + 1;
  }
  return "";
}

Output JournalTest::Run(std::vector<std::string> args) {
  args.insert(args.end(), {"--store", Store()});
  return Baton(args, tmp_.path());
}

std::vector<json::object> JournalTest::Events(const std::string& run_id) {
  Output o = Run({"runs", "events", run_id, "-o", "jsonl"});
  EXPECT_EQ(o.code, 0) << o.err;
  std::vector<json::object> out;
  std::istringstream in(o.out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    json::value e = MustParse(line, "event");
    if (e.is_object()) out.push_back(e.get_object());
  }
  return out;
}

}  // namespace baton::e2e
