#pragma once

// Static analysis of a parsed tree: the problems knowable without values (unknown names and
// functions, arity, types implied by literals and function results), and the access paths an
// expression reads from its roots.

#include <string>
#include <string_view>
#include <vector>

#include "expr/expr.hpp"
#include "expr/node.hpp"

namespace baton::expr {

std::vector<ExprError> CheckTree(const Node& root, const Scope& scope);
std::vector<Reference> CollectReferences(const Node& root);

// The candidate closest to `name` by edit distance, or "" when none is close enough.
std::string Suggest(std::string_view name, const std::vector<std::string>& candidates);

}  // namespace baton::expr
