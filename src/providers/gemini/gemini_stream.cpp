// The streamGenerateContent?alt=sse stream: each `data:` is a GenerateContentResponse piece;
// there is no sentinel, the chunk carrying finishReason is the terminal one (a usage-only chunk
// may still follow it).

#include <fmt/format.h>

#include <boost/json.hpp>
#include <optional>
#include <string>

#include "providers/gemini/gemini_codec.hpp"
#include "providers/wire_util.hpp"

namespace baton::providers::gemini {
namespace {

bool IsThought(const json::value& part) {
  const json::value* t = part.get_object().if_contains("thought");
  return t != nullptr && t->is_bool() && t->get_bool();
}

// A part holding only text (and the thought flag): consecutive ones are merged into one part.
bool IsPlainText(const json::value& part) {
  if (!part.is_object()) return false;
  const json::object& obj = part.get_object();
  const json::value* text = obj.if_contains("text");
  if (text == nullptr || !text->is_string()) return false;
  return obj.size() == 1 || (obj.size() == 2 && obj.contains("thought"));
}

class GeminiStreamDecoder final : public StreamDecoder {
 public:
  explicit GeminiStreamDecoder(bool want_structured) : want_structured_(want_structured) {}

  Status OnEvent(const http::SseEvent& event, const StreamSink& sink) override;
  Result<ChatResponse> Finish() override;

 private:
  void OnPart(const json::value& part, const StreamSink& sink);

  bool want_structured_;
  size_t events_ = 0;
  bool done_ = false;
  bool blocked_ = false;
  std::string response_id_;
  std::optional<std::string> id_base_;  // response id when the first call arrived
  std::string model_;
  std::string finish_;
  json::value usage_;
  json::array parts_;
  int calls_ = 0;
};

void GeminiStreamDecoder::OnPart(const json::value& part, const StreamSink& sink) {
  if (!part.is_object()) return;
  if (const json::object* fc = wire::GetObject(part, "functionCall")) {
    if (!id_base_) id_base_ = response_id_;
    StreamDelta delta;
    delta.kind = StreamDelta::Kind::kToolCall;
    delta.tool_index = calls_++;
    delta.tool_name = std::string(wire::GetString(*fc, "name"));
    delta.tool_id = std::string(wire::GetString(*fc, "id"));
    const json::value* args = fc->if_contains("args");
    delta.arguments = args == nullptr ? std::string("{}") : wire::ArgumentsText(*args);
    parts_.push_back(part);
    // The id the final response will give this call.
    if (delta.tool_id.empty()) delta.tool_id = SyntheticCallId(*id_base_, delta.tool_index);
    wire::Emit(sink, delta);
    return;
  }
  const json::value* text = part.get_object().if_contains("text");
  if (text != nullptr && text->is_string()) {
    std::string piece(text->get_string());
    bool thought = IsThought(part);
    if (IsPlainText(part) && !parts_.empty() && IsPlainText(parts_.back()) &&
        IsThought(parts_.back()) == thought) {
      json::object& last = parts_.back().get_object();
      std::string merged(last.at("text").get_string());
      merged += piece;
      last["text"] = merged;
    } else {
      parts_.push_back(part);
    }
    if (!piece.empty()) {
      wire::Emit(
          sink,
          StreamDelta{thought ? StreamDelta::Kind::kReasoning : StreamDelta::Kind::kText, piece});
    }
    return;
  }
  parts_.push_back(part);
}

Status GeminiStreamDecoder::OnEvent(const http::SseEvent& event, const StreamSink& sink) {
  size_t index = events_++;
  std::string_view raw = event.data;
  while (!raw.empty() && (raw.front() == ' ' || raw.front() == '\n')) raw.remove_prefix(1);
  if (raw.empty()) return Status::Ok();
  auto parsed = ParseJson(raw);
  if (!parsed.ok()) return wire::MalformedEvent(index, parsed.error().message());
  if (!parsed->is_object()) return wire::MalformedEvent(index, "not a JSON object");
  const json::value& chunk = *parsed;
  if (wire::GetObject(chunk, "error") != nullptr) return ErrorFromBody(0, chunk);
  std::string_view rid = wire::GetString(chunk, "responseId");
  if (!rid.empty()) response_id_ = std::string(rid);
  std::string_view model = wire::GetString(chunk, "modelVersion");
  if (!model.empty()) model_ = std::string(model);
  if (const json::value* u = chunk.get_object().if_contains("usageMetadata");
      u != nullptr && u->is_object()) {
    usage_ = *u;
  }
  const json::array* candidates = wire::GetArray(chunk, "candidates");
  if (candidates == nullptr || candidates->empty()) {
    const json::object* feedback = wire::GetObject(chunk, "promptFeedback");
    if (feedback != nullptr && !wire::GetString(*feedback, "blockReason").empty()) {
      blocked_ = true;
      done_ = true;
    }
    return Status::Ok();
  }
  const json::value& cand = (*candidates)[0];
  if (const json::object* content = wire::GetObject(cand, "content")) {
    if (const json::array* parts = wire::GetArray(*content, "parts")) {
      for (const auto& part : *parts) OnPart(part, sink);
    }
  }
  std::string_view finish = wire::GetString(cand, "finishReason");
  if (!finish.empty()) {
    finish_ = std::string(finish);
    done_ = true;
  }
  return Status::Ok();
}

Result<ChatResponse> GeminiStreamDecoder::Finish() {
  if (!done_) {
    return wire::StreamTruncated(
        fmt::format("gemini stream ended after {} events without a finishReason", events_));
  }
  ChatResponse out = FromParts(std::move(parts_), blocked_ ? "SAFETY" : finish_,
                               id_base_ ? *id_base_ : response_id_, want_structured_);
  parts_ = json::array();
  ReadUsage(usage_, out.usage);
  out.model = model_;
  out.request_id = response_id_;
  return out;
}

}  // namespace

std::unique_ptr<StreamDecoder> GeminiCodec::NewStreamDecoder(const ChatRequest& request) const {
  return std::make_unique<GeminiStreamDecoder>(request.output_schema.has_value());
}

}  // namespace baton::providers::gemini
