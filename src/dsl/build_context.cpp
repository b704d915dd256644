#include "dsl/build_context.hpp"

namespace baton::dsl {

void Reporter::At(Position p, std::string message) {
  ++errors_;
  out_.push_back({file_, p.line, p.col, "error", std::move(message)});
}

void Reporter::AtValue(const std::string& pointer, std::string message) {
  At(doc_.Info(pointer).value, std::move(message));
}

void Reporter::AtKey(const std::string& pointer, std::string message) {
  const NodeInfo& info = doc_.Info(pointer);
  At(info.key.line > 0 ? info.key : info.value, std::move(message));
}

void Reporter::AtOffset(const std::string& pointer, size_t offset, std::string message) {
  At(doc_.Locate(pointer, offset), std::move(message));
}

void Reporter::WarnAtKey(const std::string& pointer, std::string message) {
  const NodeInfo& info = doc_.Info(pointer);
  Position p = info.key.line > 0 ? info.key : info.value;
  out_.push_back({file_, p.line, p.col, "warning", std::move(message)});
}

const std::vector<std::string>& ErrorVocabulary() {
  static const std::vector<std::string> kTypes = {
      "rate_limited", "overloaded",        "server_error",   "timeout",
      "network",      "context_length",    "content_filter", "invalid_request",
      "auth",         "quota_exhausted",   "tool_error",     "schema_validation",
      "expression",   "budget_exceeded",   "cancelled",      "needs_attention",
      "stalled",      "internal",          "child_failed",   "no_quorum",
      "no_consensus", "approval_rejected", "invalid_plan"};
  return kTypes;
}

}  // namespace baton::dsl
