// Fuzz target for the wire codecs' decoders (baton_providers openai/, anthropic/, gemini/):
// arbitrary bytes become SSE events fed to each protocol's StreamDecoder, a whole response body,
// and an error body with a status; none may crash, hang or throw, with or without an
// output_schema. Input layout: byte 0 picks the protocol (and the schema), byte 1 the error
// status; the rest is split into events at "\n\n", an event starting with "event: NAME\n" names
// itself (Anthropic's framing).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.hpp"
#include "base/json.hpp"
#include "http/client.hpp"
#include "http/sse.hpp"
#include "providers/codec.hpp"

namespace {

constexpr std::string_view kProtocols[] = {"openai", "anthropic", "gemini"};
constexpr int kStatuses[] = {400, 401, 402, 403, 404, 408, 413, 429, 500, 502, 503, 504, 529, 200};

std::vector<baton::http::SseEvent> SplitEvents(std::string_view bytes) {
  std::vector<baton::http::SseEvent> events;
  while (!bytes.empty() && events.size() < 4096) {
    size_t end = bytes.find("\n\n");
    std::string_view chunk = bytes.substr(0, end);
    bytes = end == std::string_view::npos ? std::string_view() : bytes.substr(end + 2);
    baton::http::SseEvent e;
    if (chunk.substr(0, 7) == "event: ") {
      size_t nl = chunk.find('\n');
      e.event = std::string(chunk.substr(7, nl == std::string_view::npos ? nl : nl - 7));
      chunk = nl == std::string_view::npos ? std::string_view() : chunk.substr(nl + 1);
    }
    if (chunk.substr(0, 6) == "data: ") chunk.remove_prefix(6);
    e.data = std::string(chunk);
    events.push_back(std::move(e));
  }
  return events;
}

void Check(const baton::Status& s) {
  // A failure must carry a message and a type from the vocabulary.
  if (!s.ok() && (s.message().empty() || s.ErrorType().empty())) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2 || size > 256 * 1024) return 0;
  static const baton::FakeClock clock(1'700'000'000'000);
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string_view protocol = kProtocols[data[0] % 3];
  int status = kStatuses[data[1] % (sizeof(kStatuses) / sizeof(kStatuses[0]))];
  std::string_view rest = input.substr(2);

  auto codec = baton::providers::MakeCodec(protocol, clock);
  if (!codec.ok()) std::abort();
  baton::providers::ChatRequest request;
  request.model = "m";
  if ((data[0] / 3) % 2 == 1) {
    request.output_schema =
        *baton::ParseJson(data[0] % 4 == 0 ? R"({"type":"array"})" : R"({"type":"object"})");
  }

  size_t deltas = 0;
  baton::providers::StreamSink sink = [&deltas](const baton::providers::StreamDelta& d) {
    ++deltas;
    if (d.tool_index < 0) std::abort();
  };
  auto decoder = (*codec)->NewStreamDecoder(request);
  bool failed = false;
  for (const auto& event : SplitEvents(rest)) {
    baton::Status s = decoder->OnEvent(event, sink);
    Check(s);
    if (!s.ok()) {
      failed = true;
      break;
    }
  }
  if (!failed) {
    auto r = decoder->Finish();
    Check(r.status());
    if (r.ok() && r->native && r->native_protocol != protocol) std::abort();
  }

  // The same bytes through the real SSE parser.
  auto decoder2 = (*codec)->NewStreamDecoder(request);
  baton::http::SseParser parser(1u << 20);
  baton::Status fed =
      parser.Feed(rest, [&](baton::http::SseEvent&& e) { return decoder2->OnEvent(e, sink); });
  Check(fed);
  if (fed.ok()) Check(decoder2->Finish().status());

  auto body = (*codec)->Decode(rest, request);
  Check(body.status());
  if (body.ok() && body->structured && body->text.empty()) std::abort();

  baton::http::HttpResponse response;
  response.status = status;
  response.body = std::string(rest);
  response.headers = {{"retry-after", std::string(rest.substr(0, 40))},
                      {"anthropic-ratelimit-tokens-reset", std::string(rest.substr(0, 40))},
                      {"x-ratelimit-reset-tokens", std::string(rest.substr(0, 20))}};
  baton::Status err = (*codec)->DecodeError(response);
  if (err.ok()) std::abort();
  Check(err);
  (void)(*codec)->ParseRateLimits(response);
  return 0;
}
