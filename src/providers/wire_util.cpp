#include "providers/wire_util.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cctype>
#include <cmath>
#include <limits>

namespace baton::providers::wire {
namespace {

char Lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

bool ContainsIgnoreCase(std::string_view haystack, std::string_view needle) {
  if (needle.size() > haystack.size()) return false;
  for (size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    if (EqualsIgnoreCase(haystack.substr(i, needle.size()), needle)) return true;
  }
  return false;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Reads exactly `n` digits at `pos`, advancing it.
std::optional<int> Digits(std::string_view s, size_t& pos, size_t n) {
  if (pos + n > s.size()) return std::nullopt;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (!IsDigit(c)) return std::nullopt;
    v = v * 10 + (c - '0');
  }
  pos += n;
  return v;
}

bool Expect(std::string_view s, size_t& pos, char c) {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

std::optional<int64_t> EpochMillis(int y, int mo, int d, int h, int mi, int s) {
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return std::nullopt;
  int64_t days = DaysFromCivil(y, mo, d);
  return ((days * 24 + h) * 60 + mi) * 60'000 + static_cast<int64_t>(s) * 1000;
}

}  // namespace

std::string_view FindHeader(const std::vector<http::Header>& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return {};
}

std::optional<int64_t> ParseInt(std::string_view text) {
  text = Trim(text);
  if (text.empty()) return std::nullopt;
  bool negative = false;
  if (text.front() == '-' || text.front() == '+') {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  if (text.empty() || text.size() > 18) return std::nullopt;
  int64_t v = 0;
  for (char c : text) {
    if (!IsDigit(c)) return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return negative ? -v : v;
}

std::optional<int64_t> ParseResetDuration(std::string_view text) {
  text = Trim(text);
  if (text.empty() || text.size() > 64) return std::nullopt;
  double total_ms = 0;
  size_t pos = 0;
  bool any = false;
  while (pos < text.size()) {
    size_t start = pos;
    while (pos < text.size() && (IsDigit(text[pos]) || text[pos] == '.')) ++pos;
    if (pos == start) return std::nullopt;
    std::string number(text.substr(start, pos - start));
    if (std::count(number.begin(), number.end(), '.') > 1 || number == ".") return std::nullopt;
    double value = std::strtod(number.c_str(), nullptr);
    size_t unit_start = pos;
    while (pos < text.size() && !IsDigit(text[pos]) && text[pos] != '.') ++pos;
    std::string_view unit = text.substr(unit_start, pos - unit_start);
    double scale;
    if (unit.empty()) {
      if (any || pos != text.size()) return std::nullopt;
      scale = 1000;  // a bare number is seconds
    } else if (unit == "h") {
      scale = 3'600'000;
    } else if (unit == "m") {
      scale = 60'000;
    } else if (unit == "s") {
      scale = 1000;
    } else if (unit == "ms") {
      scale = 1;
    } else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") {
      scale = 1e-3;
    } else if (unit == "ns") {
      scale = 1e-6;
    } else {
      return std::nullopt;
    }
    total_ms += value * scale;
    any = true;
  }
  if (!any || !std::isfinite(total_ms) || total_ms > 1e15) return std::nullopt;
  return static_cast<int64_t>(std::ceil(total_ms - 1e-9));
}

std::optional<int64_t> ParseRfc3339(std::string_view text) {
  text = Trim(text);
  size_t pos = 0;
  auto y = Digits(text, pos, 4);
  if (!y || !Expect(text, pos, '-')) return std::nullopt;
  auto mo = Digits(text, pos, 2);
  if (!mo || !Expect(text, pos, '-')) return std::nullopt;
  auto d = Digits(text, pos, 2);
  if (!d || pos >= text.size() || (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' ')) {
    return std::nullopt;
  }
  ++pos;
  auto h = Digits(text, pos, 2);
  if (!h || !Expect(text, pos, ':')) return std::nullopt;
  auto mi = Digits(text, pos, 2);
  if (!mi || !Expect(text, pos, ':')) return std::nullopt;
  auto s = Digits(text, pos, 2);
  if (!s) return std::nullopt;
  int64_t frac_ms = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    size_t start = pos;
    int64_t scale = 100;
    while (pos < text.size() && IsDigit(text[pos])) {
      frac_ms += (text[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return std::nullopt;
  }
  auto base = EpochMillis(*y, *mo, *d, *h, *mi, *s);
  if (!base) return std::nullopt;
  if (pos >= text.size()) return std::nullopt;
  int64_t offset_ms = 0;
  if (text[pos] == 'Z' || text[pos] == 'z') {
    ++pos;
  } else if (text[pos] == '+' || text[pos] == '-') {
    int sign = text[pos] == '-' ? -1 : 1;
    ++pos;
    auto oh = Digits(text, pos, 2);
    if (!oh || !Expect(text, pos, ':')) return std::nullopt;
    auto om = Digits(text, pos, 2);
    if (!om || *oh > 23 || *om > 59) return std::nullopt;
    offset_ms = sign * (*oh * 60 + *om) * 60'000LL;
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;
  return *base + frac_ms - offset_ms;
}

std::optional<int64_t> ParseHttpDate(std::string_view text) {
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  text = Trim(text);
  size_t comma = text.find(',');
  if (comma == std::string_view::npos) return std::nullopt;
  size_t pos = comma + 1;
  if (!Expect(text, pos, ' ')) return std::nullopt;
  auto d = Digits(text, pos, 2);
  if (!d || !Expect(text, pos, ' ') || pos + 3 > text.size()) return std::nullopt;
  std::string_view month = text.substr(pos, 3);
  pos += 3;
  int mo = 0;
  for (size_t i = 0; i < kMonths.size(); ++i) {
    if (EqualsIgnoreCase(kMonths[i], month)) mo = static_cast<int>(i) + 1;
  }
  if (mo == 0 || !Expect(text, pos, ' ')) return std::nullopt;
  auto y = Digits(text, pos, 4);
  if (!y || !Expect(text, pos, ' ')) return std::nullopt;
  auto h = Digits(text, pos, 2);
  if (!h || !Expect(text, pos, ':')) return std::nullopt;
  auto mi = Digits(text, pos, 2);
  if (!mi || !Expect(text, pos, ':')) return std::nullopt;
  auto s = Digits(text, pos, 2);
  if (!s) return std::nullopt;
  std::string_view zone = Trim(text.substr(pos));
  if (zone != "GMT" && zone != "UTC") return std::nullopt;
  return EpochMillis(*y, mo, *d, *h, *mi, *s);
}

std::optional<int64_t> RetryAfterMs(const std::vector<http::Header>& headers, int64_t now_ms) {
  std::string_view ms = FindHeader(headers, "retry-after-ms");
  if (!ms.empty()) {
    std::string text(Trim(ms));
    char* end = nullptr;
    double v = std::strtod(text.c_str(), &end);
    if (end != text.c_str() && *end == '\0' && std::isfinite(v) && v >= 0 && v < 1e12) {
      return static_cast<int64_t>(std::ceil(v));
    }
  }
  std::string_view after = Trim(FindHeader(headers, "retry-after"));
  if (after.empty()) return std::nullopt;
  if (IsDigit(after.front()) || after.front() == '.') {
    std::string text(after);
    char* end = nullptr;
    double v = std::strtod(text.c_str(), &end);
    if (end != text.c_str() && *end == '\0' && std::isfinite(v) && v >= 0 && v < 1e9) {
      return static_cast<int64_t>(std::ceil(v * 1000));
    }
    return std::nullopt;
  }
  if (auto at = ParseHttpDate(after)) return std::max<int64_t>(0, *at - now_ms);
  return std::nullopt;
}

Status MakeError(std::string_view type, std::string message) {
  Code code = Code::kUnavailable;
  if (type == "rate_limited" || type == "quota_exhausted") {
    code = Code::kResourceExhausted;
  } else if (type == "timeout") {
    code = Code::kDeadlineExceeded;
  } else if (type == "invalid_request" || type == "context_length") {
    code = Code::kInvalidArgument;
  } else if (type == "auth" || type == "content_filter") {
    code = Code::kFailedPrecondition;
  }
  return Status(code, std::move(message), std::string(type));
}

std::string TypeForHttpStatus(int status) {
  switch (status) {
    case 401:
    case 403:
      return "auth";
    case 402:
      return "quota_exhausted";
    case 408:
      return "timeout";
    case 409:
      return "server_error";
    case 429:
      return "rate_limited";
    case 503:
    case 529:
      return "overloaded";
    case 504:
      return "timeout";
    default:
      break;
  }
  if (status >= 500) return "server_error";
  return "invalid_request";
}

bool LooksLikeContextLength(std::string_view text) {
  for (std::string_view needle :
       {"context_length", "context length", "context window", "maximum context",
        "prompt is too long", "too many tokens", "maximum number of tokens", "input is too long",
        "exceeds the maximum", "input token count", "reduce the length"}) {
    if (ContainsIgnoreCase(text, needle)) return true;
  }
  return false;
}

bool LooksLikeContentPolicy(std::string_view text) {
  for (std::string_view needle :
       {"content_filter", "content_policy", "content policy", "content management policy",
        "flagged", "safety system", "usage policy", "usage policies"}) {
    if (ContainsIgnoreCase(text, needle)) return true;
  }
  return false;
}

std::string QuoteBody(std::string_view body, size_t limit) {
  std::string out;
  size_t n = std::min(body.size(), limit);
  out.reserve(n + 3);
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(body[i]);
    out.push_back(c < 0x20 || c == 0x7f ? ' ' : static_cast<char>(c));
  }
  if (body.size() > limit) out += "...";
  return out;
}

Status AttachRetryHints(Status status, const http::HttpResponse& response, int64_t now_ms,
                        std::optional<int64_t> body_delay_ms) {
  RetryHints hints;
  bool any = false;
  std::optional<int64_t> wait = RetryAfterMs(response.headers, now_ms);
  if (!wait) wait = body_delay_ms;
  if (wait) {
    hints.retry_after_ms = *wait;
    any = true;
  }
  if (status.ErrorType() == "quota_exhausted" ||
      EqualsIgnoreCase(Trim(FindHeader(response.headers, "x-should-retry")), "false")) {
    hints.no_retry = true;
    any = true;
  }
  return any ? status.WithRetryHints(hints) : status;
}

Status StreamTruncated(std::string_view detail) {
  return MakeError("network", fmt::format("stream truncated: {}", detail));
}

Status MalformedEvent(size_t index, std::string_view why) {
  return MakeError("server_error",
                   fmt::format("malformed stream event {}: {}", index, QuoteBody(why, 200)));
}

const json::object* GetObject(const json::object& v, std::string_view key) {
  const json::value* m = v.if_contains(key);
  return m == nullptr ? nullptr : m->if_object();
}

const json::object* GetObject(const json::value& v, std::string_view key) {
  const json::object* obj = v.if_object();
  return obj == nullptr ? nullptr : GetObject(*obj, key);
}

const json::array* GetArray(const json::object& v, std::string_view key) {
  const json::value* m = v.if_contains(key);
  return m == nullptr ? nullptr : m->if_array();
}

const json::array* GetArray(const json::value& v, std::string_view key) {
  const json::object* obj = v.if_object();
  return obj == nullptr ? nullptr : GetArray(*obj, key);
}

std::string_view GetString(const json::object& v, std::string_view key) {
  const json::value* m = v.if_contains(key);
  if (m == nullptr || !m->is_string()) return {};
  return m->get_string();
}

std::string_view GetString(const json::value& v, std::string_view key) {
  const json::object* obj = v.if_object();
  return obj == nullptr ? std::string_view() : GetString(*obj, key);
}

std::optional<int64_t> GetInt(const json::object& v, std::string_view key) {
  const json::value* m = v.if_contains(key);
  if (m == nullptr) return std::nullopt;
  if (m->is_int64()) return m->get_int64();
  if (m->is_uint64()) {
    return static_cast<int64_t>(
        std::min<uint64_t>(m->get_uint64(), std::numeric_limits<int64_t>::max()));
  }
  if (m->is_double()) {
    double d = m->get_double();
    if (std::isfinite(d) && std::fabs(d) < 9e18) return static_cast<int64_t>(d);
  }
  if (m->is_string()) return ParseInt(m->get_string());
  return std::nullopt;
}

std::optional<int64_t> GetInt(const json::value& v, std::string_view key) {
  const json::object* obj = v.if_object();
  return obj == nullptr ? std::nullopt : GetInt(*obj, key);
}

std::string ArgumentsText(const json::value& value) {
  if (value.is_string()) return std::string(value.get_string());
  if (value.is_null()) return "";
  return json::serialize(value);
}

Result<json::object> ArgumentsObject(std::string_view arguments, std::string_view tool_name) {
  std::string_view trimmed = Trim(arguments);
  if (trimmed.empty()) return json::object();
  auto parsed = ParseJson(trimmed);
  if (!parsed.ok() || !parsed->is_object()) {
    return InvalidArgument(
        fmt::format("arguments of the call to tool '{}' are not a JSON object: {}", tool_name,
                    QuoteBody(arguments, 120)));
  }
  return std::move(parsed->get_object());
}

std::string TrimBase(std::string_view base, std::string_view fallback) {
  base = Trim(base);
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  if (base.empty()) return std::string(fallback);
  return std::string(base);
}

bool EndsWithSegment(std::string_view base, std::string_view segment) {
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  if (base.size() < segment.size() + 1) return false;
  return base.substr(base.size() - segment.size()) == segment &&
         base[base.size() - segment.size() - 1] == '/';
}

std::string JoinSystem(const std::vector<Message>& messages) {
  std::string out;
  for (const auto& m : messages) {
    if (m.role != "system" || m.content.empty()) continue;
    if (!out.empty()) out += "\n\n";
    out += m.content;
  }
  return out;
}

std::string ToolNameForCall(const std::vector<Message>& messages, size_t before,
                            std::string_view id) {
  for (size_t i = std::min(before, messages.size()); i-- > 0;) {
    for (const auto& call : messages[i].tool_calls) {
      if (call.id == id) return call.name;
    }
  }
  return "";
}

void ParseStructured(ChatResponse& response, bool want) {
  if (!want) return;
  std::string_view text = response.text;
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  if (text.empty()) return;
  auto parsed = ParseJson(text);
  if (!parsed.ok() && text.size() >= 6 && text.substr(0, 3) == "```" &&
      text.substr(text.size() - 3) == "```") {
    std::string_view inner = text.substr(3, text.size() - 6);
    size_t nl = inner.find('\n');
    if (nl != std::string_view::npos) inner.remove_prefix(nl + 1);  // drop "json" tag line
    parsed = ParseJson(inner);
  }
  if (parsed.ok()) response.structured = std::move(*parsed);
}

void SettleFinishReason(ChatResponse& response) {
  if (!response.tool_calls.empty() &&
      (response.finish_reason.empty() || response.finish_reason == "stop")) {
    response.finish_reason = "tool_calls";
  }
  if (response.finish_reason.empty()) response.finish_reason = "stop";
}

void Emit(const StreamSink& sink, const StreamDelta& delta) {
  if (sink) sink(delta);
}

}  // namespace baton::providers::wire
