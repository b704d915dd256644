#pragma once

// JSON is boost::json throughout baton. This header gives the one alias and the few helpers
// every module needs; it is cheap to include (boost/json/value.hpp only).

#include <boost/json/value.hpp>
#include <string>
#include <string_view>

#include "base/status.hpp"

namespace baton {

namespace json = boost::json;

// Parses `text` as one JSON document. Errors say where parsing stopped.
Result<json::value> ParseJson(std::string_view text);

// Compact serialization.
std::string ToJson(const json::value& v);

// Serialization with object keys sorted recursively: equal values give equal strings. Used for
// hashing and for comparing outputs.
std::string CanonicalJson(const json::value& v);

// The JSON type name used in diagnostics: null, boolean, integer, number, string, array, object.
std::string_view JsonTypeName(const json::value& v);

// A JSON Pointer reference token (RFC 6901): "~" becomes "~0" and "/" becomes "~1".
std::string EscapePointerToken(std::string_view token);

// Pretty-prints with two-space indentation (for humans; not canonical).
std::string PrettyJson(const json::value& v);

}  // namespace baton
