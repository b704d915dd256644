#include "expr/functions.hpp"

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <charconv>
#include <cmath>

namespace baton::expr {

namespace {

using Args = std::span<Value>;

Value Str(std::string_view s) { return Value(json::value(json::string(s))); }

Status WantType(const Node& call, size_t arg, std::string_view want, const json::value& got) {
  return EvalError(
      fmt::format("{}() argument {} must be {}, got {}", call.name, arg + 1, want, TypeName(got)));
}

#define BATON_WANT(cond, i, want)                                     \
  do {                                                                \
    if (!(cond)) return WantType(call, (i), (want), args[(i)].get()); \
  } while (0)

std::string_view SV(const json::value& v) { return v.get_string(); }

Result<Value> Size(Args args, const Node& call, EvalState&) {
  const json::value& v = args[0].get();
  if (v.is_string()) return Value(json::value(static_cast<int64_t>(CodePoints(SV(v)))));
  if (v.is_array()) return Value(json::value(static_cast<int64_t>(v.get_array().size())));
  if (v.is_object()) return Value(json::value(static_cast<int64_t>(v.get_object().size())));
  return WantType(call, 0, "a string, list or map", v);
}

Result<Value> StringPredicate(Args args, const Node& call) {
  BATON_WANT(args[0]->is_string(), 0, "a string");
  BATON_WANT(args[1]->is_string(), 1, "a string");
  std::string_view s = SV(args[0].get()), x = SV(args[1].get());
  bool r = call.name == "contains"     ? s.find(x) != std::string_view::npos
           : call.name == "startsWith" ? s.starts_with(x)
                                       : s.ends_with(x);
  return Value::Bool(r);
}
Result<Value> Contains(Args a, const Node& c, EvalState&) { return StringPredicate(a, c); }

Result<Value> Matches(Args args, const Node& call, EvalState& st) {
  BATON_WANT(args[0]->is_string(), 0, "a string");
  BATON_WANT(args[1]->is_string(), 1, "a string (an RE2 pattern)");
  std::shared_ptr<const re2::RE2> re = call.regex;
  if (!re) {
    std::string error;
    re = CompileRegex(SV(args[1].get()), &error);
    if (!re) return EvalError(fmt::format("invalid regular expression: {}", error));
  }
  std::string_view s = SV(args[0].get());
  if (!st.Spend(static_cast<int64_t>(s.size() / 64))) return BudgetExceeded();
  return Value::Bool(re2::RE2::PartialMatch(re2::StringPiece(s.data(), s.size()), *re));
}

Result<Value> ChangeCase(Args args, const Node& call, EvalState&) {
  BATON_WANT(args[0]->is_string(), 0, "a string");
  std::string s(SV(args[0].get()));
  bool upper = call.name == "upper";
  for (char& c : s) {
    if (upper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (!upper && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return Str(s);
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

Result<Value> Trim(Args args, const Node& call, EvalState&) {
  BATON_WANT(args[0]->is_string(), 0, "a string");
  std::string_view s = SV(args[0].get());
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return Str(s);
}

Result<Value> Split(Args args, const Node& call, EvalState& st) {
  BATON_WANT(args[0]->is_string(), 0, "a string");
  BATON_WANT(args[1]->is_string(), 1, "a string");
  std::string_view s = SV(args[0].get()), sep = SV(args[1].get());
  if (!st.Spend(static_cast<int64_t>(s.size() / 16))) return BudgetExceeded();
  json::array out;
  if (sep.empty()) {
    // One element per code point.
    size_t i = 0;
    while (i < s.size()) {
      size_t j = i + 1;
      while (j < s.size() && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80) ++j;
      out.emplace_back(json::string(s.substr(i, j - i)));
      i = j;
    }
  } else {
    size_t start = 0;
    while (true) {
      size_t at = s.find(sep, start);
      out.emplace_back(json::string(s.substr(start, at - start)));
      if (at == std::string_view::npos) break;
      start = at + sep.size();
    }
  }
  if (out.size() > kMaxListSize) return BudgetExceeded();
  return Value(json::value(std::move(out)));
}

Result<Value> Join(Args args, const Node& call, EvalState& st) {
  BATON_WANT(args[0]->is_array(), 0, "a list of strings");
  std::string_view sep;
  if (args.size() > 1) {
    BATON_WANT(args[1]->is_string(), 1, "a string");
    sep = SV(args[1].get());
  }
  std::string out;
  bool first = true;
  for (const auto& e : args[0]->get_array()) {
    if (!e.is_string()) {
      return EvalError(fmt::format("join() needs a list of strings, found {}", TypeName(e)));
    }
    if (!first) out += sep;
    first = false;
    out += SV(e);
    if (out.size() > kMaxStringBytes) return BudgetExceeded();
  }
  if (!st.Spend(static_cast<int64_t>(out.size() / 64))) return BudgetExceeded();
  return Str(out);
}

Result<Value> Format(Args args, const Node& call, EvalState& st) {
  BATON_WANT(args[0]->is_string(), 0, "a string");
  std::string_view f = SV(args[0].get());
  std::string out;
  size_t next = 1;
  for (size_t i = 0; i < f.size(); ++i) {
    char c = f[i];
    if (c == '{' && i + 1 < f.size() && f[i + 1] == '{') {
      out.push_back('{');
      ++i;
    } else if (c == '}' && i + 1 < f.size() && f[i + 1] == '}') {
      out.push_back('}');
      ++i;
    } else if (c == '{' && i + 1 < f.size() && f[i + 1] == '}') {
      if (next >= args.size()) {
        return EvalError(fmt::format("format() has more {{}} placeholders than arguments ({})",
                                     args.size() - 1));
      }
      AppendInterpolated(args[next++].get(), &out);
      ++i;
    } else if (c == '{' || c == '}') {
      return EvalError(fmt::format(
          "format() found a lone '{}' at {}; write '{{{{' or '}}}}' for a literal brace", c, i));
    } else {
      out.push_back(c);
    }
    if (out.size() > kMaxStringBytes) return BudgetExceeded();
  }
  if (next != args.size()) {
    return EvalError(fmt::format("format() got {} arguments but has {} placeholders",
                                 args.size() - 1, next - 1));
  }
  if (!st.Spend(static_cast<int64_t>(out.size() / 64))) return BudgetExceeded();
  return Str(out);
}

Result<Value> Json(Args args, const Node&, EvalState& st) {
  std::string out = ToCompactJson(args[0].get());
  if (out.size() > kMaxStringBytes) return BudgetExceeded();
  if (!st.Spend(static_cast<int64_t>(out.size() / 64))) return BudgetExceeded();
  return Str(out);
}

Result<Value> FromJson(Args args, const Node& call, EvalState& st) {
  BATON_WANT(args[0]->is_string(), 0, "a string");
  std::string_view s = SV(args[0].get());
  if (!st.Spend(static_cast<int64_t>(s.size() / 64))) return BudgetExceeded();
  Result<json::value> v = ParseJson(s);
  if (!v.ok()) return EvalError(fmt::format("fromJson(): {}", v.error().message()));
  return Value(std::move(v).value());
}

Result<Value> KeysValues(Args args, const Node& call, EvalState& st) {
  BATON_WANT(args[0]->is_object(), 0, "a map");
  const auto& obj = args[0]->get_object();
  if (!st.Spend(static_cast<int64_t>(obj.size()))) return BudgetExceeded();
  json::array out;
  out.reserve(obj.size());
  bool keys = call.name == "keys";
  for (const auto& kv : obj) {
    if (keys) {
      out.emplace_back(json::string(kv.key()));
    } else {
      out.push_back(kv.value());
    }
  }
  return Value(json::value(std::move(out)));
}

Result<Value> MinMax(Args args, const Node& call, EvalState& st) {
  bool want_max = call.name == "max";
  const json::value* best = nullptr;
  auto consider = [&](const json::value& v) -> Status {
    if (best == nullptr) {
      Order o;
      if (!Compare(v, v, &o)) {
        return EvalError(
            fmt::format("{}() needs numbers or strings, got {}", call.name, TypeName(v)));
      }
      best = &v;
      return Status::Ok();
    }
    Order o;
    if (!Compare(v, *best, &o)) {
      return EvalError(
          fmt::format("{}() cannot compare {} and {}", call.name, TypeName(v), TypeName(*best)));
    }
    if ((want_max && o == Order::kGreater) || (!want_max && o == Order::kLess)) best = &v;
    return Status::Ok();
  };
  if (args.size() == 1) {
    BATON_WANT(args[0]->is_array(), 0, "a list (or give two or more arguments)");
    const auto& arr = args[0]->get_array();
    if (!st.Spend(static_cast<int64_t>(arr.size()))) return BudgetExceeded();
    for (const auto& e : arr) BATON_RETURN_IF_ERROR(consider(e));
  } else {
    for (const auto& a : args) BATON_RETURN_IF_ERROR(consider(a.get()));
  }
  if (best == nullptr) return EvalError(fmt::format("{}() of an empty list", call.name));
  return Value(*best);
}

Result<Value> Sum(Args args, const Node& call, EvalState& st) {
  BATON_WANT(args[0]->is_array(), 0, "a list of numbers");
  const auto& arr = args[0]->get_array();
  if (!st.Spend(static_cast<int64_t>(arr.size()))) return BudgetExceeded();
  int64_t isum = 0;
  double dsum = 0;
  bool any_int = false, any_double = false;
  for (const auto& e : arr) {
    if (e.is_int64()) {
      any_int = true;
      if (__builtin_add_overflow(isum, e.get_int64(), &isum)) {
        return EvalError("integer overflow in sum()");
      }
    } else if (e.is_double()) {
      any_double = true;
      dsum += e.get_double();
    } else {
      return EvalError(fmt::format("sum() needs a list of numbers, found {}", TypeName(e)));
    }
  }
  if (any_int && any_double) return EvalError("sum() cannot mix int and double");
  if (any_double) return Value(json::value(dsum));
  return Value(json::value(isum));
}

Result<Value> Int(Args args, const Node& call, EvalState&) {
  const json::value& v = args[0].get();
  if (v.is_int64()) return Value(v);
  if (v.is_double()) {
    double d = std::trunc(v.get_double());
    // The range of doubles that fit int64 exactly: [-2^63, 2^63).
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) {
      return EvalError(fmt::format("int() of {} is out of range", FormatDouble(v.get_double())));
    }
    return Value(json::value(static_cast<int64_t>(d)));
  }
  if (v.is_string()) {
    std::string_view s = SV(v);
    int64_t out = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) {
      return EvalError(fmt::format("int() cannot convert '{}'", s));
    }
    return Value(json::value(out));
  }
  return WantType(call, 0, "an int, double or string", v);
}

Result<Value> Float(Args args, const Node& call, EvalState&) {
  const json::value& v = args[0].get();
  if (v.is_double()) return Value(v);
  if (v.is_int64()) return Value(json::value(static_cast<double>(v.get_int64())));
  if (v.is_string()) {
    std::string_view s = SV(v);
    double out = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) {
      return EvalError(fmt::format("{}() cannot convert '{}'", call.name, s));
    }
    return Value(json::value(out));
  }
  return WantType(call, 0, "an int, double or string", v);
}

Result<Value> String(Args args, const Node& call, EvalState&) {
  const json::value& v = args[0].get();
  if (v.is_string()) return Value(v);
  if (v.is_int64()) return Str(std::to_string(v.get_int64()));
  if (v.is_double()) return Str(FormatDouble(v.get_double()));
  if (v.is_bool()) return Str(v.get_bool() ? "true" : "false");
  return WantType(call, 0, "an int, double, bool or string (use json() for others)", v);
}

// Sorted by name for binary search.
constexpr Function kFunctions[] = {
    {"contains", 2, 2, Contains}, {"default", 2, 2, nullptr},   {"double", 1, 1, Float},
    {"endsWith", 2, 2, Contains}, {"float", 1, 1, Float},       {"format", 1, -1, Format},
    {"fromJson", 1, 1, FromJson}, {"int", 1, 1, Int},           {"join", 1, 2, Join},
    {"json", 1, 1, Json},         {"keys", 1, 1, KeysValues},   {"lower", 1, 1, ChangeCase},
    {"matches", 2, 2, Matches},   {"max", 1, -1, MinMax},       {"min", 1, -1, MinMax},
    {"size", 1, 1, Size},         {"split", 2, 2, Split},       {"startsWith", 2, 2, Contains},
    {"string", 1, 1, String},     {"sum", 1, 1, Sum},           {"trim", 1, 1, Trim},
    {"upper", 1, 1, ChangeCase},  {"values", 1, 1, KeysValues},
};

}  // namespace

const Function* FindFunction(std::string_view name) {
  auto it = std::lower_bound(std::begin(kFunctions), std::end(kFunctions), name,
                             [](const Function& f, std::string_view n) { return f.name < n; });
  if (it == std::end(kFunctions) || it->name != name) return nullptr;
  return &*it;
}

const std::vector<std::string>& AllFunctionNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& f : kFunctions) out.emplace_back(f.name);
    for (const char* m : {"all", "exists", "filter", "has", "map"}) out.emplace_back(m);
    std::sort(out.begin(), out.end());
    return out;
  }();
  return names;
}

std::shared_ptr<const re2::RE2> CompileRegex(std::string_view pattern, std::string* error) {
  re2::RE2::Options opts;
  opts.set_log_errors(false);
  opts.set_max_mem(8 << 20);
  auto re = std::make_shared<re2::RE2>(re2::StringPiece(pattern.data(), pattern.size()), opts);
  if (!re->ok()) {
    if (error) *error = re->error();
    return nullptr;
  }
  return re;
}

}  // namespace baton::expr
