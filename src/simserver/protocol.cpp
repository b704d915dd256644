#include "simserver/protocol.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>

namespace baton::simserver {

std::string_view ProtocolName(Protocol p) {
  switch (p) {
    case Protocol::kOpenAi:
      return "openai";
    case Protocol::kAnthropic:
      return "anthropic";
    case Protocol::kGemini:
      return "gemini";
  }
  return "openai";
}

std::optional<Protocol> ParseProtocol(std::string_view name) {
  if (name == "openai") return Protocol::kOpenAi;
  if (name == "anthropic") return Protocol::kAnthropic;
  if (name == "gemini") return Protocol::kGemini;
  return std::nullopt;
}

std::string_view KindForStatus(int status) {
  switch (status) {
    case 400:
    case 422:
      return "invalid_request";
    case 401:
      return "auth";
    case 402:
      return "quota_exhausted";
    case 403:
      return "permission";
    case 404:
      return "not_found";
    case 408:
    case 504:
      return "timeout";
    case 413:
      return "too_large";
    case 429:
      return "rate_limited";
    case 503:
    case 529:
      return "overloaded";
    default:
      return status >= 500 ? "server_error" : "invalid_request";
  }
}

const WireProtocol& Wire(Protocol p) {
  switch (p) {
    case Protocol::kAnthropic:
      return AnthropicWire();
    case Protocol::kGemini:
      return GeminiWire();
    case Protocol::kOpenAi:
      break;
  }
  return OpenAiWire();
}

std::string WireProtocol::StreamContentType(const ReplyContext&) const {
  return "text/event-stream; charset=utf-8";
}

std::vector<std::string> SplitDeltas(std::string_view text, size_t max_bytes) {
  std::vector<std::string> out;
  max_bytes = std::max<size_t>(max_bytes, 4);
  size_t start = 0;
  while (start < text.size()) {
    size_t end = std::min(text.size(), start + max_bytes);
    if (end < text.size()) {
      // Prefer to cut just after a space in the second half of the piece.
      size_t space = text.rfind(' ', end - 1);
      if (space != std::string_view::npos && space >= start + max_bytes / 2) end = space + 1;
      // Never inside a UTF-8 sequence.
      while (end > start + 1 && end < text.size() &&
             (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
        --end;
      }
    }
    out.emplace_back(text.substr(start, end - start));
    start = end;
  }
  return out;
}

std::string Base64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t n = (static_cast<uint8_t>(bytes[i]) << 16) |
                 (static_cast<uint8_t>(bytes[i + 1]) << 8) | static_cast<uint8_t>(bytes[i + 2]);
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(kAlphabet[(n >> 6) & 63]);
    out.push_back(kAlphabet[n & 63]);
  }
  if (i < bytes.size()) {
    uint32_t n = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) n |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(i + 1 < bytes.size() ? kAlphabet[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

json::value ArgumentsObject(std::string_view arguments) {
  auto parsed = ParseJson(arguments);
  if (parsed.ok() && parsed->is_object()) return std::move(parsed).value();
  return json::object();
}

std::string CorruptJson(std::string_view json) {
  return std::string(json.substr(0, json.size() / 2)) + "#malformed}{";
}

Status InvalidRequest(std::string message) {
  return Status(Code::kInvalidArgument, std::move(message), "invalid_request");
}

std::string FormatResetDuration(int64_t ms) {
  if (ms < 0) ms = 0;
  if (ms < 1000) return fmt::format("{}ms", ms);
  if (ms < 60'000) {
    if (ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
    std::string s = fmt::format("{:.3f}", static_cast<double>(ms) / 1000.0);
    while (s.back() == '0') s.pop_back();
    return s + "s";
  }
  int64_t minutes = ms / 60'000;
  int64_t rest = ms % 60'000;
  if (rest % 1000 == 0) return fmt::format("{}m{}s", minutes, rest / 1000);
  std::string s = fmt::format("{:.3f}", static_cast<double>(rest) / 1000.0);
  while (s.back() == '0') s.pop_back();
  return fmt::format("{}m{}s", minutes, s);
}

}  // namespace baton::simserver
