#pragma once

// Deterministic generator of CEL expressions over the subset baton shares with CEL, for the
// differential test against a reference CEL implementation.

#include <cstdint>
#include <string>
#include <vector>

namespace baton::expr::cel_diff {

// The variable bindings every generated expression may use, as JSON in which numbers written
// with '.' or an exponent are doubles and the others ints.
std::string BindingsJson();

// The names bound by BindingsJson().
std::vector<std::string> BindingNames();

// `count` generated expressions from `seed` (same seed, same list), followed by a fixed list
// of hand-picked edge cases.
std::vector<std::string> GenerateExpressions(uint64_t seed, int count);

}  // namespace baton::expr::cel_diff
