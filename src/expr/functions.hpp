#pragma once

// The built-in functions. Each takes its already evaluated arguments (the receiver first when
// called in method style, `s.startsWith("a")` == `startsWith(s, "a")`) and returns a value or
// an "expression" Status. default() is evaluated lazily by the evaluator itself.

#include <memory>
#include <span>
#include <string_view>

#include "expr/evaluator.hpp"
#include "expr/value.hpp"

namespace re2 {
class RE2;
}

namespace baton::expr {

using FunctionImpl = Result<Value> (*)(std::span<Value> args, const Node& call, EvalState& st);

struct Function {
  std::string_view name;
  int min_args;  // counting the receiver
  int max_args;  // -1: any number
  FunctionImpl impl;
};

// nullptr when `name` is not a built-in function.
const Function* FindFunction(std::string_view name);

// Every function and macro name, sorted.
const std::vector<std::string>& AllFunctionNames();

// Compiles an RE2 pattern; nullptr when it is invalid (`error` receives why).
std::shared_ptr<const re2::RE2> CompileRegex(std::string_view pattern,
                                             std::string* error = nullptr);

}  // namespace baton::expr
