#pragma once

// Runtime values of the evaluator and the operations on them that every part shares: type
// names, deep equality, ordering, number formatting and compact JSON. A Value either borrows a
// json::value owned elsewhere (the Env, a literal in the tree, an enclosing temporary) or owns
// one; borrowing is what keeps member chains over context values free of copies.

#include <optional>
#include <string>
#include <string_view>

#include "base/json.hpp"
#include "base/status.hpp"

namespace baton::expr {

// Shared constants that Values borrow instead of constructing (comparisons allocate nothing).
extern const json::value kNullValue;
extern const json::value kTrueValue;
extern const json::value kFalseValue;

class Value {
 public:
  Value() : ref_(&kNullValue) {}  // null
  explicit Value(json::value v) : own_(std::move(v)) {}
  // `v` must outlive the Value and every Value borrowed from it.
  static Value Borrow(const json::value& v) {
    Value r;
    r.ref_ = &v;
    return r;
  }
  static Value Bool(bool b) { return Borrow(b ? kTrueValue : kFalseValue); }

  const json::value& get() const { return ref_ ? *ref_ : *own_; }
  const json::value* operator->() const { return &get(); }
  bool borrowed() const { return ref_ != nullptr; }
  // The owned value; only when !borrowed().
  json::value& own() { return *own_; }
  // Releases the value, copying only when borrowed.
  json::value Take() && { return ref_ ? json::value(*ref_) : std::move(*own_); }

 private:
  const json::value* ref_ = nullptr;
  std::optional<json::value> own_;  // engaged only when owned: moving a borrow stays cheap
};

// Limits that keep every evaluation small and quick.
inline constexpr int64_t kDefaultBudget = 100000;   // node visits (plus work units) per evaluation
inline constexpr size_t kMaxStringBytes = 1 << 20;  // largest string an expression may build
inline constexpr size_t kMaxListSize = 100000;      // largest list or map an expression may build

// Failures, all with Status type "expression". Missing() is a missing key, index or name, which
// default() absorbs.
Status EvalError(std::string message);
Status Missing(std::string message);
Status BudgetExceeded();

// CEL-style type names: null, bool, int, uint, double, string, list, map.
std::string_view TypeName(const json::value& v);

// Deep equality. Numbers compare by value across int and double; other values of different
// types are unequal.
bool Equal(const json::value& a, const json::value& b);

enum class Order { kLess, kEqual, kGreater, kUnordered };
// Orders two numbers (int/double mixed), two strings (bytewise) or two bools. Returns false when
// the pair has no ordering; kUnordered is a NaN operand.
bool Compare(const json::value& a, const json::value& b, Order* out);

// Numbers as JavaScript prints them: 2.0 -> "2", 0.1 -> "0.1", 1e21 -> "1e+21".
std::string FormatDouble(double d);

// Compact JSON (numbers as FormatDouble, non-finite numbers as null).
void AppendJson(const json::value& v, std::string* out);
std::string ToCompactJson(const json::value& v);
void AppendQuoted(std::string_view s, std::string* out);

// Text of a value inside an interpolated string: strings raw, null empty, others compact JSON.
void AppendInterpolated(const json::value& v, std::string* out);

// Number of Unicode code points in UTF-8 `s` (continuation bytes are not counted).
size_t CodePoints(std::string_view s);

}  // namespace baton::expr
