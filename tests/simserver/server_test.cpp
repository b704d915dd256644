// The inbound HTTP server primitives (src/http/server.hpp), over real sockets.

#include "http/server.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <thread>

#include "test_client.hpp"

namespace baton::http {
namespace {

namespace asio = boost::asio;
using simserver::testing::Connection;
using simserver::testing::Fetch;
using simserver::testing::Get;
using simserver::testing::Request;

// What the handlers saw and did, for the assertions.
struct Observed {
  std::atomic<int> entered{0};
  std::atomic<int> cancelled{0};
  std::atomic<int> finished{0};
  std::atomic<bool> write_failed{false};
};

bool PollUntil(const std::function<bool()>& done,
               std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

asio::awaitable<bool> Wait(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  auto [ec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
  co_return !ec;
}

// Routes by path:
//   /echo       200 with method, path, query and a header in the body
//   /stream     three chunks, then the end
//   /partial    one chunk, then returns without finishing
//   /nothing    returns without answering
//   /slow       waits 300 ms, then answers
//   /hang       one chunk, then waits an hour (counts cancellation)
//   /wait       waits an hour before answering (counts cancellation)
asio::awaitable<void> Handle(ServerRequest request, ResponseWriter writer, Observed* seen) {
  ++seen->entered;
  if (request.path == "/echo") {
    std::string q(request.query_param("q").value_or(""));
    ServerResponse r{
        200,
        {{"Content-Type", "text/plain"}, {"X-Seen", std::string(request.header("x-test"))}},
        request.method + " " + request.path + " q=" + q + " body=" + request.body};
    co_await writer.Send(std::move(r));
  } else if (request.path == "/stream") {
    std::vector<Header> headers = {{"content-type", "text/event-stream"}};
    co_await writer.Start(200, std::move(headers));
    for (int i = 0; i < 3; ++i) co_await writer.Write("data: " + std::to_string(i) + "\n\n");
    co_await writer.Finish();
  } else if (request.path == "/partial") {
    std::vector<Header> headers = {{"content-type", "text/event-stream"}};
    co_await writer.Start(200, std::move(headers));
    co_await writer.Write("data: first\n\n");
  } else if (request.path == "/slow") {
    co_await Wait(std::chrono::milliseconds(300));
    ServerResponse r{200, {}, "slow done"};
    co_await writer.Send(std::move(r));
  } else if (request.path == "/hang" || request.path == "/wait") {
    // Cancellation ends whichever operation is pending; once cancelled, awaiting another one
    // throws. Either way the handler ends early.
    bool completed = false;
    try {
      if (request.path == "/hang") {
        std::vector<Header> headers = {{"content-type", "text/event-stream"}};
        co_await writer.Start(200, std::move(headers));
        co_await writer.Write("data: first\n\n");
      }
      completed = co_await Wait(std::chrono::hours(1));
    } catch (...) {
    }
    if (!completed) ++seen->cancelled;
  }
  ++seen->finished;
}

class ServerTest : public ::testing::Test {
 protected:
  void StartServer(Server::Options options = {}) {
    auto s = Server::Start(std::move(options), [this](ServerRequest r, ResponseWriter w) {
      return Handle(std::move(r), std::move(w), &seen_);
    });
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    server_ = std::move(s).value();
    ASSERT_NE(server_->port(), 0);
  }
  uint16_t port() const { return server_->port(); }

  Observed seen_;
  std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, BindsAnEphemeralPortAndAnswers) {
  StartServer();
  Request r;
  r.target = "/echo?q=a%20b+c&other=1";
  r.headers = {{"X-Test", "yes"}};
  r.body = "hello";
  auto res = Fetch(port(), r);
  EXPECT_EQ(res.status, 200);
  EXPECT_TRUE(res.complete);
  EXPECT_EQ(res.body, "POST /echo q=a b c body=hello");
  EXPECT_EQ(res.header("x-seen"), "yes");
  EXPECT_EQ(res.header("content-length"), "29");
}

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  StartServer();
  Connection c(port());
  ASSERT_TRUE(c.ok());
  for (int i = 0; i < 3; ++i) {
    Request r;
    r.target = "/echo?q=" + std::to_string(i);
    r.keep_alive = true;
    c.Send(simserver::testing::Serialize(r));
    auto res = c.Read();
    EXPECT_EQ(res.status, 200);
    EXPECT_EQ(res.body, "POST /echo q=" + std::to_string(i) + " body=");
    EXPECT_FALSE(res.closed);
  }
  EXPECT_EQ(seen_.entered.load(), 3);
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  StartServer();
  Connection c(port());
  Request a;
  a.target = "/slow";
  a.keep_alive = true;
  Request b;
  b.target = "/echo?q=second";
  c.Send(simserver::testing::Serialize(a) + simserver::testing::Serialize(b));
  auto first = c.Read();
  auto second = c.Read();
  EXPECT_EQ(first.body, "slow done");
  EXPECT_EQ(second.body, "POST /echo q=second body=");
}

TEST_F(ServerTest, BodyOverTheLimitGets413AndHeadersOverTheLimitGet431) {
  Server::Options o;
  o.max_body_bytes = 1000;
  o.max_header_bytes = 2000;
  StartServer(o);
  Request big;
  big.target = "/echo?q=1";
  big.body = std::string(5000, 'x');
  auto res = Fetch(port(), big);
  EXPECT_EQ(res.status, 413);
  EXPECT_NE(res.body.find("exceeds 1000 bytes"), std::string::npos) << res.body;

  // A chunked body that grows past the limit.
  std::string body;
  for (int i = 0; i < 3; ++i) body += "200\r\n" + std::string(512, 'y') + "\r\n";
  body += "0\r\n\r\n";
  Connection c(port());
  c.Send("POST /echo?q=1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body);
  auto res2 = c.Read();
  EXPECT_EQ(res2.status, 413);

  Request fat;
  fat.method = "GET";
  fat.target = "/echo?q=1";
  fat.headers = {{"X-Big", std::string(4000, 'h')}};
  auto res3 = Fetch(port(), fat);
  EXPECT_EQ(res3.status, 431);
  EXPECT_EQ(seen_.entered.load(), 0);
}

TEST_F(ServerTest, ExpectContinueGetsAnInterimResponse) {
  StartServer();
  Connection c(port());
  c.Send("POST /echo?q=c HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
  // The client waits for 100 Continue before sending the body.
  auto interim = c.Read(5000, /*head_only=*/true);
  EXPECT_EQ(interim.status, 100);
  c.Send("body");
  auto res = c.Read();
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, "POST /echo q=c body=body");
}

TEST_F(ServerTest, StreamsChunksAndFinishes) {
  StartServer();
  auto res = Get(port(), "/stream");
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.header("transfer-encoding"), "chunked");
  EXPECT_TRUE(res.complete);
  EXPECT_EQ(res.body, "data: 0\n\ndata: 1\n\ndata: 2\n\n");
}

TEST_F(ServerTest, AnUnfinishedStreamClosesTheConnection) {
  StartServer();
  auto res = Get(port(), "/partial");
  EXPECT_EQ(res.status, 200);
  EXPECT_FALSE(res.complete);
  EXPECT_TRUE(res.closed);
  EXPECT_EQ(res.body, "data: first\n\n");
}

TEST_F(ServerTest, AHandlerThatSendsNothingYields500) {
  StartServer();
  auto res = Get(port(), "/nothing");
  EXPECT_EQ(res.status, 500);
}

TEST_F(ServerTest, ClientDisconnectCancelsTheHandler) {
  StartServer();
  {
    Connection c(port());
    Request r;
    r.method = "GET";
    r.target = "/hang";
    c.Send(simserver::testing::Serialize(r));
    auto head = c.Read(5000, /*head_only=*/true);
    EXPECT_EQ(head.status, 200);
    ASSERT_TRUE(PollUntil([&] { return seen_.entered.load() == 1; }));
  }  // closes the socket
  EXPECT_TRUE(PollUntil([&] { return seen_.cancelled.load() == 1; }));
  EXPECT_TRUE(PollUntil([&] { return server_->Connections() == 0; }));

  // Also while nothing has been sent yet.
  {
    Connection c(port());
    Request r;
    r.method = "GET";
    r.target = "/wait";
    c.Send(simserver::testing::Serialize(r));
    ASSERT_TRUE(PollUntil([&] { return seen_.entered.load() == 2; }));
  }
  EXPECT_TRUE(PollUntil([&] { return seen_.cancelled.load() == 2; }));
}

TEST_F(ServerTest, StopLetsARequestInFlightFinish) {
  Server::Options o;
  o.stop_grace = std::chrono::seconds(10);
  StartServer(o);
  simserver::testing::Response res;
  std::thread client([&] { res = Get(port(), "/slow"); });
  ASSERT_TRUE(PollUntil([&] { return seen_.entered.load() == 1; }));
  server_->Stop();
  client.join();
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, "slow done");
  // Stopped: nobody answers any more.
  Connection c(port());
  if (c.ok()) {
    c.Send("GET /echo?q=1 HTTP/1.1\r\nHost: x\r\n\r\n");
    auto after = c.Read(2000);
    EXPECT_EQ(after.status, 0);
  }
}

TEST_F(ServerTest, StopCutsStreamsStillInFlightAfterTheGrace) {
  Server::Options o;
  o.stop_grace = std::chrono::milliseconds(100);
  o.threads = 2;
  StartServer(o);
  std::vector<std::unique_ptr<Connection>> clients;
  for (int i = 0; i < 3; ++i) {
    auto c = std::make_unique<Connection>(port());
    c->Send("GET /hang HTTP/1.1\r\nHost: x\r\n\r\n");
    clients.push_back(std::move(c));
  }
  ASSERT_TRUE(PollUntil([&] { return seen_.entered.load() == 3; }));
  auto before = std::chrono::steady_clock::now();
  server_->Stop();
  auto took = std::chrono::steady_clock::now() - before;
  EXPECT_LT(took, std::chrono::seconds(30));  // bounded: it does not wait for the hour
  EXPECT_EQ(seen_.cancelled.load(), 3);
  EXPECT_EQ(server_->Connections(), 0u);
  for (auto& c : clients) {
    auto res = c->Read(5000);
    EXPECT_FALSE(res.complete);
    EXPECT_FALSE(res.timed_out);  // closed, not left hanging
  }
  server_->Stop();  // idempotent
}

TEST(ServerStartTest, ABusyPortFailsToStart) {
  auto first =
      Server::Start({}, [](ServerRequest, ResponseWriter) -> asio::awaitable<void> { co_return; });
  ASSERT_TRUE(first.ok());
  Server::Options o;
  o.port = (*first)->port();
  auto second =
      Server::Start(o, [](ServerRequest, ResponseWriter) -> asio::awaitable<void> { co_return; });
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code(), Code::kUnavailable);
  EXPECT_NE(second.error().message().find("cannot listen"), std::string::npos);
}

}  // namespace
}  // namespace baton::http
