#pragma once

// The parsed expression tree (private to expr/). Immutable after parsing; shared by every copy
// of an Expression and read concurrently by evaluations.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/json.hpp"

namespace re2 {
class RE2;
}

namespace baton::expr {

struct Function;

enum class NodeKind : uint8_t {
  kLiteral,  // literal
  kIdent,    // name
  kSelect,   // children[0].name; optional for ?.
  kIndex,    // children[0][children[1]]
  kCall,     // fn(children...); receiver style puts the receiver first
  kUnary,    // op children[0]
  kBinary,   // children[0] op children[1]
  kAnd,      // children[0] && children[1]
  kOr,       // children[0] || children[1]
  kTernary,  // children[0] ? children[1] : children[2]
  kList,     // [children...]
  kMap,      // {children[0]: children[1], ...}
  kHas,      // has(children[0].name)
  kMacro,    // children[0].macro(name, children[1] [, children[2]])
};

enum class Op : uint8_t {
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kIn,
  kNot,
  kNeg
};

enum class MacroKind : uint8_t { kAll, kExists, kMap, kFilter };

struct Node {
  NodeKind kind = NodeKind::kLiteral;
  Op op = Op::kAdd;
  MacroKind macro = MacroKind::kAll;
  bool optional = false;  // kSelect written `?.`
  bool method = false;    // kCall written in receiver style
  size_t offset = 0;      // byte offset of the node's operator or first token in the source
  json::value literal;    // kLiteral
  std::string name;       // identifier, field, function or macro variable name
  std::vector<std::unique_ptr<Node>> children;
  const Function* fn = nullptr;           // kCall: nullptr when the name is unknown
  std::shared_ptr<const re2::RE2> regex;  // kCall of matches() with a literal pattern
};

std::string_view OpSymbol(Op op);
std::string_view MacroName(MacroKind m);

}  // namespace baton::expr
