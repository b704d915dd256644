// The Messages stream: message_start, content_block_start/delta/stop per block, message_delta,
// message_stop; ping and unknown events are ignored; `error` fails the stream.

#include <fmt/format.h>

#include <boost/json.hpp>
#include <map>
#include <string>

#include "providers/anthropic/anthropic_codec.hpp"
#include "providers/wire_util.hpp"

namespace baton::providers::anthropic {
namespace {

class AnthropicStreamDecoder final : public StreamDecoder {
 public:
  explicit AnthropicStreamDecoder(OutputMode mode) : mode_(mode) {}

  Status OnEvent(const http::SseEvent& event, const StreamSink& sink) override;
  Result<ChatResponse> Finish() override;

 private:
  struct Block {
    json::object start;  // the content_block of content_block_start
    std::string text;
    std::string thinking;
    std::string signature;
    std::string partial_json;
    json::array citations;
    bool is_output = false;  // the structured_output tool's call
    int tool_index = -1;     // ordinal among tool calls, for tool_use blocks
  };

  Block& BlockAt(const json::value& data);
  void OnBlockStart(const json::value& data, const StreamSink& sink);
  void OnBlockDelta(const json::value& data, const StreamSink& sink);

  OutputMode mode_;
  size_t events_ = 0;
  bool done_ = false;
  std::string id_;
  std::string model_;
  std::string stop_reason_;
  json::object usage_;  // message_start's usage, overlaid by each message_delta's
  std::map<int64_t, Block> blocks_;
  int next_tool_ = 0;
};

void MergeUsage(json::object& into, const json::value& usage) {
  if (!usage.is_object()) return;
  for (const auto& kv : usage.get_object()) {
    if (!kv.value().is_null()) into[kv.key()] = kv.value();
  }
}

AnthropicStreamDecoder::Block& AnthropicStreamDecoder::BlockAt(const json::value& data) {
  return blocks_[wire::GetInt(data, "index").value_or(0)];
}

void AnthropicStreamDecoder::OnBlockStart(const json::value& data, const StreamSink& sink) {
  Block& block = BlockAt(data);
  block = Block{};
  if (const json::object* cb = wire::GetObject(data, "content_block")) block.start = *cb;
  std::string_view type = wire::GetString(block.start, "type");
  if (type == "tool_use") {
    std::string_view name = wire::GetString(block.start, "name");
    if (mode_.structured && name == kOutputTool) {
      block.is_output = true;
    } else {
      block.tool_index = next_tool_++;
      StreamDelta delta;
      delta.kind = StreamDelta::Kind::kToolCall;
      delta.tool_index = block.tool_index;
      delta.tool_id = std::string(wire::GetString(block.start, "id"));
      delta.tool_name = std::string(name);
      wire::Emit(sink, delta);
    }
  } else if (type == "text") {
    std::string_view text = wire::GetString(block.start, "text");
    if (!text.empty()) wire::Emit(sink, StreamDelta{StreamDelta::Kind::kText, std::string(text)});
  } else if (type == "thinking") {
    std::string_view text = wire::GetString(block.start, "thinking");
    if (!text.empty()) {
      wire::Emit(sink, StreamDelta{StreamDelta::Kind::kReasoning, std::string(text)});
    }
  }
}

void AnthropicStreamDecoder::OnBlockDelta(const json::value& data, const StreamSink& sink) {
  const json::object* delta = wire::GetObject(data, "delta");
  if (delta == nullptr) return;
  Block& block = BlockAt(data);
  std::string_view type = wire::GetString(*delta, "type");
  if (type == "text_delta") {
    std::string_view text = wire::GetString(*delta, "text");
    block.text += text;
    if (!text.empty()) wire::Emit(sink, StreamDelta{StreamDelta::Kind::kText, std::string(text)});
  } else if (type == "thinking_delta") {
    std::string_view text = wire::GetString(*delta, "thinking");
    block.thinking += text;
    if (!text.empty()) {
      wire::Emit(sink, StreamDelta{StreamDelta::Kind::kReasoning, std::string(text)});
    }
  } else if (type == "signature_delta") {
    block.signature += wire::GetString(*delta, "signature");
  } else if (type == "input_json_delta") {
    std::string_view part = wire::GetString(*delta, "partial_json");
    block.partial_json += part;
    if (part.empty()) return;
    if (block.is_output) {
      // A wrapped (non-object) answer streams as {"value": ...}; only bare answers are text.
      if (!mode_.wrapped)
        wire::Emit(sink, StreamDelta{StreamDelta::Kind::kText, std::string(part)});
    } else if (block.tool_index >= 0) {
      StreamDelta d;
      d.kind = StreamDelta::Kind::kToolCall;
      d.tool_index = block.tool_index;
      d.arguments = std::string(part);
      wire::Emit(sink, d);
    }
  } else if (type == "citations_delta") {
    if (const json::value* c = delta->if_contains("citation")) block.citations.push_back(*c);
  }
}

Status AnthropicStreamDecoder::OnEvent(const http::SseEvent& event, const StreamSink& sink) {
  size_t index = events_++;
  if (done_) return Status::Ok();
  std::string_view raw = event.data;
  while (!raw.empty() && (raw.front() == ' ' || raw.front() == '\n')) raw.remove_prefix(1);
  if (raw.empty()) return Status::Ok();
  auto parsed = ParseJson(raw);
  if (!parsed.ok()) return wire::MalformedEvent(index, parsed.error().message());
  if (!parsed->is_object()) return wire::MalformedEvent(index, "not a JSON object");
  const json::value& data = *parsed;
  std::string_view type = wire::GetString(data, "type");
  if (type.empty()) type = event.event;
  if (type == "message_start") {
    if (const json::object* m = wire::GetObject(data, "message")) {
      id_ = std::string(wire::GetString(*m, "id"));
      model_ = std::string(wire::GetString(*m, "model"));
      if (const json::value* u = m->if_contains("usage")) MergeUsage(usage_, *u);
    }
  } else if (type == "content_block_start") {
    OnBlockStart(data, sink);
  } else if (type == "content_block_delta") {
    OnBlockDelta(data, sink);
  } else if (type == "message_delta") {
    if (const json::object* d = wire::GetObject(data, "delta")) {
      std::string_view reason = wire::GetString(*d, "stop_reason");
      if (!reason.empty()) stop_reason_ = std::string(reason);
    }
    if (const json::value* u = data.get_object().if_contains("usage")) MergeUsage(usage_, *u);
  } else if (type == "message_stop") {
    done_ = true;
  } else if (type == "error") {
    return ErrorFromBody(0, data);
  }
  return Status::Ok();
}

Result<ChatResponse> AnthropicStreamDecoder::Finish() {
  if (!done_) {
    return wire::StreamTruncated(
        fmt::format("anthropic stream ended after {} events without message_stop", events_));
  }
  json::array content;
  for (auto& [index, block] : blocks_) {
    json::object b = block.start;
    std::string_view type = wire::GetString(b, "type");
    if (type == "text") {
      b["text"] = std::string(wire::GetString(b, "text")) + block.text;
      if (!block.citations.empty()) {
        json::array all;
        if (const json::array* c = wire::GetArray(b, "citations")) all = *c;
        for (auto& c : block.citations) all.push_back(c);
        b["citations"] = std::move(all);
      }
    } else if (type == "thinking") {
      b["thinking"] = std::string(wire::GetString(b, "thinking")) + block.thinking;
      if (b.contains("signature") || !block.signature.empty()) {
        b["signature"] = std::string(wire::GetString(b, "signature")) + block.signature;
      }
    } else if (!block.partial_json.empty()) {
      auto input = ParseJson(block.partial_json);
      b["input"] = input.ok() ? std::move(*input) : json::value(block.partial_json);
    }
    content.push_back(std::move(b));
  }
  ChatResponse out = FromContent(std::move(content), stop_reason_, mode_);
  ReadUsage(usage_, out.usage);
  out.model = model_;
  out.request_id = id_;
  return out;
}

}  // namespace

std::unique_ptr<StreamDecoder> AnthropicCodec::NewStreamDecoder(const ChatRequest& request) const {
  return std::make_unique<AnthropicStreamDecoder>(OutputModeFor(request));
}

}  // namespace baton::providers::anthropic
