#include "providers/openai/openai_codec.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <utility>

#include "providers/wire_util.hpp"

namespace baton::providers::openai {
namespace {

constexpr std::string_view kSchemaInstruction =
    "Respond with only a JSON value (no prose, no code fences) that conforms to this JSON "
    "Schema:\n";

bool IsObjectSchema(const json::value& schema) {
  std::string_view type = wire::GetString(schema, "type");
  if (type == "object") return true;
  return type.empty() && wire::GetObject(schema, "properties") != nullptr;
}

bool CheckStrict(const json::value& node, int depth);

bool CheckStrictMap(const json::value& node, std::string_view key, int depth) {
  const json::value* m = node.get_object().if_contains(key);
  if (m == nullptr) return true;
  if (!m->is_object()) return false;
  for (const auto& kv : m->get_object()) {
    if (!CheckStrict(kv.value(), depth + 1)) return false;
  }
  return true;
}

bool CheckStrict(const json::value& node, int depth) {
  static constexpr std::string_view kAllowed[] = {"type",
                                                  "properties",
                                                  "required",
                                                  "additionalProperties",
                                                  "items",
                                                  "enum",
                                                  "const",
                                                  "anyOf",
                                                  "description",
                                                  "title",
                                                  "$defs",
                                                  "definitions",
                                                  "$ref",
                                                  "pattern",
                                                  "format",
                                                  "minimum",
                                                  "maximum",
                                                  "exclusiveMinimum",
                                                  "exclusiveMaximum",
                                                  "multipleOf",
                                                  "minItems",
                                                  "maxItems"};
  if (depth > 10 || !node.is_object()) return false;
  const json::object& obj = node.get_object();
  bool has_shape = false;
  for (const auto& kv : obj) {
    bool ok = false;
    for (std::string_view a : kAllowed) ok = ok || kv.key() == a;
    if (!ok) return false;
    has_shape = has_shape || kv.key() == "type" || kv.key() == "anyOf" || kv.key() == "$ref" ||
                kv.key() == "enum" || kv.key() == "const";
  }
  if (!has_shape) return false;
  bool is_object = false;
  if (const json::value* t = obj.if_contains("type")) {
    if (t->is_string()) {
      is_object = t->get_string() == "object";
    } else if (t->is_array()) {
      for (const auto& e : t->get_array())
        is_object = is_object || (e.is_string() && e.get_string() == "object");
    } else {
      return false;
    }
  }
  if (is_object) {
    const json::value* ap = obj.if_contains("additionalProperties");
    if (ap == nullptr || !ap->is_bool() || ap->get_bool()) return false;
    const json::object* props = wire::GetObject(node, "properties");
    const json::array* required = wire::GetArray(node, "required");
    size_t nprops = props == nullptr ? 0 : props->size();
    size_t nreq = required == nullptr ? 0 : required->size();
    if (nprops != nreq) return false;
    if (props != nullptr) {
      for (const auto& kv : *props) {
        bool listed = false;
        for (const auto& r : *required)
          listed = listed || (r.is_string() && r.get_string() == kv.key());
        if (!listed) return false;
      }
    }
  }
  if (!CheckStrictMap(node, "properties", depth) || !CheckStrictMap(node, "$defs", depth) ||
      !CheckStrictMap(node, "definitions", depth)) {
    return false;
  }
  if (const json::value* items = obj.if_contains("items")) {
    if (!CheckStrict(*items, depth + 1)) return false;
  }
  if (const json::value* any = obj.if_contains("anyOf")) {
    if (!any->is_array() || any->get_array().empty()) return false;
    for (const auto& e : any->get_array()) {
      if (!CheckStrict(e, depth + 1)) return false;
    }
  }
  return true;
}

// The schema without its root "$schema" (a dialect label strict mode does not accept).
json::value WithoutDialect(const json::value& schema) {
  json::value copy = schema;
  if (copy.is_object()) copy.get_object().erase("$schema");
  return copy;
}

bool WantsMaxCompletionTokens(std::string_view base) {
  return base.find("api.openai.com") != std::string_view::npos ||
         base.find(".openai.azure.com") != std::string_view::npos;
}

json::object ToolCallJson(const ToolCall& call) {
  json::object fn;
  fn["name"] = call.name;
  fn["arguments"] = call.arguments.empty() ? std::string("{}") : call.arguments;
  json::object tc;
  tc["id"] = call.id;
  tc["type"] = "function";
  tc["function"] = std::move(fn);
  return tc;
}

Result<json::value> MessageJson(const Message& m) {
  json::object out;
  if (m.role == "system" || m.role == "user") {
    out["role"] = m.role;
    out["content"] = m.content;
  } else if (m.role == "assistant") {
    if (m.native && m.native_protocol == kProtocol && m.native->is_object()) return *m.native;
    out["role"] = "assistant";
    if (m.content.empty() && !m.tool_calls.empty()) {
      out["content"] = nullptr;
    } else {
      out["content"] = m.content;
    }
    if (!m.tool_calls.empty()) {
      json::array calls;
      for (const auto& c : m.tool_calls) calls.push_back(ToolCallJson(c));
      out["tool_calls"] = std::move(calls);
    }
  } else if (m.role == "tool") {
    if (m.tool_call_id.empty())
      return InvalidArgument("openai: a tool message has no tool_call_id");
    out["role"] = "tool";
    out["tool_call_id"] = m.tool_call_id;
    out["content"] = m.content;
  } else {
    return InvalidArgument(fmt::format("openai: unknown message role '{}'", m.role));
  }
  return json::value(std::move(out));
}

std::string ContentText(const json::value& content) {
  if (content.is_string()) return std::string(content.get_string());
  std::string out;
  if (const json::array* parts = content.if_array()) {
    for (const auto& p : *parts) {
      std::string_view type = wire::GetString(p, "type");
      if (type.empty() || type == "text" || type == "output_text")
        out += wire::GetString(p, "text");
    }
  }
  return out;
}

// The error type from the HTTP status (0 inside a stream) refined by the OpenAI-family code and
// type words and, for 400s, by the message.
std::string Classify(int status, std::string_view code, std::string_view etype,
                     std::string_view message) {
  if (code == "insufficient_quota" || etype == "insufficient_quota") return "quota_exhausted";
  std::string type = status > 0 ? wire::TypeForHttpStatus(status) : "";
  bool rate = code == "rate_limit_exceeded" || etype == "rate_limit_exceeded" ||
              etype == "rate_limit_error";
  if (rate && (type.empty() || type == "rate_limited")) return "rate_limited";
  bool context = code == "context_length_exceeded" || code == "string_above_max_length";
  bool filter =
      code == "content_filter" || code == "content_policy_violation" || code == "invalid_prompt";
  if (type.empty()) {  // inside a stream only the words say what happened
    if (etype == "invalid_request_error") {
      type = "invalid_request";
    } else if (etype == "authentication_error") {
      return "auth";
    } else if (!context && !filter) {
      return "server_error";
    } else {
      type = "invalid_request";
    }
  }
  if (type == "invalid_request" && status != 404 && status != 413) {
    if (context || wire::LooksLikeContextLength(message)) return "context_length";
    if (filter || wire::LooksLikeContentPolicy(message)) return "content_filter";
  }
  return type;
}

}  // namespace

std::string MapFinishReason(std::string_view reason) {
  if (reason == "stop" || reason == "end_turn" || reason == "eos") return "stop";
  if (reason == "length" || reason == "max_tokens") return "length";
  if (reason == "tool_calls" || reason == "function_call" || reason == "tool_use") {
    return "tool_calls";
  }
  if (reason == "content_filter" || reason == "refusal") return "content_filter";
  return "";
}

void ReadUsage(const json::value& usage, Usage& out) {
  if (!usage.is_object()) return;
  out.input_tokens = wire::GetInt(usage, "prompt_tokens").value_or(0);
  out.output_tokens = wire::GetInt(usage, "completion_tokens").value_or(0);
  if (const json::object* d = wire::GetObject(usage, "prompt_tokens_details")) {
    out.cached_tokens = wire::GetInt(*d, "cached_tokens").value_or(0);
  }
  if (const json::object* d = wire::GetObject(usage, "completion_tokens_details")) {
    out.reasoning_tokens = wire::GetInt(*d, "reasoning_tokens").value_or(0);
  }
  if (const json::value* cost = usage.get_object().if_contains("cost")) {
    if (cost->is_number()) out.cost_usd = cost->to_number<double>();
  }
}

Status ErrorFromBody(int http_status, const json::value& body) {
  const json::value* err = &body;
  if (const json::value* e = body.is_object() ? body.get_object().if_contains("error") : nullptr) {
    err = e;
  }
  std::string message;
  std::string code;
  std::string etype;
  int status = http_status;
  if (err->is_string()) {
    message = std::string(err->get_string());
  } else if (err->is_object()) {
    message = std::string(wire::GetString(*err, "message"));
    etype = std::string(wire::GetString(*err, "type"));
    if (const json::value* c = err->get_object().if_contains("code")) {
      if (c->is_string()) {
        code = std::string(c->get_string());
      } else if (auto n = wire::GetInt(*err, "code")) {
        if (status == 0 && *n >= 400 && *n < 600) status = static_cast<int>(*n);
        code = std::to_string(*n);
      }
    }
    // OpenRouter puts the upstream provider's own error in metadata.raw.
    if (const json::object* meta = wire::GetObject(*err, "metadata")) {
      std::string_view raw = wire::GetString(*meta, "raw");
      if (!raw.empty()) message += fmt::format(" (upstream: {})", wire::QuoteBody(raw, 200));
    }
  }
  if (message.empty()) message = wire::QuoteBody(json::serialize(body));
  std::string type = Classify(status, code, etype, message);
  std::string where = http_status > 0 ? fmt::format("HTTP {}", http_status) : "stream error";
  if (http_status == 404) message = "model or endpoint not found: " + message;
  std::string label = code.empty() ? etype : code;
  if (!label.empty()) where += fmt::format(" ({})", label);
  return wire::MakeError(type, fmt::format("openai: {}: {}", where, message));
}

bool StrictSchemaCompatible(const json::value& schema) {
  if (!IsObjectSchema(schema)) return false;
  if (!schema.is_object()) return false;
  return CheckStrict(WithoutDialect(schema), 0);
}

Result<http::HttpRequest> OpenAiCodec::Encode(const ChatRequest& request, const Endpoint& endpoint,
                                              bool stream) const {
  if (request.model.empty()) return InvalidArgument("openai: the request names no model");
  json::object body;
  body["model"] = request.model;

  std::string instruction;
  json::value response_format;
  if (request.output_schema) {
    const json::value& schema = *request.output_schema;
    if (IsObjectSchema(schema)) {
      // Strict mode when the schema follows its rules; otherwise the schema still travels
      // (strict: false), which OpenAI and the compatible servers with guided decoding honour.
      json::object spec;
      spec["name"] = "output";
      spec["schema"] = WithoutDialect(schema);
      spec["strict"] = StrictSchemaCompatible(schema);
      response_format = json::object{{"type", "json_schema"}, {"json_schema", std::move(spec)}};
    } else {
      instruction = std::string(kSchemaInstruction) + json::serialize(schema);
    }
  }

  json::array messages;
  for (const auto& m : request.messages) {
    BATON_ASSIGN_OR_RETURN(json::value v, MessageJson(m));
    messages.push_back(std::move(v));
  }
  if (!instruction.empty()) {
    json::object* first = messages.empty() ? nullptr : messages.front().if_object();
    if (first != nullptr && wire::GetString(*first, "role") == "system" &&
        first->at("content").is_string()) {
      std::string merged(first->at("content").get_string());
      merged += "\n\n" + instruction;
      (*first)["content"] = merged;
    } else {
      messages.insert(messages.begin(), json::object{{"role", "system"}, {"content", instruction}});
    }
  }
  body["messages"] = std::move(messages);

  if (!request.tools.empty()) {
    json::array tools;
    for (const auto& t : request.tools) {
      json::object fn;
      fn["name"] = t.name;
      if (!t.description.empty()) fn["description"] = t.description;
      fn["parameters"] =
          t.parameters.is_object()
              ? t.parameters
              : json::value(json::object{{"type", "object"}, {"properties", json::object()}});
      tools.push_back(json::object{{"type", "function"}, {"function", std::move(fn)}});
    }
    body["tools"] = std::move(tools);
    const std::string& choice = request.tool_choice;
    if (choice == "auto" || choice == "none" || choice == "required") {
      body["tool_choice"] = choice;
    } else if (!choice.empty()) {
      body["tool_choice"] =
          json::object{{"type", "function"}, {"function", json::object{{"name", choice}}}};
    }
  }
  if (!response_format.is_null()) body["response_format"] = std::move(response_format);
  if (request.temperature) body["temperature"] = *request.temperature;
  std::string base = wire::TrimBase(endpoint.base_url, kDefaultBaseUrl);
  if (request.max_tokens) {
    body[WantsMaxCompletionTokens(base) ? "max_completion_tokens" : "max_tokens"] =
        *request.max_tokens;
  }
  if (stream) {
    body["stream"] = true;
    body["stream_options"] = json::object{{"include_usage", true}};
  }

  http::HttpRequest out;
  out.method = "POST";
  out.url = base + "/chat/completions";
  out.headers.emplace_back("Content-Type", "application/json");
  if (stream) out.headers.emplace_back("Accept", "text/event-stream");
  if (!endpoint.api_key.empty()) {
    out.headers.emplace_back("Authorization", "Bearer " + endpoint.api_key);
  }
  for (const auto& h : endpoint.extra_headers) out.headers.push_back(h);
  out.body = json::serialize(body);
  return out;
}

Result<ChatResponse> OpenAiCodec::Decode(std::string_view body, const ChatRequest& request) const {
  auto parsed = ParseJson(body);
  if (!parsed.ok() || !parsed->is_object()) {
    return wire::MakeError(
        "server_error",
        fmt::format("openai: response body is not a JSON object: {}", wire::QuoteBody(body)));
  }
  const json::value& doc = *parsed;
  if (const json::value* e = doc.get_object().if_contains("error"); e != nullptr && !e->is_null()) {
    return ErrorFromBody(0, doc);
  }
  const json::array* choices = wire::GetArray(doc, "choices");
  if (choices == nullptr || choices->empty() || !(*choices)[0].is_object()) {
    return wire::MakeError("server_error", "openai: response has no choices");
  }
  const json::value& choice = (*choices)[0];
  const json::object* message = wire::GetObject(choice, "message");
  if (message == nullptr) return wire::MakeError("server_error", "openai: choice has no message");

  ChatResponse out;
  if (const json::value* c = message->if_contains("content")) out.text = ContentText(*c);
  out.reasoning = std::string(wire::GetString(*message, "reasoning_content"));
  if (out.reasoning.empty()) out.reasoning = std::string(wire::GetString(*message, "reasoning"));
  if (const json::array* calls = wire::GetArray(*message, "tool_calls")) {
    for (const auto& c : *calls) {
      ToolCall call;
      call.id = std::string(wire::GetString(c, "id"));
      if (const json::object* fn = wire::GetObject(c, "function")) {
        call.name = std::string(wire::GetString(*fn, "name"));
        if (const json::value* a = fn->if_contains("arguments"))
          call.arguments = wire::ArgumentsText(*a);
      } else if (const json::object* custom = wire::GetObject(c, "custom")) {
        call.name = std::string(wire::GetString(*custom, "name"));
        if (const json::value* a = custom->if_contains("input"))
          call.arguments = wire::ArgumentsText(*a);
      }
      if (call.name.empty()) continue;
      if (call.id.empty()) call.id = fmt::format("call_{}", out.tool_calls.size());
      out.tool_calls.push_back(std::move(call));
    }
  }
  out.finish_reason = MapFinishReason(wire::GetString(choice, "finish_reason"));
  std::string_view refusal = wire::GetString(*message, "refusal");
  if (!refusal.empty()) {
    if (out.text.empty()) out.text = std::string(refusal);
    out.finish_reason = "content_filter";
  }
  if (const json::value* u = doc.get_object().if_contains("usage")) ReadUsage(*u, out.usage);
  out.native = json::value(*message);
  out.native_protocol = std::string(kProtocol);
  out.model = std::string(wire::GetString(doc, "model"));
  out.request_id = std::string(wire::GetString(doc, "id"));
  wire::SettleFinishReason(out);
  wire::ParseStructured(out, request.output_schema.has_value());
  return out;
}

Status OpenAiCodec::DecodeError(const http::HttpResponse& response) const {
  auto parsed = ParseJson(response.body);
  Status status;
  if (parsed.ok() && parsed->is_object()) {
    status = ErrorFromBody(response.status, *parsed);
  } else {
    std::string type = wire::TypeForHttpStatus(response.status);
    std::string body = wire::QuoteBody(response.body);
    if (response.status == 400 && wire::LooksLikeContextLength(body)) type = "context_length";
    status = wire::MakeError(type, fmt::format("openai: HTTP {}: {}", response.status,
                                               body.empty() ? "(empty body)" : body));
  }
  std::string id = RequestId(response);
  if (!id.empty()) {
    status = Status(status.code(), fmt::format("{} (request id {})", status.message(), id),
                    status.ErrorType());
  }
  return wire::AttachRetryHints(status, response, clock_.NowMillis());
}

RateLimitInfo OpenAiCodec::ParseRateLimits(const http::HttpResponse& response) const {
  RateLimitInfo info;
  const auto& h = response.headers;
  info.limit_requests = wire::ParseInt(wire::FindHeader(h, "x-ratelimit-limit-requests"));
  info.remaining_requests = wire::ParseInt(wire::FindHeader(h, "x-ratelimit-remaining-requests"));
  info.limit_tokens = wire::ParseInt(wire::FindHeader(h, "x-ratelimit-limit-tokens"));
  info.remaining_tokens = wire::ParseInt(wire::FindHeader(h, "x-ratelimit-remaining-tokens"));
  info.reset_requests_ms =
      wire::ParseResetDuration(wire::FindHeader(h, "x-ratelimit-reset-requests"));
  info.reset_tokens_ms = wire::ParseResetDuration(wire::FindHeader(h, "x-ratelimit-reset-tokens"));
  info.retry_after_ms = wire::RetryAfterMs(h, clock_.NowMillis());
  return info;
}

std::string OpenAiCodec::RequestId(const http::HttpResponse& response) const {
  for (std::string_view name : {"x-request-id", "x-generation-id", "request-id"}) {
    std::string_view v = wire::FindHeader(response.headers, name);
    if (!v.empty()) return std::string(v);
  }
  return "";
}

}  // namespace baton::providers::openai
