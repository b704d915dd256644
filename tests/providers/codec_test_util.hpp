#pragma once

// Helpers for the wire codec tests: JSON comparison, SSE fixtures through the real parser, and
// running a stream decoder while recording its deltas.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.hpp"
#include "base/json.hpp"
#include "http/sse.hpp"
#include "providers/codec.hpp"

namespace baton::providers::testing {

inline json::value Json(std::string_view text) {
  auto v = ParseJson(text);
  EXPECT_TRUE(v.ok()) << v.status().ToString() << "\n" << text;
  return v.ok() ? *v : json::value();
}

// Sorted-key, indented rendering: equal JSON values give equal strings, and diffs are readable.
inline std::string Canon(const json::value& v) { return PrettyJson(*ParseJson(CanonicalJson(v))); }
inline std::string Canon(std::string_view text) { return Canon(Json(text)); }
inline std::string Canon(const char* text) { return Canon(Json(text)); }

inline std::unique_ptr<Codec> Make(std::string_view protocol, const Clock& clock) {
  auto codec = MakeCodec(protocol, clock);
  EXPECT_TRUE(codec.ok()) << codec.status().ToString();
  return std::move(*codec);
}

// A codec of one protocol on a fake clock, with an endpoint, and Encode expecting success.
class CodecFixture : public ::testing::Test {
 protected:
  CodecFixture(std::string_view protocol, Endpoint endpoint)
      : codec_(Make(protocol, clock_)), endpoint_(std::move(endpoint)) {}

  http::HttpRequest Encode(const ChatRequest& r, bool stream = false) {
    auto req = codec_->Encode(r, endpoint_, stream);
    EXPECT_TRUE(req.ok()) << req.status().ToString();
    return req.ok() ? *req : http::HttpRequest{};
  }

  FakeClock clock_{1'700'000'000'000};
  std::unique_ptr<Codec> codec_;
  Endpoint endpoint_;
};

// The events of an SSE text, split by the real parser.
inline std::vector<http::SseEvent> ParseSse(std::string_view text) {
  std::vector<http::SseEvent> events;
  http::SseParser parser;
  Status st = parser.Feed(text, [&](http::SseEvent&& e) {
    events.push_back(std::move(e));
    return Status::Ok();
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  return events;
}

inline http::SseEvent Data(std::string data, std::string event = {}) {
  return http::SseEvent{std::move(event), std::move(data), {}};
}

// What a stream run produced: the deltas in order and the final result.
struct StreamRun {
  std::vector<StreamDelta> deltas;
  Status event_status;  // the first failing OnEvent, if any
  size_t failed_at = 0;
  Result<ChatResponse> result = Status(Code::kInternal, "not run");

  std::string Text(StreamDelta::Kind kind) const {
    std::string out;
    for (const auto& d : deltas) {
      if (d.kind == kind) out += d.text;
    }
    return out;
  }
  // Per tool index: the concatenated argument fragments.
  std::vector<std::string> Arguments() const {
    std::vector<std::string> out;
    for (const auto& d : deltas) {
      if (d.kind != StreamDelta::Kind::kToolCall) continue;
      if (out.size() <= static_cast<size_t>(d.tool_index)) out.resize(d.tool_index + 1);
      out[d.tool_index] += d.arguments;
    }
    return out;
  }
};

// Feeds `events` (the first `limit` of them) to a new decoder; stops at the first failure.
inline StreamRun RunStream(const Codec& codec, const ChatRequest& request,
                           const std::vector<http::SseEvent>& events, size_t limit = SIZE_MAX) {
  StreamRun run;
  auto decoder = codec.NewStreamDecoder(request);
  StreamSink sink = [&run](const StreamDelta& d) { run.deltas.push_back(d); };
  for (size_t i = 0; i < events.size() && i < limit; ++i) {
    Status st = decoder->OnEvent(events[i], sink);
    if (!st.ok()) {
      run.event_status = st;
      run.failed_at = i;
      run.result = st;
      return run;
    }
  }
  run.result = decoder->Finish();
  return run;
}

// Feeds the raw bytes of an SSE text split at `cut` through a real parser into a decoder.
inline Result<ChatResponse> RunBytes(const Codec& codec, const ChatRequest& request,
                                     std::string_view bytes, size_t cut) {
  auto decoder = codec.NewStreamDecoder(request);
  http::SseParser parser;
  auto handler = [&](http::SseEvent&& e) { return decoder->OnEvent(e, StreamSink{}); };
  BATON_RETURN_IF_ERROR(parser.Feed(bytes.substr(0, cut), handler));
  BATON_RETURN_IF_ERROR(parser.Feed(bytes.substr(cut), handler));
  return decoder->Finish();
}

// Whether cutting `s` at `i` keeps UTF-8 sequences whole (servers never split a code point:
// every chunk is valid JSON).
inline bool Boundary(std::string_view s, size_t i) {
  return i >= s.size() || (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80;
}

// The parts of a response that must not depend on how it was delivered.
inline std::string Summary(const ChatResponse& r) {
  json::object o;
  o["text"] = r.text;
  o["reasoning"] = r.reasoning;
  o["finish_reason"] = r.finish_reason;
  json::array calls;
  for (const auto& c : r.tool_calls) {
    calls.push_back(json::object{{"id", c.id}, {"name", c.name}, {"arguments", c.arguments}});
  }
  o["tool_calls"] = std::move(calls);
  o["usage"] = json::object{{"input", r.usage.input_tokens},
                            {"output", r.usage.output_tokens},
                            {"cached", r.usage.cached_tokens},
                            {"reasoning", r.usage.reasoning_tokens}};
  o["structured"] = r.structured ? *r.structured : json::value(nullptr);
  o["native"] = r.native ? *r.native : json::value(nullptr);
  o["native_protocol"] = r.native_protocol;
  o["model"] = r.model;
  o["request_id"] = r.request_id;
  return Canon(json::value(std::move(o)));
}

inline http::HttpResponse Response(int status, std::string body,
                                   std::vector<http::Header> headers = {}) {
  http::HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

inline Message Msg(std::string role, std::string content) {
  Message m;
  m.role = std::move(role);
  m.content = std::move(content);
  return m;
}

inline Message ToolResult(std::string id, std::string name, std::string content) {
  Message m;
  m.role = "tool";
  m.tool_call_id = std::move(id);
  m.tool_name = std::move(name);
  m.content = std::move(content);
  return m;
}

inline Message AssistantCalls(std::string text, std::vector<ToolCall> calls) {
  Message m;
  m.role = "assistant";
  m.content = std::move(text);
  m.tool_calls = std::move(calls);
  return m;
}

inline ToolSpec WeatherTool() {
  return ToolSpec{"get_weather", "Get the current weather in a given location",
                  Json(R"({"type":"object","properties":{"location":{"type":"string"}},)"
                       R"("required":["location"]})")};
}

}  // namespace baton::providers::testing
