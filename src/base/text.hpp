#pragma once

// Small text utilities shared by the modules: edit distance for did-you-mean suggestions, and
// UTF-8 code point counting and truncation.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace baton {

// Optimal string alignment distance: insertions, deletions, substitutions and transpositions of
// adjacent characters each cost 1 ("stpes" -> "steps" is 1).
size_t EditDistance(std::string_view a, std::string_view b);

// The candidate nearest to `word` whose distance is at most `max_distance` (the first of equals),
// or "" when none is that near.
std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates,
                         size_t max_distance);

// Number of code points in valid UTF-8 (continuation bytes are not counted).
size_t Utf8Length(std::string_view s);

// The first `limit` code points of `s`.
std::string Utf8Prefix(std::string_view s, size_t limit);

}  // namespace baton
