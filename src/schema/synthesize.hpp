#pragma once

// Example values from a JSON Schema: used by the sim provider for structured outputs and by dry
// runs. Deterministic: the same (schema, seed, hint) always gives the same value.

#include <cstdint>
#include <string_view>

#include "base/json.hpp"

namespace baton::schema {

// Returns a value that conforms to `schema` (draft 2020-12), built as follows:
//   - boolean schemas: `true` behaves as {}, `false` (nothing conforms) yields null;
//   - const, then enum (a seeded pick), then `type` (the first non-"null" entry of a list;
//     inferred from the keywords present when absent, defaulting to string);
//   - objects get every property in `properties` plus any missing `required` ones (from
//     `additionalProperties` or a string), padded to minProperties and cut to maxProperties;
//   - arrays get `prefixItems`, then `items`: 3 elements clamped to [minItems, maxItems], made
//     distinct where uniqueItems asks for it;
//   - numbers respect minimum/maximum/exclusive bounds and multipleOf; a number named
//     `confidence` without bounds lies in [0.6, 0.99];
//   - strings are short sentences built from `hint` (the topic, e.g. "quantum computing") and
//     the property name ("questions" items read "Question 2 about <hint>?"), fitted to
//     minLength/maxLength; formats date-time, date, time, email, uri, uuid, hostname, ipv4,
//     ipv6 and duration give well-formed values;
//   - booleans named approved, ok, passed, accepted, done (and similar) are seeded; others true;
//   - allOf branches are merged, anyOf/oneOf take the first non-null branch, local $ref
//     ("#", "#/$defs/x", any JSON pointer) is followed; recursion is cut off by filling only
//     required properties and minItems elements below a fixed depth.
// Not honoured: pattern, patternProperties, contains, not, if/then/else, dependent*, remote
// $ref. Never fails; an unsatisfiable schema yields a best-effort value.
json::value Synthesize(const json::value& schema, uint64_t seed, std::string_view hint);

}  // namespace baton::schema
