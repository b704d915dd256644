#pragma once

// The server side of the three LLM wire protocols, without I/O: an HTTP request -> the neutral
// ChatRequest, and a ChatResponse -> the protocol's JSON body or its stream of events, its error
// bodies and its headers. One implementation per protocol (openai_protocol.cpp,
// anthropic_protocol.cpp, gemini_protocol.cpp); the instances are stateless and thread-safe.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.hpp"
#include "http/server.hpp"
#include "providers/chat_model.hpp"
#include "simserver/limiter.hpp"

namespace baton::simserver {

enum class Protocol { kOpenAi, kAnthropic, kGemini };

// "openai" | "anthropic" | "gemini".
std::string_view ProtocolName(Protocol p);
std::optional<Protocol> ParseProtocol(std::string_view name);

// A failure, reported in the protocol's own error shape.
struct WireError {
  int status = 500;
  // rate_limited | quota_exhausted | overloaded | server_error | timeout | invalid_request |
  // context_length | auth | permission | not_found | too_large
  std::string kind = "server_error";
  std::string message;
  int64_t retry_after_ms = -1;  // >= 0: retry-after headers (and Gemini's RetryInfo)
  std::string limited_by;       // rate_limited: "requests" or "tokens" (OpenAI's error type)
};

// The error kind an HTTP status stands for (429 -> rate_limited, 529 -> overloaded, ...).
std::string_view KindForStatus(int status);

// What a decoded request asks for, beyond the neutral ChatRequest.
struct DecodedCall {
  providers::ChatRequest request;
  bool stream = false;
  bool include_usage = false;     // OpenAI stream_options.include_usage
  std::optional<bool> thinking;   // set when the request turns reasoning on or off
  bool include_thoughts = false;  // reasoning text wanted in the reply (thinking blocks, thought
                                  // parts) when thinking is on
  bool sse = true;                // Gemini: alt=sse; false: the stream is a JSON array
};

// Everything about one reply that the ChatResponse does not say.
struct ReplyContext {
  std::string id;          // response id (chatcmpl-..., msg_..., Gemini responseId)
  std::string request_id;  // x-request-id / request-id header
  std::string model;
  int64_t created = 0;  // unix seconds
  bool include_usage = false;
  bool include_thoughts = false;
  bool sse = true;
  std::string signature;  // thinking / thought signature handed out with this reply
};

// One event of a streamed reply; on the wire it is prefix + data + suffix. `data` is the JSON
// a malformed-event fault corrupts; `content` marks events carrying model output (the
// latency is spread over them).
struct Frame {
  std::string prefix;
  std::string data;
  std::string suffix;
  bool content = false;
  std::string Bytes() const { return prefix + data + suffix; }
};

class WireProtocol {
 public:
  virtual ~WireProtocol() = default;
  virtual Protocol id() const = 0;
  std::string_view name() const { return ProtocolName(id()); }

  // The API key the request carries, "" when none.
  virtual std::string ApiKey(const http::ServerRequest& request) const = 0;

  // Parses a generation request. `path_model` and `stream_endpoint` come from the URL (Gemini
  // names the model and streaming there). Fails with kInvalidArgument and the message the
  // real API would give.
  virtual Result<DecodedCall> Decode(const http::ServerRequest& request,
                                     std::string_view path_model, bool stream_endpoint) const = 0;

  // The HTTP status this protocol uses for an error kind (overloaded: 503, or 529 for
  // Anthropic; auth: 401, or 400 for Gemini).
  virtual int StatusFor(std::string_view kind) const = 0;
  // The message the real API gives for a missing or wrong API key.
  virtual std::string AuthMessage() const = 0;

  // A whole error response: body, content-type, request id and retry-after headers.
  virtual http::ServerResponse Error(const WireError& error, std::string_view request_id) const = 0;

  virtual std::string Body(const providers::ChatResponse& response,
                           const ReplyContext& ctx) const = 0;
  // Every event of the streamed reply, terminal marker included.
  virtual std::vector<Frame> Stream(const providers::ChatResponse& response,
                                    const ReplyContext& ctx) const = 0;
  // The in-stream error event that ends a stream after `sent` events.
  virtual Frame StreamError(const WireError& error, const ReplyContext& ctx, size_t sent) const = 0;
  virtual std::string StreamContentType(const ReplyContext& ctx) const;

  // Headers every reply carries (request id).
  virtual void AddReplyHeaders(const ReplyContext& ctx, std::vector<http::Header>& out) const = 0;
  // The protocol's rate-limit headers for `limits`.
  virtual void AddLimitHeaders(const LimitSnapshot& limits,
                               std::vector<http::Header>& out) const = 0;

  // GET list of models, and one model.
  virtual std::string ModelList(const std::vector<std::string>& models, int64_t created) const = 0;
  virtual std::string ModelInfo(std::string_view model, int64_t created) const = 0;
  // Token count answer (Anthropic count_tokens, Gemini countTokens); "" when unsupported.
  virtual std::string TokenCount(int64_t tokens) const = 0;
};

const WireProtocol& OpenAiWire();
const WireProtocol& AnthropicWire();
const WireProtocol& GeminiWire();
const WireProtocol& Wire(Protocol p);

// ---- helpers shared by the protocol files ------------------------------------------------------

// Splits `text` into pieces of at most `max_bytes` (never inside a UTF-8 sequence), cutting
// after a space where one is near: the deltas of a streamed reply.
std::vector<std::string> SplitDeltas(std::string_view text, size_t max_bytes);

// Standard base64 of `bytes`.
std::string Base64(std::string_view bytes);

// The arguments' JSON text as an object (Anthropic input, Gemini args): {} when not an object.
json::value ArgumentsObject(std::string_view arguments);

// Corrupts JSON text so that no parser accepts it (cut short, then a stray brace).
std::string CorruptJson(std::string_view json);

// kInvalidArgument with type invalid_request.
Status InvalidRequest(std::string message);

// "1s", "6m0s", "250ms": OpenAI's reset durations.
std::string FormatResetDuration(int64_t ms);

}  // namespace baton::simserver
