#include "dsl/diagnostic.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>

#include "base/text.hpp"

namespace baton::dsl {

std::string FormatDiagnostic(const Diagnostic& d) {
  return fmt::format("{}:{}:{}: {}: {}", d.file, d.line, d.col, d.severity, d.message);
}

json::value DiagnosticsToJson(const std::vector<Diagnostic>& ds) {
  json::array out;
  out.reserve(ds.size());
  for (const auto& d : ds) {
    out.push_back(json::object{{"file", d.file},
                               {"line", d.line},
                               {"col", d.col},
                               {"severity", d.severity},
                               {"message", d.message}});
  }
  return out;
}

void SortDiagnostics(std::vector<Diagnostic>& ds) {
  std::stable_sort(ds.begin(), ds.end(), [](const Diagnostic& a, const Diagnostic& b) {
    if (a.line != b.line) return a.line < b.line;
    return a.col < b.col;
  });
}

std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates) {
  if (word.size() > 64) return "";
  return baton::ClosestMatch(word, candidates, std::max<size_t>(1, word.size() / 3));
}

std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates) {
  std::string m = ClosestMatch(word, candidates);
  return m.empty() ? std::string() : fmt::format(" (did you mean '{}'?)", m);
}

}  // namespace baton::dsl
