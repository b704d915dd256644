#pragma once

// JSON Schema draft 2020-12 validation: the whole vocabulary (applicators, validation,
// unevaluated*, $ref/$dynamicRef with base-URI resolution inside the document and a registry of
// extra documents). "format" and the content keywords are annotations only. Regular expressions
// ("pattern", "patternProperties") are RE2 (linear time): ECMA-262 constructs RE2 lacks
// (lookaround, backreferences) make Compile fail. Nothing is ever fetched over the network.

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.hpp"
#include "base/status.hpp"

namespace baton::schema {

namespace detail {
struct CompiledSchema;
}  // namespace detail

// One failed assertion.
struct ValidationError {
  std::string instance_pointer;  // JSON Pointer into the instance, "" = root
  std::string keyword_location;  // evaluation path of the keyword, e.g. "/properties/age/minimum"
  std::string message;           // e.g. "must be >= 0, got -3"
};

// Extra schema documents that "$ref" may name by absolute URI, e.g. shared definitions or the
// remotes of the JSON Schema Test Suite. A document is also known by its own "$id".
class Registry {
 public:
  // Adds (or replaces) the document known as `uri` (an absolute URI without fragment).
  void Add(std::string uri, json::value document);
  // The document added as `uri`, or nullptr.
  const json::value* Find(std::string_view uri) const;

 private:
  std::map<std::string, json::value, std::less<>> documents_;
};

// A compiled schema. Compiled once and immutable afterwards: copies share the compiled form, and
// Validate/IsValid may be called from any number of threads at once.
class Schema {
 public:
  // Compiles `schema` (an object or a boolean). Invalid schemas (wrong keyword value types,
  // unresolvable "$ref", a regex RE2 rejects, a required unknown "$vocabulary", nesting deeper
  // than 256) fail with kInvalidArgument. The schema's "$ref"s may name the built-in 2020-12
  // meta-schemas; the overload with `registry` also resolves them to its documents (which are
  // copied as needed; `registry` need not outlive the Schema).
  static Result<Schema> Compile(const json::value& schema);
  static Result<Schema> Compile(const json::value& schema, const Registry& registry);

  // Validates `instance` and returns at most `max_errors` errors (empty = valid; max_errors 0 is
  // treated as 1). Evaluation is bounded: a "$ref" cycle that revisits the same schema at the
  // same instance location, nesting beyond 600 levels, or more than 2,000,000 schema
  // evaluations stops validation with an error, so the instance counts as invalid.
  std::vector<ValidationError> Validate(const json::value& instance, size_t max_errors = 16) const;
  // Same verdict as Validate(...).empty(), faster (stops at the first failure).
  bool IsValid(const json::value& instance) const;

 private:
  explicit Schema(std::shared_ptr<const detail::CompiledSchema> compiled)
      : compiled_(std::move(compiled)) {}
  std::shared_ptr<const detail::CompiledSchema> compiled_;
};

// One line per error: `<instance pointer, "(root)" for "">: <message> [at <keyword location>]`,
// joined with '\n' (no trailing newline).
std::string FormatErrors(const std::vector<ValidationError>& errors);

}  // namespace baton::schema
