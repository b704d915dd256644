#include "expr/expr.hpp"

#include <fmt/format.h>

#include "expr/checker.hpp"
#include "expr/evaluator.hpp"
#include "expr/functions.hpp"
#include "expr/parser.hpp"

namespace baton::expr {

const json::value* ObjectEnv::Lookup(std::string_view name) const {
  auto it = obj_.find(name);
  return it == obj_.end() ? nullptr : &it->value();
}

Result<Expression> Expression::Parse(std::string_view source, ExprError* error) {
  ExprError local;
  std::unique_ptr<Node> root = ParseTree(source, &local);
  if (!root) {
    if (error) *error = local;
    return Status(Code::kInvalidArgument,
                  fmt::format("invalid expression at offset {}: {}", local.offset, local.message),
                  "expression");
  }
  Expression e;
  e.root_ = std::shared_ptr<const Node>(std::move(root));
  e.source_ = std::make_shared<const std::string>(source);
  return e;
}

Result<json::value> Expression::Evaluate(const Env& env) const {
  if (!root_) return Status(Code::kFailedPrecondition, "empty expression", "expression");
  EvalState st(env);
  BATON_ASSIGN_OR_RETURN(Value v, Eval(*root_, st));
  return std::move(v).Take();
}

std::vector<ExprError> Expression::Check(const Scope& scope) const {
  if (!root_) return {{0, "empty expression"}};
  return CheckTree(*root_, scope);
}

std::vector<Reference> Expression::References() const {
  if (!root_) return {};
  return CollectReferences(*root_);
}

const std::string& Expression::source() const {
  static const std::string kEmpty;
  return source_ ? *source_ : kEmpty;
}

const std::vector<std::string>& FunctionNames() { return AllFunctionNames(); }

}  // namespace baton::expr
