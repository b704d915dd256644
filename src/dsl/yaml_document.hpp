#pragma once

// YAML (or JSON, which is YAML flow syntax) text -> one JSON value plus a side table of source
// positions by JSON Pointer. Plain scalars are typed with the YAML 1.2 core schema (so `yes`
// and `on` stay strings); quoted and block scalars are always strings; duplicate keys are
// errors. Used only by the loader; not thread-affine.

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/json.hpp"
#include "dsl/diagnostic.hpp"

namespace baton::dsl {

// A 1-based source position; line 0 means unknown.
struct Position {
  int line = 0;
  int col = 0;
};

// How a scalar was written, for placing diagnostics inside it.
enum class ScalarStyle { kNone, kPlain, kSingleQuoted, kDoubleQuoted, kLiteral, kFolded };

struct NodeInfo {
  Position key;    // of the mapping key naming this node (line 0 for the root and list items)
  Position value;  // of the value itself (the key's position for an empty value)
  ScalarStyle style = ScalarStyle::kNone;
  size_t offset = 0;  // byte offset of the value in the text (for scalars)
};

class YamlDocument {
 public:
  // Parses `text`. Problems (syntax errors, duplicate keys, non-string keys, excessive nesting
  // or alias expansion) are appended to `diagnostics` tagged with `file`; on a syntax error
  // root() is null.
  static YamlDocument Parse(std::string_view text, const std::string& file,
                            std::vector<Diagnostic>& diagnostics);

  const json::value& root() const { return root_; }

  // Info for the node at `pointer` (RFC 6901), or for its nearest recorded ancestor.
  const NodeInfo& Info(const std::string& pointer) const;

  // Position of byte `offset` inside the scalar at `pointer` (exact for single-line plain and
  // quoted scalars and for literal blocks; the scalar's start otherwise).
  Position Locate(const std::string& pointer, size_t offset) const;

 private:
  std::string text_;
  json::value root_;
  std::unordered_map<std::string, NodeInfo> info_;
  friend class YamlConverter;
};

// Appends "/key" to `pointer`, escaping per RFC 6901.
std::string ChildPointer(const std::string& pointer, std::string_view key);
std::string ChildPointer(const std::string& pointer, size_t index);

}  // namespace baton::dsl
