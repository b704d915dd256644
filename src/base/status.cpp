#include "base/status.hpp"

namespace baton {

std::string_view CodeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "ok";
    case Code::kInvalidArgument:
      return "invalid_argument";
    case Code::kNotFound:
      return "not_found";
    case Code::kAlreadyExists:
      return "already_exists";
    case Code::kFailedPrecondition:
      return "failed_precondition";
    case Code::kUnavailable:
      return "unavailable";
    case Code::kResourceExhausted:
      return "resource_exhausted";
    case Code::kDeadlineExceeded:
      return "deadline_exceeded";
    case Code::kCancelled:
      return "cancelled";
    case Code::kInternal:
      return "internal";
  }
  return "unknown";
}

std::string Status::ErrorType() const {
  if (!type_.empty()) return type_;
  switch (code_) {
    case Code::kOk:
      return "";
    case Code::kDeadlineExceeded:
      return "timeout";
    case Code::kCancelled:
      return "cancelled";
    case Code::kUnavailable:
      return "server_error";
    case Code::kResourceExhausted:
      return "rate_limited";
    case Code::kInvalidArgument:
      return "invalid_request";
    default:
      return "internal";
  }
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  Status s(code_, std::string(context) + ": " + message_, type_);
  s.hints_ = hints_;
  return s;
}

Status Status::WithRetryHints(RetryHints hints) const {
  Status s = *this;
  s.hints_ = std::make_shared<const RetryHints>(hints);
  return s;
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  return std::string(CodeName(code_)) + ": " + message_;
}

}  // namespace baton
