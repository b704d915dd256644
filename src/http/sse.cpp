#include "http/sse.hpp"

#include <limits>
#include <utility>

namespace baton::http {

namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

// Parses a `retry:` value: ASCII digits only; anything else (or an overflow) is ignored.
bool ParseRetry(std::string_view value, int64_t* out) {
  if (value.empty()) return false;
  int64_t v = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return false;
    if (v > (std::numeric_limits<int64_t>::max() - 9) / 10) return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

}  // namespace

Status SseParser::Feed(std::string_view bytes, const Handler& handler) {
  // Until the first bytes are known not to be a BOM, they wait in line_.
  while (!started_ && !bytes.empty()) {
    line_.push_back(bytes.front());
    bytes.remove_prefix(1);
    if (line_ == kBom) {
      line_.clear();
      started_ = true;
    } else if (!kBom.starts_with(line_)) {
      started_ = true;
      std::string head = std::move(line_);
      line_.clear();
      BATON_RETURN_IF_ERROR(Consume(head, handler));
    }
  }
  return Consume(bytes, handler);
}

bool SseParser::HasPartialEvent() const { return !line_.empty() || has_data_ || !event_.empty(); }

Status SseParser::CheckSize() const {
  if (line_.size() + data_.size() + event_.size() + id_.size() > max_event_bytes_) {
    return Status(Code::kResourceExhausted,
                  "SSE event larger than " + std::to_string(max_event_bytes_) + " bytes",
                  "network");
  }
  return Status::Ok();
}

Status SseParser::Consume(std::string_view bytes, const Handler& handler) {
  while (!bytes.empty()) {
    if (after_cr_) {
      after_cr_ = false;
      if (bytes.front() == '\n') {  // the second half of a \r\n split across chunks
        bytes.remove_prefix(1);
        continue;
      }
    }
    size_t end = bytes.find_first_of("\r\n");
    if (end == std::string_view::npos) {
      line_.append(bytes);
      return CheckSize();
    }
    std::string_view segment = bytes.substr(0, end);
    after_cr_ = bytes[end] == '\r';
    bytes.remove_prefix(end + 1);
    if (after_cr_ && !bytes.empty()) {
      after_cr_ = false;
      if (bytes.front() == '\n') bytes.remove_prefix(1);
    }
    Status status;
    if (line_.empty()) {
      status = ProcessLine(segment, handler);
    } else {
      line_.append(segment);
      BATON_RETURN_IF_ERROR(CheckSize());
      status = ProcessLine(line_, handler);  // not a blank line: the handler is not called
      line_.clear();
    }
    if (!status.ok()) return status;
    BATON_RETURN_IF_ERROR(CheckSize());
  }
  return Status::Ok();
}

Status SseParser::ProcessLine(std::string_view line, const Handler& handler) {
  if (line.empty()) {  // a blank line dispatches the event
    if (!has_data_) {
      event_.clear();
      return Status::Ok();
    }
    SseEvent event{std::move(event_), std::move(data_), id_};
    event_.clear();
    data_.clear();
    has_data_ = false;
    return handler(std::move(event));
  }
  if (line.front() == ':') return Status::Ok();  // comment
  size_t colon = line.find(':');
  std::string_view field = line.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) data_.push_back('\n');
    data_.append(value);
    has_data_ = true;
  } else if (field == "event") {
    event_.assign(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) id_.assign(value);
  } else if (field == "retry") {
    int64_t ms;
    if (ParseRetry(value, &ms)) retry_ms_ = ms;
  }
  return Status::Ok();
}

}  // namespace baton::http
