// LLM-call benchmarks (DESIGN §7: CPU per LLM call, 1,000 and 10,000 concurrent calls, memory
// per in-flight call). `baton sim-server` runs as a child process with 50 ms latency, so its CPU
// is not counted in this process's; every figure is measured beside the same calls (same body
// bytes, same endpoint) sent by plain C clients in the same run: curl's own tool and, when it is
// installed, wrk. Timings are never asserted: the program fails only when calls do not succeed.
//
//   baton_llm_bench [--quick] [--baton=PATH] [--sizes=1000,10000] [--only=KEY,...]
//
// --baton: the baton binary that serves sim-server (default: ../src/cli/baton beside this
// program's directory, i.e. the same build). --quick: 200 and 1,000 calls, one repetition.
// --only: rows by key: curl, wrk, http, model, memory, normal, full, admission, defaults.

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/json.hpp"
#include "bench_util.hpp"
#include "core/events.hpp"
#include "dsl/loader.hpp"
#include "http/client.hpp"
#include "llm_drive.hpp"
#include "providers/admission/admitted_model.hpp"
#include "providers/admission/hub.hpp"
#include "providers/codec.hpp"
#include "providers/http_providers.hpp"
#include "providers/registry.hpp"
#include "runtime/engine.hpp"
#include "store/store.hpp"
#include "tools/tool.hpp"

extern char** environ;

namespace baton::bench {
namespace {

using Workflow = std::shared_ptr<const core::Workflow>;

constexpr const char* kKeyEnv = "BATON_LLM_BENCH_KEY";
constexpr const char* kKey = "sk-bench";
constexpr const char* kLatency = "50ms";
constexpr const char* kModelId = "sim-small";
constexpr int kMaxTokens = 16;
constexpr int kCurlParallelMax = 300;  // the largest --parallel-max curl accepts
constexpr int kWrkThreads = 2;

bool g_quick = false;
std::string g_baton;
std::string g_only;  // row keys, comma-separated ("" = all)
std::vector<int> g_sizes = {1000, 10000};

std::string Prompt(int item) {
  return fmt::format("Item {}: reply with one short sentence.", item);
}

// --- Processes ------------------------------------------------------------------------------

// A counter of /proc/net/snmp or /proc/net/netstat ("Tcp", "ActiveOpens"): system-wide (this
// network namespace), so other programs' connections count too. 0 when not found.
int64_t NetCounter(const char* file, const std::string& group, const std::string& name) {
  std::ifstream f(file);
  std::string names;
  std::string values;
  while (std::getline(f, names) && std::getline(f, values)) {
    if (names.rfind(group + ":", 0) != 0) continue;
    std::vector<std::string> n;
    std::vector<std::string> v;
    std::istringstream ns(names);
    std::istringstream vs(values);
    for (std::string w; ns >> w;) n.push_back(w);
    for (std::string w; vs >> w;) v.push_back(w);
    for (size_t i = 1; i < n.size() && i < v.size(); ++i) {
      if (n[i] == name) return std::stoll(v[i]);
    }
  }
  return 0;
}
int64_t ConnectsSoFar() { return NetCounter("/proc/net/snmp", "Tcp", "ActiveOpens"); }
int64_t ListenOverflowsSoFar() {
  return NetCounter("/proc/net/netstat", "TcpExt", "ListenOverflows");
}

double SelfCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// utime + stime of a live process from /proc/PID/stat (clock-tick resolution).
double ProcessCpuSeconds(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  size_t paren = s.rfind(')');
  if (paren == std::string::npos) return 0;
  std::vector<std::string> fields;  // fields[0] is field 3 (state)
  size_t i = paren + 2;
  while (i < s.size() && fields.size() < 13) {
    size_t j = s.find(' ', i);
    if (j == std::string::npos) j = s.size();
    fields.push_back(s.substr(i, j - i));
    i = j + 1;
  }
  if (fields.size() < 13) return 0;
  double ticks = std::stod(fields[11]) + std::stod(fields[12]);  // fields 14 and 15
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Starts argv (argv[0] looked up in PATH) with stdout to `out_fd` (-1: /dev/null) and stderr to
// `err_path` ("" = /dev/null). Dies when it cannot be started.
pid_t Spawn(const std::vector<std::string>& argv, int out_fd, const std::string& err_path) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (out_fd >= 0) {
    posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
  } else {
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  }
  posix_spawn_file_actions_addopen(&fa, 2, err_path.empty() ? "/dev/null" : err_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) Die(fmt::format("cannot start {}: {}", argv[0], std::strerror(rc)));
  return pid;
}

// Waits for `pid`; returns its exit status (-1 when killed) and adds its CPU time to *cpu.
int Reap(pid_t pid, double* cpu) {
  int status = 0;
  rusage ru{};
  while (wait4(pid, &status, 0, &ru) < 0) {
    if (errno != EINTR) Die("wait4 failed");
  }
  *cpu += static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
          static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool OnPath(const std::string& tool) {
  const char* path = std::getenv("PATH");
  std::string p = path ? path : "/usr/bin:/bin";
  size_t i = 0;
  while (i <= p.size()) {
    size_t j = p.find(':', i);
    if (j == std::string::npos) j = p.size();
    std::string file = p.substr(i, j - i) + "/" + tool;
    if (access(file.c_str(), X_OK) == 0) return true;
    i = j + 1;
  }
  return false;
}

pid_t g_server_pid = -1;  // stopped at exit, also when the benchmark dies

void StopServerAtExit() {
  if (g_server_pid > 0) kill(g_server_pid, SIGTERM);
}

// `baton sim-server` as a child process (so its CPU is not this process's).
class SimServerProcess {
 public:
  SimServerProcess(const std::string& baton, int threads) {
    int fds[2];
    if (pipe(fds) != 0) Die("pipe failed");
    pid_ = Spawn({baton, "sim-server", "--port", "0", "--latency", kLatency, "--threads",
                  std::to_string(threads)},
                 fds[1], "");
    close(fds[1]);
    out_fd_ = fds[0];
    g_server_pid = pid_;
    std::atexit(StopServerAtExit);
    std::string line;
    while (line.find('\n') == std::string::npos) {
      pollfd p{out_fd_, POLLIN, 0};
      if (poll(&p, 1, 10'000) <= 0) Die("sim-server did not say where it listens within 10 s");
      char buf[256];
      ssize_t n = read(out_fd_, buf, sizeof buf);
      if (n <= 0) Die("sim-server exited before listening (is " + baton + " a baton binary?)");
      line.append(buf, static_cast<size_t>(n));
    }
    const std::string prefix = "sim-server listening on ";
    size_t at = line.find(prefix);
    if (at == std::string::npos) Die("unexpected sim-server output: " + line);
    url_ = line.substr(at + prefix.size(), line.find('\n') - at - prefix.size());
  }
  ~SimServerProcess() {
    g_server_pid = -1;
    kill(pid_, SIGTERM);
    double cpu = 0;
    Reap(pid_, &cpu);
    close(out_fd_);
  }
  SimServerProcess(const SimServerProcess&) = delete;
  SimServerProcess& operator=(const SimServerProcess&) = delete;

  const std::string& url() const { return url_; }  // http://127.0.0.1:PORT
  double CpuSeconds() const { return ProcessCpuSeconds(pid_); }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string url_;
};

// --- The calls ------------------------------------------------------------------------------

// What one benchmark size sends: the ChatRequests the workflow's llm steps build (one user
// message, the model's max_tokens) and the HTTP requests the OpenAI codec encodes for them.
struct Calls {
  int n = 0;
  std::vector<providers::ChatRequest> chat;
  std::vector<http::HttpRequest> http;
};

Calls MakeCalls(int n, const std::string& base_url) {
  auto codec = providers::MakeCodec("openai");
  if (!codec.ok()) Die("no OpenAI codec");
  providers::Endpoint endpoint;
  endpoint.base_url = base_url;
  endpoint.api_key = kKey;
  Calls c;
  c.n = n;
  for (int i = 0; i < n; ++i) {
    providers::ChatRequest r;
    r.model = kModelId;
    r.messages.push_back({"user", Prompt(i)});
    r.max_tokens = kMaxTokens;
    r.item = i;
    auto encoded = (*codec)->Encode(r, endpoint, false);
    if (!encoded.ok()) Die("cannot encode a request: " + encoded.error().message());
    c.chat.push_back(std::move(r));
    c.http.push_back(std::move(encoded).value());
  }
  return c;
}

std::string FanYaml(const std::string& base_url) {
  return fmt::format(
      "baton: 1\nname: llm-fan\ninputs:\n  items: {{ type: array }}\n"
      "models:\n  m: {{ provider: openai, model: {}, base_url: \"{}\", api_key_env: {}, "
      "max_tokens: {} }}\n"
      "steps:\n  - id: fan\n    for_each: ${{{{ inputs.items }}}}\n"
      "    llm: \"Item ${{{{ item }}}}: reply with one short sentence.\"\n"
      "outputs:\n  n: ${{{{ size(steps.fan.output) }}}}\n",
      kModelId, base_url, kKeyEnv, kMaxTokens);
}

Workflow Load(const std::string& yaml) {
  dsl::LoadResult r = dsl::LoadWorkflowText(yaml, "llm-bench.yaml", {});
  if (!r.workflow) {
    std::string msg = "generated workflow does not load:";
    for (const auto& d : r.diagnostics) msg += "\n  " + d.message;
    Die(msg);
  }
  return r.workflow;
}

json::object ItemsInput(int n) {
  json::array items;
  items.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) items.push_back(i);
  return json::object{{"items", std::move(items)}};
}

// --- Measurements ---------------------------------------------------------------------------

struct Sample {
  double wall = 0;        // seconds
  double cpu = 0;         // the client's CPU seconds (this process, or the baseline's children)
  double server_cpu = 0;  // sim-server's CPU seconds
  int64_t connects = 0;   // TCP connections opened (system-wide ActiveOpens)
  int64_t syn_drops = 0;  // connection attempts dropped: the listen queue was full
  int failed = 0;         // calls without a 200 (the engine: calls retried)
};

// Peak memory while calls are in flight.
struct Memory {
  int64_t heap = 0;  // peak heap in use minus before
  int64_t rss = 0;   // peak RSS minus before
  size_t max_in_flight = 0;
};

// Peak memory while calls are in flight, sampled on a thread of its own: RSS and the calls in
// flight every millisecond; the heap (mallinfo2 walks every free chunk and holds the arena locks:
// slow with a large heap) every 20 ms and when the calls in flight grew by a tenth.
class PeakSampler {
 public:
  explicit PeakSampler(std::function<size_t()> in_flight)
      : in_flight_(std::move(in_flight)), heap0_(HeapInUseBytes()), rss0_(RssBytes()) {
    thread_ = std::thread([this] {
      auto last_heap = BenchClock::now();
      size_t heap_at = 0;  // calls in flight at the last heap sample
      while (!stop_.load()) {
        peak_.rss = std::max(peak_.rss, RssBytes() - rss0_);
        size_t now = in_flight_ ? in_flight_() : 0;
        peak_.max_in_flight = std::max(peak_.max_in_flight, now);
        if (now >= heap_at + std::max<size_t>(1, heap_at / 10) ||
            SecondsSince(last_heap) >= 0.020) {
          peak_.heap = std::max(peak_.heap, HeapInUseBytes() - heap0_);
          last_heap = BenchClock::now();
          heap_at = now;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
  }
  Memory Stop() {
    stop_.store(true);
    thread_.join();
    return peak_;
  }

 private:
  std::function<size_t()> in_flight_;
  int64_t heap0_;
  int64_t rss0_;
  Memory peak_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// One way of making the N calls. Prepare() builds a fresh client (new connections); Run() makes
// the calls once and returns the wall time and the client's CPU.
class Client {
 public:
  virtual ~Client() = default;
  virtual void Prepare() {}
  virtual Sample Run() = 0;
  // Transfers in flight now (memory sampling); null when not observable.
  virtual std::function<size_t()> InFlight() { return nullptr; }
  // False for clients whose connections do not outlive one Run (the baseline tools).
  virtual bool Pools() const { return true; }
};

Sample TimeSelf(const std::function<void()>& fn) {
  double cpu0 = SelfCpuSeconds();
  auto t0 = BenchClock::now();
  fn();
  return {SecondsSince(t0), SelfCpuSeconds() - cpu0, 0};
}

std::string QuoteConfig(const std::string& s) {  // a curl config file string
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string QuoteLua(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// Baseline: curl's own tool. It runs at most 300 transfers at once, so N calls go to
// ceil(N / 300) curl processes started together, each `--parallel --parallel-immediate` over
// its share of the requests (a config file: URL, the codec's headers and body per request).
class CurlClient final : public Client {
 public:
  CurlClient(const Calls& calls, const std::string& dir) : dir_(dir) {
    procs_ = (calls.n + kCurlParallelMax - 1) / kCurlParallelMax;
    std::vector<std::ofstream> files;
    for (int p = 0; p < procs_; ++p) files.emplace_back(Config(p));
    for (int i = 0; i < calls.n; ++i) {
      const http::HttpRequest& r = calls.http[static_cast<size_t>(i)];
      std::ofstream& f = files[static_cast<size_t>(i % procs_)];
      f << "url = " << QuoteConfig(r.url) << "\n";
      for (const auto& [name, value] : r.headers) {
        f << "header = " << QuoteConfig(name + ": " + value) << "\n";
      }
      f << "header = \"Expect:\"\n";
      f << "data-binary = " << QuoteConfig(r.body) << "\n";
      f << "output = \"/dev/null\"\n";
      f << "write-out = \"%{http_code}\\n\"\n";
      if (i + procs_ < calls.n) f << "next\n";  // none after a file's last transfer
    }
    n_ = calls.n;
  }

  Sample Run() override {
    std::vector<pid_t> pids;
    std::vector<int> outs;
    auto t0 = BenchClock::now();
    for (int p = 0; p < procs_; ++p) {
      std::string out_path = fmt::format("{}/curl-{}.out", dir_, p);
      int fd = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd < 0) Die("cannot create " + out_path);
      pids.push_back(
          Spawn({"curl", "--silent", "--no-progress-meter", "--parallel", "--parallel-immediate",
                 "--parallel-max", std::to_string(kCurlParallelMax), "--config", Config(p)},
                fd, fmt::format("{}/curl-{}.err", dir_, p)));
      outs.push_back(fd);
    }
    double cpu = 0;
    for (pid_t pid : pids) Reap(pid, &cpu);
    double wall = SecondsSince(t0);
    for (int fd : outs) close(fd);
    int ok = 0;
    for (int p = 0; p < procs_; ++p) {
      std::ifstream f(fmt::format("{}/curl-{}.out", dir_, p));
      std::string line;
      while (std::getline(f, line)) ok += line == "200";
    }
    Sample s{wall, cpu};
    s.failed = n_ - ok;
    return s;
  }
  bool Pools() const override { return false; }
  int procs() const { return procs_; }

 private:
  std::string Config(int p) const { return fmt::format("{}/curl-{}.config", dir_, p); }
  std::string dir_;
  int procs_ = 0;
  int n_ = 0;
};

// Baseline: wrk with N connections on 2 threads; a Lua script gives each connection's first
// request one of the N bodies and stops a thread once all of its first requests are answered.
// wrk never idles a connection: its next request is delayed by an hour (and, should one be sent,
// it asks for another model and is not counted).
class WrkClient final : public Client {
 public:
  WrkClient(const Calls& calls, const std::string& dir) : dir_(dir), n_(calls.n) {
    const http::HttpRequest& first = calls.http.front();
    url_ = first.url;
    {
      std::ofstream bodies(dir_ + "/wrk-bodies.txt");
      for (const auto& r : calls.http) bodies << r.body << "\n";
    }
    std::string extra = first.body;
    size_t at = extra.find(std::string("\"") + kModelId + "\"");
    if (at == std::string::npos) Die("wrk: the model id is not in the request body");
    extra.replace(at, std::strlen(kModelId) + 2, "\"sim-large\"");
    std::string headers;
    for (const auto& [name, value] : first.headers) {
      headers += fmt::format("  [{}] = {},\n", QuoteLua(name), QuoteLua(value));
    }
    std::ofstream lua(dir_ + "/wrk.lua");
    lua << "local threads = {}\nlocal count = 0\n"
           "function setup(thread)\n"
           "  thread:set('tid', count)\n  count = count + 1\n  table.insert(threads, thread)\n"
           "end\n"
           "function init(args)\n"
           "  nthreads = tonumber(args[1])\n  bodies = {}\n"
           "  for line in io.lines(args[2]) do bodies[#bodies + 1] = line end\n"
           "  nxt = tid + 1\n  want = 0\n"
           "  for i = tid + 1, #bodies, nthreads do want = want + 1 end\n"
           "  got = 0\n  bad = 0\n"
           // wrk calls thread 0's request() once before it starts, to check the request.
           "  dry_run = tid == 0\n"
           "  extra = "
        << QuoteLua(extra)
        << "\n"
           "  hdrs = {\n"
        << headers
        << "  }\n"
           "end\n"
           // A connection's later requests wait (an hour) instead of loading the server.
           "function delay()\n"
           "  if nxt <= #bodies then return 0 end\n"
           "  return 3600000\n"
           "end\n"
           "function request()\n"
           "  local body = extra\n"
           "  if dry_run then dry_run = false; return wrk.format('POST', wrk.path, hdrs, body) "
           "end\n"
           "  if nxt <= #bodies then body = bodies[nxt]; nxt = nxt + nthreads end\n"
           "  return wrk.format('POST', wrk.path, hdrs, body)\n"
           "end\n"
           "function response(status, headers, body)\n"
           "  if body:find('\"sim-large\"', 1, true) then return end\n"
           "  if status == 200 then got = got + 1 else bad = bad + 1 end\n"
           "  if got + bad >= want and not finished then\n"
           "    finished = true\n"
           "    io.write('baton-bench thread-done\\n')\n    io.flush()\n"
           "    wrk.thread:stop()\n"
           "  end\n"
           "end\n"
           "function done(summary, latency, requests)\n"
           "  local g, b = 0, 0\n"
           "  for _, t in ipairs(threads) do g = g + t:get('got'); b = b + t:get('bad') end\n"
           "  io.write(string.format('baton-bench ok=%d bad=%d\\n', g, b))\n"
           "end\n";
  }

  // wrk's main thread sleeps for the whole -d duration whatever its threads do, so the wall time
  // ends when every thread has reported that it is done; then SIGINT ends wrk.
  Sample Run() override {
    int fds[2];
    if (pipe(fds) != 0) Die("pipe failed");
    auto t0 = BenchClock::now();
    pid_t pid = Spawn({"wrk", "-t", std::to_string(kWrkThreads), "-c", std::to_string(n_), "-d",
                       "30s", "--timeout", "20s", "-s", dir_ + "/wrk.lua", url_, "--",
                       std::to_string(kWrkThreads), dir_ + "/wrk-bodies.txt"},
                      fds[1], dir_ + "/wrk.err");
    close(fds[1]);
    std::string text;
    std::optional<double> wall;
    auto done_lines = [&] {
      int n = 0;
      for (size_t at = text.find("baton-bench thread-done"); at != std::string::npos;
           at = text.find("baton-bench thread-done", at + 1)) {
        ++n;
      }
      return n;
    };
    while (true) {
      pollfd p{fds[0], POLLIN, 0};
      if (poll(&p, 1, 60'000) <= 0) Die("wrk: no output for 60 s");
      char buf[4096];
      ssize_t got = read(fds[0], buf, sizeof buf);
      if (got <= 0) break;
      text.append(buf, static_cast<size_t>(got));
      if (!wall && done_lines() == kWrkThreads) {
        wall = SecondsSince(t0);
        kill(pid, SIGINT);
      }
    }
    close(fds[0]);
    if (!wall) wall = SecondsSince(t0);  // a call failed: a thread waited until the -d limit
    double cpu = 0;
    int rc = Reap(pid, &cpu);
    size_t at = text.find("baton-bench ok=");
    if (rc != 0 || at == std::string::npos) {
      Die(fmt::format("wrk failed (exit {}): {} (see {}/wrk.err)", rc, text, dir_));
    }
    Sample s{*wall, cpu};
    s.failed = n_ - std::atoi(text.c_str() + at + std::strlen("baton-bench ok="));
    return s;
  }
  bool Pools() const override { return false; }

 private:
  std::string dir_;
  std::string url_;
  int n_;
};

http::HttpClient::Options ClientOptions() {
  http::HttpClient::Options o;
  o.max_connections_per_host = 20'000;  // every call on its own HTTP/1.1 connection
  o.max_total_connections = 20'000;
  o.proxy = "";
  return o;
}

std::shared_ptr<http::HttpClient> NewHttpClient() {
  auto c = http::HttpClient::Create(ClientOptions());
  if (!c.ok()) Die("cannot create the HTTP client: " + c.error().message());
  return std::shared_ptr<http::HttpClient>(std::move(c).value());
}

// http::HttpClient alone: the codec's requests, sent all at once.
class HttpOnlyClient final : public Client {
 public:
  explicit HttpOnlyClient(const Calls& calls) : calls_(calls) {}
  void Prepare() override { client_ = NewHttpClient(); }
  Sample Run() override {
    std::vector<http::HttpRequest> requests = calls_.http;  // copied outside the timing
    DriveResult r;
    Sample s = TimeSelf([&] { r = SendAll(*client_, std::move(requests)); });
    s.failed = r.failed;
    if (r.failed > 0) std::fprintf(stderr, "    %d failed: %s\n", r.failed, r.first_error.c_str());
    return s;
  }
  std::function<size_t()> InFlight() override {
    return [c = client_] { return c->InFlight(); };
  }

 private:
  const Calls& calls_;
  std::shared_ptr<http::HttpClient> client_;
};

const providers::ProviderPreset& OpenAiPreset() {
  for (const auto& p : providers::HttpProviderPresets()) {
    if (p.name == "openai") return p;
  }
  Die("no openai provider preset");
}

// The workflow's model (HttpModel: codec + HTTP client), called directly.
class ModelClient final : public Client {
 public:
  ModelClient(const Calls& calls, const core::ModelConfig& config)
      : calls_(calls), config_(config) {}
  void Prepare() override {
    client_ = NewHttpClient();
    std::string key;
    auto model = providers::CreateHttpModel(
        OpenAiPreset(), config_,
        [c = client_]() -> Result<std::shared_ptr<http::HttpClient>> { return c; }, &key);
    if (!model.ok()) Die("cannot create the model: " + model.error().message());
    model_ = std::move(model).value();
  }
  Sample Run() override {
    std::vector<providers::ChatRequest> requests = calls_.chat;
    DriveResult r;
    Sample s = TimeSelf([&] { r = CompleteAll(*model_, std::move(requests)); });
    s.failed = r.failed;
    if (r.failed > 0) std::fprintf(stderr, "    %d failed: %s\n", r.failed, r.first_error.c_str());
    return s;
  }
  std::function<size_t()> InFlight() override {
    return [c = client_] { return c->InFlight(); };
  }

 private:
  const Calls& calls_;
  core::ModelConfig config_;
  std::shared_ptr<http::HttpClient> client_;
  std::unique_ptr<providers::ChatModel> model_;
};

// How the engine gets its models.
enum class Models {
  kPlain,      // HttpModel on a client with room for every call
  kAdmission,  // the same, wrapped in the admission chain (as `baton run` does)
  kDefaults,   // RegisterBuiltinProviders with a hub and default EngineOptions: `baton run` today
};

// The whole path: a for_each workflow of N llm steps, run by runtime::Engine on a journal.
class EngineClient final : public Client {
 public:
  EngineClient(int n, Workflow wf, StoreKind store, Models models)
      : n_(n),
        wf_(std::move(wf)),
        store_kind_(store),
        models_kind_(models),
        inputs_(ItemsInput(n)) {
    if (store == StoreKind::kMemory) {
      store_ = store::NewMemoryStore();
    } else {
      dir_ = std::make_unique<TempDir>("baton-llm-bench");
      store::SqliteOptions o;
      o.synchronous_full = store == StoreKind::kSqliteFull;
      auto s = store::OpenSqliteStore(dir_->path() + "/journal.db", o);
      if (!s.ok()) Die("cannot open SQLite store: " + s.error().message());
      store_ = std::move(s).value();
    }
  }
  ~EngineClient() override { Reset(); }

  void Prepare() override {
    Reset();
    models_ = std::make_unique<providers::ModelRegistry>();
    runtime::EngineOptions eo;
    eo.threads = 1;
    if (models_kind_ == Models::kDefaults) {
      providers::RegisterBuiltinProviders(*models_,
                                          std::make_shared<providers::admission::AdmissionHub>());
    } else {
      eo.max_concurrency = 20'000;  // every item in flight at once
      client_ = NewHttpClient();
      std::shared_ptr<providers::admission::AdmissionHub> hub;
      if (models_kind_ == Models::kAdmission) {
        hub = std::make_shared<providers::admission::AdmissionHub>();
      }
      providers::HttpClientSource source =
          [c = client_]() -> Result<std::shared_ptr<http::HttpClient>> { return c; };
      Status st = models_->Register(
          "openai",
          [source,
           hub](const core::ModelConfig& config) -> Result<std::unique_ptr<providers::ChatModel>> {
            std::string key;
            auto model = providers::CreateHttpModel(OpenAiPreset(), config, source, &key);
            if (!model.ok() || !hub) return model;
            auto admitted =
                providers::admission::AdmitModel(config, std::move(model).value(), hub, key);
            if (!admitted.ok()) return admitted.error();
            return std::unique_ptr<providers::ChatModel>(std::move(admitted).value());
          });
      if (!st.ok()) Die("cannot register the openai provider");
    }
    engine_ = std::make_unique<runtime::Engine>(*store_, *models_, tools_, eo);
  }

  Sample Run() override {
    std::string run_id;
    Sample s = TimeSelf([&] {
      runtime::RunOptions ro;
      ro.inputs = inputs_;
      auto id = engine_->Start(wf_, std::move(ro));
      if (!id.ok()) Die("Start failed: " + id.error().message());
      auto r = engine_->Wait(*id);
      if (!r.ok()) Die("Wait failed: " + r.error().message());
      if (r->status != core::RunStatus::kSucceeded) {
        Die("run did not succeed: " + ToJson(r->summary()));
      }
      const json::value* n =
          r->outputs().is_object() ? r->outputs().get_object().if_contains("n") : nullptr;
      if (!n || !n->is_int64() || n->get_int64() != n_) Die("the run's output n is not N");
      run_id = *id;
    });
    s.failed = CallsJournaled(run_id) - n_;
    return s;
  }
  std::function<size_t()> InFlight() override {
    if (!client_) return nullptr;
    return [c = client_] { return c->InFlight(); };
  }

 private:
  // Model calls the run made (more than N when some were retried), read from the journal.
  int CallsJournaled(const std::string& run_id) {
    auto events = store_->ReadEvents(run_id);
    if (!events.ok()) Die("ReadEvents failed: " + events.error().message());
    int calls = 0;
    for (const auto& e : *events) calls += e.type == core::EventType::kModelCalled;
    return calls;
  }

  void Reset() {
    engine_.reset();
    models_.reset();
    client_.reset();
  }

  int n_;
  Workflow wf_;
  StoreKind store_kind_;
  Models models_kind_;
  json::object inputs_;
  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<store::Store> store_;
  std::shared_ptr<http::HttpClient> client_;
  std::unique_ptr<providers::ModelRegistry> models_;
  tools::ToolRegistry tools_;
  std::unique_ptr<runtime::Engine> engine_;
};

// --- The benchmark --------------------------------------------------------------------------

struct RowResult {
  std::string what;
  std::vector<Sample> cold;  // fresh client: new connections
  std::vector<Sample> warm;  // the same client again: pooled connections
  std::optional<Memory> memory;
};

int64_t MedianOf(const std::vector<Sample>& v, int64_t Sample::*field) {
  std::vector<double> x;
  for (const auto& s : v) x.push_back(static_cast<double>(s.*field));
  return static_cast<int64_t>(Median(x));
}

// Calls that failed (or were retried) over every measured run of the row.
int Failed(const RowResult& r) {
  int n = 0;
  for (const auto* v : {&r.cold, &r.warm}) {
    for (const auto& s : *v) n += s.failed;
  }
  return n;
}

double MedianOf(const std::vector<Sample>& v, double Sample::*field) {
  std::vector<double> x;
  for (const auto& s : v) x.push_back(s.*field);
  return Median(x);
}

Sample Measured(Client& c, const SimServerProcess& server) {
  double s0 = server.CpuSeconds();
  int64_t connects0 = ConnectsSoFar();
  int64_t drops0 = ListenOverflowsSoFar();
  Sample s = c.Run();
  s.server_cpu = server.CpuSeconds() - s0;
  s.connects = ConnectsSoFar() - connects0;
  s.syn_drops = ListenOverflowsSoFar() - drops0;
  return s;
}

// Runs the row: a warm-up run (unless `warm_up` is false), then `reps` times a run on a fresh
// client (new connections) and, for baton's clients, a second run on it (pooled connections);
// with `memory`, one more fresh run while a PeakSampler watches (not timed).
RowResult Bench(const std::string& what, Client& c, const SimServerProcess& server, int reps,
                bool memory, bool warm_up) {
  RowResult r;
  r.what = what;
  std::fprintf(stderr, "  %s ...\n", what.c_str());
  if (warm_up) {  // the first calls of a process (allocator, libcurl, server state)
    c.Prepare();
    Measured(c, server);
  }
  for (int i = 0; i < reps; ++i) {
    c.Prepare();
    r.cold.push_back(Measured(c, server));
    if (c.Pools()) r.warm.push_back(Measured(c, server));
  }
  if (memory) {
    c.Prepare();
    PeakSampler sampler(c.InFlight());
    Measured(c, server);
    r.memory = sampler.Stop();
  }
  return r;
}

std::string Ratio(double x, double base) {
  if (base <= 0) return "";
  double r = x / base;
  return r < 10 ? fmt::format("{:.2f}×", r) : fmt::format("{:.0f}×", r);
}

struct Verdicts {
  std::vector<std::vector<std::string>> rows;
};

// Rows are named by a key (curl, wrk, http, model, memory, normal, full, admission, defaults);
// --only=KEY[,KEY...] runs only those. Without it, 10,000 calls skip the memory-store and the
// plain FULL engine rows (the run stays near two minutes).
bool Wanted(const std::string& key, bool big) {
  if (g_only.empty()) return !big || (key != "memory" && key != "full");
  return ("," + g_only + ",").find("," + key + ",") != std::string::npos;
}

void BenchSize(int n, const SimServerProcess& server, const std::string& base_url,
               Verdicts& verdicts) {
  TempDir dir("baton-llm-bench-tools");
  Calls calls = MakeCalls(n, base_url);
  Workflow wf = Load(FanYaml(base_url));
  bool big = n >= 10000;
  int reps = g_quick ? 1 : big ? 2 : 5;
  bool memory = big || g_quick;
  bool warm_up = !big;  // the smaller sizes ran first
  std::fprintf(stderr, "%d calls:\n", n);

  std::vector<std::pair<std::string, RowResult>> rows;
  auto find = [&](const std::string& key) -> const RowResult* {
    for (const auto& [k, r] : rows) {
      if (k == key) return &r;
    }
    return nullptr;
  };
  if (Wanted("curl", big)) {
    CurlClient curl(calls, dir.path());
    rows.emplace_back("curl", Bench(fmt::format("curl tool ({} × --parallel-max {})", curl.procs(),
                                                kCurlParallelMax),
                                    curl, server, reps, false, warm_up));
  }
  if (Wanted("wrk", big) && OnPath("wrk")) {
    WrkClient w(calls, dir.path());
    rows.emplace_back("wrk", Bench(fmt::format("wrk (-t {} -c {})", kWrkThreads, n), w, server,
                                   reps, false, warm_up));
  }
  if (Wanted("http", big)) {
    HttpOnlyClient c(calls);
    rows.emplace_back("http",
                      Bench("baton http::HttpClient alone", c, server, reps, memory, warm_up));
  }
  if (Wanted("model", big)) {
    ModelClient c(calls, wf->models.at("m"));
    rows.emplace_back("model", Bench("baton HttpModel (codec + HTTP), no engine", c, server, reps,
                                     memory, warm_up));
  }
  struct EngineRow {
    const char* key;
    StoreKind store;
    Models models;
  };
  for (EngineRow e : {EngineRow{"memory", StoreKind::kMemory, Models::kPlain},
                      EngineRow{"normal", StoreKind::kSqliteNormal, Models::kPlain},
                      EngineRow{"full", StoreKind::kSqliteFull, Models::kPlain},
                      EngineRow{"admission", StoreKind::kSqliteFull, Models::kAdmission}}) {
    if (!Wanted(e.key, big)) continue;
    EngineClient c(n, wf, e.store, e.models);
    rows.emplace_back(e.key,
                      Bench(fmt::format("baton engine, llm steps, {}{}", StoreName(e.store),
                                        e.models == Models::kAdmission ? ", admission chain" : ""),
                            c, server, reps, memory, warm_up));
  }
  if (n <= 1000 && Wanted("defaults", big)) {
    EngineClient c(n, wf, StoreKind::kSqliteFull, Models::kDefaults);
    rows.emplace_back("defaults", Bench("baton engine, `baton run` defaults (64 in flight, 64 "
                                        "connections/host), SQLite FULL, admission chain",
                                        c, server, g_quick ? 1 : 2, false, true));
  }

  // Ratios against the baselines' wall (cold: they open their connections on every run) and
  // against wrk's CPU (curl's includes starting its processes).
  const RowResult* curl = find("curl");
  const RowResult* wrk = find("wrk");
  double curl_wall = curl ? MedianOf(curl->cold, &Sample::wall) : 0;
  double wrk_wall = wrk ? MedianOf(wrk->cold, &Sample::wall) : 0;
  double wrk_cpu = wrk ? MedianOf(wrk->cold, &Sample::cpu) : 0;
  Table t({"client", "wall, new connections", "wall, pooled", "× curl", "× wrk", "CPU per call",
           "× wrk CPU", "server CPU per call", "connects / SYN drops: new", "… pooled", "failed"});
  for (const auto& [key, r] : rows) {
    double cold = MedianOf(r.cold, &Sample::wall);
    const std::vector<Sample>& steady = r.warm.empty() ? r.cold : r.warm;
    double cpu = MedianOf(steady, &Sample::cpu) / n;
    double server_cpu = MedianOf(steady, &Sample::server_cpu) / n;
    t.Add({r.what, FormatSeconds(cold),
           r.warm.empty() ? "—" : FormatSeconds(MedianOf(r.warm, &Sample::wall)),
           Ratio(cold, curl_wall), Ratio(cold, wrk_wall), FormatSeconds(cpu),
           Ratio(cpu * n, wrk_cpu), FormatSeconds(server_cpu),
           fmt::format("{} / {}", MedianOf(r.cold, &Sample::connects),
                       MedianOf(r.cold, &Sample::syn_drops)),
           r.warm.empty() ? "—"
                          : fmt::format("{} / {}", MedianOf(r.warm, &Sample::connects),
                                        MedianOf(r.warm, &Sample::syn_drops)),
           std::to_string(Failed(r))});
  }
  t.Print(fmt::format(
      "{} concurrent LLM calls against sim-server ({} latency; {}; CPU per call from the pooled "
      "runs for baton, per whole run for the tools)",
      n, kLatency, reps == 1 ? std::string("one run") : fmt::format("median of {}", reps)));

  if (memory) {
    Table m({"client", "calls in flight (peak seen)", "heap growth at peak", "per call",
             "RSS growth at peak", "per call"});
    for (const auto& [key, r] : rows) {
      if (!r.memory) continue;
      m.Add({r.what, std::to_string(r.memory->max_in_flight), FormatMiB(r.memory->heap),
             fmt::format("{:.1f} KB", r.memory->heap / 1000.0 / n), FormatMiB(r.memory->rss),
             fmt::format("{:.1f} KB", r.memory->rss / 1000.0 / n)});
    }
    m.Print(
        fmt::format("Memory while {} calls are in flight (new connections; heap = glibc "
                    "mallinfo2 bytes in use, all arenas; RSS from /proc/self/statm)",
                    n));
  }

  // The targets, judged on the product path (engine, SQLite FULL, admission chain), and the CPU
  // target on each journaled engine row.
  double target = n >= 10000 ? 0.600 : n >= 1000 ? 0.100 : 0;
  if (const RowResult* product = find("admission")) {
    double cold = MedianOf(product->cold, &Sample::wall);
    double warm = MedianOf(product->warm, &Sample::wall);
    if (target > 0) {
      verdicts.rows.push_back(
          {fmt::format("{} concurrent calls ≤ {}", n, FormatSeconds(target)),
           fmt::format("{} new connections, {} pooled ({})", FormatSeconds(cold),
                       FormatSeconds(warm), product->what),
           warm <= target ? (cold <= target ? "MET" : "MET pooled only") : "MISSED"});
    }
    if (product->memory) {
      double per_call = static_cast<double>(product->memory->heap) / n;
      verdicts.rows.push_back(
          {"≤ 16 KB per in-flight call",
           fmt::format("{:.1f} KB heap per call at {} in flight ({})", per_call / 1000,
                       product->memory->max_in_flight, product->what),
           per_call <= 16000 ? "MET" : "MISSED"});
    }
  }
  if (n == g_sizes.front()) {
    for (const char* key : {"normal", "full", "admission"}) {
      const RowResult* r = find(key);
      if (!r) continue;
      double cpu = MedianOf(r->warm, &Sample::cpu) / n;
      verdicts.rows.push_back({fmt::format("CPU per LLM call ≤ 100 µs ({} calls)", n),
                               fmt::format("{} ({})", FormatSeconds(cpu), r->what),
                               cpu <= 100e-6 ? "MET" : "MISSED"});
    }
  }
}

void RaiseFileLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  getrlimit(RLIMIT_NOFILE, &rl);
  int largest = *std::max_element(g_sizes.begin(), g_sizes.end());
  if (rl.rlim_cur < static_cast<rlim_t>(largest) * 2 + 256) {
    std::fprintf(stderr,
                 "warning: open files limited to %llu; %d calls need about %d (ulimit -Hn)\n",
                 static_cast<unsigned long long>(rl.rlim_cur), largest, largest * 2 + 256);
  }
}

std::string DefaultBaton(const char* argv0) {
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) self = argv0;
  return (self.parent_path().parent_path() / "src" / "cli" / "baton").string();
}

}  // namespace
}  // namespace baton::bench

int main(int argc, char** argv) {
  using namespace baton::bench;
  std::string sizes;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      g_quick = true;
    } else if (std::strncmp(argv[i], "--baton=", 8) == 0) {
      g_baton = argv[i] + 8;
    } else if (std::strncmp(argv[i], "--only=", 7) == 0) {
      g_only = argv[i] + 7;
    } else if (std::strncmp(argv[i], "--sizes=", 8) == 0) {
      sizes = argv[i] + 8;
    } else {
      std::fprintf(stderr, "usage: %s [--quick] [--baton=PATH] [--sizes=N,N...] [--only=KEY,...]\n",
                   argv[0]);
      return 2;
    }
  }
  if (g_quick) g_sizes = {200, 1000};
  if (!sizes.empty()) {
    g_sizes.clear();
    size_t i = 0;
    while (i < sizes.size()) {
      size_t j = sizes.find(',', i);
      if (j == std::string::npos) j = sizes.size();
      int n = std::atoi(sizes.substr(i, j - i).c_str());
      if (n <= 0) Die("bad --sizes");
      g_sizes.push_back(n);
      i = j + 1;
    }
  }
  if (g_baton.empty()) g_baton = DefaultBaton(argv[0]);
  if (access(g_baton.c_str(), X_OK) != 0) Die("no baton binary at " + g_baton + " (--baton=PATH)");
  if (!OnPath("curl")) Die("curl is not on PATH (the baseline)");
  signal(SIGPIPE, SIG_IGN);
  RaiseFileLimit();  // before the server starts: it inherits the limit
  setenv(kKeyEnv, kKey, 1);

  std::printf("baton LLM-call benchmarks%s — %u hardware threads\n", g_quick ? " (quick)" : "",
              std::thread::hardware_concurrency());
  std::printf("Server: `%s sim-server --latency %s --threads 2`, a child process.\n",
              g_baton.c_str(), kLatency);
  std::printf("Baselines: curl (%s), wrk (%s).\n", "on PATH",
              OnPath("wrk") ? "on PATH" : "not installed: skipped");
  auto t0 = BenchClock::now();
  Verdicts verdicts;
  {
    SimServerProcess server(g_baton, 2);
    std::string base_url = server.url() + "/v1";
    for (int n : g_sizes) BenchSize(n, server, base_url, verdicts);
  }
  Table v({"target", "measured (this run)", "verdict"});
  for (auto& row : verdicts.rows) v.Add(row);
  v.Print("Targets");
  std::printf("\npeak RSS (getrusage): %s; total time %.1f s\n", FormatMiB(PeakRssBytes()).c_str(),
              SecondsSince(t0));
  return 0;
}
