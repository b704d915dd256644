#pragma once

// Parses expression source into a Node tree (a Pratt parser over lexer tokens, with CEL's
// precedence). Pure and thread-safe.

#include <memory>
#include <string_view>

#include "expr/expr.hpp"
#include "expr/node.hpp"

namespace baton::expr {

// Maximum nesting of the tree; deeper expressions are rejected so evaluation cannot exhaust
// the stack.
inline constexpr int kMaxDepth = 200;

// Returns the root, or nullptr with `*error` set (offset into `source`).
std::unique_ptr<Node> ParseTree(std::string_view source, ExprError* error);

}  // namespace baton::expr
