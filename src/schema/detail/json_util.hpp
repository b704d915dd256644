#pragma once

// JSON helpers with JSON Schema semantics. Pure functions; safe from any thread.

#include <cstddef>
#include <string>
#include <string_view>

#include "base/json.hpp"

namespace baton::schema::detail {

// True for int64/uint64/double values.
bool IsNumber(const json::value& v);
// True for integers and for doubles with no fractional part (1.0).
bool IsInteger(const json::value& v);
// Compares two numbers exactly (int64, uint64 and double mixed): <0, 0, >0.
int CompareNumbers(const json::value& a, const json::value& b);
// True when `value` is an integer multiple of `divisor` (> 0).
bool IsMultipleOf(const json::value& value, const json::value& divisor);
// Deep equality where numbers compare by value (1 == 1.0) and object key order is ignored.
bool JsonEqual(const json::value& a, const json::value& b);
// Number of Unicode code points in UTF-8 text.
size_t CodePointCount(std::string_view utf8);
// A number as people write it ("10.5", "3", "1e+300"); other values as ShortJson.
std::string NumberText(const json::value& v);
// Short rendering of a value for messages (long values are cut with "...").
std::string ShortJson(const json::value& v);

}  // namespace baton::schema::detail
