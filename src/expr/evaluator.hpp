#pragma once

// Tree-walking evaluation of a parsed expression. Reads the tree and the Env only; all mutable
// state lives in EvalState, one per evaluation, so concurrent evaluations never share state.

#include <string_view>
#include <utility>
#include <vector>

#include "expr/expr.hpp"
#include "expr/node.hpp"
#include "expr/value.hpp"

namespace baton::expr {

struct EvalState {
  explicit EvalState(const Env& e) : env(e) {}
  const Env& env;
  int64_t budget = kDefaultBudget;
  // Macro variables in scope, innermost last. Values point into the iterated collection.
  std::vector<std::pair<std::string_view, const json::value*>> locals;

  // Spends `units` of the budget; false when it is exhausted.
  bool Spend(int64_t units) {
    budget -= units;
    return budget >= 0;
  }
};

Result<Value> Eval(const Node& node, EvalState& st);

// How a node reads in messages: `steps.plan.output` for paths, "value" otherwise.
std::string Describe(const Node& node);

}  // namespace baton::expr
