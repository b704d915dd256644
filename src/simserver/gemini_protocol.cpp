// Gemini API, server side: POST /v1beta/models/{model}:generateContent,
// :streamGenerateContent (?alt=sse, or a streamed JSON array), :countTokens, GET /v1beta/models.

#include <fmt/format.h>

#include <boost/json.hpp>

#include "simserver/protocol.hpp"

namespace baton::simserver {
namespace {

using providers::ChatRequest;
using providers::ChatResponse;
using providers::Message;
using providers::ToolCall;
using providers::ToolSpec;

// The first of `names` present in `o` (the REST API accepts camelCase and snake_case).
const json::value* Field(const json::object& o, std::initializer_list<std::string_view> names) {
  for (auto n : names) {
    if (const json::value* v = o.if_contains(n)) return v;
  }
  return nullptr;
}

std::string StringField(const json::object& o, std::initializer_list<std::string_view> names) {
  const json::value* v = Field(o, names);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

// OpenAPI-subset Schema (types in upper case) -> JSON Schema.
json::value NormalizeSchema(const json::value& v) {
  if (const json::object* o = v.if_object()) {
    json::object out;
    for (const auto& kv : *o) {
      if (kv.key() == "type" && kv.value().is_string()) {
        std::string t(kv.value().get_string());
        for (char& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        out["type"] = t;
      } else {
        out[kv.key()] = NormalizeSchema(kv.value());
      }
    }
    return out;
  }
  if (const json::array* a = v.if_array()) {
    json::array out;
    for (const auto& item : *a) out.push_back(NormalizeSchema(item));
    return out;
  }
  return v;
}

std::string_view GrpcStatus(int status) {
  switch (status) {
    case 400:
    case 413:
      return "INVALID_ARGUMENT";
    case 401:
      return "UNAUTHENTICATED";
    case 403:
      return "PERMISSION_DENIED";
    case 404:
      return "NOT_FOUND";
    case 409:
      return "ABORTED";
    case 429:
      return "RESOURCE_EXHAUSTED";
    case 499:
      return "CANCELLED";
    case 501:
      return "UNIMPLEMENTED";
    case 503:
    case 529:
      return "UNAVAILABLE";
    case 504:
      return "DEADLINE_EXCEEDED";
    default:
      return status >= 500 ? "INTERNAL" : "FAILED_PRECONDITION";
  }
}

std::string FinishReason(const ChatResponse& r) {
  if (r.finish_reason == "length") return "MAX_TOKENS";
  if (r.finish_reason == "content_filter") return "SAFETY";
  return "STOP";
}

class GeminiProtocol final : public WireProtocol {
 public:
  Protocol id() const override { return Protocol::kGemini; }

  std::string ApiKey(const http::ServerRequest& request) const override {
    std::string_view key = request.header("x-goog-api-key");
    if (!key.empty()) return std::string(key);
    if (auto q = request.query_param("key")) return std::string(*q);
    return "";
  }

  Result<DecodedCall> Decode(const http::ServerRequest& request, std::string_view path_model,
                             bool stream_endpoint) const override {
    auto parsed = ParseJson(request.body);
    if (!parsed.ok() || !parsed->is_object()) {
      return InvalidRequest(
          fmt::format("Invalid JSON payload received. {}",
                      parsed.ok() ? std::string("Expected an object.") : parsed.error().message()));
    }
    const json::object& o = parsed->get_object();
    DecodedCall call;
    ChatRequest& req = call.request;
    req.model = std::string(path_model);
    call.stream = stream_endpoint;
    auto alt = request.query_param("alt");
    call.sse = alt && *alt == "sse";

    if (const json::value* si = Field(o, {"systemInstruction", "system_instruction"});
        si && si->is_object()) {
      std::string text = PartsText(si->get_object());
      if (!text.empty()) req.messages.push_back({"system", std::move(text)});
    }
    const json::value* contents = Field(o, {"contents"});
    if (contents == nullptr || !contents->is_array() || contents->get_array().empty()) {
      return InvalidRequest("* GenerateContentRequest.contents: contents is not specified\n");
    }
    BATON_RETURN_IF_ERROR(DecodeContents(contents->get_array(), req));

    if (const json::value* tools = Field(o, {"tools"}); tools && tools->is_array()) {
      for (const auto& tool : tools->get_array()) {
        const json::object* t = tool.if_object();
        const json::value* decls =
            t ? Field(*t, {"functionDeclarations", "function_declarations"}) : nullptr;
        if (decls == nullptr || !decls->is_array()) continue;  // built-in tools: not simulated
        for (const auto& d : decls->get_array()) {
          const json::object* f = d.if_object();
          if (f == nullptr) continue;
          ToolSpec spec;
          spec.name = StringField(*f, {"name"});
          if (spec.name.empty()) {
            return InvalidRequest(
                "* GenerateContentRequest.tools[0].function_declarations[0].name: Name cannot "
                "be empty.\n");
          }
          spec.description = StringField(*f, {"description"});
          if (const json::value* js =
                  Field(*f, {"parametersJsonSchema", "parameters_json_schema"})) {
            spec.parameters = *js;
          } else if (const json::value* p = Field(*f, {"parameters"})) {
            spec.parameters = NormalizeSchema(*p);
          } else {
            spec.parameters = json::object{{"type", "object"}, {"properties", json::object()}};
          }
          req.tools.push_back(std::move(spec));
        }
      }
    }
    if (const json::value* tc = Field(o, {"toolConfig", "tool_config"}); tc && tc->is_object()) {
      const json::value* fcc =
          Field(tc->get_object(), {"functionCallingConfig", "function_calling_config"});
      if (fcc && fcc->is_object()) {
        std::string mode = StringField(fcc->get_object(), {"mode"});
        const json::value* allowed =
            Field(fcc->get_object(), {"allowedFunctionNames", "allowed_function_names"});
        if (mode == "NONE") {
          req.tool_choice = "none";
        } else if (mode == "ANY") {
          req.tool_choice = "required";
          if (allowed && allowed->is_array() && allowed->get_array().size() == 1 &&
              allowed->get_array()[0].is_string()) {
            req.tool_choice = std::string(allowed->get_array()[0].get_string());
          }
        } else if (mode == "AUTO" || mode == "VALIDATED") {
          req.tool_choice = "auto";
        }
      }
    }
    if (const json::value* gc = Field(o, {"generationConfig", "generation_config"});
        gc && gc->is_object()) {
      const json::object& g = gc->get_object();
      if (const json::value* t = Field(g, {"temperature"}); t && t->is_number()) {
        req.temperature = t->to_number<double>();
      }
      if (const json::value* m = Field(g, {"maxOutputTokens", "max_output_tokens"});
          m && m->is_number()) {
        req.max_tokens = m->to_number<int64_t>();
      }
      if (StringField(g, {"responseMimeType", "response_mime_type"}) == "application/json") {
        if (const json::value* js =
                Field(g, {"responseJsonSchema", "response_json_schema", "_responseJsonSchema"})) {
          req.output_schema = *js;
        } else if (const json::value* s = Field(g, {"responseSchema", "response_schema"})) {
          req.output_schema = NormalizeSchema(*s);
        } else {
          req.output_schema = json::object{
              {"type", "object"},
              {"properties", json::object{{"answer", json::object{{"type", "string"}}}}}};
        }
      }
      if (const json::value* tc = Field(g, {"thinkingConfig", "thinking_config"});
          tc && tc->is_object()) {
        const json::object& t = tc->get_object();
        const json::value* include = Field(t, {"includeThoughts", "include_thoughts"});
        const json::value* budget = Field(t, {"thinkingBudget", "thinking_budget"});
        const json::value* level = Field(t, {"thinkingLevel", "thinking_level"});
        bool on = true;
        if (budget && budget->is_number() && budget->to_number<int64_t>() == 0) on = false;
        if (budget || level || include) call.thinking = on;
        call.include_thoughts = include && include->is_bool() && include->get_bool();
      }
    }
    return call;
  }

  int StatusFor(std::string_view kind) const override {
    if (kind == "rate_limited" || kind == "quota_exhausted") return 429;
    if (kind == "overloaded") return 503;
    if (kind == "timeout") return 504;
    if (kind == "invalid_request" || kind == "context_length" || kind == "auth") return 400;
    if (kind == "permission") return 403;
    if (kind == "not_found") return 404;
    if (kind == "too_large") return 413;
    return 500;
  }

  std::string AuthMessage() const override {
    return "API key not valid. Please pass a valid API key.";
  }

  static json::object ErrorObject(const WireError& e) {
    json::object error;
    error["code"] = e.status;
    error["message"] = e.message;
    error["status"] = GrpcStatus(e.status);
    json::array details;
    if (e.kind == "auth") {
      details.push_back(json::object{
          {"@type", "type.googleapis.com/google.rpc.ErrorInfo"},
          {"reason", "API_KEY_INVALID"},
          {"domain", "googleapis.com"},
          {"metadata", json::object{{"service", "generativelanguage.googleapis.com"}}}});
    } else if (e.kind == "rate_limited" || e.kind == "quota_exhausted") {
      bool daily = e.kind == "quota_exhausted";
      std::string quota = daily ? "GenerateRequestsPerDayPerProjectPerModel-FreeTier"
                                : (e.limited_by == "tokens"
                                       ? "GenerateContentInputTokensPerModelPerMinute-FreeTier"
                                       : "GenerateRequestsPerMinutePerProjectPerModel-FreeTier");
      details.push_back(json::object{
          {"@type", "type.googleapis.com/google.rpc.QuotaFailure"},
          {"violations", json::array{json::object{{"quotaMetric",
                                                   "generativelanguage.googleapis.com/"
                                                   "generate_content_free_tier_requests"},
                                                  {"quotaId", quota}}}}});
      if (!daily && e.retry_after_ms >= 0) {
        details.push_back(
            json::object{{"@type", "type.googleapis.com/google.rpc.RetryInfo"},
                         {"retryDelay", fmt::format("{}s", (e.retry_after_ms + 999) / 1000)}});
      }
    }
    if (!details.empty()) error["details"] = std::move(details);
    return error;
  }

  http::ServerResponse Error(const WireError& e, std::string_view) const override {
    http::ServerResponse r;
    r.status = e.status;
    r.body = ToJson(json::object{{"error", ErrorObject(e)}});
    r.headers.emplace_back("content-type", "application/json; charset=UTF-8");
    if (e.retry_after_ms >= 0) {
      r.headers.emplace_back("retry-after", std::to_string((e.retry_after_ms + 999) / 1000));
    }
    return r;
  }

  static json::object UsageJson(const providers::Usage& u, bool final_chunk) {
    json::object usage;
    usage["promptTokenCount"] = u.input_tokens;
    if (final_chunk) {
      usage["candidatesTokenCount"] = std::max<int64_t>(u.output_tokens - u.reasoning_tokens, 0);
    }
    usage["totalTokenCount"] = final_chunk ? u.input_tokens + u.output_tokens : u.input_tokens;
    usage["promptTokensDetails"] =
        json::array{json::object{{"modality", "TEXT"}, {"tokenCount", u.input_tokens}}};
    if (final_chunk && u.reasoning_tokens > 0) usage["thoughtsTokenCount"] = u.reasoning_tokens;
    if (u.cached_tokens > 0) usage["cachedContentTokenCount"] = u.cached_tokens;
    return usage;
  }

  static json::array CallParts(const ChatResponse& response, const ReplyContext& ctx) {
    json::array parts;
    for (size_t i = 0; i < response.tool_calls.size(); ++i) {
      const ToolCall& c = response.tool_calls[i];
      json::object part;
      part["functionCall"] = json::object{{"name", c.name}, {"args", ArgumentsObject(c.arguments)}};
      if (i == 0) part["thoughtSignature"] = ctx.signature;  // only the first call carries it
      parts.push_back(std::move(part));
    }
    return parts;
  }

  static json::object Response(json::value candidate, json::object usage, const ReplyContext& ctx) {
    json::object body;
    body["candidates"] = json::array{std::move(candidate)};
    body["usageMetadata"] = std::move(usage);
    body["modelVersion"] = ctx.model;
    body["responseId"] = ctx.id;
    return body;
  }

  static json::object Candidate(json::array parts, std::string finish) {
    json::object c;
    c["content"] = json::object{{"parts", std::move(parts)}, {"role", "model"}};
    if (!finish.empty()) c["finishReason"] = std::move(finish);
    c["index"] = 0;
    return c;
  }

  std::string Body(const ChatResponse& response, const ReplyContext& ctx) const override {
    if (response.finish_reason == "content_filter") {
      return ToJson(Response(json::object{{"finishReason", "SAFETY"}, {"index", 0}},
                             UsageJson(response.usage, true), ctx));
    }
    json::array parts;
    if (ctx.include_thoughts && !response.reasoning.empty()) {
      parts.push_back(json::object{{"text", response.reasoning}, {"thought", true}});
    }
    if (!response.text.empty()) parts.push_back(json::object{{"text", response.text}});
    for (auto& p : CallParts(response, ctx)) parts.push_back(std::move(p));
    return ToJson(Response(Candidate(std::move(parts), FinishReason(response)),
                           UsageJson(response.usage, true), ctx));
  }

  std::vector<Frame> Stream(const ChatResponse& response, const ReplyContext& ctx) const override {
    // Each chunk is a whole GenerateContentResponse; the last carries finishReason and usage.
    std::vector<json::array> chunks;
    if (response.finish_reason != "content_filter") {
      if (ctx.include_thoughts && !response.reasoning.empty()) {
        for (const auto& piece : SplitDeltas(response.reasoning, 32)) {
          chunks.push_back(json::array{json::object{{"text", piece}, {"thought", true}}});
        }
      }
      for (const auto& piece : SplitDeltas(response.text, 16)) {
        chunks.push_back(json::array{json::object{{"text", piece}}});
      }
      if (!response.tool_calls.empty()) chunks.push_back(CallParts(response, ctx));
    }
    std::vector<Frame> frames;
    for (size_t i = 0; i < chunks.size(); ++i) {
      bool last = i + 1 == chunks.size();
      json::object body =
          Response(Candidate(std::move(chunks[i]), last ? FinishReason(response) : ""),
                   UsageJson(response.usage, last), ctx);
      frames.push_back({"", ToJson(body), "", true});
    }
    if (frames.empty()) {
      json::value candidate =
          response.finish_reason == "content_filter"
              ? json::value(json::object{{"finishReason", "SAFETY"}, {"index", 0}})
              : json::value(
                    Candidate(json::array{json::object{{"text", ""}}}, FinishReason(response)));
      frames.push_back(
          {"", ToJson(Response(std::move(candidate), UsageJson(response.usage, true), ctx)), "",
           false});
    }
    for (size_t i = 0; i < frames.size(); ++i) Wrap(frames[i], ctx, i, i + 1 == frames.size());
    return frames;
  }

  Frame StreamError(const WireError& e, const ReplyContext& ctx, size_t sent) const override {
    Frame f{"", ToJson(json::object{{"error", ErrorObject(e)}}), "", false};
    Wrap(f, ctx, sent, true);
    return f;
  }

  std::string StreamContentType(const ReplyContext& ctx) const override {
    return ctx.sse ? "text/event-stream" : "application/json; charset=UTF-8";
  }

  void AddReplyHeaders(const ReplyContext&, std::vector<http::Header>& out) const override {
    out.emplace_back("x-gemini-service-tier", "standard");
  }

  void AddLimitHeaders(const LimitSnapshot&, std::vector<http::Header>&) const override {}

  std::string ModelList(const std::vector<std::string>& models, int64_t) const override {
    json::array list;
    for (const auto& m : models) list.push_back(ModelObject(m));
    return ToJson(json::object{{"models", std::move(list)}});
  }

  std::string ModelInfo(std::string_view model, int64_t) const override {
    return ToJson(ModelObject(model));
  }

  std::string TokenCount(int64_t tokens) const override {
    return ToJson(json::object{{"totalTokens", tokens}});
  }

 private:
  // SSE: "data: " ... CRLF CRLF (as Gemini sends); array mode: "[" first, "," between, "]" last.
  static void Wrap(Frame& f, const ReplyContext& ctx, size_t index, bool last) {
    if (ctx.sse) {
      f.prefix = "data: ";
      f.suffix = "\r\n\r\n";
    } else {
      f.prefix = index == 0 ? "[" : ",\r\n";
      f.suffix = last ? "]" : "";
    }
  }

  static json::object ModelObject(std::string_view model) {
    json::object o;
    o["name"] = fmt::format("models/{}", model);
    o["version"] = "001";
    o["displayName"] = model;
    o["description"] = "baton sim model";
    o["inputTokenLimit"] = 1048576;
    o["outputTokenLimit"] = 65536;
    o["supportedGenerationMethods"] = json::array{"generateContent", "countTokens"};
    o["thinking"] = true;
    return o;
  }

  static std::string PartsText(const json::object& content) {
    std::string out;
    const json::value* parts = Field(content, {"parts"});
    if (parts == nullptr || !parts->is_array()) return out;
    for (const auto& p : parts->get_array()) {
      const json::object* part = p.if_object();
      if (part == nullptr) continue;
      const json::value* thought = part->if_contains("thought");
      if (thought && thought->is_bool() && thought->get_bool()) continue;
      if (const json::value* t = part->if_contains("text"); t && t->is_string()) {
        if (!out.empty()) out += "\n";
        out += t->get_string();
      }
    }
    return out;
  }

  static Status DecodeContents(const json::array& contents, ChatRequest& req) {
    // The current turn starts after the last user content with text: its function calls must
    // carry thought signatures (as Gemini 3 requires).
    size_t turn_start = 0;
    for (size_t i = 0; i < contents.size(); ++i) {
      const json::object* c = contents[i].if_object();
      if (c == nullptr) {
        return InvalidRequest(
            fmt::format("* GenerateContentRequest.contents[{}]: must be an object\n", i));
      }
      std::string role = StringField(*c, {"role"});
      if (role != "model" && !PartsText(*c).empty()) turn_start = i + 1;
    }
    std::vector<std::pair<std::string, std::string>> pending;  // id, name of the last calls
    for (size_t i = 0; i < contents.size(); ++i) {
      const json::object& c = contents[i].get_object();
      std::string role = StringField(c, {"role"});
      const json::value* parts_value = Field(c, {"parts"});
      if (parts_value == nullptr || !parts_value->is_array()) {
        return InvalidRequest(fmt::format(
            "* GenerateContentRequest.contents[{}].parts: contents.parts must not be empty.\n", i));
      }
      const json::array& parts = parts_value->get_array();
      if (role == "model") {
        Message msg;
        msg.role = "assistant";
        bool first_call = true;
        pending.clear();
        for (size_t k = 0; k < parts.size(); ++k) {
          const json::object* part = parts[k].if_object();
          if (part == nullptr) continue;
          const json::value* fc = Field(*part, {"functionCall", "function_call"});
          if (fc && fc->is_object()) {
            ToolCall call;
            call.name = StringField(fc->get_object(), {"name"});
            call.id = StringField(fc->get_object(), {"id"});
            if (call.id.empty()) call.id = fmt::format("gemini-call-{}-{}", i, k);
            const json::value* args = Field(fc->get_object(), {"args"});
            call.arguments = args ? ToJson(*args) : "{}";
            if (first_call && i >= turn_start &&
                StringField(*part, {"thoughtSignature", "thought_signature"}).empty()) {
              return InvalidRequest(fmt::format(
                  "Function call is missing a thought_signature in functionCall parts. This is "
                  "required for tools to work correctly, and missing thought_signature may lead "
                  "to degraded model performance. Additional data, function call "
                  "`default_api:{}` , position {}. Please refer to "
                  "https://ai.google.dev/gemini-api/docs/thought-signatures for more details.",
                  call.name, i + 1));
            }
            first_call = false;
            pending.emplace_back(call.id, call.name);
            msg.tool_calls.push_back(std::move(call));
            continue;
          }
          const json::value* thought = part->if_contains("thought");
          if (thought && thought->is_bool() && thought->get_bool()) continue;
          if (const json::value* t = part->if_contains("text"); t && t->is_string()) {
            msg.content += t->get_string();
          }
        }
        req.messages.push_back(std::move(msg));
        continue;
      }
      // user (or legacy "function") content: function responses first, then text.
      std::string text;
      for (const auto& p : parts) {
        const json::object* part = p.if_object();
        if (part == nullptr) continue;
        const json::value* fr = Field(*part, {"functionResponse", "function_response"});
        if (fr && fr->is_object()) {
          Message tool;
          tool.role = "tool";
          tool.tool_name = StringField(fr->get_object(), {"name"});
          std::string id = StringField(fr->get_object(), {"id"});
          auto it = std::find_if(pending.begin(), pending.end(), [&](const auto& entry) {
            return id.empty() ? entry.second == tool.tool_name : entry.first == id;
          });
          if (it != pending.end()) {
            tool.tool_call_id = it->first;
            pending.erase(it);
          } else {
            tool.tool_call_id = id;
          }
          const json::value* response = Field(fr->get_object(), {"response"});
          tool.content = response ? ToJson(*response) : "{}";
          req.messages.push_back(std::move(tool));
        } else if (const json::value* t = part->if_contains("text"); t && t->is_string()) {
          if (!text.empty()) text += "\n";
          text += t->get_string();
        }
      }
      if (!text.empty()) req.messages.push_back({"user", std::move(text)});
    }
    return Status::Ok();
  }
};

}  // namespace

const WireProtocol& GeminiWire() {
  static const GeminiProtocol protocol;
  return protocol;
}

}  // namespace baton::simserver
