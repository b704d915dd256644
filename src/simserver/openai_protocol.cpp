// OpenAI Chat Completions, server side: POST /v1/chat/completions and GET /v1/models.

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

// The text of a `content` field: a string, an array of parts (text parts joined), or null.
Result<std::string> ContentText(const json::value& content, std::string_view where) {
  if (content.is_null()) return std::string();
  if (const json::string* s = content.if_string()) return std::string(*s);
  if (const json::array* parts = content.if_array()) {
    std::string out;
    for (const auto& part : *parts) {
      const json::object* o = part.if_object();
      if (o == nullptr) {
        return InvalidRequest(
            fmt::format("Invalid type for '{}': expected an array of objects", where));
      }
      const json::value* type = o->if_contains("type");
      if (type != nullptr && type->is_string() && type->get_string() == "text") {
        const json::value* text = o->if_contains("text");
        if (text != nullptr && text->is_string()) {
          if (!out.empty()) out += "\n";
          out += text->get_string();
        }
      }
    }
    return out;
  }
  return InvalidRequest(fmt::format(
      "Invalid type for '{}': expected one of a string or array of objects, but got {} instead.",
      where, JsonTypeName(content)));
}

std::string Join(const std::vector<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) out += (out.empty() ? "" : ", ") + id;
  return out;
}

json::object UsageJson(const providers::Usage& u) {
  json::object prompt_details;
  prompt_details["cached_tokens"] = u.cached_tokens;
  prompt_details["audio_tokens"] = 0;
  json::object completion_details;
  completion_details["reasoning_tokens"] = u.reasoning_tokens;
  completion_details["audio_tokens"] = 0;
  completion_details["accepted_prediction_tokens"] = 0;
  completion_details["rejected_prediction_tokens"] = 0;
  json::object usage;
  usage["prompt_tokens"] = u.input_tokens;
  usage["completion_tokens"] = u.output_tokens;
  usage["total_tokens"] = u.input_tokens + u.output_tokens;
  usage["prompt_tokens_details"] = std::move(prompt_details);
  usage["completion_tokens_details"] = std::move(completion_details);
  return usage;
}

std::string FinishReason(const ChatResponse& r) {
  if (r.finish_reason.empty()) return r.tool_calls.empty() ? "stop" : "tool_calls";
  return r.finish_reason;
}

class OpenAiProtocol final : public WireProtocol {
 public:
  Protocol id() const override { return Protocol::kOpenAi; }

  std::string ApiKey(const http::ServerRequest& request) const override {
    std::string_view auth = request.header("authorization");
    if (auth.size() > 7 && (auth.substr(0, 7) == "Bearer " || auth.substr(0, 7) == "bearer ")) {
      auth.remove_prefix(7);
      while (!auth.empty() && auth.front() == ' ') auth.remove_prefix(1);
      return std::string(auth);
    }
    return "";
  }

  Result<DecodedCall> Decode(const http::ServerRequest& request, std::string_view,
                             bool) const override {
    auto parsed = ParseJson(request.body);
    if (!parsed.ok() || !parsed->is_object()) {
      return InvalidRequest(
          "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
          "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what "
          "was sent was not valid JSON.)");
    }
    const json::object& o = parsed->get_object();
    DecodedCall call;
    ChatRequest& req = call.request;

    const json::value* model = o.if_contains("model");
    if (model == nullptr || !model->is_string() || model->get_string().empty()) {
      return InvalidRequest("you must provide a model parameter");
    }
    req.model = std::string(model->get_string());

    const json::value* messages = o.if_contains("messages");
    if (messages == nullptr) return InvalidRequest("Missing required parameter: 'messages'.");
    if (!messages->is_array()) {
      return InvalidRequest("Invalid type for 'messages': expected an array of objects");
    }
    if (messages->get_array().empty()) {
      return InvalidRequest(
          "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an "
          "empty array instead.");
    }
    BATON_RETURN_IF_ERROR(DecodeMessages(messages->get_array(), req));

    if (const json::value* tools = o.if_contains("tools"); tools && !tools->is_null()) {
      BATON_RETURN_IF_ERROR(DecodeTools(*tools, req));
    }
    if (const json::value* choice = o.if_contains("tool_choice"); choice && !choice->is_null()) {
      if (const json::string* s = choice->if_string()) {
        if (*s != "none" && *s != "auto" && *s != "required") {
          return InvalidRequest(fmt::format(
              "Invalid value: '{}'. Supported values are: 'none', 'auto', and 'required'.",
              std::string_view(*s)));
        }
        req.tool_choice = std::string(*s);
      } else if (const json::object* c = choice->if_object()) {
        const json::value* fn = c->if_contains("function");
        const json::value* name =
            fn && fn->is_object() ? fn->get_object().if_contains("name") : nullptr;
        if (name == nullptr || !name->is_string()) {
          return InvalidRequest("Missing required parameter: 'tool_choice.function.name'.");
        }
        req.tool_choice = std::string(name->get_string());
      }
    }
    if (const json::value* rf = o.if_contains("response_format"); rf && rf->is_object()) {
      const json::value* type = rf->get_object().if_contains("type");
      std::string_view t = type && type->is_string() ? std::string_view(type->get_string()) : "";
      if (t == "json_object") {
        req.output_schema =
            json::object{{"type", "object"},
                         {"properties", json::object{{"answer", json::object{{"type", "string"}}}}},
                         {"required", json::array{"answer"}}};
      } else if (t == "json_schema") {
        const json::value* js = rf->get_object().if_contains("json_schema");
        const json::value* schema =
            js && js->is_object() ? js->get_object().if_contains("schema") : nullptr;
        if (js == nullptr || !js->is_object()) {
          return InvalidRequest("Missing required parameter: 'response_format.json_schema'.");
        }
        req.output_schema = schema ? *schema : json::value(json::object{{"type", "object"}});
      } else if (t != "text") {
        return InvalidRequest(fmt::format(
            "Invalid value: '{}'. Supported values are: 'json_object', 'json_schema', and 'text'.",
            t));
      }
    }
    for (const char* name : {"max_completion_tokens", "max_tokens"}) {
      const json::value* v = o.if_contains(name);
      if (v == nullptr || v->is_null()) continue;
      if (!v->is_int64() && !v->is_uint64()) {
        return InvalidRequest(fmt::format("Invalid type for '{}': expected an integer", name));
      }
      req.max_tokens = v->to_number<int64_t>();
      break;
    }
    if (const json::value* t = o.if_contains("temperature"); t && t->is_number()) {
      req.temperature = t->to_number<double>();
    }
    if (const json::value* s = o.if_contains("stream"); s && s->is_bool())
      call.stream = s->get_bool();
    if (const json::value* so = o.if_contains("stream_options"); so && !so->is_null()) {
      if (!call.stream) {
        return InvalidRequest(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.");
      }
      if (so->is_object()) {
        const json::value* iu = so->get_object().if_contains("include_usage");
        call.include_usage = iu && iu->is_bool() && iu->get_bool();
      }
    }
    if (const json::value* effort = o.if_contains("reasoning_effort");
        effort && effort->is_string()) {
      call.thinking = effort->get_string() != "none";
    }
    return call;
  }

  int StatusFor(std::string_view kind) const override {
    if (kind == "rate_limited" || kind == "quota_exhausted") return 429;
    if (kind == "overloaded") return 503;
    if (kind == "timeout") return 504;
    if (kind == "invalid_request" || kind == "context_length") return 400;
    if (kind == "auth") return 401;
    if (kind == "permission") return 403;
    if (kind == "not_found") return 404;
    if (kind == "too_large") return 413;
    return 500;
  }

  std::string AuthMessage() const override {
    return "Incorrect API key provided. You can find your API key at "
           "https://platform.openai.com/account/api-keys.";
  }

  json::object ErrorObject(const WireError& e) const {
    std::string type = "invalid_request_error";
    json::value code = nullptr;
    json::value param = nullptr;
    if (e.kind == "rate_limited") {
      type = e.limited_by == "tokens" ? "tokens" : "requests";
      code = "rate_limit_exceeded";
    } else if (e.kind == "quota_exhausted") {
      type = "insufficient_quota";
      code = "insufficient_quota";
    } else if (e.kind == "auth") {
      code = "invalid_api_key";
    } else if (e.kind == "context_length") {
      code = "context_length_exceeded";
      param = "messages";
    } else if (e.kind == "not_found") {
      code = "model_not_found";
    } else if (e.kind == "server_error" || e.kind == "overloaded" || e.kind == "timeout") {
      type = "server_error";
    }
    json::object error;
    error["message"] = e.message;
    error["type"] = type;
    error["param"] = std::move(param);
    error["code"] = std::move(code);
    return error;
  }

  http::ServerResponse Error(const WireError& e, std::string_view request_id) const override {
    http::ServerResponse r;
    r.status = e.status;
    json::object body;
    body["error"] = ErrorObject(e);
    r.body = ToJson(body);
    r.headers.emplace_back("content-type", "application/json");
    r.headers.emplace_back("x-request-id", std::string(request_id));
    if (e.retry_after_ms >= 0) {
      r.headers.emplace_back("retry-after-ms", std::to_string(e.retry_after_ms));
      r.headers.emplace_back("retry-after", std::to_string((e.retry_after_ms + 999) / 1000));
    }
    return r;
  }

  std::string Body(const ChatResponse& response, const ReplyContext& ctx) const override {
    json::object message;
    message["role"] = "assistant";
    bool no_text = response.text.empty() &&
                   (!response.tool_calls.empty() || response.finish_reason == "content_filter");
    message["content"] = no_text ? json::value(nullptr) : json::value(response.text);
    message["refusal"] = nullptr;
    message["annotations"] = json::array();
    if (!response.tool_calls.empty()) {
      json::array calls;
      for (const auto& c : response.tool_calls) {
        json::object fn;
        fn["name"] = c.name;
        fn["arguments"] = c.arguments;
        json::object call;
        call["id"] = c.id;
        call["type"] = "function";
        call["function"] = std::move(fn);
        calls.push_back(std::move(call));
      }
      message["tool_calls"] = std::move(calls);
    }
    json::object choice;
    choice["index"] = 0;
    choice["message"] = std::move(message);
    choice["logprobs"] = nullptr;
    choice["finish_reason"] = FinishReason(response);
    json::object body;
    body["id"] = ctx.id;
    body["object"] = "chat.completion";
    body["created"] = ctx.created;
    body["model"] = ctx.model;
    body["choices"] = json::array{std::move(choice)};
    body["usage"] = UsageJson(response.usage);
    body["service_tier"] = "default";
    body["system_fingerprint"] = "fp_baton_sim";
    return ToJson(body);
  }

  std::vector<Frame> Stream(const ChatResponse& response, const ReplyContext& ctx) const override {
    std::vector<Frame> frames;
    auto chunk = [&](json::object delta, json::value finish, bool content) {
      json::object choice;
      choice["index"] = 0;
      choice["delta"] = std::move(delta);
      choice["logprobs"] = nullptr;
      choice["finish_reason"] = std::move(finish);
      json::object c = Base(ctx);
      c["choices"] = json::array{std::move(choice)};
      if (ctx.include_usage) c["usage"] = nullptr;
      frames.push_back({"data: ", ToJson(c), "\n\n", content});
    };
    json::object first;
    first["role"] = "assistant";
    first["content"] = response.text.empty() && !response.tool_calls.empty() ? json::value(nullptr)
                                                                             : json::value("");
    first["refusal"] = nullptr;
    chunk(std::move(first), nullptr, false);
    for (const auto& piece : SplitDeltas(response.text, 16)) {
      chunk(json::object{{"content", piece}}, nullptr, true);
    }
    for (size_t i = 0; i < response.tool_calls.size(); ++i) {
      const ToolCall& c = response.tool_calls[i];
      json::object fn;
      fn["name"] = c.name;
      fn["arguments"] = "";
      json::object head;
      head["index"] = static_cast<int64_t>(i);
      head["id"] = c.id;
      head["type"] = "function";
      head["function"] = std::move(fn);
      chunk(json::object{{"tool_calls", json::array{std::move(head)}}}, nullptr, true);
      for (const auto& piece : SplitDeltas(c.arguments, 24)) {
        json::object part;
        part["index"] = static_cast<int64_t>(i);
        part["function"] = json::object{{"arguments", piece}};
        chunk(json::object{{"tool_calls", json::array{std::move(part)}}}, nullptr, true);
      }
    }
    chunk(json::object(), json::value(FinishReason(response)), false);
    if (ctx.include_usage) {
      json::object c = Base(ctx);
      c["choices"] = json::array();
      c["usage"] = UsageJson(response.usage);
      frames.push_back({"data: ", ToJson(c), "\n\n", false});
    }
    frames.push_back({"data: ", "[DONE]", "\n\n", false});
    return frames;
  }

  Frame StreamError(const WireError& e, const ReplyContext&, size_t) const override {
    json::object body;
    body["error"] = ErrorObject(e);
    return {"data: ", ToJson(body), "\n\n", false};
  }

  void AddReplyHeaders(const ReplyContext& ctx, std::vector<http::Header>& out) const override {
    out.emplace_back("x-request-id", ctx.request_id);
    out.emplace_back("openai-processing-ms", "1");
  }

  void AddLimitHeaders(const LimitSnapshot& l, std::vector<http::Header>& out) const override {
    if (l.limit_requests > 0) {
      out.emplace_back("x-ratelimit-limit-requests", std::to_string(l.limit_requests));
      out.emplace_back("x-ratelimit-remaining-requests", std::to_string(l.remaining_requests));
      out.emplace_back("x-ratelimit-reset-requests", FormatResetDuration(l.reset_requests_ms));
    }
    if (l.limit_tokens > 0) {
      out.emplace_back("x-ratelimit-limit-tokens", std::to_string(l.limit_tokens));
      out.emplace_back("x-ratelimit-remaining-tokens", std::to_string(l.remaining_tokens));
      out.emplace_back("x-ratelimit-reset-tokens", FormatResetDuration(l.reset_tokens_ms));
    }
  }

  std::string ModelList(const std::vector<std::string>& models, int64_t created) const override {
    json::array data;
    for (const auto& m : models) data.push_back(ModelObject(m, created));
    return ToJson(json::object{{"object", "list"}, {"data", std::move(data)}});
  }

  std::string ModelInfo(std::string_view model, int64_t created) const override {
    return ToJson(ModelObject(model, created));
  }

  std::string TokenCount(int64_t) const override { return ""; }

 private:
  static json::object ModelObject(std::string_view model, int64_t created) {
    json::object o;
    o["id"] = model;
    o["object"] = "model";
    o["created"] = created;
    o["owned_by"] = "baton-sim";
    return o;
  }

  static json::object Base(const ReplyContext& ctx) {
    json::object c;
    c["id"] = ctx.id;
    c["object"] = "chat.completion.chunk";
    c["created"] = ctx.created;
    c["model"] = ctx.model;
    c["service_tier"] = "default";
    c["system_fingerprint"] = "fp_baton_sim";
    return c;
  }

  static Status DecodeTools(const json::value& tools, ChatRequest& req) {
    const json::array* list = tools.if_array();
    if (list == nullptr) return InvalidRequest("Invalid type for 'tools': expected an array");
    for (size_t i = 0; i < list->size(); ++i) {
      const json::object* t = (*list)[i].if_object();
      if (t == nullptr) {
        return InvalidRequest(fmt::format("Invalid type for 'tools[{}]': expected an object", i));
      }
      const json::value* type = t->if_contains("type");
      if (type != nullptr && type->is_string() && type->get_string() != "function") continue;
      const json::value* fn = t->if_contains("function");
      const json::object* f = fn ? fn->if_object() : nullptr;
      const json::value* name = f ? f->if_contains("name") : nullptr;
      if (name == nullptr || !name->is_string() || name->get_string().empty()) {
        return InvalidRequest(
            fmt::format("Missing required parameter: 'tools[{}].function.name'.", i));
      }
      ToolSpec spec;
      spec.name = std::string(name->get_string());
      if (const json::value* d = f->if_contains("description"); d && d->is_string()) {
        spec.description = std::string(d->get_string());
      }
      if (const json::value* p = f->if_contains("parameters"); p && !p->is_null()) {
        spec.parameters = *p;
      } else {
        spec.parameters = json::object{{"type", "object"}, {"properties", json::object()}};
      }
      req.tools.push_back(std::move(spec));
    }
    return Status::Ok();
  }

  static Status DecodeMessages(const json::array& messages, ChatRequest& req) {
    std::vector<std::string> pending;                         // tool_call ids not answered yet
    std::vector<std::pair<std::string, std::string>> called;  // id -> name
    for (size_t i = 0; i < messages.size(); ++i) {
      std::string where = fmt::format("messages[{}]", i);
      const json::object* m = messages[i].if_object();
      if (m == nullptr) {
        return InvalidRequest(fmt::format("Invalid type for '{}': expected an object", where));
      }
      const json::value* role_value = m->if_contains("role");
      if (role_value == nullptr || !role_value->is_string()) {
        return InvalidRequest(fmt::format("Missing required parameter: '{}.role'.", where));
      }
      std::string_view role = role_value->get_string();
      Message msg;
      std::string text;
      if (const json::value* content = m->if_contains("content")) {
        BATON_ASSIGN_OR_RETURN(text, ContentText(*content, where + ".content"));
      }
      bool is_tool = role == "tool" || role == "function";
      if (!is_tool && !pending.empty()) {
        return InvalidRequest(fmt::format(
            "An assistant message with 'tool_calls' must be followed by tool messages "
            "responding to each 'tool_call_id'. The following tool_call_ids did not have "
            "response messages: {}",
            Join(pending)));
      }
      if (role == "system" || role == "developer") {
        msg.role = "system";
        msg.content = std::move(text);
      } else if (role == "user") {
        msg.role = "user";
        msg.content = std::move(text);
      } else if (role == "assistant") {
        msg.role = "assistant";
        msg.content = std::move(text);
        if (const json::value* calls = m->if_contains("tool_calls"); calls && calls->is_array()) {
          for (size_t k = 0; k < calls->get_array().size(); ++k) {
            const json::object* c = calls->get_array()[k].if_object();
            const json::value* fn = c ? c->if_contains("function") : nullptr;
            const json::value* id = c ? c->if_contains("id") : nullptr;
            if (fn == nullptr || !fn->is_object() || id == nullptr || !id->is_string()) {
              return InvalidRequest(fmt::format(
                  "Missing required parameter: '{}.tool_calls[{}].function'.", where, k));
            }
            ToolCall call;
            call.id = std::string(id->get_string());
            if (const json::value* n = fn->get_object().if_contains("name"); n && n->is_string()) {
              call.name = std::string(n->get_string());
            }
            if (const json::value* a = fn->get_object().if_contains("arguments")) {
              call.arguments = a->is_string() ? std::string(a->get_string()) : ToJson(*a);
            }
            pending.push_back(call.id);
            called.emplace_back(call.id, call.name);
            msg.tool_calls.push_back(std::move(call));
          }
        }
      } else if (role == "tool") {
        const json::value* id = m->if_contains("tool_call_id");
        if (id == nullptr || !id->is_string()) {
          return InvalidRequest(
              fmt::format("Missing required parameter: '{}.tool_call_id'.", where));
        }
        auto it = std::find(pending.begin(), pending.end(), std::string_view(id->get_string()));
        if (it == pending.end()) {
          return InvalidRequest(
              "Invalid parameter: messages with role 'tool' must be a response to a preceeding "
              "message with 'tool_calls'.");
        }
        pending.erase(it);
        msg.role = "tool";
        msg.content = std::move(text);
        msg.tool_call_id = std::string(id->get_string());
        for (const auto& [cid, name] : called) {
          if (cid == msg.tool_call_id) msg.tool_name = name;
        }
      } else if (role == "function") {
        msg.role = "tool";
        msg.content = std::move(text);
        if (const json::value* n = m->if_contains("name"); n && n->is_string()) {
          msg.tool_name = std::string(n->get_string());
        }
      } else {
        return InvalidRequest(
            fmt::format("Invalid value: '{}'. Supported values are: 'system', 'assistant', 'user', "
                        "'function', 'tool', and 'developer'.",
                        role));
      }
      req.messages.push_back(std::move(msg));
    }
    if (!pending.empty()) {
      return InvalidRequest(fmt::format(
          "An assistant message with 'tool_calls' must be followed by tool messages responding "
          "to each 'tool_call_id'. The following tool_call_ids did not have response messages: "
          "{}",
          Join(pending)));
    }
    return Status::Ok();
  }
};

}  // namespace

const WireProtocol& OpenAiWire() {
  static const OpenAiProtocol protocol;
  return protocol;
}

}  // namespace baton::simserver
