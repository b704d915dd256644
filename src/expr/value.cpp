#include "expr/value.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstdlib>

namespace baton::expr {

const json::value kNullValue;
const json::value kTrueValue(true);
const json::value kFalseValue(false);

Status EvalError(std::string message) {
  return Status(Code::kInvalidArgument, std::move(message), "expression");
}
Status Missing(std::string message) {
  return Status(Code::kNotFound, std::move(message), "expression");
}
Status BudgetExceeded() {
  return Status(Code::kResourceExhausted,
                "expression exceeded its cost bound (too many steps or too large a value)",
                "expression");
}

std::string_view TypeName(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "bool";
    case json::kind::int64:
      return "int";
    case json::kind::uint64:
      return "uint";
    case json::kind::double_:
      return "double";
    case json::kind::string:
      return "string";
    case json::kind::array:
      return "list";
    case json::kind::object:
      return "map";
  }
  return "unknown";
}

namespace {

bool IsNumber(const json::value& v) { return v.is_int64() || v.is_double() || v.is_uint64(); }

// Compares two numbers of any kind exactly enough for equality and ordering.
Order CompareNumbers(const json::value& a, const json::value& b) {
  if (a.is_int64() && b.is_int64()) {
    int64_t x = a.get_int64(), y = b.get_int64();
    return x < y ? Order::kLess : x > y ? Order::kGreater : Order::kEqual;
  }
  if (!a.is_double() && !b.is_double()) {
    // int64 vs uint64 (uint64 values are always above INT64_MAX here).
    if (a.is_uint64() && b.is_uint64()) {
      uint64_t x = a.get_uint64(), y = b.get_uint64();
      return x < y ? Order::kLess : x > y ? Order::kGreater : Order::kEqual;
    }
    return a.is_uint64() ? Order::kGreater : Order::kLess;
  }
  auto as_double = [](const json::value& v) {
    return v.is_double()  ? v.get_double()
           : v.is_int64() ? static_cast<double>(v.get_int64())
                          : static_cast<double>(v.get_uint64());
  };
  double x = as_double(a), y = as_double(b);
  if (std::isnan(x) || std::isnan(y)) return Order::kUnordered;
  return x < y ? Order::kLess : x > y ? Order::kGreater : Order::kEqual;
}

}  // namespace

bool Equal(const json::value& a, const json::value& b) {
  if (IsNumber(a) && IsNumber(b)) return CompareNumbers(a, b) == Order::kEqual;
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case json::kind::null:
      return true;
    case json::kind::bool_:
      return a.get_bool() == b.get_bool();
    case json::kind::string:
      return a.get_string() == b.get_string();
    case json::kind::array: {
      const auto& x = a.get_array();
      const auto& y = b.get_array();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!Equal(x[i], y[i])) return false;
      }
      return true;
    }
    case json::kind::object: {
      const auto& x = a.get_object();
      const auto& y = b.get_object();
      if (x.size() != y.size()) return false;
      for (const auto& kv : x) {
        auto it = y.find(kv.key());
        if (it == y.end() || !Equal(kv.value(), it->value())) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

bool Compare(const json::value& a, const json::value& b, Order* out) {
  if (IsNumber(a) && IsNumber(b)) {
    *out = CompareNumbers(a, b);
    return true;
  }
  if (a.is_string() && b.is_string()) {
    int c = a.get_string().compare(b.get_string());
    *out = c < 0 ? Order::kLess : c > 0 ? Order::kGreater : Order::kEqual;
    return true;
  }
  if (a.is_bool() && b.is_bool()) {
    int x = a.get_bool(), y = b.get_bool();
    *out = x < y ? Order::kLess : x > y ? Order::kGreater : Order::kEqual;
    return true;
  }
  return false;
}

std::string FormatDouble(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  if (d == 0) return "0";
  // Shortest round-trip digits in scientific form: "-d.ddde+XX".
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));
  std::string out;
  if (sci.front() == '-') {
    out.push_back('-');
    sci.remove_prefix(1);
  }
  size_t e = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e)) {
    if (c != '.') digits.push_back(c);
  }
  int exp = std::atoi(std::string(sci.substr(e + 1)).c_str());
  int k = static_cast<int>(digits.size());
  int n = exp + 1;  // position of the decimal point relative to the digits
  if (k <= n && n <= 21) {
    out += digits;
    out.append(static_cast<size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out += digits.substr(0, static_cast<size_t>(n));
    out.push_back('.');
    out += digits.substr(static_cast<size_t>(n));
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-n), '0');
    out += digits;
  } else {
    out.push_back(digits[0]);
    if (k > 1) {
      out.push_back('.');
      out += digits.substr(1);
    }
    out += fmt::format("e{}{}", n - 1 >= 0 ? "+" : "-", std::abs(n - 1));
  }
  return out;
}

void AppendQuoted(std::string_view s, std::string* out) {
  out->push_back('"');
  for (char c : s) {
    switch (c) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\b':
        *out += "\\b";
        break;
      case '\f':
        *out += "\\f";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\r':
        *out += "\\r";
        break;
      case '\t':
        *out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          *out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

void AppendJson(const json::value& v, std::string* out) {
  switch (v.kind()) {
    case json::kind::null:
      *out += "null";
      return;
    case json::kind::bool_:
      *out += v.get_bool() ? "true" : "false";
      return;
    case json::kind::int64:
      *out += std::to_string(v.get_int64());
      return;
    case json::kind::uint64:
      *out += std::to_string(v.get_uint64());
      return;
    case json::kind::double_:
      *out += std::isfinite(v.get_double()) ? FormatDouble(v.get_double()) : "null";
      return;
    case json::kind::string:
      AppendQuoted(v.get_string(), out);
      return;
    case json::kind::array: {
      out->push_back('[');
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out->push_back(',');
        first = false;
        AppendJson(e, out);
      }
      out->push_back(']');
      return;
    }
    case json::kind::object: {
      out->push_back('{');
      bool first = true;
      for (const auto& kv : v.get_object()) {
        if (!first) out->push_back(',');
        first = false;
        AppendQuoted(kv.key(), out);
        out->push_back(':');
        AppendJson(kv.value(), out);
      }
      out->push_back('}');
      return;
    }
  }
}

std::string ToCompactJson(const json::value& v) {
  std::string out;
  AppendJson(v, &out);
  return out;
}

void AppendInterpolated(const json::value& v, std::string* out) {
  if (v.is_string()) {
    out->append(v.get_string().data(), v.get_string().size());
  } else if (!v.is_null()) {
    AppendJson(v, out);
  }
}

size_t CodePoints(std::string_view s) {
  size_t n = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

}  // namespace baton::expr
