#pragma once

// Anthropic Messages (api.anthropic.com and the servers that accept /v1/messages: vLLM,
// llama.cpp, Ollama, LM Studio, LiteLLM, OpenRouter).
//
// base_url is the host root WITHOUT the version, as in Anthropic's SDKs
// ("https://api.anthropic.com", "http://localhost:11434"); the request goes to
// {base_url}/v1/messages. A base_url that already ends in /v1 gets only /messages appended.
// Empty: https://api.anthropic.com. Headers: x-api-key, anthropic-version: 2023-06-01.
//
// Mapping of the neutral model:
//   - all system messages become the top-level `system` string; tool results become user
//     `tool_result` blocks; consecutive turns of the same role are merged into one message;
//     a message that is a single text block is sent with string content;
//   - max_tokens is required by the protocol: 4096 when the request gives none;
//   - output_schema: Messages has no JSON mode that every compatible server speaks, so the
//     schema becomes a tool named `structured_output` (a non-object schema is wrapped as
//     {"value": schema}) that the model is made to call: tool_choice {type: tool} when the
//     request has no other tools (or tool_choice none), {type: any} with parallel calls off when
//     it has. The decoder reads that call's input as the JSON answer (text and structured, not a
//     tool call, finish_reason stop) and, in the native turn, replaces the block with a text
//     block holding the JSON, so a replayed turn has no unanswered tool_use.
// The native turn is {"role":"assistant","content":[blocks]} with thinking blocks and their
// signatures, sent back verbatim to the same protocol.

#include <memory>
#include <string>
#include <string_view>

#include "base/clock.hpp"
#include "base/json.hpp"
#include "providers/codec.hpp"

namespace baton::providers::anthropic {

inline constexpr std::string_view kProtocol = "anthropic";
inline constexpr std::string_view kDefaultBaseUrl = "https://api.anthropic.com";
inline constexpr std::string_view kApiVersion = "2023-06-01";
inline constexpr std::string_view kOutputTool = "structured_output";
inline constexpr int64_t kDefaultMaxTokens = 4096;

class AnthropicCodec final : public Codec {
 public:
  explicit AnthropicCodec(const Clock& clock) : clock_(clock) {}

  std::string_view protocol() const override { return kProtocol; }
  Result<http::HttpRequest> Encode(const ChatRequest& request, const Endpoint& endpoint,
                                   bool stream) const override;
  Result<ChatResponse> Decode(std::string_view body, const ChatRequest& request) const override;
  std::unique_ptr<StreamDecoder> NewStreamDecoder(const ChatRequest& request) const override;
  Status DecodeError(const http::HttpResponse& response) const override;
  RateLimitInfo ParseRateLimits(const http::HttpResponse& response) const override;
  std::string RequestId(const http::HttpResponse& response) const override;

 private:
  const Clock& clock_;
};

// ---- shared by the body and stream decoders (anthropic_codec.cpp) -----------------------------

// How the request asked for structured output, which decides how replies are read.
struct OutputMode {
  bool structured = false;  // the request had an output_schema (sent as kOutputTool)
  bool wrapped = false;     // the schema was not an object: the answer is input.value
};
OutputMode OutputModeFor(const ChatRequest& request);

// stop | length | tool_calls | content_filter from stop_reason.
std::string MapStopReason(std::string_view reason);

// Reads a `usage` object into `out`; fields absent from it are left unchanged.
void ReadUsage(const json::value& usage, Usage& out);

// Builds the response from the assistant's final content blocks (body or reassembled stream):
// text, reasoning, tool calls, the structured answer, and the native turn.
ChatResponse FromContent(json::array content, std::string_view stop_reason, OutputMode mode);

// The failure an error body or `error` event means; `http_status` is 0 inside a stream.
Status ErrorFromBody(int http_status, const json::value& body);

}  // namespace baton::providers::anthropic
