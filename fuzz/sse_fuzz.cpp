// Fuzz target for the SSE parser: parses the input in one piece and again split into chunks at
// points derived from the input, and traps if the events differ (the chunk-split invariant).
// A parse with a tiny event bound exercises the size checks. Errors are expected; crashes,
// sanitizer reports and differences are bugs.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "http/sse.hpp"

namespace {

struct Run {
  std::vector<baton::http::SseEvent> events;
  bool ok = true;
  bool partial = false;
  int64_t retry = -1;
};

Run Parse(std::string_view text, const std::vector<size_t>& cuts, size_t max_bytes) {
  baton::http::SseParser parser(max_bytes);
  Run run;
  auto handler = [&](baton::http::SseEvent&& e) {
    run.events.push_back(std::move(e));
    return baton::Status::Ok();
  };
  size_t at = 0;
  for (size_t cut : cuts) {
    if (!parser.Feed(text.substr(at, cut - at), handler).ok()) run.ok = false;
    at = cut;
    if (!run.ok) return run;
  }
  if (!parser.Feed(text.substr(at), handler).ok()) run.ok = false;
  run.partial = parser.HasPartialEvent();
  run.retry = parser.retry_ms();
  return run;
}

bool Same(const Run& a, const Run& b) {
  if (a.ok != b.ok || a.partial != b.partial || a.retry != b.retry) return false;
  if (a.events.size() != b.events.size()) return false;
  for (size_t i = 0; i < a.events.size(); ++i) {
    if (a.events[i].event != b.events[i].event || a.events[i].data != b.events[i].data ||
        a.events[i].id != b.events[i].id) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  uint32_t seed = data[0];
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  constexpr size_t kLarge = 1u << 20;  // inputs never reach it: no size failures

  Run whole = Parse(text, {}, kLarge);
  std::vector<size_t> cuts;
  for (size_t at = 0; at < text.size();) {
    seed = seed * 1103515245u + 12345u;
    at += 1 + (seed >> 16) % 7;
    if (at < text.size()) cuts.push_back(at);
  }
  if (!Same(whole, Parse(text, cuts, kLarge))) __builtin_trap();
  std::vector<size_t> bytes;
  for (size_t i = 1; i < text.size(); ++i) bytes.push_back(i);
  if (!Same(whole, Parse(text, bytes, kLarge))) __builtin_trap();

  Parse(text, cuts, 1 + data[0] % 32);  // tiny bound: must fail cleanly, never crash
  return 0;
}
