#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace baton {

// The small set of failure classes every module speaks. Workflow-level error types
// (rate_limited, tool_error, ...) travel in Status::type(), not in the code.
enum class Code : uint8_t {
  kOk,
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kFailedPrecondition,
  kUnavailable,
  kResourceExhausted,
  kDeadlineExceeded,
  kCancelled,
  kInternal,
};

std::string_view CodeName(Code code);

// Hints a failure carries to the one retry layer (the decider): a server-given earliest retry
// time and whether retrying is forbidden (e.g. the provider's retry budget is spent).
struct RetryHints {
  int64_t retry_after_ms = -1;  // -1: none given
  bool no_retry = false;
};

// Outcome of an operation that can fail in an expected way. Cheap to copy when ok.
// `type` is the user-facing error vocabulary word (e.g. "timeout", "tool_error"); when empty it
// is derived from the code by ErrorType().
class Status {
 public:
  Status() = default;
  Status(Code code, std::string message, std::string type = {})
      : code_(code), message_(std::move(message)), type_(std::move(type)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // The workflow error vocabulary word for this failure ("" when ok).
  std::string ErrorType() const;

  // Returns a copy whose message is prefixed with `context: `.
  Status WithContext(std::string_view context) const;

  // Retry hints; default-constructed when none were attached.
  RetryHints retry_hints() const { return hints_ ? *hints_ : RetryHints{}; }
  // Returns a copy carrying `hints`.
  Status WithRetryHints(RetryHints hints) const;
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
  std::string type_;
  std::shared_ptr<const RetryHints> hints_;  // null when none: keeps Status small and cheap
};

inline Status InvalidArgument(std::string msg) { return {Code::kInvalidArgument, std::move(msg)}; }
inline Status NotFound(std::string msg) { return {Code::kNotFound, std::move(msg)}; }
inline Status FailedPrecondition(std::string msg) {
  return {Code::kFailedPrecondition, std::move(msg)};
}
inline Status Unavailable(std::string msg) { return {Code::kUnavailable, std::move(msg)}; }
inline Status Internal(std::string msg) { return {Code::kInternal, std::move(msg)}; }
inline Status Cancelled(std::string msg) { return {Code::kCancelled, std::move(msg)}; }
inline Status DeadlineExceeded(std::string msg) {
  return {Code::kDeadlineExceeded, std::move(msg)};
}

// A value or a non-ok Status, shaped like std::expected so the switch to C++23 is mechanical.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // The failure; Status::Ok() when a value is held.
  Status status() const { return ok() ? Status::Ok() : std::get<1>(v_); }
  const Status& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace baton

#define BATON_RETURN_IF_ERROR(expr) \
  do {                              \
    ::baton::Status _st = (expr);   \
    if (!_st.ok()) return _st;      \
  } while (0)

#define BATON_CONCAT_INNER(a, b) a##b
#define BATON_CONCAT(a, b) BATON_CONCAT_INNER(a, b)
#define BATON_ASSIGN_OR_RETURN(lhs, expr) \
  BATON_ASSIGN_OR_RETURN_IMPL(BATON_CONCAT(_res_, __LINE__), lhs, expr)
#define BATON_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.error();                \
  lhs = std::move(tmp).value()
