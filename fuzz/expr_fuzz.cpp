// Fuzz target for the expression language: parses the input as an expression, runs the static
// check and references, and evaluates it against a small environment; then parses it as a
// template. Any crash, hang or sanitizer report is a bug; errors are expected.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/json.hpp"
#include "expr/expr.hpp"

namespace {

const baton::json::object& FuzzEnv() {
  static const baton::json::object env = baton::ParseJson(R"({
    "inputs": {"name": "ada", "n": 3, "r": 0.5, "tags": ["a", "b"], "none": null, "ok": true},
    "steps": {"plan": {"output": {"items": [1, 2, 3], "text": "hello"}}},
    "item": {"k": "v"}, "index": 2})")
                                             ->as_object();
  return env;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  baton::expr::ObjectEnv env(FuzzEnv());
  baton::expr::ExprError error;
  auto e = baton::expr::Expression::Parse(text, &error);
  if (e.ok()) {
    e->Check(baton::expr::Scope{{"inputs", "steps", "item", "index"}});
    e->References();
    auto v = e->Evaluate(env);
    if (v.ok()) baton::ToJson(*v);
  } else if (error.offset > size) {
    __builtin_trap();  // offsets must point into the input
  }
  auto t = baton::expr::StringTemplate::Parse(text, &error);
  if (t.ok()) t->Render(env);
  return 0;
}
