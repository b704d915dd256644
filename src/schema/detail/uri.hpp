#pragma once

// Just enough RFC 3986 for JSON Schema identifiers: reference resolution against a base URI and
// fragment handling. Pure functions; safe from any thread.

#include <string>
#include <string_view>

namespace baton::schema::detail {

// Resolves `ref` against `base` (RFC 3986 §5.2, with dot-segment removal). Either may be
// relative; an empty base leaves `ref` as it is apart from dot segments.
std::string ResolveUri(std::string_view base, std::string_view ref);

// Splits "a#b" into "a" and "b". Without '#', the fragment is empty.
void SplitFragment(std::string_view uri, std::string_view* without, std::string_view* fragment);

// Decodes %XX escapes; malformed escapes are kept literally.
std::string PercentDecode(std::string_view s);

}  // namespace baton::schema::detail
