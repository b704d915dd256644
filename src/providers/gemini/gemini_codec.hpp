#pragma once

// Google Gemini generateContent / streamGenerateContent (Generative Language API, v1beta).
//
// base_url is the host root WITHOUT the version ("https://generativelanguage.googleapis.com");
// the request goes to {base_url}/v1beta/models/{model}:generateContent, or
// :streamGenerateContent?alt=sse when streaming. A base_url that already ends in a version
// segment (/v1beta, /v1) gets only /models/... appended; a "models/" prefix on the model id is
// accepted. Empty: https://generativelanguage.googleapis.com. Auth: x-goog-api-key.
//
// Mapping of the neutral model:
//   - system messages become systemInstruction; roles are user/model; tool results are user
//     functionResponse parts (the response object is the tool's JSON object output, else
//     {"output": value}); consecutive contents of the same role are merged;
//   - tools go as functionDeclarations with parametersJsonSchema (real JSON Schema);
//     tool_choice maps to functionCallingConfig AUTO | NONE | ANY (+allowedFunctionNames);
//   - output_schema: responseMimeType application/json + responseJsonSchema;
//   - Gemini gives function calls no id: the decoder names them "gcall_<responseId>_<n>", and
//     such synthesised ids are never sent back (calls and responses then pair by name and
//     order, as Gemini does); ids Gemini did give are echoed;
//   - an assistant turn rebuilt without its native parts (e.g. produced by another protocol)
//     marks its first functionCall with the documented "skip_thought_signature_validator"
//     signature, which Gemini 3 requires.
// The native turn is the candidate's content {"role":"model","parts":[...]} with every
// thoughtSignature, sent back verbatim to the same protocol.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/clock.hpp"
#include "base/json.hpp"
#include "providers/codec.hpp"

namespace baton::providers::gemini {

inline constexpr std::string_view kProtocol = "gemini";
inline constexpr std::string_view kDefaultBaseUrl = "https://generativelanguage.googleapis.com";
inline constexpr std::string_view kSyntheticIdPrefix = "gcall_";
inline constexpr std::string_view kSkipSignature = "skip_thought_signature_validator";

class GeminiCodec final : public Codec {
 public:
  explicit GeminiCodec(const Clock& clock) : clock_(clock) {}

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

// ---- shared by the body and stream decoders (gemini_codec.cpp) --------------------------------

// stop | length | tool_calls | content_filter from finishReason ("" for reasons outside the
// vocabulary, e.g. MALFORMED_FUNCTION_CALL, which then read as stop).
std::string MapFinishReason(std::string_view reason);

// Reads usageMetadata into `out`: output counts candidates plus thoughts.
void ReadUsage(const json::value& usage_metadata, Usage& out);

// The id given to the `n`th function call of response `response_id` when Gemini gives none.
std::string SyntheticCallId(std::string_view response_id, size_t n);

// Builds the response from the model's parts (body or reassembled stream): text, thought text
// as reasoning, function calls (ids synthesised from `response_id` when absent), the native turn.
ChatResponse FromParts(json::array parts, std::string_view finish_reason,
                       std::string_view response_id, bool want_structured);

// The failure a google.rpc.Status error body means, with the RetryInfo delay (ms) when the
// body gives one; `http_status` is 0 inside a stream.
Status ErrorFromBody(int http_status, const json::value& body,
                     std::optional<int64_t>* retry_delay_ms = nullptr);

}  // namespace baton::providers::gemini
