#pragma once

// Incremental parser for text/event-stream (WHATWG HTML "server-sent events"): bytes in, events
// out, any split of the input into chunks gives the same events. Handles \n, \r\n and \r line
// ends, comments, multi-line data (joined with \n), `event:`, `id:`, `retry:`, a BOM at the start.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/status.hpp"

namespace baton::http {

struct SseEvent {
  std::string event;  // "" when the stream gave no `event:` field (the spec's "message")
  std::string data;
  std::string id;
};

class SseParser {
 public:
  using Handler = std::function<Status(SseEvent&& event)>;

  // `max_event_bytes` bounds one event's buffered size; beyond it Feed fails (type "network").
  explicit SseParser(size_t max_event_bytes = 8u << 20) : max_event_bytes_(max_event_bytes) {}

  // Consumes `bytes`, calling `handler` for each complete event; a non-ok handler status stops
  // parsing and is returned. After a failure the parser's state is unspecified: discard it.
  Status Feed(std::string_view bytes, const Handler& handler);

  // Whether bytes of an incomplete event are buffered (a stream that ends here was truncated).
  bool HasPartialEvent() const;

  // The last valid `retry:` value seen (the server's reconnection time in ms), or -1 if none.
  int64_t retry_ms() const { return retry_ms_; }

 private:
  Status Consume(std::string_view bytes, const Handler& handler);
  Status ProcessLine(std::string_view line, const Handler& handler);
  Status CheckSize() const;

  size_t max_event_bytes_;
  std::string line_;
  std::string data_;
  std::string event_;
  std::string id_;
  bool has_data_ = false;
  bool after_cr_ = false;
  bool started_ = false;
  int64_t retry_ms_ = -1;
};

}  // namespace baton::http
