#pragma once

// The provider-neutral chat model interface. Concrete providers (sim/ now; openai/,
// anthropic/, gemini/ later) implement ChatModel; the runtime knows only this header.

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/json.hpp"
#include "base/status.hpp"

namespace baton::providers {

// A tool the model may call: name, description and JSON Schema of the arguments.
struct ToolSpec {
  std::string name;
  std::string description;
  json::value parameters;  // JSON Schema (object)
};

// One tool call the model asked for.
struct ToolCall {
  std::string id;  // provider-given id (synthesised for Gemini, which gives none)
  std::string name;
  std::string arguments;  // JSON text, exactly as the model produced it
};

// A provider-neutral conversation turn.
struct Message {
  std::string role;                  // system | user | assistant | tool
  std::string content;               // text (for `tool`: the tool's result)
  std::vector<ToolCall> tool_calls;  // assistant: calls it made
  std::string tool_call_id;          // tool: the call this answers
  std::string tool_name;             // tool: the called tool's name (Gemini needs it)
  // The provider's own rendering of this assistant turn (Anthropic content blocks with
  // thinking signatures, Gemini parts with thought signatures, an OpenAI message), kept
  // verbatim and sent back unchanged when the next turn goes to the same protocol.
  std::optional<json::value> native;
  std::string native_protocol;  // "openai" | "anthropic" | "gemini" when `native` is set
};

// A piece of a streamed reply, delivered as it arrives.
struct StreamDelta {
  enum class Kind { kText, kReasoning, kToolCall };
  Kind kind = Kind::kText;
  std::string text;       // kText / kReasoning: the new characters
  int tool_index = 0;     // kToolCall: which call (parallel calls stream interleaved)
  std::string tool_id;    // kToolCall: set on the call's first delta
  std::string tool_name;  // kToolCall: set on the call's first delta
  std::string arguments;  // kToolCall: the next fragment of the arguments' JSON text
};

// Called for each delta, on a provider's I/O thread; must be cheap and thread-safe (post to
// your own strand). Never called after Complete() has finished.
using StreamSink = std::function<void(const StreamDelta& delta)>;

struct Usage {
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int64_t cached_tokens = 0;
  int64_t reasoning_tokens = 0;
  double cost_usd = 0;
};

// Per-million-token prices in USD.
struct Price {
  double input = 0;
  double output = 0;
  double cached_input = 0;
  double reasoning = 0;
  double Cost(const Usage& u) const;
};

struct ChatRequest {
  std::string model;  // provider's model id
  std::vector<Message> messages;
  std::optional<json::value> output_schema;  // ask for JSON conforming to this schema
  std::optional<double> temperature;
  std::optional<int64_t> max_tokens;
  std::vector<ToolSpec> tools;
  std::string tool_choice;  // "" (provider default) | auto | none | required | a tool's name
  // When set, the provider streams (where its protocol can) and reports deltas here; the final
  // ChatResponse is the same as without streaming.
  StreamSink stream;
  // Identity of the call, for deterministic providers and for traces.
  std::string run_id;
  std::string step_id;
  std::string agent;
  int32_t item = -1;
  int32_t attempt = 1;
  int32_t iteration = 0;  // the enclosing loop's iteration (0 outside loops)
};

// What a provider said about its limits, from response headers (any of them may be absent).
struct RateLimitInfo {
  std::optional<int64_t> limit_requests, remaining_requests;
  std::optional<int64_t> limit_tokens, remaining_tokens;
  std::optional<int64_t> reset_requests_ms, reset_tokens_ms;  // time until the window resets
  std::optional<int64_t> retry_after_ms;                      // Retry-After / retry-after-ms
};

struct ChatResponse {
  std::string text;                       // the final text (JSON text when structured)
  std::optional<json::value> structured;  // parsed output when output_schema was given
  std::string reasoning;                  // reasoning text when the model gives it
  Usage usage;
  std::string finish_reason;         // stop | length | tool_calls | content_filter
  std::vector<ToolCall> tool_calls;  // in the order the model gave them
  // This assistant turn in the provider's own format (see Message::native).
  std::optional<json::value> native;
  std::string native_protocol;
  std::string provider;
  std::string model;               // the model that answered (a fallback's, if one did)
  std::string request_id;          // provider's request id header, when given
  RateLimitInfo limits;            // from the response headers
  bool cache_hit = false;          // served by the response cache: cost 0
  std::vector<std::string> notes;  // admission decisions worth an event (fallback, wait)
};

// A model endpoint. Implementations are safe to call concurrently from any strand; a call
// honours cancellation of the awaiting coroutine. Failures carry the workflow error type
// (rate_limited, overloaded, server_error, timeout, network, invalid_request, ...).
class ChatModel {
 public:
  virtual ~ChatModel() = default;
  virtual boost::asio::awaitable<Result<ChatResponse>> Complete(ChatRequest request) = 0;
  virtual std::string_view provider() const = 0;
  // The state of the model's circuit breaker now: "open" or "half_open"; "" when it is closed
  // or the model has none. Thread-safe. The runtime journals it with each call (`breaker`).
  virtual std::string CircuitState() const { return {}; }
};

}  // namespace baton::providers
