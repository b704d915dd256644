#pragma once

// The compiled form of a schema: a graph of Nodes (one per subschema), owned by CompiledSchema.
// Built by the compiler, read-only afterwards (safe to share between threads).

#include <re2/re2.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/json.hpp"

namespace baton::schema::detail {

struct Node;
struct Resource;

// Type bits for "type".
enum TypeBit : uint8_t {
  kTypeNull = 1,
  kTypeBoolean = 2,
  kTypeInteger = 4,
  kTypeNumber = 8,
  kTypeString = 16,
  kTypeArray = 32,
  kTypeObject = 64,
};

// An edge to a subschema. `path` is the keyword path segment(s) from the parent, already
// escaped as JSON Pointer, e.g. "/properties/age" or "/allOf/0".
struct Child {
  const Node* node = nullptr;
  std::string path;
  explicit operator bool() const { return node != nullptr; }
};

struct PatternChild {
  std::unique_ptr<RE2> regex;
  std::string source;
  Child child;
};

struct DependentRequired {
  std::string property;
  std::vector<std::string> required;
};

// A "$dynamicRef": the statically resolved target and, when that target was named by a
// "$dynamicAnchor", the anchor name to look up in the dynamic scope.
struct DynamicRef {
  Child target;
  std::string anchor;  // empty: behaves like "$ref"
};

// Which vocabularies apply to a schema resource (from its meta-schema's "$vocabulary").
struct Vocabularies {
  bool applicator = true;
  bool unevaluated = true;
  bool validation = true;
};

struct Node {
  const Resource* resource = nullptr;
  std::optional<bool> boolean;  // set for boolean schemas; nothing else is then set
  bool has_unevaluated = false;

  Child ref;
  std::optional<DynamicRef> dynamic_ref;

  // Validation vocabulary. Number-valued keywords point into the owned schema documents.
  uint8_t types = 0;  // 0: no "type"
  const json::value* const_value = nullptr;
  const json::array* enum_values = nullptr;
  const json::value* multiple_of = nullptr;
  const json::value* maximum = nullptr;
  const json::value* exclusive_maximum = nullptr;
  const json::value* minimum = nullptr;
  const json::value* exclusive_minimum = nullptr;
  std::optional<uint64_t> max_length, min_length;
  std::unique_ptr<RE2> pattern;
  std::string pattern_source;
  std::optional<uint64_t> max_items, min_items, max_contains, min_contains;
  bool unique_items = false;
  std::optional<uint64_t> max_properties, min_properties;
  std::vector<std::string> required;
  std::vector<DependentRequired> dependent_required;

  // Applicator vocabulary.
  std::vector<Child> all_of, any_of, one_of;
  Child not_schema, if_schema, then_schema, else_schema;
  std::vector<std::pair<std::string, Child>> dependent_schemas;
  std::vector<Child> prefix_items;
  Child items, contains;
  std::map<std::string, Child, std::less<>> properties;
  std::vector<PatternChild> pattern_properties;
  Child additional_properties, property_names;

  // Unevaluated vocabulary.
  Child unevaluated_items, unevaluated_properties;
};

// A schema resource: a document root or a subschema with "$id".
struct Resource {
  std::string uri;  // absolute URI without fragment ("" for a root without "$id")
  const json::value* json = nullptr;
  const Node* root = nullptr;
  Vocabularies vocabularies;
  std::map<std::string, const Node*, std::less<>> dynamic_anchors;
};

// Everything a compiled Schema owns.
struct CompiledSchema {
  std::vector<std::unique_ptr<json::value>> documents;
  std::vector<std::unique_ptr<Node>> nodes;
  std::vector<std::unique_ptr<Resource>> resources;
  const Node* root = nullptr;
};

}  // namespace baton::schema::detail
