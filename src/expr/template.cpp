#include <fmt/format.h>

#include <charconv>

#include "expr/expr.hpp"
#include "expr/value.hpp"

namespace baton::expr {

namespace {

bool IsBlank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

// The offset of the "}}" closing an expression that starts at `begin`, skipping string
// literals and nested braces; npos when there is none.
size_t FindClose(std::string_view text, size_t begin) {
  int depth = 0;
  char quote = 0;
  for (size_t i = begin; i < text.size(); ++i) {
    char c = text[i];
    if (quote) {
      if (c == '\\') {
        ++i;
      } else if (c == quote) {
        quote = 0;
      }
      continue;
    }
    if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '{') {
      ++depth;
    } else if (c == '}') {
      if (depth == 0) {
        if (i + 1 < text.size() && text[i + 1] == '}') return i;
      } else {
        --depth;
      }
    }
  }
  return std::string_view::npos;
}

Status TemplateError(const ExprError& e) {
  return Status(Code::kInvalidArgument,
                fmt::format("invalid template at offset {}: {}", e.offset, e.message),
                "expression");
}

}  // namespace

Result<StringTemplate> StringTemplate::Parse(std::string_view text, ExprError* error) {
  StringTemplate t;
  std::string literal;
  auto fail = [&](size_t offset, std::string msg) -> Status {
    ExprError e{offset, std::move(msg)};
    if (error) *error = e;
    return TemplateError(e);
  };
  size_t pos = 0;
  while (pos < text.size()) {
    std::string_view rest = text.substr(pos);
    if (rest.starts_with("$${{")) {
      literal += "${{";
      pos += 4;
      continue;
    }
    if (!rest.starts_with("${{")) {
      literal.push_back(text[pos++]);
      continue;
    }
    size_t begin = pos + 3;
    size_t close = FindClose(text, begin);
    if (close == std::string_view::npos) return fail(pos, "unterminated '${{' (no closing '}}')");
    std::string_view source = text.substr(begin, close - begin);
    if (IsBlank(source)) return fail(pos, "empty expression in '${{ }}'");
    ExprError inner;
    Result<Expression> e = Expression::Parse(source, &inner);
    if (!e.ok()) return fail(begin + inner.offset, inner.message);
    if (!literal.empty()) {
      t.parts_.push_back({std::move(literal), {}, 0, false});
      literal.clear();
    }
    t.parts_.push_back({{}, std::move(e).value(), begin, true});
    pos = close + 2;
  }
  if (!literal.empty()) t.parts_.push_back({std::move(literal), {}, 0, false});
  size_t exprs = 0;
  bool blank_text = true;
  for (const auto& p : t.parts_) {
    if (p.is_expr) {
      ++exprs;
    } else if (!IsBlank(p.literal)) {
      blank_text = false;
    }
  }
  t.single_ = exprs == 1 && blank_text;
  return t;
}

bool StringTemplate::IsConstant() const {
  for (const auto& p : parts_) {
    if (p.is_expr) return false;
  }
  return true;
}

bool StringTemplate::IsSingleExpression() const { return single_; }

Result<json::value> StringTemplate::Render(const Env& env) const {
  if (single_) {
    for (const auto& p : parts_) {
      if (p.is_expr) return p.expr.Evaluate(env);
    }
  }
  std::string out;
  for (const auto& p : parts_) {
    if (!p.is_expr) {
      out += p.literal;
      continue;
    }
    BATON_ASSIGN_OR_RETURN(json::value v, p.expr.Evaluate(env));
    AppendInterpolated(v, &out);
    if (out.size() > kMaxStringBytes) return BudgetExceeded();
  }
  return json::value(json::string(out));
}

Result<Template> Template::Compile(const json::value& value, ExprError* error,
                                   std::string* error_pointer) {
  Template t;
  t.raw_ = value;
  t.base_ = value;
  std::vector<std::string> path;
  std::string pointer;
  // Walks `v` (a node of base_), compiling string leaves.
  std::function<Status(json::value&)> walk = [&](json::value& v) -> Status {
    if (v.is_string()) {
      std::string_view s = v.get_string();
      if (s.find("${{") == std::string_view::npos) return Status::Ok();
      Result<StringTemplate> st = StringTemplate::Parse(s, error);
      if (!st.ok()) {
        if (error_pointer) *error_pointer = pointer;
        return st.error().WithContext(pointer.empty() ? "/" : pointer);
      }
      if (st->IsConstant()) {
        // Only escapes: store the unescaped text.
        std::string text;
        for (const auto& p : st->parts()) text += p.literal;
        v = json::string(text);
      } else {
        t.expressions_.push_back({pointer, path, std::move(st).value()});
      }
      return Status::Ok();
    }
    if (v.is_array()) {
      auto& arr = v.get_array();
      for (size_t i = 0; i < arr.size(); ++i) {
        size_t mark = pointer.size();
        pointer += "/" + std::to_string(i);
        path.push_back(std::to_string(i));
        Status s = walk(arr[i]);
        path.pop_back();
        pointer.resize(mark);
        if (!s.ok()) return s;
      }
    } else if (v.is_object()) {
      for (auto& kv : v.get_object()) {
        size_t mark = pointer.size();
        pointer += "/" + EscapePointerToken(kv.key());
        path.emplace_back(kv.key());
        Status s = walk(kv.value());
        path.pop_back();
        pointer.resize(mark);
        if (!s.ok()) return s;
      }
    }
    return Status::Ok();
  };
  BATON_RETURN_IF_ERROR(walk(t.base_));
  return t;
}

Result<json::value> Template::Render(const Env& env) const {
  json::value out = base_;
  for (const auto& leaf : expressions_) {
    json::value* at = &out;
    for (const auto& step : leaf.path) {
      if (at->is_array()) {
        size_t i = 0;
        std::from_chars(step.data(), step.data() + step.size(), i);
        at = &at->get_array()[i];
      } else {
        at = &at->get_object()[step];
      }
    }
    Result<json::value> v = leaf.tmpl.Render(env);
    if (!v.ok()) return v.error().WithContext(leaf.pointer);
    *at = std::move(v).value();
  }
  return out;
}

void Template::ForEachExpression(
    const std::function<void(const Expression&, const std::string& pointer, size_t offset)>& fn)
    const {
  for (const auto& leaf : expressions_) {
    for (const auto& p : leaf.tmpl.parts()) {
      if (p.is_expr) fn(p.expr, leaf.pointer, p.offset);
    }
  }
}

}  // namespace baton::expr
