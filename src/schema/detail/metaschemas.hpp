#pragma once

// The JSON Schema draft 2020-12 meta-schema and its vocabulary meta-schemas, built in so that
// "$ref": "https://json-schema.org/draft/2020-12/schema" works without any network.

#include <string_view>

#include "base/json.hpp"

namespace baton::schema::detail {

// The built-in document with this absolute URI (no fragment), or nullptr. The returned value
// lives for the whole program; safe from any thread.
const json::value* FindMetaSchema(std::string_view uri);

}  // namespace baton::schema::detail
