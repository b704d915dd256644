// Anthropic Messages, server side: POST /v1/messages, POST /v1/messages/count_tokens,
// GET /v1/models.

#include <fmt/format.h>

#include <boost/json.hpp>

#include "base/clock.hpp"
#include "simserver/protocol.hpp"

namespace baton::simserver {
namespace {

using providers::ChatRequest;
using providers::ChatResponse;
using providers::Message;
using providers::ToolCall;
using providers::ToolSpec;

std::string_view TypeOf(const json::value& block) {
  const json::object* o = block.if_object();
  const json::value* t = o ? o->if_contains("type") : nullptr;
  return t && t->is_string() ? std::string_view(t->get_string()) : std::string_view();
}

std::string StringField(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

// Text of a string or of a list of text blocks.
std::string BlocksText(const json::value& content) {
  if (const json::string* s = content.if_string()) return std::string(*s);
  std::string out;
  if (const json::array* blocks = content.if_array()) {
    for (const auto& b : *blocks) {
      if (TypeOf(b) == "text") {
        if (!out.empty()) out += "\n";
        out += StringField(b.get_object(), "text");
      }
    }
  }
  return out;
}

std::string ToolUseId(std::string_view id) {
  if (id.substr(0, 5) == "call_") id.remove_prefix(5);
  return fmt::format("toolu_{}", id);
}

std::string StopReason(const ChatResponse& r) {
  if (r.finish_reason == "length") return "max_tokens";
  if (r.finish_reason == "content_filter") return "refusal";
  if (!r.tool_calls.empty() || r.finish_reason == "tool_calls") return "tool_use";
  return "end_turn";
}

std::string Event(std::string_view name) { return fmt::format("event: {}\ndata: ", name); }

class AnthropicProtocol final : public WireProtocol {
 public:
  Protocol id() const override { return Protocol::kAnthropic; }

  std::string ApiKey(const http::ServerRequest& request) const override {
    std::string_view key = request.header("x-api-key");
    if (!key.empty()) return std::string(key);
    std::string_view auth = request.header("authorization");
    if (auth.size() > 7 && auth.substr(0, 7) == "Bearer ") return std::string(auth.substr(7));
    return "";
  }

  Result<DecodedCall> Decode(const http::ServerRequest& request, std::string_view,
                             bool) const override {
    if (request.header("anthropic-version").empty()) {
      return InvalidRequest("anthropic-version: header is required");
    }
    auto parsed = ParseJson(request.body);
    if (!parsed.ok() || !parsed->is_object()) {
      return InvalidRequest(fmt::format(
          "There was an error parsing the body: {}",
          parsed.ok() ? std::string("expected a JSON object") : parsed.error().message()));
    }
    const json::object& o = parsed->get_object();
    DecodedCall call;
    ChatRequest& req = call.request;
    const json::value* model = o.if_contains("model");
    if (model == nullptr || !model->is_string()) return InvalidRequest("model: Field required");
    req.model = std::string(model->get_string());
    const json::value* max_tokens = o.if_contains("max_tokens");
    bool counting = request.path.ends_with("/count_tokens");
    if (!counting) {
      if (max_tokens == nullptr) return InvalidRequest("max_tokens: Field required");
      if (!max_tokens->is_int64() && !max_tokens->is_uint64()) {
        return InvalidRequest("max_tokens: Input should be a valid integer");
      }
      req.max_tokens = max_tokens->to_number<int64_t>();
      if (*req.max_tokens < 1) {
        return InvalidRequest("max_tokens: Input should be greater than or equal to 1");
      }
    }
    const json::value* messages = o.if_contains("messages");
    if (messages == nullptr) return InvalidRequest("messages: Field required");
    if (!messages->is_array()) return InvalidRequest("messages: Input should be a valid list");

    if (const json::value* system = o.if_contains("system"); system && !system->is_null()) {
      std::string text = BlocksText(*system);
      if (!text.empty()) req.messages.push_back({"system", std::move(text)});
    }

    // Thinking.
    bool thinking = false;
    if (const json::value* t = o.if_contains("thinking"); t && t->is_object()) {
      std::string type = StringField(t->get_object(), "type");
      if (type == "enabled") {
        const json::value* budget = t->get_object().if_contains("budget_tokens");
        if (budget == nullptr || !budget->is_number()) {
          return InvalidRequest("thinking.enabled.budget_tokens: Field required");
        }
        int64_t b = budget->to_number<int64_t>();
        if (b < 1024) {
          return InvalidRequest(
              "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024");
        }
        if (req.max_tokens && *req.max_tokens <= b) {
          return InvalidRequest(
              "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our "
              "documentation at https://docs.claude.com/en/docs/build-with-claude/"
              "extended-thinking#max-tokens-and-context-window-size");
        }
        thinking = true;
      } else if (type == "adaptive") {
        thinking = true;
      } else if (type != "disabled") {
        return InvalidRequest(fmt::format(
            "thinking: Input tag '{}' found using 'type' does not match any of the expected "
            "tags: 'enabled', 'disabled', 'adaptive'",
            type));
      }
    }
    call.thinking = thinking;
    call.include_thoughts = thinking;

    BATON_RETURN_IF_ERROR(DecodeMessages(messages->get_array(), thinking, req));

    if (const json::value* tools = o.if_contains("tools"); tools && tools->is_array()) {
      for (size_t i = 0; i < tools->get_array().size(); ++i) {
        const json::object* t = tools->get_array()[i].if_object();
        if (t == nullptr)
          return InvalidRequest(fmt::format("tools.{}: Input should be an object", i));
        std::string type = StringField(*t, "type");
        if (!type.empty() && type != "custom") continue;  // server tools: not simulated
        ToolSpec spec;
        spec.name = StringField(*t, "name");
        if (spec.name.empty())
          return InvalidRequest(fmt::format("tools.{}.name: Field required", i));
        spec.description = StringField(*t, "description");
        const json::value* schema = t->if_contains("input_schema");
        if (schema == nullptr || !schema->is_object()) {
          return InvalidRequest(fmt::format("tools.{}.custom.input_schema: Field required", i));
        }
        spec.parameters = *schema;
        req.tools.push_back(std::move(spec));
      }
    }
    if (const json::value* choice = o.if_contains("tool_choice"); choice && choice->is_object()) {
      std::string type = StringField(choice->get_object(), "type");
      if (type == "auto" || type == "none") {
        req.tool_choice = type;
      } else if (type == "any") {
        req.tool_choice = "required";
      } else if (type == "tool") {
        req.tool_choice = StringField(choice->get_object(), "name");
        if (req.tool_choice.empty()) return InvalidRequest("tool_choice.tool.name: Field required");
      } else {
        return InvalidRequest(fmt::format(
            "tool_choice: Input tag '{}' found using 'type' does not match any of the expected "
            "tags: 'auto', 'any', 'tool', 'none'",
            type));
      }
    }
    // Structured outputs: output_format (beta) or output_config.format.
    const json::value* format = o.if_contains("output_format");
    if (const json::value* oc = o.if_contains("output_config"); oc && oc->is_object()) {
      if (const json::value* f = oc->get_object().if_contains("format")) format = f;
    }
    if (format != nullptr && format->is_object() &&
        StringField(format->get_object(), "type") == "json_schema") {
      const json::value* schema = format->get_object().if_contains("schema");
      req.output_schema = schema ? *schema : json::value(json::object{{"type", "object"}});
    }
    if (const json::value* t = o.if_contains("temperature"); t && t->is_number()) {
      req.temperature = t->to_number<double>();
    }
    if (const json::value* s = o.if_contains("stream"); s && s->is_bool())
      call.stream = s->get_bool();
    return call;
  }

  int StatusFor(std::string_view kind) const override {
    if (kind == "rate_limited" || kind == "quota_exhausted") return 429;
    if (kind == "overloaded") return 529;
    if (kind == "timeout") return 504;
    if (kind == "invalid_request" || kind == "context_length") return 400;
    if (kind == "auth") return 401;
    if (kind == "permission") return 403;
    if (kind == "not_found") return 404;
    if (kind == "too_large") return 413;
    return 500;
  }

  std::string AuthMessage() const override { return "invalid x-api-key"; }

  static std::string ErrorType(const WireError& e) {
    if (e.status == 529 || e.kind == "overloaded") return "overloaded_error";
    if (e.status == 402) return "billing_error";
    if (e.kind == "rate_limited" || e.kind == "quota_exhausted") return "rate_limit_error";
    if (e.kind == "auth") return "authentication_error";
    if (e.kind == "permission") return "permission_error";
    if (e.kind == "not_found") return "not_found_error";
    if (e.kind == "too_large") return "request_too_large";
    if (e.kind == "timeout") return "timeout_error";
    if (e.kind == "invalid_request" || e.kind == "context_length") return "invalid_request_error";
    return "api_error";
  }

  static json::object ErrorObject(const WireError& e) {
    json::object error;
    error["type"] = ErrorType(e);
    error["message"] = e.message;
    if (e.kind == "quota_exhausted" && e.status == 429) {
      error["details"] = json::object{{"error_code", "enforced_spend_limit_reached"}};
    }
    return error;
  }

  http::ServerResponse Error(const WireError& e, std::string_view request_id) const override {
    http::ServerResponse r;
    r.status = e.status;
    json::object body;
    body["type"] = "error";
    body["error"] = ErrorObject(e);
    body["request_id"] = request_id;
    r.body = ToJson(body);
    r.headers.emplace_back("content-type", "application/json");
    r.headers.emplace_back("request-id", std::string(request_id));
    if (e.retry_after_ms >= 0) {
      r.headers.emplace_back("retry-after", std::to_string((e.retry_after_ms + 999) / 1000));
    }
    if (e.status == 529 || e.status == 429 || e.status >= 500) {
      r.headers.emplace_back("x-should-retry", e.kind == "quota_exhausted" ? "false" : "true");
    }
    return r;
  }

  static json::object UsageJson(const providers::Usage& u, int64_t output_tokens) {
    json::object usage;
    usage["input_tokens"] = std::max<int64_t>(u.input_tokens - u.cached_tokens, 0);
    usage["cache_creation_input_tokens"] = 0;
    usage["cache_read_input_tokens"] = u.cached_tokens;
    usage["output_tokens"] = output_tokens;
    return usage;
  }

  static json::object MessageShell(const ReplyContext& ctx) {
    json::object m;
    m["id"] = ctx.id;
    m["type"] = "message";
    m["role"] = "assistant";
    m["model"] = ctx.model;
    return m;
  }

  std::string Body(const ChatResponse& response, const ReplyContext& ctx) const override {
    json::array content;
    if (ctx.include_thoughts && !response.reasoning.empty()) {
      content.push_back(json::object{
          {"type", "thinking"}, {"thinking", response.reasoning}, {"signature", ctx.signature}});
    }
    if (!response.text.empty()) {
      content.push_back(json::object{{"type", "text"}, {"text", response.text}});
    }
    for (const auto& c : response.tool_calls) {
      json::object block;
      block["type"] = "tool_use";
      block["id"] = ToolUseId(c.id);
      block["name"] = c.name;
      block["input"] = ArgumentsObject(c.arguments);
      content.push_back(std::move(block));
    }
    json::object m = MessageShell(ctx);
    m["content"] = std::move(content);
    m["stop_reason"] = StopReason(response);
    m["stop_sequence"] = nullptr;
    m["usage"] = UsageJson(response.usage, response.usage.output_tokens);
    return ToJson(m);
  }

  std::vector<Frame> Stream(const ChatResponse& response, const ReplyContext& ctx) const override {
    std::vector<Frame> frames;
    auto emit = [&](std::string_view name, json::object data, bool content) {
      frames.push_back({Event(name), ToJson(data), "\n\n", content});
    };
    json::object start = MessageShell(ctx);
    start["content"] = json::array();
    start["stop_reason"] = nullptr;
    start["stop_sequence"] = nullptr;
    start["usage"] = UsageJson(response.usage, 1);
    emit("message_start", json::object{{"type", "message_start"}, {"message", std::move(start)}},
         false);
    int64_t index = 0;
    bool pinged = false;
    auto block_start = [&](json::object block) {
      emit("content_block_start",
           json::object{{"type", "content_block_start"},
                        {"index", index},
                        {"content_block", std::move(block)}},
           false);
      if (!pinged) {
        emit("ping", json::object{{"type", "ping"}}, false);
        pinged = true;
      }
    };
    auto delta = [&](json::object d) {
      emit("content_block_delta",
           json::object{{"type", "content_block_delta"}, {"index", index}, {"delta", std::move(d)}},
           true);
    };
    auto block_stop = [&] {
      emit("content_block_stop", json::object{{"type", "content_block_stop"}, {"index", index}},
           false);
      ++index;
    };
    if (ctx.include_thoughts && !response.reasoning.empty()) {
      block_start(json::object{{"type", "thinking"}, {"thinking", ""}, {"signature", ""}});
      for (const auto& piece : SplitDeltas(response.reasoning, 24)) {
        delta(json::object{{"type", "thinking_delta"}, {"thinking", piece}});
      }
      delta(json::object{{"type", "signature_delta"}, {"signature", ctx.signature}});
      block_stop();
    }
    if (!response.text.empty()) {
      block_start(json::object{{"type", "text"}, {"text", ""}});
      for (const auto& piece : SplitDeltas(response.text, 16)) {
        delta(json::object{{"type", "text_delta"}, {"text", piece}});
      }
      block_stop();
    }
    for (const auto& c : response.tool_calls) {
      block_start(json::object{{"type", "tool_use"},
                               {"id", ToolUseId(c.id)},
                               {"name", c.name},
                               {"input", json::object()}});
      // The input streamed as JSON text of the object the non-streamed reply would carry.
      std::string input = ToJson(ArgumentsObject(c.arguments));
      for (const auto& piece : SplitDeltas(input, 24)) {
        delta(json::object{{"type", "input_json_delta"}, {"partial_json", piece}});
      }
      block_stop();
    }
    if (!pinged) emit("ping", json::object{{"type", "ping"}}, false);
    json::object md;
    md["type"] = "message_delta";
    md["delta"] = json::object{{"stop_reason", StopReason(response)}, {"stop_sequence", nullptr}};
    md["usage"] = json::object{{"output_tokens", response.usage.output_tokens}};
    emit("message_delta", std::move(md), false);
    emit("message_stop", json::object{{"type", "message_stop"}}, false);
    return frames;
  }

  Frame StreamError(const WireError& e, const ReplyContext& ctx, size_t) const override {
    json::object body;
    body["type"] = "error";
    body["error"] = ErrorObject(e);
    body["request_id"] = ctx.request_id;
    return {Event("error"), ToJson(body), "\n\n", false};
  }

  void AddReplyHeaders(const ReplyContext& ctx, std::vector<http::Header>& out) const override {
    out.emplace_back("request-id", ctx.request_id);
  }

  void AddLimitHeaders(const LimitSnapshot& l, std::vector<http::Header>& out) const override {
    auto reset = [&](int64_t ms) { return FormatTimestamp(l.now_ms + ms); };
    if (l.limit_requests > 0) {
      out.emplace_back("anthropic-ratelimit-requests-limit", std::to_string(l.limit_requests));
      out.emplace_back("anthropic-ratelimit-requests-remaining",
                       std::to_string(l.remaining_requests));
      out.emplace_back("anthropic-ratelimit-requests-reset", reset(l.reset_requests_ms));
    }
    if (l.limit_tokens > 0) {
      for (const char* kind : {"tokens", "input-tokens"}) {
        out.emplace_back(fmt::format("anthropic-ratelimit-{}-limit", kind),
                         std::to_string(l.limit_tokens));
        out.emplace_back(fmt::format("anthropic-ratelimit-{}-remaining", kind),
                         std::to_string(l.remaining_tokens));
        out.emplace_back(fmt::format("anthropic-ratelimit-{}-reset", kind),
                         reset(l.reset_tokens_ms));
      }
    }
  }

  std::string ModelList(const std::vector<std::string>& models, int64_t created) const override {
    json::array data;
    for (const auto& m : models) data.push_back(ModelObject(m, created));
    json::object o;
    o["data"] = std::move(data);
    o["has_more"] = false;
    o["first_id"] = models.empty() ? json::value(nullptr) : json::value(models.front());
    o["last_id"] = models.empty() ? json::value(nullptr) : json::value(models.back());
    return ToJson(o);
  }

  std::string ModelInfo(std::string_view model, int64_t created) const override {
    return ToJson(ModelObject(model, created));
  }

  std::string TokenCount(int64_t tokens) const override {
    return ToJson(json::object{{"input_tokens", tokens}});
  }

 private:
  static json::object ModelObject(std::string_view model, int64_t created) {
    json::object o;
    o["type"] = "model";
    o["id"] = model;
    o["display_name"] = model;
    o["created_at"] = FormatTimestamp(created * 1000);
    return o;
  }

  // Checks tool_use/tool_result pairing and thinking replay, and fills the neutral messages.
  static Status DecodeMessages(const json::array& messages, bool thinking, ChatRequest& req) {
    std::vector<std::pair<std::string, std::string>> open_uses;  // id, name of the last turn
    for (size_t i = 0; i < messages.size(); ++i) {
      const json::object* m = messages[i].if_object();
      if (m == nullptr)
        return InvalidRequest(fmt::format("messages.{}: Input should be an object", i));
      std::string role = StringField(*m, "role");
      if (role != "user" && role != "assistant") {
        return InvalidRequest(
            fmt::format("messages.{}.role: Input should be 'user' or 'assistant'", i));
      }
      const json::value* content = m->if_contains("content");
      if (content == nullptr)
        return InvalidRequest(fmt::format("messages.{}.content: Field required", i));
      std::vector<std::pair<std::string, std::string>> uses;
      if (role == "assistant") {
        if (!open_uses.empty()) return MissingResults(i - 1, open_uses);
        Message msg;
        msg.role = "assistant";
        if (const json::array* blocks = content->if_array()) {
          for (size_t k = 0; k < blocks->size(); ++k) {
            const json::value& b = (*blocks)[k];
            std::string_view type = TypeOf(b);
            if (type == "text") {
              msg.content += StringField(b.get_object(), "text");
            } else if (type == "tool_use") {
              ToolCall call;
              call.id = StringField(b.get_object(), "id");
              call.name = StringField(b.get_object(), "name");
              const json::value* input = b.get_object().if_contains("input");
              call.arguments = input ? ToJson(*input) : "{}";
              uses.emplace_back(call.id, call.name);
              msg.tool_calls.push_back(std::move(call));
            } else if (type == "thinking") {
              if (StringField(b.get_object(), "signature").empty()) {
                return InvalidRequest(
                    fmt::format("messages.{}.content.{}.thinking.signature: Field required", i, k));
              }
            }
          }
          if (!uses.empty() && thinking && i + 2 == messages.size()) {
            std::string_view first = blocks->empty() ? "" : TypeOf(blocks->front());
            if (first != "thinking" && first != "redacted_thinking") {
              return InvalidRequest(fmt::format(
                  "messages.{}.content.0.type: Expected `thinking` or `redacted_thinking`, but "
                  "found `{}`. When `thinking` is enabled, a final `assistant` message must "
                  "start with a thinking block (preceeding the lastmost set of `tool_use` and "
                  "`tool_result` blocks). We recommend you include thinking blocks from "
                  "previous turns. To avoid this requirement, disable `thinking`. Please "
                  "consult our documentation at "
                  "https://docs.claude.com/en/docs/build-with-claude/extended-thinking",
                  i, first));
            }
          }
        } else {
          msg.content = BlocksText(*content);
        }
        open_uses = std::move(uses);
        req.messages.push_back(std::move(msg));
        continue;
      }
      // user
      std::string text;
      if (const json::array* blocks = content->if_array()) {
        for (size_t k = 0; k < blocks->size(); ++k) {
          const json::value& b = (*blocks)[k];
          std::string_view type = TypeOf(b);
          if (type == "tool_result") {
            std::string use_id = StringField(b.get_object(), "tool_use_id");
            auto it = std::find_if(open_uses.begin(), open_uses.end(),
                                   [&](const auto& u) { return u.first == use_id; });
            if (it == open_uses.end()) {
              return InvalidRequest(fmt::format(
                  "messages.{}.content.{}: unexpected `tool_use_id` found in `tool_result` "
                  "blocks: {}. Each `tool_result` block must have a corresponding `tool_use` "
                  "block in the previous message.",
                  i, k, use_id));
            }
            Message tool;
            tool.role = "tool";
            tool.tool_call_id = use_id;
            tool.tool_name = it->second;
            const json::value* result = b.get_object().if_contains("content");
            tool.content = result ? BlocksText(*result) : "";
            open_uses.erase(it);
            req.messages.push_back(std::move(tool));
          } else if (type == "text") {
            if (!text.empty()) text += "\n";
            text += StringField(b.get_object(), "text");
          }
        }
      } else {
        text = BlocksText(*content);
      }
      if (!open_uses.empty()) return MissingResults(i - 1, open_uses);
      if (!text.empty()) req.messages.push_back({"user", std::move(text)});
    }
    return Status::Ok();
  }

  static Status MissingResults(size_t index,
                               const std::vector<std::pair<std::string, std::string>>& uses) {
    std::string ids;
    for (const auto& u : uses) ids += (ids.empty() ? "" : ", ") + u.first;
    return InvalidRequest(fmt::format(
        "messages.{}: `tool_use` ids were found without `tool_result` blocks immediately after: "
        "{}. Each `tool_use` block must have a corresponding `tool_result` block in the next "
        "message.",
        index, ids));
  }
};

}  // namespace

const WireProtocol& AnthropicWire() {
  static const AnthropicProtocol protocol;
  return protocol;
}

}  // namespace baton::simserver
