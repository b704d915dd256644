#pragma once

// Helpers shared by the wire codecs (openai/, anthropic/, gemini/): header lookup, the time and
// duration formats providers put in headers, the error vocabulary, and small JSON accessors.
// Pure functions without I/O; safe from any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.hpp"
#include "base/status.hpp"
#include "http/client.hpp"
#include "providers/chat_model.hpp"

namespace baton::providers::wire {

// ---- headers and times ------------------------------------------------------------------------

// Value of the first header named `name` (ASCII case-insensitive), or "".
std::string_view FindHeader(const std::vector<http::Header>& headers, std::string_view name);

// A decimal integer (optional sign, surrounding blanks allowed); nullopt otherwise.
std::optional<int64_t> ParseInt(std::string_view text);

// A Go-style duration as OpenAI sends in x-ratelimit-reset-*: "6m0s", "1s", "20ms", "1.5s",
// "2h3m", "100us". A bare number is seconds. Milliseconds, rounded up; nullopt when malformed.
std::optional<int64_t> ParseResetDuration(std::string_view text);

// An RFC 3339 instant ("2024-05-01T12:00:00Z", fractions and numeric offsets allowed) as epoch
// milliseconds; nullopt when malformed.
std::optional<int64_t> ParseRfc3339(std::string_view text);

// An HTTP-date (IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT") as epoch milliseconds.
std::optional<int64_t> ParseHttpDate(std::string_view text);

// The wait a response asks for: `retry-after-ms`, else `retry-after` as seconds or an HTTP-date
// (relative to `now_ms`, never negative). nullopt when neither header is usable.
std::optional<int64_t> RetryAfterMs(const std::vector<http::Header>& headers, int64_t now_ms);

// ---- errors -------------------------------------------------------------------------------------

// A failure of workflow error type `type` (rate_limited, overloaded, ...) with the Code that
// type implies.
Status MakeError(std::string_view type, std::string message);

// The type a bare HTTP status means, before any body-specific refinement: 400/404/413/422 and
// other 4xx invalid_request, 401/403 auth, 402 quota_exhausted, 408 timeout, 409 server_error,
// 429 rate_limited, 503/529 overloaded, 504 timeout, other 5xx server_error.
std::string TypeForHttpStatus(int status);

// Whether a provider's error message or code says the prompt does not fit the context window.
bool LooksLikeContextLength(std::string_view text);

// Whether a provider's error message or code says content was refused by a safety policy.
bool LooksLikeContentPolicy(std::string_view text);

// Body text safe to quote in an error: at most `limit` bytes, control characters replaced.
std::string QuoteBody(std::string_view body, size_t limit = 300);

// `status` with retry hints from `response`: the server's wait (retry-after-ms, retry-after, else
// `body_delay_ms` from the body), and no_retry when the type is quota_exhausted or the server
// sent `x-should-retry: false`. Unchanged when there is nothing to attach.
Status AttachRetryHints(Status status, const http::HttpResponse& response, int64_t now_ms,
                        std::optional<int64_t> body_delay_ms = std::nullopt);

// "stream truncated: <detail>" with type "network" (retryable: discard partial output).
Status StreamTruncated(std::string_view detail);

// A stream event that is not valid JSON: type "server_error", naming the 0-based event index.
Status MalformedEvent(size_t index, std::string_view why);

// ---- JSON access ------------------------------------------------------------------------------

// The member `key` of `v` when `v` is an object and the member has the asked kind, else null.
// Results point into `v`. (The json::object overloads exist so that passing an object never
// builds a temporary json::value whose insides the result would point into.)
const json::object* GetObject(const json::value& v, std::string_view key);
const json::object* GetObject(const json::object& v, std::string_view key);
const json::array* GetArray(const json::value& v, std::string_view key);
const json::array* GetArray(const json::object& v, std::string_view key);
// The string member, or "" when absent or not a string.
std::string_view GetString(const json::value& v, std::string_view key);
std::string_view GetString(const json::object& v, std::string_view key);
// The integer member (a double is truncated), or nullopt.
std::optional<int64_t> GetInt(const json::value& v, std::string_view key);
std::optional<int64_t> GetInt(const json::object& v, std::string_view key);

// `value` as tool-call argument text: a string is returned as is, anything else is serialized.
std::string ArgumentsText(const json::value& value);

// Parses tool-call argument text into a JSON object for protocols that send objects
// (Anthropic input, Gemini args): empty text gives {}, anything else that is not a JSON object
// fails with kInvalidArgument naming the tool.
Result<json::object> ArgumentsObject(std::string_view arguments, std::string_view tool_name);

// ---- requests and responses -------------------------------------------------------------------

// `base` without trailing slashes, or `fallback` when `base` is empty.
std::string TrimBase(std::string_view base, std::string_view fallback);

// Whether `base` already ends with a path segment equal to `segment` (e.g. "/v1").
bool EndsWithSegment(std::string_view base, std::string_view segment);

// All system messages' content joined with a blank line.
std::string JoinSystem(const std::vector<Message>& messages);

// The name of the tool that call `id` invoked, from the assistant turns before `before`.
std::string ToolNameForCall(const std::vector<Message>& messages, size_t before,
                            std::string_view id);

// Fills `response.structured` from `response.text` when `want` is set: the text parsed as JSON,
// tolerating one surrounding Markdown code fence. Left empty when the text is not JSON (the
// agent layer reports the schema failure).
void ParseStructured(ChatResponse& response, bool want);

// Normalises "stop" to "tool_calls" when calls were made (some servers say stop anyway), and
// an empty reason to "stop".
void SettleFinishReason(ChatResponse& response);

// Calls `sink` when it is set.
void Emit(const StreamSink& sink, const StreamDelta& delta);

}  // namespace baton::providers::wire
