#pragma once

// Turns a schema document (plus optional registry documents and the built-in meta-schemas) into
// a CompiledSchema: every subschema becomes a Node, "$ref"/"$dynamicRef" targets are resolved
// against base URIs, and keyword values are checked. Single-threaded; the result is immutable.

#include <memory>

#include "base/json.hpp"
#include "base/status.hpp"
#include "schema/detail/node.hpp"

namespace baton::schema {
class Registry;
}  // namespace baton::schema

namespace baton::schema::detail {

// Schemas nested deeper than this fail to compile.
inline constexpr int kMaxSchemaDepth = 256;

// Compiles `schema`. `registry` may be null. Fails with kInvalidArgument, naming the location.
Result<std::shared_ptr<const CompiledSchema>> CompileSchema(const json::value& schema,
                                                            const Registry* registry);

}  // namespace baton::schema::detail
