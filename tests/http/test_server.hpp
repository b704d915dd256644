#pragma once

// A scriptable HTTP/1.1 server on 127.0.0.1 (port 0) for the client tests, with its own thread.
// Behaviour is chosen by the request path (absolute-form targets, as proxies get them, are routed
// by their path too):
//   /echo                 200, body "METHOD TARGET\n" + request body; X-Test-Header: MixedCase
//   /status/NNN           status NNN, body "status NNN", Retry-After: 3
//   /chunks?n=N&size=S&delay=MS   chunked, N chunks of S bytes, MS ms apart (n=0: forever)
//   /big?size=N           N bytes with Content-Length
//   /redirect             302 to /echo
//   /gzip                 a gzip-encoded text body (Content-Encoding: gzip)
//   /stall-headers        headers of a chunked response, then silence
//   /stall-body           Content-Length: 100 and 10 bytes, then silence
//   /close-mid            Content-Length: 100 and 10 bytes, then close
//   /close-chunked        one chunk, then close without the terminating chunk
//   /never                reads the request and never answers
// Connections are kept alive between requests. In silent mode, every connection is read and
// never answered (a TLS client then hangs in its handshake).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace baton::http::testing {

struct RecordedRequest {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;  // as received
  std::string body;
  // First header named `name` (case-insensitive), or "".
  std::string Header(std::string_view name) const;
};

class TestServer {
 public:
  enum class Mode { kHttp, kSilent };
  explicit TestServer(Mode mode = Mode::kHttp);
  ~TestServer();

  uint16_t port() const;
  // "http://127.0.0.1:<port>" + path.
  std::string Url(std::string_view path) const;

  size_t accepted() const;          // connections accepted so far
  size_t open_connections() const;  // connections not yet closed
  std::vector<RecordedRequest> requests() const;

  // Block until the condition holds or `timeout` passes; return whether it holds.
  bool WaitForRequests(size_t n, std::chrono::milliseconds timeout) const;
  bool WaitForNoOpenConnections(std::chrono::milliseconds timeout) const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace baton::http::testing
