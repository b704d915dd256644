#pragma once

// Outbound HTTP: one libcurl multi handle driven by a private Asio event loop on one thread
// (no thread per request). Keep-alive pooling, TLS with the system CA store, HTTPS_PROXY and
// NO_PROXY from the environment, HTTP/2 where offered, gzip. Callers on any executor co_await
// Send(); the completion is delivered back on the caller's executor.

#include <boost/asio/awaitable.hpp>
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

// A timeout of zero (or less) is off.
struct Timeouts {
  Millis connect{10'000};      // DNS + TCP + TLS handshake (and proxy tunnel)
  Millis first_byte{120'000};  // request starts going out on a connection -> first response byte
  Millis idle{60'000};         // longest silence between two received chunks (stall)
  Millis total{600'000};       // whole exchange
};

struct HttpRequest {
  std::string method = "POST";
  std::string url;
  std::vector<Header> headers;
  std::string body;
  Timeouts timeouts;
  size_t max_response_bytes = 64u << 20;  // larger bodies fail with type "network"
  int max_redirects = 0;                  // > 0: follow up to that many redirects (http/https)
};

struct HttpResponse {
  int status = 0;
  std::vector<Header> headers;  // names lower-cased
  std::string body;             // empty when a 2xx body was streamed to the sink
  // Value of the first header named `name` (case-insensitive), or empty.
  std::string_view header(std::string_view name) const;
};

// Receives the body of a 2xx response chunk by chunk, on the client's I/O thread; returning a
// non-ok status aborts the transfer and Send() fails with that status. It must not block, and
// must not destroy the client. Bodies of non-2xx
// responses are never streamed: they are collected into HttpResponse::body (bounded).
using BodySink = std::function<Status(std::string_view chunk)>;

class HttpClient {
 public:
  struct Options {
    size_t max_connections_per_host = 256;
    size_t max_total_connections = 1024;
    std::string user_agent = "baton";
    // Proxy URL for every request; unset: from the environment (http_proxy or HTTP_PROXY,
    // https_proxy or HTTPS_PROXY, ALL_PROXY, NO_PROXY); "": no proxy at all.
    std::optional<std::string> proxy;
    // PEM file of CA certificates trusted instead of the system store (private CAs, tests).
    std::string ca_file;
  };

  // Starts the I/O thread. Fails when libcurl cannot be initialised. Thread-safe.
  static Result<std::unique_ptr<HttpClient>> Create(Options options);
  static Result<std::unique_ptr<HttpClient>> Create() { return Create(Options{}); }
  // Aborts transfers in flight (their Send() completes with kCancelled) and joins the thread.
  // No Send() may start concurrently with the destructor.
  ~HttpClient();

  // Performs `request`. Completes with the response for any HTTP status (status >= 400 is not a
  // failure here), or fails: type "timeout" (message names which of the four timeouts fired),
  // "network" (DNS, connect, TLS, reset, truncated body, body over max_response_bytes), or
  // kCancelled when the awaiting coroutine's cancellation slot fires (terminal or partial).
  // May be called from any thread or executor; `request` and `sink` are owned until completion.
  // Failure messages never contain request headers or the URL's query.
  boost::asio::awaitable<Result<HttpResponse>> Send(HttpRequest request, BodySink sink = {});

  // Transfers in flight now; for tests and metrics.
  size_t InFlight() const;

  class Impl;

 private:
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace baton::http
