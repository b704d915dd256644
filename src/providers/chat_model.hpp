#pragma once

// The provider-neutral chat model interface. Concrete providers (sim/ now; openai/,
// anthropic/, gemini/ later) implement ChatModel; the runtime knows only this header.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "base/json.hpp"
#include "base/status.hpp"

namespace baton::providers {

struct Message {
  std::string role;     // system | user | assistant | tool
  std::string content;
};

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
  std::string model;                    // provider's model id
  std::vector<Message> messages;
  std::optional<json::value> output_schema;  // ask for JSON conforming to this schema
  std::optional<double> temperature;
  std::optional<int64_t> max_tokens;
  // Identity of the call, for deterministic providers and for traces.
  std::string run_id;
  std::string step_id;
  std::string agent;
  int32_t item = -1;
  int32_t attempt = 1;
};

struct ChatResponse {
  std::string text;                     // the final text (JSON text when structured)
  std::optional<json::value> structured;  // parsed output when output_schema was given
  std::string reasoning;                // reasoning text when the model gives it
  Usage usage;
  std::string finish_reason;            // stop | length | tool_calls | content_filter
  std::string provider;
  std::string model;
};

// A model endpoint. Implementations are safe to call concurrently from any strand; a call
// honours cancellation of the awaiting coroutine. Failures carry the workflow error type
// (rate_limited, overloaded, server_error, timeout, network, invalid_request, ...).
class ChatModel {
 public:
  virtual ~ChatModel() = default;
  virtual boost::asio::awaitable<Result<ChatResponse>> Complete(ChatRequest request) = 0;
  virtual std::string_view provider() const = 0;
};

}  // namespace baton::providers
