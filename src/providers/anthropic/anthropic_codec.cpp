#include "providers/anthropic/anthropic_codec.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <utility>
#include <vector>

#include "providers/wire_util.hpp"

namespace baton::providers::anthropic {
namespace {

constexpr std::string_view kOutputToolDescription =
    "Give your final answer by calling this tool; its input is the answer.";

bool IsObjectSchema(const json::value& schema) {
  std::string_view type = wire::GetString(schema, "type");
  if (type == "object") return true;
  return type.empty() && wire::GetObject(schema, "properties") != nullptr;
}

json::object EmptyObjectSchema() {
  return json::object{{"type", "object"}, {"properties", json::object()}};
}

struct Turn {
  std::string role;
  json::array blocks;
};

void AddBlock(std::vector<Turn>& turns, std::string_view role, json::value block) {
  if (turns.empty() || turns.back().role != role) turns.push_back(Turn{std::string(role), {}});
  turns.back().blocks.push_back(std::move(block));
}

json::value TextBlock(std::string_view text) {
  return json::object{{"type", "text"}, {"text", text}};
}

Status BuildTurns(const ChatRequest& request, std::vector<Turn>& turns) {
  for (size_t i = 0; i < request.messages.size(); ++i) {
    const Message& m = request.messages[i];
    if (m.role == "system") continue;
    if (m.role == "user") {
      if (!m.content.empty()) AddBlock(turns, "user", TextBlock(m.content));
    } else if (m.role == "assistant") {
      const json::array* native = nullptr;
      if (m.native && m.native_protocol == kProtocol) {
        native =
            m.native->is_array() ? &m.native->get_array() : wire::GetArray(*m.native, "content");
      }
      if (native != nullptr) {
        for (const auto& block : *native) AddBlock(turns, "assistant", block);
        continue;
      }
      if (!m.content.empty()) AddBlock(turns, "assistant", TextBlock(m.content));
      for (const auto& call : m.tool_calls) {
        auto input = wire::ArgumentsObject(call.arguments, call.name);
        json::object block;
        block["type"] = "tool_use";
        block["id"] = call.id;
        block["name"] = call.name;
        // Unparsable arguments (the model's mistake, already answered by a tool error) are
        // replayed as {} so the conversation stays sendable.
        block["input"] = input.ok() ? std::move(*input) : json::object();
        AddBlock(turns, "assistant", std::move(block));
      }
    } else if (m.role == "tool") {
      if (m.tool_call_id.empty()) {
        return InvalidArgument("anthropic: a tool message has no tool_call_id");
      }
      json::object block;
      block["type"] = "tool_result";
      block["tool_use_id"] = m.tool_call_id;
      block["content"] = m.content;
      AddBlock(turns, "user", std::move(block));
    } else {
      return InvalidArgument(fmt::format("anthropic: unknown message role '{}'", m.role));
    }
  }
  return Status::Ok();
}

json::value ToolChoice(std::string_view type, std::string_view name = {}) {
  json::object out{{"type", type}};
  if (!name.empty()) out["name"] = name;
  return out;
}

std::string TypeForErrorType(std::string_view etype) {
  if (etype == "invalid_request_error" || etype == "not_found_error" ||
      etype == "request_too_large") {
    return "invalid_request";
  }
  if (etype == "authentication_error" || etype == "permission_error") return "auth";
  if (etype == "billing_error") return "quota_exhausted";
  if (etype == "rate_limit_error") return "rate_limited";
  if (etype == "api_error") return "server_error";
  if (etype == "overloaded_error") return "overloaded";
  if (etype == "timeout_error") return "timeout";
  return "";
}

}  // namespace

OutputMode OutputModeFor(const ChatRequest& request) {
  OutputMode mode;
  if (request.output_schema) {
    mode.structured = true;
    mode.wrapped = !IsObjectSchema(*request.output_schema);
  }
  return mode;
}

std::string MapStopReason(std::string_view reason) {
  if (reason == "end_turn" || reason == "stop_sequence" || reason == "pause_turn") return "stop";
  if (reason == "max_tokens" || reason == "model_context_window_exceeded") return "length";
  if (reason == "tool_use") return "tool_calls";
  if (reason == "refusal") return "content_filter";
  return "";
}

void ReadUsage(const json::value& usage, Usage& out) {
  if (!usage.is_object()) return;
  int64_t input = wire::GetInt(usage, "input_tokens").value_or(0);
  int64_t created = wire::GetInt(usage, "cache_creation_input_tokens").value_or(0);
  int64_t read = wire::GetInt(usage, "cache_read_input_tokens").value_or(0);
  out.input_tokens = input + created + read;
  out.cached_tokens = read;
  out.output_tokens = wire::GetInt(usage, "output_tokens").value_or(0);
}

ChatResponse FromContent(json::array content, std::string_view stop_reason, OutputMode mode) {
  ChatResponse out;
  std::optional<json::value> answer;
  std::string answer_text;
  for (auto& block : content) {
    std::string_view type = wire::GetString(block, "type");
    if (type == "text") {
      out.text += wire::GetString(block, "text");
    } else if (type == "thinking") {
      out.reasoning += wire::GetString(block, "thinking");
    } else if (type == "tool_use") {
      std::string_view name = wire::GetString(block, "name");
      const json::value* input = block.get_object().if_contains("input");
      if (mode.structured && name == kOutputTool && !answer) {
        if (input != nullptr && input->is_string()) {
          answer_text = std::string(input->get_string());  // unparsable (truncated) JSON
          answer = json::value(nullptr);
        } else {
          json::value value = input == nullptr ? json::value(json::object()) : *input;
          if (mode.wrapped && value.is_object()) {
            const json::value* inner = value.get_object().if_contains("value");
            value = inner == nullptr ? json::value(nullptr) : *inner;
          }
          answer_text = json::serialize(value);
          answer = std::move(value);
        }
        block = TextBlock(answer_text);
        continue;
      }
      ToolCall call;
      call.id = std::string(wire::GetString(block, "id"));
      call.name = std::string(name);
      call.arguments = input == nullptr ? std::string("{}") : wire::ArgumentsText(*input);
      out.tool_calls.push_back(std::move(call));
    }
  }
  out.finish_reason = MapStopReason(stop_reason);
  if (answer) {
    // The answer is the JSON; prose the model wrote around the call stays in the native turn.
    out.text = answer_text;
    if (out.tool_calls.empty() && out.finish_reason == "tool_calls") out.finish_reason = "stop";
    auto parsed = ParseJson(answer_text);
    if (parsed.ok()) out.structured = std::move(*parsed);
  }
  out.native = json::value(json::object{{"role", "assistant"}, {"content", std::move(content)}});
  out.native_protocol = std::string(kProtocol);
  wire::SettleFinishReason(out);
  return out;
}

Status ErrorFromBody(int http_status, const json::value& body) {
  const json::object* eobj = wire::GetObject(body, "error");
  std::string etype = eobj == nullptr ? "" : std::string(wire::GetString(*eobj, "type"));
  std::string message = eobj == nullptr ? "" : std::string(wire::GetString(*eobj, "message"));
  if (message.empty()) message = wire::QuoteBody(json::serialize(body));
  std::string type = TypeForErrorType(etype);
  if (type.empty()) type = http_status > 0 ? wire::TypeForHttpStatus(http_status) : "server_error";
  if (type == "invalid_request" && http_status != 404 && http_status != 413 &&
      etype != "not_found_error" && etype != "request_too_large") {
    if (wire::LooksLikeContextLength(message)) {
      type = "context_length";
    } else if (wire::LooksLikeContentPolicy(message)) {
      type = "content_filter";
    }
  }
  if (type == "rate_limited" && eobj != nullptr) {
    const json::object* details = wire::GetObject(*eobj, "details");
    if (details != nullptr &&
        wire::GetString(*details, "error_code") == "enforced_spend_limit_reached") {
      type = "quota_exhausted";
    }
  }
  if (http_status == 404 || etype == "not_found_error") {
    message = "model or endpoint not found: " + message;
  }
  std::string where = http_status > 0 ? fmt::format("HTTP {}", http_status) : "stream error";
  if (!etype.empty()) where += fmt::format(" ({})", etype);
  return wire::MakeError(type, fmt::format("anthropic: {}: {}", where, message));
}

Result<http::HttpRequest> AnthropicCodec::Encode(const ChatRequest& request,
                                                 const Endpoint& endpoint, bool stream) const {
  if (request.model.empty()) return InvalidArgument("anthropic: the request names no model");
  std::vector<Turn> turns;
  BATON_RETURN_IF_ERROR(BuildTurns(request, turns));

  json::object body;
  body["model"] = request.model;
  body["max_tokens"] = request.max_tokens.value_or(kDefaultMaxTokens);
  std::string system = wire::JoinSystem(request.messages);
  if (!system.empty()) body["system"] = system;
  json::array messages;
  for (auto& turn : turns) {
    json::object m;
    m["role"] = turn.role;
    if (turn.blocks.size() == 1 && wire::GetString(turn.blocks[0], "type") == "text" &&
        turn.blocks[0].get_object().size() == 2) {
      m["content"] = turn.blocks[0].get_object().at("text");
    } else {
      m["content"] = std::move(turn.blocks);
    }
    messages.push_back(std::move(m));
  }
  body["messages"] = std::move(messages);

  OutputMode mode = OutputModeFor(request);
  json::array tools;
  for (const auto& t : request.tools) {
    json::object tool;
    tool["name"] = t.name;
    if (!t.description.empty()) tool["description"] = t.description;
    tool["input_schema"] =
        t.parameters.is_object() ? t.parameters : json::value(EmptyObjectSchema());
    tools.push_back(std::move(tool));
  }
  const std::string& choice = request.tool_choice;
  bool named = !choice.empty() && choice != "auto" && choice != "none" && choice != "required";
  json::value tool_choice;
  if (mode.structured) {
    json::value schema = *request.output_schema;
    if (mode.wrapped) {
      schema = json::object{{"type", "object"},
                            {"properties", json::object{{"value", std::move(schema)}}},
                            {"required", json::array{"value"}}};
    }
    if (request.tools.empty() || choice == "none") {
      tool_choice = ToolChoice("tool", kOutputTool);
    } else if (named) {
      tool_choice = ToolChoice("tool", choice);
    } else {
      tool_choice = ToolChoice("any");
      tool_choice.get_object()["disable_parallel_tool_use"] = true;
    }
    tools.push_back(json::object{{"name", kOutputTool},
                                 {"description", kOutputToolDescription},
                                 {"input_schema", std::move(schema)}});
  } else if (!request.tools.empty()) {
    if (choice == "auto" || choice == "none") {
      tool_choice = ToolChoice(choice);
    } else if (choice == "required") {
      tool_choice = ToolChoice("any");
    } else if (named) {
      tool_choice = ToolChoice("tool", choice);
    }
  }
  if (!tools.empty()) body["tools"] = std::move(tools);
  if (!tool_choice.is_null()) body["tool_choice"] = std::move(tool_choice);
  if (request.temperature) body["temperature"] = *request.temperature;
  if (stream) body["stream"] = true;

  http::HttpRequest out;
  out.method = "POST";
  std::string base = wire::TrimBase(endpoint.base_url, kDefaultBaseUrl);
  out.url = base + (wire::EndsWithSegment(base, "v1") ? "/messages" : "/v1/messages");
  out.headers.emplace_back("Content-Type", "application/json");
  if (stream) out.headers.emplace_back("Accept", "text/event-stream");
  if (!endpoint.api_key.empty()) out.headers.emplace_back("x-api-key", endpoint.api_key);
  out.headers.emplace_back("anthropic-version", std::string(kApiVersion));
  for (const auto& h : endpoint.extra_headers) out.headers.push_back(h);
  out.body = json::serialize(body);
  return out;
}

Result<ChatResponse> AnthropicCodec::Decode(std::string_view body,
                                            const ChatRequest& request) const {
  auto parsed = ParseJson(body);
  if (!parsed.ok() || !parsed->is_object()) {
    return wire::MakeError(
        "server_error",
        fmt::format("anthropic: response body is not a JSON object: {}", wire::QuoteBody(body)));
  }
  const json::value& doc = *parsed;
  if (wire::GetString(doc, "type") == "error" || wire::GetObject(doc, "error") != nullptr) {
    return ErrorFromBody(0, doc);
  }
  const json::array* content = wire::GetArray(doc, "content");
  if (content == nullptr)
    return wire::MakeError("server_error", "anthropic: response has no content");
  ChatResponse out =
      FromContent(*content, wire::GetString(doc, "stop_reason"), OutputModeFor(request));
  if (const json::value* u = doc.get_object().if_contains("usage")) ReadUsage(*u, out.usage);
  out.model = std::string(wire::GetString(doc, "model"));
  out.request_id = std::string(wire::GetString(doc, "id"));
  return out;
}

Status AnthropicCodec::DecodeError(const http::HttpResponse& response) const {
  auto parsed = ParseJson(response.body);
  Status status;
  std::string id = RequestId(response);
  if (parsed.ok() && parsed->is_object()) {
    status = ErrorFromBody(response.status, *parsed);
    if (id.empty()) id = std::string(wire::GetString(*parsed, "request_id"));
  } else {
    std::string body = wire::QuoteBody(response.body);
    status = wire::MakeError(wire::TypeForHttpStatus(response.status),
                             fmt::format("anthropic: HTTP {}: {}", response.status,
                                         body.empty() ? "(empty body)" : body));
  }
  if (!id.empty()) {
    status = Status(status.code(), fmt::format("{} (request id {})", status.message(), id),
                    status.ErrorType());
  }
  return wire::AttachRetryHints(status, response, clock_.NowMillis());
}

RateLimitInfo AnthropicCodec::ParseRateLimits(const http::HttpResponse& response) const {
  RateLimitInfo info;
  const auto& h = response.headers;
  int64_t now = clock_.NowMillis();
  auto reset = [&](std::string_view name) -> std::optional<int64_t> {
    auto at = wire::ParseRfc3339(wire::FindHeader(h, name));
    if (!at) return std::nullopt;
    return std::max<int64_t>(0, *at - now);
  };
  info.limit_requests = wire::ParseInt(wire::FindHeader(h, "anthropic-ratelimit-requests-limit"));
  info.remaining_requests =
      wire::ParseInt(wire::FindHeader(h, "anthropic-ratelimit-requests-remaining"));
  info.reset_requests_ms = reset("anthropic-ratelimit-requests-reset");
  // tokens-* is the most restrictive token limit in effect; input-tokens-* when it is absent.
  for (std::string_view prefix :
       {"anthropic-ratelimit-tokens-", "anthropic-ratelimit-input-tokens-"}) {
    std::string p(prefix);
    auto limit = wire::ParseInt(wire::FindHeader(h, p + "limit"));
    auto remaining = wire::ParseInt(wire::FindHeader(h, p + "remaining"));
    if (!limit && !remaining) continue;
    info.limit_tokens = limit;
    info.remaining_tokens = remaining;
    info.reset_tokens_ms = reset(p + "reset");
    break;
  }
  info.retry_after_ms = wire::RetryAfterMs(h, now);
  return info;
}

std::string AnthropicCodec::RequestId(const http::HttpResponse& response) const {
  for (std::string_view name : {"request-id", "x-request-id"}) {
    std::string_view v = wire::FindHeader(response.headers, name);
    if (!v.empty()) return std::string(v);
  }
  return "";
}

}  // namespace baton::providers::anthropic
