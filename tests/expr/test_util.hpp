#pragma once

#include <string>
#include <string_view>

#include "base/json.hpp"
#include "expr/expr.hpp"
#include "expr/value.hpp"

namespace baton::expr::testing {

// The environment most tests evaluate against.
inline json::object TestEnv() {
  return ParseJson(R"({
    "inputs": {"name": "ada", "count": 3, "ratio": 0.5, "tags": ["a", "b", "c"],
               "empty": "", "nothing": null, "flag": true},
    "steps": {"plan": {"status": "ok",
                       "output": {"questions": ["q1", "q2"], "score": 7, "nested": {"x": 1}}}},
    "nums": [3, 1, 2],
    "doubles": [1.5, 2.5],
    "words": ["hello", "world"],
    "m": {"a": 1, "b": 2}
  })")
      ->as_object();
}

// Parses and evaluates `source` against TestEnv().
inline Result<json::value> EvalSource(std::string_view source) {
  static const json::object env_obj = TestEnv();
  ObjectEnv env(env_obj);
  BATON_ASSIGN_OR_RETURN(Expression e, Expression::Parse(source));
  return e.Evaluate(env);
}

// Evaluates and returns the compact JSON of the result (numbers printed as JavaScript does), or
// "error: <message>".
inline std::string RunJson(std::string_view source) {
  Result<json::value> r = EvalSource(source);
  if (!r.ok()) return "error: " + r.error().message();
  return ToCompactJson(*r);
}

}  // namespace baton::expr::testing
