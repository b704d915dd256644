#pragma once

// Inbound HTTP/1.1: a small asynchronous server for baton's own endpoints (sim-server now, the
// REST API later). One io_context on N threads; each connection is a coroutine on its own
// strand, so a handler never runs concurrently with itself for one connection and needs no
// locks for per-request state. Keep-alive, bounded request headers (431) and bodies (413),
// `Expect: 100-continue`, streamed responses (chunked; used for server-sent events), and a
// graceful Stop(). Beast stays inside server.cpp.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/clock.hpp"
#include "base/status.hpp"

namespace baton::http {

using Header = std::pair<std::string, std::string>;

// A complete request as the handler sees it.
struct ServerRequest {
  std::string method;           // as sent, e.g. "GET", "POST"
  std::string target;           // as sent: path and query
  std::string path;             // the target before '?', percent-decoded
  std::vector<Header> query;    // decoded name/value pairs, in order ('+' is a space)
  std::vector<Header> headers;  // names lower-cased, in order
  std::string body;
  std::string remote;  // peer address "ip:port"

  // The first header named `name` (case-insensitive), or "".
  std::string_view header(std::string_view name) const;
  // The first query parameter named `name` (case-sensitive), or nullopt.
  std::optional<std::string_view> query_param(std::string_view name) const;
};

struct ServerResponse {
  int status = 200;
  std::vector<Header> headers;  // Content-Length and Connection are set by the server
  std::string body;
};

class Exchange;

// The response side of one request, handed to the handler by value (a cheap handle). Either
// Send() a whole response, or Start() a streamed one, Write() its body piece by piece and
// Finish() it. Every call completes on the connection's strand; a handle must not be used after
// the handler has returned. Writes fail with kUnavailable (type "network") once the client has
// gone; calls in the wrong order fail with kFailedPrecondition.
class ResponseWriter {
 public:
  explicit ResponseWriter(std::shared_ptr<Exchange> exchange) : x_(std::move(exchange)) {}

  boost::asio::awaitable<Status> Send(ServerResponse response);

  // Sends the status line and headers now. The body is chunked, unless `headers` has a
  // content-length: then exactly that many raw bytes are expected from Write().
  boost::asio::awaitable<Status> Start(int status, std::vector<Header> headers);
  boost::asio::awaitable<Status> Write(std::string data);
  // Ends a streamed body (the last chunk).
  boost::asio::awaitable<Status> Finish();

  // Closes the connection once the handler returns, leaving a started response incomplete (a
  // truncated body) or an unstarted one unanswered.
  void Abort();

  bool started() const;
  bool finished() const;

 private:
  std::shared_ptr<Exchange> x_;
};

// Called once per request, on the connection's strand. The coroutine is cancelled (terminal
// cancellation of the awaiting coroutine) when the client disconnects, and when Stop()'s grace
// period ends. If it returns without having sent anything, the server answers 500; if it
// returns with a streamed response unfinished, the connection is closed.
using Handler =
    std::function<boost::asio::awaitable<void>(ServerRequest request, ResponseWriter writer)>;

// Renders the server's own error responses (400, 413, 431, 500). `request` has what was parsed
// before the failure (may be only method and target, or nothing).
using ErrorRenderer =
    std::function<ServerResponse(const ServerRequest& request, int status, std::string message)>;

class Server {
 public:
  struct Options {
    std::string host = "127.0.0.1";  // an address or "localhost"; "0.0.0.0" / "::" for any
    uint16_t port = 0;               // 0: the system picks one (see port())
    int threads = 1;
    size_t max_header_bytes = 16 << 10;  // beyond: 431
    size_t max_body_bytes = 8 << 20;     // beyond: 413
    Millis idle_timeout{60'000};         // keep-alive wait for the next request, and the
                                         // bound on reading one request
    Millis stop_grace{2'000};            // how long Stop() lets requests in flight finish
    ErrorRenderer error_renderer;        // default: {"error":{"code","message"}} JSON
  };

  // Binds, listens and starts the threads. Fails with kUnavailable when the address cannot be
  // bound (in use, not local, bad host).
  static Result<std::unique_ptr<Server>> Start(Options options, Handler handler);

  // Stop().
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  const std::string& host() const;
  // The bound port (the chosen one when Options::port was 0).
  uint16_t port() const;

  // Stops accepting, closes idle connections, lets requests in flight finish for up to
  // `stop_grace`, then cancels their handlers, closes every connection and joins the threads.
  // Idempotent. Must not be called from a handler (it joins the threads handlers run on).
  void Stop();

  // Open connections now; for tests and metrics. Thread-safe.
  size_t Connections() const;

  class Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace baton::http
