#pragma once

// A deliberately plain HTTP/1.1 client for the sim-server tests: blocking POSIX sockets, one
// request per connection (Connection: close) unless told otherwise, chunked decoding, and a
// read timeout so that stalls are observable. Not thread-safe per Connection.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/json.hpp"

namespace baton::simserver::testing {

using Header = std::pair<std::string, std::string>;

struct Request {
  std::string method = "POST";
  std::string target;
  std::vector<Header> headers;
  std::string body;
  int read_timeout_ms = 20'000;  // give up when nothing arrives for this long
  bool keep_alive = false;       // omit "Connection: close"
};

struct Response {
  int status = 0;               // 0: no status line arrived
  std::vector<Header> headers;  // names lower-cased
  std::string body;             // de-chunked (what arrived of it)
  bool complete = false;        // last chunk / whole content-length received
  bool timed_out = false;       // stopped waiting for more
  bool closed = false;          // the server closed the connection
  std::string raw;              // every byte received
  std::string header(std::string_view name) const;
  json::value Json() const;  // body parsed (test failure when not JSON)
};

// One request on a new connection to 127.0.0.1:port.
Response Fetch(uint16_t port, const Request& request);

// Convenience: POST `body` as JSON to `target` with `headers`.
Response PostJson(uint16_t port, std::string target, const json::value& body,
                  std::vector<Header> headers = {});
Response Get(uint16_t port, std::string target, std::vector<Header> headers = {});

// A connection kept open across requests (keep-alive tests, client-gone tests).
class Connection {
 public:
  explicit Connection(uint16_t port);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  bool ok() const { return fd_ >= 0; }
  void Send(std::string_view bytes);
  // Reads one response (headers and, unless head_only, its body).
  Response Read(int read_timeout_ms = 20'000, bool head_only = false);
  void Close();

 private:
  int fd_ = -1;
  std::string buffer_;
};

// The serialized request (for Connection::Send).
std::string Serialize(const Request& request);

struct SseEvent {
  std::string event;
  std::string data;
};
// Splits a text/event-stream body into events (LF or CRLF line ends).
std::vector<SseEvent> ParseSse(std::string_view body);

json::value ParseOrFail(std::string_view text);

}  // namespace baton::simserver::testing
