#pragma once

// The ${{ }} expression language: a strictly typed, side-effect-free, CEL-flavoured subset
// (see docs/dsl.md#expressions). Expressions are parsed once at load time into an immutable
// tree, checked statically by `baton validate`, and evaluated many times without re-parsing.
//
// This module depends only on base: it knows nothing about workflows. Callers describe the
// names an expression may use (Scope) and supply their values (Env).

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.hpp"
#include "base/status.hpp"

namespace baton::expr {

struct Node;  // private to expr/

// Where in the expression source (0-based byte offset) a problem lies.
struct ExprError {
  size_t offset = 0;
  std::string message;
};

// A static access path from a root identifier, e.g. `steps.plan.output.questions` gives
// {"steps", "plan", "output", "questions"}. Paths stop at the first dynamic index or call.
struct Reference {
  std::vector<std::string> path;
  size_t offset = 0;  // of the root identifier in the source
};

// The names an expression may mention, for the static check. Roots not listed are errors
// ("unknown name 'stpes' (did you mean 'steps'?)").
struct Scope {
  std::vector<std::string> roots;  // e.g. inputs, steps, memory, run, workflow, env, item, index
};

// Values for evaluation. Lookup returns the value bound to a root identifier, or nullptr when
// the name is unbound (an evaluation error). The returned pointer must stay valid for the
// duration of Evaluate.
class Env {
 public:
  virtual ~Env() = default;
  virtual const json::value* Lookup(std::string_view name) const = 0;
};

// An Env over a JSON object's top-level keys.
class ObjectEnv final : public Env {
 public:
  explicit ObjectEnv(const json::object& obj) : obj_(obj) {}
  explicit ObjectEnv(json::object&&) = delete;  // would dangle: the Env keeps a reference
  const json::value* Lookup(std::string_view name) const override;

 private:
  const json::object& obj_;
};

// A compiled expression. Cheap to copy (shares the immutable tree); safe to evaluate from
// many threads at once.
class Expression {
 public:
  Expression() = default;

  // Parses `source` (the text between ${{ and }}, without the delimiters).
  static Result<Expression> Parse(std::string_view source, ExprError* error = nullptr);

  // Evaluates against `env`. Failures have type "expression" and say what went wrong
  // (no such key, type mismatch, division by zero, cost bound exceeded...).
  Result<json::value> Evaluate(const Env& env) const;

  // Static check: unknown roots and functions, wrong arity, and type errors knowable without
  // values (e.g. `"a" - 1`). Returns every problem found.
  std::vector<ExprError> Check(const Scope& scope) const;

  // Static access paths from root identifiers, in source order.
  std::vector<Reference> References() const;

  const std::string& source() const;
  bool valid() const { return root_ != nullptr; }

 private:
  std::shared_ptr<const Node> root_;
  std::shared_ptr<const std::string> source_;
};

// One compiled string scalar: either exactly one expression (yields a typed value) or text with
// interpolations (yields a string), or plain text.
class StringTemplate {
 public:
  StringTemplate() = default;
  // Parses "${{ ... }}" occurrences in `text`. Offsets in `error` are into `text`.
  static Result<StringTemplate> Parse(std::string_view text, ExprError* error = nullptr);

  Result<json::value> Render(const Env& env) const;
  bool IsConstant() const;          // no expressions at all
  bool IsSingleExpression() const;  // the whole scalar is one ${{ }}
  // Every expression with its offset (of the expression source) within the text.
  struct Part {
    std::string literal;  // used when !is_expr
    Expression expr;      // used when is_expr
    size_t offset = 0;
    bool is_expr = false;
  };
  const std::vector<Part>& parts() const { return parts_; }

 private:
  std::vector<Part> parts_;
  bool single_ = false;
};

// A JSON value whose string leaves may contain ${{ }}. Rendering produces a new JSON value with
// each string leaf replaced by its rendered value. Constant trees render by copy.
class Template {
 public:
  Template() = default;
  // Compiles every string leaf of `value`. On failure `error_pointer` (if given) receives the
  // JSON Pointer of the offending leaf (e.g. "/with/argv/2"), and `error` the offset within it.
  static Result<Template> Compile(const json::value& value, ExprError* error = nullptr,
                                  std::string* error_pointer = nullptr);

  Result<json::value> Render(const Env& env) const;
  bool IsConstant() const { return expressions_.empty(); }
  const json::value& raw() const { return raw_; }

  // Visits every compiled expression with the JSON Pointer of its leaf and its offset within
  // the leaf's text.
  void ForEachExpression(const std::function<void(const Expression&, const std::string& pointer,
                                                  size_t offset)>& fn) const;

 private:
  json::value raw_;
  json::value base_;  // raw_ with constant leaves unescaped ("$${{" -> "${{"); Render copies it
  struct Leaf {
    std::string pointer;
    std::vector<std::string> path;  // pointer tokens, unescaped
    StringTemplate tmpl;
  };
  std::vector<Leaf> expressions_;  // only leaves that contain expressions
};

// The names of the built-in functions and macros (for did-you-mean suggestions and docs).
const std::vector<std::string>& FunctionNames();

}  // namespace baton::expr
