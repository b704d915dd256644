#include "dsl/diagnostic.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>

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

namespace {

// Optimal string alignment distance: insertions, deletions, substitutions and transpositions
// of adjacent characters each cost 1.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> before(b.size() + 1), prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        cur[j] = std::min(cur[j], before[j - 2] + 1);
      }
    }
    std::swap(before, prev);
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates) {
  if (word.size() > 64) return "";
  size_t limit = std::max<size_t>(1, word.size() / 3);
  std::string best;
  size_t best_distance = limit + 1;
  for (const auto& c : candidates) {
    size_t d = EditDistance(word, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates) {
  std::string m = ClosestMatch(word, candidates);
  return m.empty() ? std::string() : fmt::format(" (did you mean '{}'?)", m);
}

}  // namespace baton::dsl
