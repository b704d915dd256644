#include "schema/detail/json_util.hpp"

#include <fmt/format.h>

#include <cmath>

namespace baton::schema::detail {

namespace {

// long double has a 64-bit mantissa on the platforms baton targets, so every int64, uint64 and
// double converts exactly.
long double AsLongDouble(const json::value& v) {
  switch (v.kind()) {
    case json::kind::int64:
      return static_cast<long double>(v.get_int64());
    case json::kind::uint64:
      return static_cast<long double>(v.get_uint64());
    case json::kind::double_:
      return static_cast<long double>(v.get_double());
    default:
      return 0;
  }
}

}  // namespace

bool IsNumber(const json::value& v) { return v.is_int64() || v.is_uint64() || v.is_double(); }

bool IsInteger(const json::value& v) {
  if (v.is_int64() || v.is_uint64()) return true;
  if (!v.is_double()) return false;
  double d = v.get_double();
  return std::isfinite(d) && std::trunc(d) == d;
}

int CompareNumbers(const json::value& a, const json::value& b) {
  long double x = AsLongDouble(a);
  long double y = AsLongDouble(b);
  return x < y ? -1 : (x > y ? 1 : 0);
}

bool IsMultipleOf(const json::value& value, const json::value& divisor) {
  if (!value.is_double() && !divisor.is_double()) {
    // Both integral: exact arithmetic on magnitudes (|INT64_MIN| fits in uint64).
    auto magnitude = [](const json::value& v) -> uint64_t {
      if (v.is_uint64()) return v.get_uint64();
      int64_t i = v.get_int64();
      return i < 0 ? static_cast<uint64_t>(-(i + 1)) + 1 : static_cast<uint64_t>(i);
    };
    uint64_t d = magnitude(divisor);
    return d != 0 && magnitude(value) % d == 0;
  }
  // In double precision: an exact remainder of 0 proves it; otherwise the quotient decides (one
  // too large to hold a fraction counts as integral, one that overflows does not).
  double x = value.to_number<double>();
  double d = divisor.to_number<double>();
  if (d <= 0) return false;
  if (std::fmod(x, d) == 0) return true;
  double q = x / d;
  if (!std::isfinite(q)) return false;
  // Decimal divisors such as 0.01 are inexact in binary: allow a tiny absolute slack.
  return std::fabs(q - std::nearbyint(q)) < 1e-9;
}

bool JsonEqual(const json::value& a, const json::value& b) {
  if (IsNumber(a) && IsNumber(b)) return CompareNumbers(a, b) == 0;
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
        if (!JsonEqual(x[i], y[i])) return false;
      }
      return true;
    }
    case json::kind::object: {
      const auto& x = a.get_object();
      const auto& y = b.get_object();
      if (x.size() != y.size()) return false;
      for (const auto& kv : x) {
        auto it = y.find(kv.key());
        if (it == y.end() || !JsonEqual(kv.value(), it->value())) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

size_t CodePointCount(std::string_view utf8) {
  size_t n = 0;
  for (char c : utf8) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

std::string NumberText(const json::value& v) {
  if (v.is_int64()) return std::to_string(v.get_int64());
  if (v.is_uint64()) return std::to_string(v.get_uint64());
  if (v.is_double()) return fmt::format("{}", v.get_double());
  return ShortJson(v);
}

std::string ShortJson(const json::value& v) {
  std::string s = ToJson(v);
  if (s.size() > 64) {
    size_t cut = 61;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
    s.resize(cut);
    s += "...";
  }
  return s;
}

}  // namespace baton::schema::detail
