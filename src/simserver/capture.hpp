#pragma once

// The most recent requests sim-server received on its model endpoints (everything but the
// control API and the health check), as the client sent them: method, target, headers and body.
// For checking what a client puts on the wire (GET /_sim/requests). Secrets never leave it:
// the values of authorization, x-api-key, x-goog-api-key, proxy-authorization and cookie
// headers, and a `key` query parameter, are replaced by "<redacted>" (an Authorization
// header keeps its scheme: "Bearer <redacted>"); the key shows only as its fingerprint.
// Bounded: the last kCapacity requests, each body cut at kMaxBodyBytes. Thread-safe.

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "base/json.hpp"
#include "http/server.hpp"

namespace baton::simserver {

struct CapturedRequest {
  int64_t seq = 0;  // set by Add(): 1, 2, ...
  std::string method;
  std::string target;                 // path and query, the key parameter redacted
  std::vector<http::Header> headers;  // lower-cased names in order, secrets redacted
  std::string body;                   // at most kMaxBodyBytes
  bool body_truncated = false;
  std::string key_fp;  // fingerprint of the API key the protocol reads, "" without one
};

class RequestCapture {
 public:
  static constexpr size_t kCapacity = 64;
  static constexpr size_t kMaxBodyBytes = 256 << 10;

  // Copies `request` (redacted) and numbers it; returns its seq.
  int64_t Add(const http::ServerRequest& request, std::string key_fp);
  // The kept requests with seq > since, oldest first.
  std::vector<CapturedRequest> Since(int64_t since = 0) const;
  // {"requests": [{"seq", "method", "target", "path", "headers": {name: value}, "key_fp",
  //  "body" (parsed JSON when it is JSON, else the text), "body_truncated"}], "last_seq": n}.
  // Repeated header names are joined with ", ".
  json::value ToJson(int64_t since = 0) const;
  void Clear();

 private:
  mutable std::mutex mu_;
  std::deque<CapturedRequest> requests_;
  int64_t next_seq_ = 1;
};

}  // namespace baton::simserver
