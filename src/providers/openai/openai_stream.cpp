// The Chat Completions stream: `data:` chunks of chat.completion.chunk, then `data: [DONE]`.

#include <fmt/format.h>

#include <boost/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "providers/openai/openai_codec.hpp"
#include "providers/wire_util.hpp"

namespace baton::providers::openai {
namespace {

class OpenAiStreamDecoder final : public StreamDecoder {
 public:
  explicit OpenAiStreamDecoder(bool want_structured) : want_structured_(want_structured) {}

  Status OnEvent(const http::SseEvent& event, const StreamSink& sink) override;
  Result<ChatResponse> Finish() override;

 private:
  struct Call {
    std::optional<int64_t> index;  // the wire's index, when it gave one
    std::string id;
    std::string name;
    std::string arguments;
    json::value extra;  // e.g. Gemini's extra_content with the thought signature
  };

  void OnToolCall(const json::value& tc, const StreamSink& sink);

  bool want_structured_;
  size_t events_ = 0;
  bool done_ = false;
  std::string id_;
  std::string model_;
  std::string text_;
  std::string reasoning_;
  std::string reasoning_key_;
  std::string refusal_;
  std::string finish_;
  std::optional<Usage> usage_;
  std::vector<Call> calls_;
};

void OpenAiStreamDecoder::OnToolCall(const json::value& tc, const StreamSink& sink) {
  std::optional<int64_t> index = wire::GetInt(tc, "index");
  std::string_view id = wire::GetString(tc, "id");
  Call* call = nullptr;
  if (index) {
    for (auto& c : calls_) {
      if (c.index == index) call = &c;
    }
    // A server that sends every call whole under the same index: a new id is a new call.
    if (call != nullptr && !id.empty() && !call->id.empty() && call->id != id) call = nullptr;
  } else if (!id.empty()) {
    for (auto& c : calls_) {
      if (c.id == id) call = &c;
    }
  } else if (!calls_.empty()) {
    call = &calls_.back();
  }
  if (call == nullptr) {
    calls_.push_back(Call{index, "", "", "", nullptr});
    call = &calls_.back();
  }
  StreamDelta delta;
  delta.kind = StreamDelta::Kind::kToolCall;
  delta.tool_index = static_cast<int>(call - calls_.data());
  if (!id.empty() && call->id.empty()) {
    call->id = std::string(id);
    delta.tool_id = call->id;
  }
  if (const json::object* fn = wire::GetObject(tc, "function")) {
    std::string_view name = wire::GetString(*fn, "name");
    if (!name.empty() && call->name.empty()) {
      call->name = std::string(name);
      delta.tool_name = call->name;
    }
    if (const json::value* a = fn->if_contains("arguments")) {
      if (a->is_string()) {
        delta.arguments = std::string(a->get_string());
        call->arguments += delta.arguments;
      } else if (!a->is_null()) {
        delta.arguments = json::serialize(*a);
        call->arguments = delta.arguments;
      }
    }
  }
  if (const json::value* extra = tc.get_object().if_contains("extra_content")) {
    call->extra = *extra;
  }
  if (!delta.tool_id.empty() || !delta.tool_name.empty() || !delta.arguments.empty()) {
    wire::Emit(sink, delta);
  }
}

Status OpenAiStreamDecoder::OnEvent(const http::SseEvent& event, const StreamSink& sink) {
  size_t index = events_++;
  if (done_) return Status::Ok();
  std::string_view data = event.data;
  while (!data.empty() && (data.front() == ' ' || data.front() == '\n')) data.remove_prefix(1);
  while (!data.empty() && (data.back() == ' ' || data.back() == '\n')) data.remove_suffix(1);
  if (data.empty()) return Status::Ok();
  if (data == "[DONE]") {
    done_ = true;
    return Status::Ok();
  }
  auto parsed = ParseJson(data);
  if (!parsed.ok()) return wire::MalformedEvent(index, parsed.error().message());
  if (!parsed->is_object()) return wire::MalformedEvent(index, "not a JSON object");
  const json::value& chunk = *parsed;
  if (const json::value* e = chunk.get_object().if_contains("error");
      e != nullptr && !e->is_null()) {
    return ErrorFromBody(0, chunk);
  }
  if (id_.empty()) id_ = std::string(wire::GetString(chunk, "id"));
  if (model_.empty()) model_ = std::string(wire::GetString(chunk, "model"));
  if (const json::array* choices = wire::GetArray(chunk, "choices")) {
    for (const auto& choice : *choices) {
      if (wire::GetInt(choice, "index").value_or(0) != 0) continue;  // n > 1 is never asked for
      const json::object* delta = wire::GetObject(choice, "delta");
      if (delta == nullptr) delta = wire::GetObject(choice, "message");
      if (delta != nullptr) {
        std::string_view content = wire::GetString(*delta, "content");
        if (!content.empty()) {
          text_ += content;
          wire::Emit(sink, StreamDelta{StreamDelta::Kind::kText, std::string(content)});
        }
        for (std::string_view key : {"reasoning_content", "reasoning"}) {
          std::string_view r = wire::GetString(*delta, key);
          if (r.empty()) continue;
          if (reasoning_key_.empty()) reasoning_key_ = std::string(key);
          reasoning_ += r;
          wire::Emit(sink, StreamDelta{StreamDelta::Kind::kReasoning, std::string(r)});
          break;
        }
        refusal_ += wire::GetString(*delta, "refusal");
        if (const json::array* tcs = wire::GetArray(*delta, "tool_calls")) {
          for (const auto& tc : *tcs) {
            if (tc.is_object()) OnToolCall(tc, sink);
          }
        }
      }
      std::string_view finish = wire::GetString(choice, "finish_reason");
      if (!finish.empty()) finish_ = std::string(finish);
    }
  }
  if (const json::value* u = chunk.get_object().if_contains("usage");
      u != nullptr && u->is_object()) {
    Usage usage;
    ReadUsage(*u, usage);
    usage_ = usage;
  }
  return Status::Ok();
}

Result<ChatResponse> OpenAiStreamDecoder::Finish() {
  if (!done_) {
    return wire::StreamTruncated(
        fmt::format("openai stream ended after {} events without [DONE]", events_));
  }
  ChatResponse out;
  out.text = text_;
  out.reasoning = reasoning_;
  out.finish_reason = MapFinishReason(finish_);
  if (!refusal_.empty()) {
    if (out.text.empty()) out.text = refusal_;
    out.finish_reason = "content_filter";
  }
  json::object native;
  native["role"] = "assistant";
  native["content"] = text_.empty() && !calls_.empty() ? json::value(nullptr) : json::value(text_);
  if (!reasoning_.empty()) native[reasoning_key_] = reasoning_;
  if (!refusal_.empty()) native["refusal"] = refusal_;
  json::array native_calls;
  for (size_t i = 0; i < calls_.size(); ++i) {
    const Call& c = calls_[i];
    ToolCall call{c.id.empty() ? fmt::format("call_{}", i) : c.id, c.name, c.arguments};
    json::object tc;
    tc["id"] = call.id;
    tc["type"] = "function";
    tc["function"] = json::object{{"name", call.name}, {"arguments", call.arguments}};
    if (!c.extra.is_null()) tc["extra_content"] = c.extra;
    native_calls.push_back(std::move(tc));
    out.tool_calls.push_back(std::move(call));
  }
  if (!native_calls.empty()) native["tool_calls"] = std::move(native_calls);
  out.native = json::value(std::move(native));
  out.native_protocol = std::string(kProtocol);
  if (usage_) out.usage = *usage_;
  out.model = model_;
  out.request_id = id_;
  wire::SettleFinishReason(out);
  wire::ParseStructured(out, want_structured_);
  return out;
}

}  // namespace

std::unique_ptr<StreamDecoder> OpenAiCodec::NewStreamDecoder(const ChatRequest& request) const {
  return std::make_unique<OpenAiStreamDecoder>(request.output_schema.has_value());
}

}  // namespace baton::providers::openai
