#pragma once

// Compiler-style diagnostics for workflow files: "file:line:col: error: message".

#include <string>
#include <string_view>
#include <vector>

#include "base/json.hpp"

namespace baton::dsl {

struct Diagnostic {
  std::string file;
  int line = 0;          // 1-based; 0 when unknown
  int col = 0;           // 1-based; 0 when unknown
  std::string severity;  // "error" | "warning"
  std::string message;
};

// "file:line:col: severity: message".
std::string FormatDiagnostic(const Diagnostic& d);

// [{file, line, col, severity, message}, ...] in the given order.
json::value DiagnosticsToJson(const std::vector<Diagnostic>& ds);

// Sorts by position (line, then column), keeping the discovery order of equal positions.
void SortDiagnostics(std::vector<Diagnostic>& ds);

// The candidate closest to `word` by edit distance, or "" when none is close enough to be a
// plausible typo (distance at most 1/3 of the word's length, and at least 1 allowed).
std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates);

// " (did you mean 'x'?)" for ClosestMatch, or "".
std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace baton::dsl
