#include "providers/gemini/gemini_codec.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <cctype>
#include <utility>
#include <vector>

#include "providers/wire_util.hpp"

namespace baton::providers::gemini {
namespace {

struct Content {
  std::string role;
  json::array parts;
};

void AddPart(std::vector<Content>& contents, std::string_view role, json::value part) {
  if (contents.empty() || contents.back().role != role) {
    contents.push_back(Content{std::string(role), {}});
  }
  contents.back().parts.push_back(std::move(part));
}

bool IsSynthetic(std::string_view id) {
  return id.empty() || id.substr(0, kSyntheticIdPrefix.size()) == kSyntheticIdPrefix;
}

// The functionResponse.response object for a tool's output text.
json::value ResponseObject(std::string_view content) {
  auto parsed = ParseJson(content);
  if (parsed.ok() && parsed->is_object()) return std::move(*parsed);
  if (parsed.ok()) return json::object{{"output", std::move(*parsed)}};
  return json::object{{"output", content}};
}

Status BuildContents(const ChatRequest& request, std::vector<Content>& contents) {
  for (size_t i = 0; i < request.messages.size(); ++i) {
    const Message& m = request.messages[i];
    if (m.role == "system") continue;
    if (m.role == "user") {
      if (!m.content.empty()) AddPart(contents, "user", json::object{{"text", m.content}});
    } else if (m.role == "assistant") {
      const json::array* native = nullptr;
      if (m.native && m.native_protocol == kProtocol) {
        native = m.native->is_array() ? &m.native->get_array() : wire::GetArray(*m.native, "parts");
      }
      if (native != nullptr) {
        for (const auto& part : *native) AddPart(contents, "model", part);
        continue;
      }
      if (!m.content.empty()) AddPart(contents, "model", json::object{{"text", m.content}});
      bool first = true;
      for (const auto& call : m.tool_calls) {
        auto args = wire::ArgumentsObject(call.arguments, call.name);
        json::object fc;
        fc["name"] = call.name;
        fc["args"] = args.ok() ? std::move(*args) : json::object();
        if (!IsSynthetic(call.id)) fc["id"] = call.id;
        json::object part{{"functionCall", std::move(fc)}};
        if (first) part["thoughtSignature"] = kSkipSignature;
        first = false;
        AddPart(contents, "model", std::move(part));
      }
    } else if (m.role == "tool") {
      std::string name = m.tool_name;
      if (name.empty()) name = wire::ToolNameForCall(request.messages, i, m.tool_call_id);
      if (name.empty()) {
        return InvalidArgument(fmt::format(
            "gemini: the tool message answering call '{}' names no tool (Gemini needs it)",
            m.tool_call_id));
      }
      json::object fr;
      fr["name"] = name;
      fr["response"] = ResponseObject(m.content);
      if (!IsSynthetic(m.tool_call_id)) fr["id"] = m.tool_call_id;
      AddPart(contents, "user", json::object{{"functionResponse", std::move(fr)}});
    } else {
      return InvalidArgument(fmt::format("gemini: unknown message role '{}'", m.role));
    }
  }
  return Status::Ok();
}

std::string EncodeModel(std::string_view model) {
  if (model.substr(0, 7) == "models/") model.remove_prefix(7);
  std::string out;
  for (char c : model) {
    unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      out += fmt::format("%{:02X}", u);
    }
  }
  return out;
}

std::string TypeForRpcStatus(std::string_view status) {
  if (status == "RESOURCE_EXHAUSTED") return "rate_limited";
  if (status == "UNAVAILABLE") return "overloaded";
  if (status == "INTERNAL" || status == "UNKNOWN" || status == "ABORTED" || status == "DATA_LOSS") {
    return "server_error";
  }
  if (status == "DEADLINE_EXCEEDED") return "timeout";
  if (status == "INVALID_ARGUMENT" || status == "FAILED_PRECONDITION" || status == "NOT_FOUND" ||
      status == "OUT_OF_RANGE" || status == "UNIMPLEMENTED" || status == "ALREADY_EXISTS") {
    return "invalid_request";
  }
  if (status == "PERMISSION_DENIED" || status == "UNAUTHENTICATED") return "auth";
  return "";
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string SanitizeId(std::string_view id) {
  std::string out;
  for (char c : id) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-') out.push_back(c);
  }
  return out.substr(0, 64);
}

}  // namespace

std::string MapFinishReason(std::string_view reason) {
  if (reason == "STOP") return "stop";
  if (reason == "MAX_TOKENS") return "length";
  if (reason == "SAFETY" || reason == "RECITATION" || reason == "BLOCKLIST" ||
      reason == "PROHIBITED_CONTENT" || reason == "SPII" || reason == "IMAGE_SAFETY" ||
      reason == "IMAGE_PROHIBITED_CONTENT") {
    return "content_filter";
  }
  return "";
}

void ReadUsage(const json::value& usage, Usage& out) {
  if (!usage.is_object()) return;
  int64_t thoughts = wire::GetInt(usage, "thoughtsTokenCount").value_or(0);
  out.input_tokens = wire::GetInt(usage, "promptTokenCount").value_or(0) +
                     wire::GetInt(usage, "toolUsePromptTokenCount").value_or(0);
  out.output_tokens = wire::GetInt(usage, "candidatesTokenCount").value_or(0) + thoughts;
  out.reasoning_tokens = thoughts;
  out.cached_tokens = wire::GetInt(usage, "cachedContentTokenCount").value_or(0);
}

std::string SyntheticCallId(std::string_view response_id, size_t n) {
  std::string base = SanitizeId(response_id);
  if (base.empty()) return fmt::format("{}{}", kSyntheticIdPrefix, n);
  return fmt::format("{}{}_{}", kSyntheticIdPrefix, base, n);
}

ChatResponse FromParts(json::array parts, std::string_view finish_reason,
                       std::string_view response_id, bool want_structured) {
  ChatResponse out;
  for (const auto& part : parts) {
    if (const json::object* fc = wire::GetObject(part, "functionCall")) {
      ToolCall call;
      call.name = std::string(wire::GetString(*fc, "name"));
      call.id = std::string(wire::GetString(*fc, "id"));
      if (call.id.empty()) call.id = SyntheticCallId(response_id, out.tool_calls.size());
      const json::value* args = fc->if_contains("args");
      call.arguments = args == nullptr ? std::string("{}") : wire::ArgumentsText(*args);
      out.tool_calls.push_back(std::move(call));
      continue;
    }
    const json::value* text = part.is_object() ? part.get_object().if_contains("text") : nullptr;
    if (text == nullptr || !text->is_string()) continue;
    const json::value* thought = part.get_object().if_contains("thought");
    if (thought != nullptr && thought->is_bool() && thought->get_bool()) {
      out.reasoning += text->get_string();
    } else {
      out.text += text->get_string();
    }
  }
  out.finish_reason = MapFinishReason(finish_reason);
  out.native = json::value(json::object{{"role", "model"}, {"parts", std::move(parts)}});
  out.native_protocol = std::string(kProtocol);
  wire::SettleFinishReason(out);
  wire::ParseStructured(out, want_structured);
  return out;
}

Status ErrorFromBody(int http_status, const json::value& body,
                     std::optional<int64_t>* retry_delay_ms) {
  const json::value* doc = &body;
  if (body.is_array() && !body.get_array().empty()) doc = &body.get_array()[0];
  const json::object* err = wire::GetObject(*doc, "error");
  std::string message;
  std::string rpc_status;
  int code = http_status;
  std::string type;
  if (err != nullptr) {
    message = std::string(wire::GetString(*err, "message"));
    rpc_status = std::string(wire::GetString(*err, "status"));
    if (code == 0) code = static_cast<int>(wire::GetInt(*err, "code").value_or(0));
    type = TypeForRpcStatus(rpc_status);
  }
  if (type.empty()) type = code > 0 ? wire::TypeForHttpStatus(code) : "server_error";
  if (message.empty()) message = wire::QuoteBody(json::serialize(body));
  bool per_day = false;
  if (const json::array* details = err == nullptr ? nullptr : wire::GetArray(*err, "details")) {
    for (const auto& d : *details) {
      std::string_view at = wire::GetString(d, "@type");
      if (EndsWith(at, "RetryInfo")) {
        auto delay = wire::ParseResetDuration(wire::GetString(d, "retryDelay"));
        if (delay && retry_delay_ms != nullptr) *retry_delay_ms = delay;
      } else if (EndsWith(at, "QuotaFailure")) {
        if (const json::array* violations = wire::GetArray(d, "violations")) {
          for (const auto& v : *violations) {
            std::string_view id = wire::GetString(v, "quotaId");
            if (id.find("PerDay") != std::string_view::npos) per_day = true;
          }
        }
      } else if (EndsWith(at, "ErrorInfo")) {
        std::string_view reason = wire::GetString(d, "reason");
        if (reason == "API_KEY_INVALID" || reason == "API_KEY_EXPIRED") type = "auth";
      }
    }
  }
  if (type == "rate_limited" && per_day) type = "quota_exhausted";
  if (type == "invalid_request" && rpc_status != "NOT_FOUND" && code != 404) {
    if (wire::LooksLikeContextLength(message)) {
      type = "context_length";
    } else if (wire::LooksLikeContentPolicy(message)) {
      type = "content_filter";
    }
  }
  if (code == 404 || rpc_status == "NOT_FOUND") message = "model or endpoint not found: " + message;
  std::string where = http_status > 0 ? fmt::format("HTTP {}", http_status) : "stream error";
  if (!rpc_status.empty()) where += fmt::format(" ({})", rpc_status);
  return wire::MakeError(type, fmt::format("gemini: {}: {}", where, message));
}

Result<http::HttpRequest> GeminiCodec::Encode(const ChatRequest& request, const Endpoint& endpoint,
                                              bool stream) const {
  if (request.model.empty()) return InvalidArgument("gemini: the request names no model");
  std::vector<Content> contents;
  BATON_RETURN_IF_ERROR(BuildContents(request, contents));

  json::object body;
  std::string system = wire::JoinSystem(request.messages);
  if (!system.empty()) {
    body["systemInstruction"] =
        json::object{{"parts", json::array{json::object{{"text", system}}}}};
  }
  json::array wire_contents;
  for (auto& c : contents) {
    wire_contents.push_back(json::object{{"role", c.role}, {"parts", std::move(c.parts)}});
  }
  body["contents"] = std::move(wire_contents);
  if (!request.tools.empty()) {
    json::array decls;
    for (const auto& t : request.tools) {
      json::object d;
      d["name"] = t.name;
      if (!t.description.empty()) d["description"] = t.description;
      if (t.parameters.is_object()) d["parametersJsonSchema"] = t.parameters;
      decls.push_back(std::move(d));
    }
    body["tools"] = json::array{json::object{{"functionDeclarations", std::move(decls)}}};
    const std::string& choice = request.tool_choice;
    json::object config;
    if (choice == "auto") {
      config["mode"] = "AUTO";
    } else if (choice == "none") {
      config["mode"] = "NONE";
    } else if (choice == "required") {
      config["mode"] = "ANY";
    } else if (!choice.empty()) {
      config["mode"] = "ANY";
      config["allowedFunctionNames"] = json::array{json::value(choice)};
    }
    if (!config.empty()) {
      body["toolConfig"] = json::object{{"functionCallingConfig", std::move(config)}};
    }
  }
  json::object generation;
  if (request.temperature) generation["temperature"] = *request.temperature;
  if (request.max_tokens) generation["maxOutputTokens"] = *request.max_tokens;
  if (request.output_schema) {
    generation["responseMimeType"] = "application/json";
    generation["responseJsonSchema"] = *request.output_schema;
  }
  if (!generation.empty()) body["generationConfig"] = std::move(generation);

  http::HttpRequest out;
  out.method = "POST";
  std::string base = wire::TrimBase(endpoint.base_url, kDefaultBaseUrl);
  bool versioned = wire::EndsWithSegment(base, "v1beta") || wire::EndsWithSegment(base, "v1");
  out.url =
      fmt::format("{}{}/models/{}:{}", base, versioned ? "" : "/v1beta", EncodeModel(request.model),
                  stream ? "streamGenerateContent?alt=sse" : "generateContent");
  out.headers.emplace_back("Content-Type", "application/json");
  if (stream) out.headers.emplace_back("Accept", "text/event-stream");
  if (!endpoint.api_key.empty()) out.headers.emplace_back("x-goog-api-key", endpoint.api_key);
  for (const auto& h : endpoint.extra_headers) out.headers.push_back(h);
  out.body = json::serialize(body);
  return out;
}

Result<ChatResponse> GeminiCodec::Decode(std::string_view body, const ChatRequest& request) const {
  auto parsed = ParseJson(body);
  if (!parsed.ok() || !parsed->is_object()) {
    return wire::MakeError(
        "server_error",
        fmt::format("gemini: response body is not a JSON object: {}", wire::QuoteBody(body)));
  }
  const json::value& doc = *parsed;
  if (wire::GetObject(doc, "error") != nullptr) return ErrorFromBody(0, doc);
  std::string_view response_id = wire::GetString(doc, "responseId");
  const json::array* candidates = wire::GetArray(doc, "candidates");
  ChatResponse out;
  if (candidates == nullptr || candidates->empty()) {
    const json::object* feedback = wire::GetObject(doc, "promptFeedback");
    if (feedback == nullptr || wire::GetString(*feedback, "blockReason").empty()) {
      return wire::MakeError("server_error", "gemini: response has no candidates");
    }
    out = FromParts({}, "SAFETY", response_id, false);
  } else {
    const json::value& cand = (*candidates)[0];
    json::array parts;
    if (const json::object* content = wire::GetObject(cand, "content")) {
      if (const json::array* p = wire::GetArray(*content, "parts")) parts = *p;
    }
    out = FromParts(std::move(parts), wire::GetString(cand, "finishReason"), response_id,
                    request.output_schema.has_value());
  }
  if (const json::value* u = doc.get_object().if_contains("usageMetadata")) {
    ReadUsage(*u, out.usage);
  }
  out.model = std::string(wire::GetString(doc, "modelVersion"));
  out.request_id = std::string(response_id);
  return out;
}

Status GeminiCodec::DecodeError(const http::HttpResponse& response) const {
  auto parsed = ParseJson(response.body);
  Status status;
  std::optional<int64_t> delay;
  if (parsed.ok() && (parsed->is_object() || parsed->is_array())) {
    status = ErrorFromBody(response.status, *parsed, &delay);
  } else {
    std::string body = wire::QuoteBody(response.body);
    status = wire::MakeError(
        wire::TypeForHttpStatus(response.status),
        fmt::format("gemini: HTTP {}: {}", response.status, body.empty() ? "(empty body)" : body));
  }
  return wire::AttachRetryHints(status, response, clock_.NowMillis(), delay);
}

RateLimitInfo GeminiCodec::ParseRateLimits(const http::HttpResponse& response) const {
  RateLimitInfo info;
  info.retry_after_ms = wire::RetryAfterMs(response.headers, clock_.NowMillis());
  return info;
}

std::string GeminiCodec::RequestId(const http::HttpResponse& response) const {
  return std::string(wire::FindHeader(response.headers, "x-request-id"));
}

}  // namespace baton::providers::gemini
