#pragma once

// OpenAI Chat Completions, as spoken by OpenAI and every compatible server (vLLM, llama.cpp,
// Ollama, LM Studio, LiteLLM, OpenRouter, Gemini's /openai endpoint).
//
// base_url is the API root INCLUDING its version path, as in every OpenAI SDK
// ("https://api.openai.com/v1", "http://127.0.0.1:8000/v1", "https://openrouter.ai/api/v1");
// the request goes to {base_url}/chat/completions. Empty: https://api.openai.com/v1.
//
// Choices made for the compatible servers' sake:
//   - system turns are sent with role "system" (every server accepts it; "developer" is
//     OpenAI-only);
//   - max_tokens is sent as `max_completion_tokens` to api.openai.com and *.openai.azure.com
//     (whose reasoning models reject the legacy name) and as `max_tokens` to everyone else;
//   - output_schema: `response_format: json_schema` with strict:true when the schema meets the
//     strict-mode rules (StrictSchemaCompatible), else `json_object` plus a system instruction
//     carrying the schema (json_object needs the word JSON in the prompt anyway); a schema whose
//     root is not an object gets the instruction only;
//   - streams ask for `stream_options.include_usage`.
// Decoding accepts `reasoning_content` (vLLM, llama.cpp, DeepSeek) and `reasoning` (OpenRouter,
// Ollama), tool calls keyed by index or by id or sent whole, arguments as text or object.

#include <memory>
#include <string>
#include <string_view>

#include "base/clock.hpp"
#include "base/json.hpp"
#include "providers/codec.hpp"

namespace baton::providers::openai {

inline constexpr std::string_view kProtocol = "openai";
inline constexpr std::string_view kDefaultBaseUrl = "https://api.openai.com/v1";

class OpenAiCodec final : public Codec {
 public:
  explicit OpenAiCodec(const Clock& clock) : clock_(clock) {}

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

// ---- shared by the body and stream decoders (openai_codec.cpp) --------------------------------

// stop | length | tool_calls | content_filter from the wire's finish_reason ("" when unknown).
std::string MapFinishReason(std::string_view reason);

// Reads a `usage` object into `out` (prompt/completion tokens, cached and reasoning details).
void ReadUsage(const json::value& usage, Usage& out);

// The failure an OpenAI-shaped error means: `body` is a whole error body or stream chunk
// ({"error": {...}}, or the error object itself as vLLM sends it); `http_status` is 0 inside a
// stream. The message quotes the provider's own words.
Status ErrorFromBody(int http_status, const json::value& body);

// Whether `schema` can be sent with strict:true: an object root, every object closed
// (additionalProperties false) with all its properties required, only supported keywords.
bool StrictSchemaCompatible(const json::value& schema);

}  // namespace baton::providers::openai
