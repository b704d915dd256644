#pragma once

// A wire protocol's client side, without I/O: ChatRequest -> HTTP request, HTTP response (whole
// or as server-sent events) -> ChatResponse, and HTTP errors -> the workflow error vocabulary.
// One implementation per protocol: openai/ (Chat Completions and every compatible server),
// anthropic/ (Messages), gemini/ (generateContent). HttpModel (http_model.hpp) joins a codec to
// the HTTP client and the admission chain.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.hpp"
#include "base/status.hpp"
#include "http/client.hpp"
#include "http/sse.hpp"
#include "providers/chat_model.hpp"

namespace baton::providers {

// Where and how to reach an endpoint. The key is read from the environment by the caller and
// lives only here and in the outgoing request headers; codecs never put it in a message.
struct Endpoint {
  std::string base_url;  // e.g. "https://api.openai.com/v1", "http://127.0.0.1:8089/v1"
  std::string api_key;   // may be empty (local servers)
  std::vector<http::Header> extra_headers;  // user-configured (e.g. OpenRouter's, api-version)
};

// Turns a stream of server-sent events into deltas and, at the end, the whole response.
class StreamDecoder {
 public:
  virtual ~StreamDecoder() = default;
  // Consumes one event, reporting deltas to `sink` (may be empty). An in-stream error event
  // fails with its mapped type; malformed JSON fails with type "server_error" naming the event.
  virtual Status OnEvent(const http::SseEvent& event, const StreamSink& sink) = 0;
  // The assembled response once the stream has ended. A stream that ended before the
  // protocol's terminal event fails with type "network" ("stream truncated ...").
  virtual Result<ChatResponse> Finish() = 0;
};

class Codec {
 public:
  virtual ~Codec() = default;
  // "openai" | "anthropic" | "gemini".
  virtual std::string_view protocol() const = 0;

  // The HTTP request for `request` (method, full URL, headers incl. auth and content-type,
  // JSON body). `stream` asks for server-sent events. Fails with kInvalidArgument when the
  // request cannot be expressed in this protocol.
  virtual Result<http::HttpRequest> Encode(const ChatRequest& request, const Endpoint& endpoint,
                                           bool stream) const = 0;

  // Decodes a complete 2xx response body to `request` (the request decides how the reply is read:
  // with an output_schema the JSON answer is parsed into ChatResponse::structured). A body that
  // is not the protocol's response fails with type "server_error"; an error object inside a
  // 2xx body fails with its mapped type. Sets request_id to the body's own id (chatcmpl-...,
  // msg_..., responseId); RequestId() gives the header's id.
  virtual Result<ChatResponse> Decode(std::string_view body, const ChatRequest& request) const = 0;

  // A decoder for the streamed answer to `request` (copies what it needs; `request` may die).
  virtual std::unique_ptr<StreamDecoder> NewStreamDecoder(const ChatRequest& request) const = 0;

  // The failure a non-2xx response means: type from the status and the provider's error body
  // (rate_limited, overloaded, server_error, context_length, content_filter, invalid_request,
  // auth, quota_exhausted, ...), message with the provider's own words, retry hints from the
  // headers. Never includes request headers.
  virtual Status DecodeError(const http::HttpResponse& response) const = 0;

  // Limits advertised in response headers (each protocol names them differently). Reset times
  // given as instants are turned into durations with the codec's clock.
  virtual RateLimitInfo ParseRateLimits(const http::HttpResponse& response) const = 0;

  // The provider's request id from the response headers (x-request-id, request-id, ...), or "".
  virtual std::string RequestId(const http::HttpResponse& response) const = 0;
};

// The codec for `protocol`, or kNotFound. `clock` (which must outlive the codec) turns
// HTTP-date and RFC 3339 instants in headers into durations. Codecs are immutable and safe to
// use from any thread; each StreamDecoder is used by one thread at a time.
Result<std::unique_ptr<Codec>> MakeCodec(std::string_view protocol,
                                         const Clock& clock = SystemClock::Get());

}  // namespace baton::providers
