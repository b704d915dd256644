#include "http/client.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "test_server.hpp"

extern char** environ;

namespace baton::http {
namespace {

namespace asio = boost::asio;
using testing::TestServer;
using namespace std::chrono_literals;

// The tests talk to 127.0.0.1; a proxy configured in the environment must not get in the way.
[[maybe_unused]] const bool kProxyEnvironmentCleared = [] {
  for (const char* name : {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                           "ALL_PROXY", "no_proxy", "NO_PROXY"}) {
    ::unsetenv(name);
  }
  return true;
}();

std::unique_ptr<HttpClient> NewClient(HttpClient::Options options = {}) {
  Result<std::unique_ptr<HttpClient>> c = HttpClient::Create(std::move(options));
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return std::move(c).value();
}

HttpRequest Get(std::string url) {
  HttpRequest r;
  r.method = "GET";
  r.url = std::move(url);
  return r;
}

HttpRequest Post(std::string url, std::string body) {
  HttpRequest r;
  r.method = "POST";
  r.url = std::move(url);
  r.body = std::move(body);
  r.headers = {{"Content-Type", "text/plain"}};
  return r;
}

asio::awaitable<void> SendInto(HttpClient* client, HttpRequest request, BodySink sink,
                               std::optional<Result<HttpResponse>>* out) {
  *out = co_await client->Send(std::move(request), std::move(sink));
}

void Rethrow(std::exception_ptr e) {
  if (e) std::rethrow_exception(e);
}

// Sends on a fresh io_context of the calling thread; its run() returns only if the client keeps
// the caller's io_context busy until completion.
Result<HttpResponse> SendSync(HttpClient& client, HttpRequest request, BodySink sink = {}) {
  asio::io_context io;
  std::optional<Result<HttpResponse>> out;
  asio::co_spawn(io, SendInto(&client, std::move(request), std::move(sink), &out), Rethrow);
  io.run();
  EXPECT_TRUE(out.has_value());
  if (!out) return Internal("no completion");
  return std::move(*out);
}

// Open descriptors of this process, each with what it refers to.
std::map<int, std::string> OpenFds() {
  std::map<int, std::string> fds;
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return fds;
  int own = ::dirfd(dir);
  while (dirent* e = ::readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    int fd = std::atoi(e->d_name);
    if (fd == own) continue;
    char target[256] = {};
    std::string path = std::string("/proc/self/fd/") + e->d_name;
    ssize_t n = ::readlink(path.c_str(), target, sizeof(target) - 1);
    fds[fd] = n > 0 ? std::string(target, static_cast<size_t>(n)) : "?";
  }
  ::closedir(dir);
  return fds;
}

std::string Describe(const std::map<int, std::string>& fds) {
  std::string out;
  for (const auto& [fd, target] : fds) out += std::to_string(fd) + "=" + target + " ";
  return out;
}

// ---- round trips ---------------------------------------------------------------------------

TEST(HttpClientTest, GetAndPostRoundTrip) {
  TestServer server;
  auto client = NewClient();

  Result<HttpResponse> get = SendSync(*client, Get(server.Url("/echo")));
  ASSERT_TRUE(get.ok()) << get.status().ToString();
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->body, "GET /echo\n");
  EXPECT_EQ(get->header("X-Test-Header"), "MixedCase");
  EXPECT_EQ(get->header("x-test-header"), "MixedCase");
  EXPECT_EQ(get->header("no-such-header"), "");
  for (const Header& h : get->headers) {
    for (char c : h.first) EXPECT_FALSE(c >= 'A' && c <= 'Z') << h.first;
  }

  HttpRequest post = Post(server.Url("/echo"), "{\"hello\":1}");
  post.headers.emplace_back("Authorization", "Bearer sk-test");
  post.headers.emplace_back("X-Empty", "");
  Result<HttpResponse> posted = SendSync(*client, post);
  ASSERT_TRUE(posted.ok()) << posted.status().ToString();
  EXPECT_EQ(posted->body, "POST /echo\n{\"hello\":1}");

  HttpRequest put = Post(server.Url("/echo"), "data");
  put.method = "PUT";
  Result<HttpResponse> putted = SendSync(*client, put);
  ASSERT_TRUE(putted.ok());
  EXPECT_EQ(putted->body, "PUT /echo\ndata");

  HttpRequest del = Get(server.Url("/echo"));
  del.method = "DELETE";
  Result<HttpResponse> deleted = SendSync(*client, del);
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->body, "DELETE /echo\n");

  std::vector<testing::RecordedRequest> seen = server.requests();
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[1].Header("authorization"), "Bearer sk-test");
  EXPECT_EQ(seen[1].Header("content-type"), "text/plain");
  EXPECT_EQ(seen[1].Header("user-agent"), "baton");
  EXPECT_EQ(seen[1].Header("expect"), "");
  EXPECT_NE(seen[0].Header("accept-encoding"), "");  // gzip/deflate offered
  EXPECT_EQ(client->InFlight(), 0u);
}

TEST(HttpClientTest, ErrorStatusBodiesAreCollectedNotStreamed) {
  TestServer server;
  auto client = NewClient();
  for (int code : {404, 429, 500}) {
    int sink_calls = 0;
    Result<HttpResponse> r = SendSync(*client, Get(server.Url("/status/" + std::to_string(code))),
                                      [&](std::string_view) {
                                        ++sink_calls;
                                        return Status::Ok();
                                      });
    ASSERT_TRUE(r.ok()) << r.status().ToString();  // an HTTP error status is not a failure
    EXPECT_EQ(r->status, code);
    EXPECT_EQ(r->body, "status " + std::to_string(code));
    EXPECT_EQ(r->header("Retry-After"), "3");
    EXPECT_EQ(sink_calls, 0);
  }
}

TEST(HttpClientTest, StreamsA2xxBodyToTheSinkInChunks) {
  TestServer server;
  auto client = NewClient();
  std::string streamed;
  int chunks = 0;
  Result<HttpResponse> r =
      SendSync(*client, Get(server.Url("/chunks?n=5&size=100&delay=50")), [&](std::string_view c) {
        ++chunks;
        streamed.append(c);
        return Status::Ok();
      });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "");
  std::string expected;
  for (char c = 'a'; c < 'f'; ++c) expected += std::string(100, c);
  EXPECT_EQ(streamed, expected);
  EXPECT_GT(chunks, 1);
}

TEST(HttpClientTest, SinkFailureAbortsTheTransfer) {
  TestServer server;
  auto client = NewClient();
  Result<HttpResponse> r =
      SendSync(*client, Get(server.Url("/chunks?n=0&size=10&delay=10")),
               [](std::string_view) { return Status(Code::kInvalidArgument, "bad event", "x"); });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "bad event");
  EXPECT_EQ(r.error().ErrorType(), "x");
  EXPECT_TRUE(server.WaitForNoOpenConnections(10s));
}

TEST(HttpClientTest, GzipBodiesAreDecoded) {
  TestServer server;
  auto client = NewClient();
  Result<HttpResponse> r = SendSync(*client, Get(server.Url("/gzip")));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::string expected;
  for (int i = 0; i < 100; ++i) expected += "hello gzip ";
  EXPECT_EQ(r->body, expected);
}

TEST(HttpClientTest, RedirectsAreFollowedOnlyWhenAsked) {
  TestServer server;
  auto client = NewClient();
  HttpRequest req = Get(server.Url("/redirect"));
  Result<HttpResponse> stay = SendSync(*client, req);
  ASSERT_TRUE(stay.ok()) << stay.status().ToString();
  EXPECT_EQ(stay->status, 302);
  EXPECT_EQ(stay->header("location"), "/echo");
  EXPECT_EQ(stay->body, "moved");

  req.max_redirects = 3;
  Result<HttpResponse> follow = SendSync(*client, req);
  ASSERT_TRUE(follow.ok()) << follow.status().ToString();
  EXPECT_EQ(follow->status, 200);
  EXPECT_EQ(follow->body, "GET /echo\n");
  EXPECT_EQ(follow->header("location"), "");  // headers of the final response only
  EXPECT_EQ(follow->header("x-test-header"), "MixedCase");
}

TEST(HttpClientTest, SequentialRequestsReuseOneConnection) {
  TestServer server;
  auto client = NewClient();
  for (int i = 0; i < 5; ++i) {
    Result<HttpResponse> r = SendSync(*client, Post(server.Url("/echo"), std::to_string(i)));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  EXPECT_EQ(server.accepted(), 1u);
}

TEST(HttpClientTest, ManyConcurrentRequestsFromSeveralThreads) {
  TestServer server;
  HttpClient::Options options;
  options.max_connections_per_host = 64;
  auto client = NewClient(options);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  std::vector<std::vector<std::optional<Result<HttpResponse>>>> results(
      kThreads, std::vector<std::optional<Result<HttpResponse>>>(kPerThread));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      asio::io_context io;
      for (int i = 0; i < kPerThread; ++i) {
        std::string body = "req-" + std::to_string(t) + "-" + std::to_string(i);
        asio::co_spawn(io,
                       SendInto(client.get(), Post(server.Url("/echo"), body), {}, &results[t][i]),
                       Rethrow);
      }
      io.run();
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      ASSERT_TRUE(results[t][i].has_value());
      const Result<HttpResponse>& r = *results[t][i];
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_EQ(r->body, "POST /echo\nreq-" + std::to_string(t) + "-" + std::to_string(i));
    }
  }
  EXPECT_EQ(server.requests().size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_LE(server.accepted(), 64u);  // max_connections_per_host
  EXPECT_EQ(client->InFlight(), 0u);
}

// ---- failures --------------------------------------------------------------------------------

TEST(HttpClientTest, ConnectTimeoutCoversTheTlsHandshake) {
  TestServer silent(TestServer::Mode::kSilent);
  auto client = NewClient();
  HttpRequest req = Get("https://127.0.0.1:" + std::to_string(silent.port()) + "/");
  req.timeouts.connect = 300ms;
  Result<HttpResponse> r = SendSync(*client, req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().ErrorType(), "timeout");
  EXPECT_TRUE(r.error().message().starts_with("connect timeout")) << r.error().message();
}

TEST(HttpClientTest, FirstByteTimeout) {
  TestServer server;
  auto client = NewClient();
  HttpRequest req = Post(server.Url("/never"), "x");
  req.timeouts.first_byte = 300ms;
  Result<HttpResponse> r = SendSync(*client, req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().ErrorType(), "timeout");
  EXPECT_EQ(r.error().message(),
            "first byte timeout: no response within 300 ms after the request was sent");
}

TEST(HttpClientTest, IdleTimeoutAfterHeaders) {
  TestServer server;
  auto client = NewClient();
  HttpRequest req = Get(server.Url("/stall-headers"));
  req.timeouts.idle = 300ms;
  Result<HttpResponse> r = SendSync(*client, req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().ErrorType(), "timeout");
  EXPECT_EQ(r.error().message(), "idle timeout: no data for 300 ms (after 0 bytes)");
}

TEST(HttpClientTest, IdleTimeoutAfterFirstBodyBytes) {
  TestServer server;
  auto client = NewClient();
  HttpRequest req = Get(server.Url("/stall-body"));
  req.timeouts.idle = 300ms;
  std::string got;
  Result<HttpResponse> r = SendSync(*client, req, [&](std::string_view c) {
    got.append(c);
    return Status::Ok();
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().ErrorType(), "timeout");
  EXPECT_EQ(r.error().message(), "idle timeout: no data for 300 ms (after 10 bytes)");
  EXPECT_EQ(got, "0123456789");
}

TEST(HttpClientTest, SlowDripWithinTheIdleTimeoutSucceeds) {
  TestServer server;
  auto client = NewClient();
  HttpRequest req = Get(server.Url("/chunks?n=5&size=1&delay=100"));
  req.timeouts.idle = 3000ms;
  Result<HttpResponse> r = SendSync(*client, req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body, "abcde");
}

TEST(HttpClientTest, TotalTimeoutWhileDataKeepsFlowing) {
  TestServer server;
  auto client = NewClient();
  HttpRequest req = Get(server.Url("/chunks?n=0&size=1&delay=20"));
  req.timeouts.total = 500ms;
  size_t received = 0;
  Result<HttpResponse> r = SendSync(*client, req, [&](std::string_view c) {
    received += c.size();
    return Status::Ok();
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().ErrorType(), "timeout");
  EXPECT_TRUE(r.error().message().starts_with("total timeout: exchange not finished after 500 ms"))
      << r.error().message();
  EXPECT_GT(received, 0u);
}

TEST(HttpClientTest, TruncatedBodiesFailAsNetwork) {
  TestServer server;
  auto client = NewClient();
  for (const char* path : {"/close-mid", "/close-chunked"}) {
    Result<HttpResponse> r = SendSync(*client, Get(server.Url(path)));
    ASSERT_FALSE(r.ok()) << path;
    EXPECT_EQ(r.error().ErrorType(), "network") << path;
    EXPECT_NE(r.error().message().find("truncated"), std::string::npos) << r.error().message();
  }
}

TEST(HttpClientTest, OversizeBodiesFailAsNetwork) {
  TestServer server;
  auto client = NewClient();
  HttpRequest req = Get(server.Url("/big?size=100000"));
  req.max_response_bytes = 1000;
  Result<HttpResponse> collected = SendSync(*client, req);
  ASSERT_FALSE(collected.ok());
  EXPECT_EQ(collected.error().ErrorType(), "network");
  EXPECT_NE(collected.error().message().find("larger than 1000 bytes"), std::string::npos);

  Result<HttpResponse> streamed =
      SendSync(*client, req, [](std::string_view) { return Status::Ok(); });
  ASSERT_FALSE(streamed.ok());
  EXPECT_EQ(streamed.error().ErrorType(), "network");

  req.max_response_bytes = 100000;
  Result<HttpResponse> fits = SendSync(*client, req);
  ASSERT_TRUE(fits.ok());
  EXPECT_EQ(fits->body.size(), 100000u);
}

TEST(HttpClientTest, ConnectionRefusedIsNetworkAndHidesHeaders) {
  uint16_t port;
  {
    TestServer gone;
    port = gone.port();
  }
  auto client = NewClient();
  HttpRequest req = Post("http://127.0.0.1:" + std::to_string(port) + "/x?key=secret-query", "x");
  req.headers.emplace_back("Authorization", "Bearer secret-key");
  Result<HttpResponse> r = SendSync(*client, req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().ErrorType(), "network");
  EXPECT_EQ(r.error().message().find("secret"), std::string::npos) << r.error().message();
}

TEST(HttpClientTest, InvalidRequestsAreRejected) {
  auto client = NewClient();
  HttpRequest bad_header = Get("http://127.0.0.1:1/");
  bad_header.headers.emplace_back("X-Injected", "a\r\nHost: evil");
  Result<HttpResponse> r = SendSync(*client, bad_header);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().ErrorType(), "invalid_request");

  Result<HttpResponse> scheme = SendSync(*client, Get("file:///etc/passwd"));
  ASSERT_FALSE(scheme.ok());
  EXPECT_EQ(scheme.error().ErrorType(), "network");
}

// ---- cancellation ------------------------------------------------------------------------------

TEST(HttpClientTest, CancellationSignalCompletesPromptlyWithCancelled) {
  TestServer server;
  auto client = NewClient();
  HttpRequest req = Post(server.Url("/never"), "x");
  req.timeouts.first_byte = 60s;
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  asio::cancellation_signal signal;
  std::optional<Result<HttpResponse>> out;
  asio::co_spawn(io, SendInto(client.get(), req, {}, &out),
                 asio::bind_cancellation_slot(signal.slot(), Rethrow));
  std::thread runner([&] { io.run(); });
  ASSERT_TRUE(server.WaitForRequests(1, 10s));
  EXPECT_EQ(client->InFlight(), 1u);
  auto start = std::chrono::steady_clock::now();
  asio::post(io, [&] { signal.emit(asio::cancellation_type::terminal); });
  work.reset();
  runner.join();
  ASSERT_TRUE(out.has_value());
  ASSERT_FALSE(out->ok());
  EXPECT_EQ(out->error().code(), Code::kCancelled);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  EXPECT_EQ(client->InFlight(), 0u);
  EXPECT_TRUE(server.WaitForNoOpenConnections(10s));  // the connection was closed, not leaked
}

asio::awaitable<void> RaceWithTimer(HttpClient* client, HttpRequest request, size_t* winner) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(co_await asio::this_coro::executor, 200ms);
  asio::awaitable<Result<HttpResponse>> send = client->Send(std::move(request));
  asio::awaitable<void> wait = timer.async_wait(asio::use_awaitable);
  auto result = co_await (std::move(send) || std::move(wait));
  *winner = result.index();
}

TEST(HttpClientTest, LosingARaceAgainstATimerCancelsTheTransfer) {
  TestServer server;
  auto client = NewClient();
  HttpRequest req = Get(server.Url("/never"));
  req.timeouts.first_byte = 60s;
  asio::io_context io;
  size_t winner = 99;
  asio::co_spawn(io, RaceWithTimer(client.get(), req, &winner), Rethrow);
  io.run();
  EXPECT_EQ(winner, 1u);
  EXPECT_EQ(client->InFlight(), 0u);
  EXPECT_TRUE(server.WaitForNoOpenConnections(10s));
}

TEST(HttpClientTest, DestructorCancelsTransfersInFlight) {
  TestServer server;
  auto client = NewClient();
  asio::io_context io;
  std::vector<std::optional<Result<HttpResponse>>> out(3);
  for (auto& o : out)
    asio::co_spawn(io, SendInto(client.get(), Get(server.Url("/never")), {}, &o), Rethrow);
  std::thread runner([&] { io.run(); });
  ASSERT_TRUE(server.WaitForRequests(3, 10s));
  client.reset();
  runner.join();
  for (auto& o : out) {
    ASSERT_TRUE(o.has_value());
    ASSERT_FALSE(o->ok());
    EXPECT_EQ(o->error().code(), Code::kCancelled);
  }
}

// ---- proxies -----------------------------------------------------------------------------------

TEST(HttpClientTest, HttpProxyFromTheEnvironment) {
  TestServer proxy;
  ::setenv("http_proxy", ("http://127.0.0.1:" + std::to_string(proxy.port())).c_str(), 1);
  auto client = NewClient();
  Result<HttpResponse> r = SendSync(*client, Get("http://example.invalid/echo"));
  ::unsetenv("http_proxy");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body, "GET http://example.invalid/echo\n");
  ASSERT_EQ(proxy.requests().size(), 1u);
  EXPECT_EQ(proxy.requests()[0].target, "http://example.invalid/echo");  // absolute form

  // The upper-case spelling works too, and NO_PROXY still applies.
  ::setenv("HTTP_PROXY", ("http://127.0.0.1:" + std::to_string(proxy.port())).c_str(), 1);
  Result<HttpResponse> upper = SendSync(*client, Get("http://example.invalid/echo?upper"));
  ::setenv("NO_PROXY", "example.invalid", 1);
  HttpRequest direct = Get("http://example.invalid/echo?direct");
  direct.timeouts.connect = 5s;  // resolving may hang where there is no DNS at all
  Result<HttpResponse> bypassed = SendSync(*client, direct);
  ::unsetenv("HTTP_PROXY");
  ::unsetenv("NO_PROXY");
  ASSERT_TRUE(upper.ok()) << upper.status().ToString();
  EXPECT_EQ(upper->body, "GET http://example.invalid/echo?upper\n");
  EXPECT_FALSE(bypassed.ok());  // example.invalid does not resolve
  EXPECT_EQ(proxy.requests().size(), 2u);
}

TEST(HttpClientTest, ExplicitProxyOption) {
  TestServer proxy;
  HttpClient::Options options;
  options.proxy = "http://127.0.0.1:" + std::to_string(proxy.port());
  auto client = NewClient(options);
  Result<HttpResponse> r = SendSync(*client, Post("http://example.invalid/echo", "via proxy"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body, "POST http://example.invalid/echo\nvia proxy");
}

// ---- scale -------------------------------------------------------------------------------------

TEST(HttpClientTest, ThousandStalledCallsTimeOutAndReleaseTheirDescriptors) {
  constexpr int kCalls = 1000;
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  if (limit.rlim_cur < 2 * kCalls + 200) {
    limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, 2 * kCalls + 200);
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  if (limit.rlim_cur < 2 * kCalls + 200) GTEST_SKIP() << "descriptor limit too low";

  TestServer server;
  HttpClient::Options options;
  options.max_connections_per_host = 2 * kCalls;
  options.max_total_connections = 2 * kCalls;
  auto client = NewClient(options);
  asio::io_context io;
  std::map<int, std::string> baseline = OpenFds();

  std::vector<std::optional<Result<HttpResponse>>> out(kCalls);
  for (auto& o : out) {
    HttpRequest req = Get(server.Url("/never"));
    req.timeouts.first_byte = 300ms;
    req.timeouts.idle = 300ms;
    asio::co_spawn(io, SendInto(client.get(), std::move(req), {}, &o), Rethrow);
  }
  io.run();
  int timeouts = 0;
  for (auto& o : out) {
    ASSERT_TRUE(o.has_value());
    ASSERT_FALSE(o->ok());
    if (o->error().ErrorType() == "timeout") ++timeouts;
  }
  EXPECT_EQ(timeouts, kCalls);
  EXPECT_EQ(client->InFlight(), 0u);
  EXPECT_TRUE(server.WaitForNoOpenConnections(30s));
  std::map<int, std::string> after = OpenFds();
  EXPECT_EQ(after.size(), baseline.size())
      << "before: " << Describe(baseline) << "\nafter: " << Describe(after);
}

// ---- TLS
// -----------------------------------------------------------------------------------------

uint16_t FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// `openssl s_server -www` on a free port, until destroyed.
class OpensslServer {
 public:
  OpensslServer(const std::string& cert, const std::string& key) : port_(FreePort()) {
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    std::string port = std::to_string(port_);
    std::vector<std::string> args = {"openssl", "s_server", "-accept", port,  "-cert",
                                     cert,      "-key",     key,       "-www"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawnp(&pid_, "openssl", &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    ::close(pipe_fds[1]);
    out_ = pipe_fds[0];
  }
  ~OpensslServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status;
      ::waitpid(pid_, &status, 0);
    }
    if (out_ >= 0) ::close(out_);
  }

  // Waits for s_server to print ACCEPT (it listens from then on).
  bool WaitReady() {
    std::string seen;
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (seen.find("ACCEPT") == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
      char buf[256];
      ssize_t n = ::read(out_, buf, sizeof(buf));
      if (n <= 0) return false;
      seen.append(buf, static_cast<size_t>(n));
    }
    return true;
  }
  uint16_t port() const { return port_; }

 private:
  uint16_t port_;
  pid_t pid_ = -1;
  int out_ = -1;
};

TEST(HttpClientTest, TlsWithAPrivateCa) {
  if (std::system("command -v openssl >/dev/null 2>&1") != 0) GTEST_SKIP() << "no openssl CLI";
  char dir_template[] = "/tmp/baton-tls-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  std::string dir = dir_template;
  std::string cert = dir + "/cert.pem";
  std::string key = dir + "/key.pem";
  std::string cmd =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
      "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout " +
      key + " -out " + cert + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  {
    OpensslServer tls(cert, key);
    ASSERT_TRUE(tls.WaitReady());
    std::string url = "https://127.0.0.1:" + std::to_string(tls.port()) + "/";

    HttpClient::Options options;
    options.ca_file = cert;
    auto trusting = NewClient(options);
    Result<HttpResponse> r = SendSync(*trusting, Get(url));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 200);
    EXPECT_NE(r->body.find("s_server"), std::string::npos);

    auto system_cas = NewClient();
    Result<HttpResponse> untrusted = SendSync(*system_cas, Get(url));
    ASSERT_FALSE(untrusted.ok());
    EXPECT_EQ(untrusted.error().ErrorType(), "network");
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace baton::http
