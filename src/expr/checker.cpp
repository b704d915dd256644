#include "expr/checker.hpp"

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <memory>

#include "base/text.hpp"
#include "expr/functions.hpp"
#include "expr/value.hpp"

namespace baton::expr {

namespace {

// A static type. kDyn is "unknown until evaluation"; lists and maps carry their element type.
struct Type {
  enum Kind { kDyn, kNull, kBool, kInt, kDouble, kString, kList, kMap } kind = kDyn;
  std::shared_ptr<const Type> elem;

  static Type Of(Kind k) { return Type{k, nullptr}; }
  static Type Container(Kind k, Type e) {
    return Type{k, e.kind == kDyn ? nullptr : std::make_shared<const Type>(std::move(e))};
  }
  bool known() const { return kind != kDyn; }
  Type Elem() const { return elem ? *elem : Type{}; }
  bool numeric() const { return kind == kInt || kind == kDouble; }
};

std::string Name(const Type& t) {
  switch (t.kind) {
    case Type::kDyn:
      return "dyn";
    case Type::kNull:
      return "null";
    case Type::kBool:
      return "bool";
    case Type::kInt:
      return "int";
    case Type::kDouble:
      return "double";
    case Type::kString:
      return "string";
    case Type::kList:
      return t.elem ? "list(" + Name(*t.elem) + ")" : "list";
    case Type::kMap:
      return t.elem ? "map(string, " + Name(*t.elem) + ")" : "map";
  }
  return "dyn";
}

// True when values of the two types can never be compared with ==.
bool Conflicts(const Type& a, const Type& b) {
  if (!a.known() || !b.known()) return false;
  if (a.kind != b.kind) return true;
  if ((a.kind == Type::kList || a.kind == Type::kMap) && a.elem && b.elem) {
    return Conflicts(*a.elem, *b.elem);
  }
  return false;
}

bool SameType(const Type& a, const Type& b) {
  if (a.kind != b.kind) return false;
  if (!a.elem || !b.elem) return !a.elem && !b.elem;
  return SameType(*a.elem, *b.elem);
}

Type TypeOfLiteral(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return Type::Of(Type::kNull);
    case json::kind::bool_:
      return Type::Of(Type::kBool);
    case json::kind::int64:
      return Type::Of(Type::kInt);
    case json::kind::double_:
      return Type::Of(Type::kDouble);
    case json::kind::string:
      return Type::Of(Type::kString);
    default:
      return Type{};
  }
}

// Bit sets of kinds accepted by a function parameter.
constexpr unsigned Bit(Type::Kind k) { return 1u << k; }
constexpr unsigned kAny = ~0u;
constexpr unsigned kStr = Bit(Type::kString);
constexpr unsigned kList = Bit(Type::kList);
constexpr unsigned kMapT = Bit(Type::kMap);
constexpr unsigned kNum = Bit(Type::kInt) | Bit(Type::kDouble);

class Checker {
 public:
  explicit Checker(const Scope& scope) : scope_(scope) {}

  Type Visit(const Node& n) {
    switch (n.kind) {
      case NodeKind::kLiteral:
        return TypeOfLiteral(n.literal);
      case NodeKind::kIdent:
        return Ident(n);
      case NodeKind::kSelect: {
        Type r = Visit(*n.children[0]);
        if (r.kind == Type::kMap) return r.Elem();
        if (r.known() && !(n.optional && r.kind == Type::kNull)) {
          Error(n.offset, fmt::format("cannot read field '{}' of {}", n.name, Name(r)));
        }
        return Type{};
      }
      case NodeKind::kIndex:
        return Index(n);
      case NodeKind::kCall:
        return Call(n);
      case NodeKind::kUnary: {
        Type t = Visit(*n.children[0]);
        if (n.op == Op::kNot) {
          if (t.known() && t.kind != Type::kBool) {
            Error(n.offset, fmt::format("'!' needs a bool, got {}", Name(t)));
          }
          return Type::Of(Type::kBool);
        }
        if (t.known() && !t.numeric()) {
          Error(n.offset, fmt::format("'-' needs a number, got {}", Name(t)));
          return Type{};
        }
        return t;
      }
      case NodeKind::kBinary:
        return Binary(n);
      case NodeKind::kAnd:
      case NodeKind::kOr: {
        for (const auto& c : n.children) {
          Type t = Visit(*c);
          if (t.known() && t.kind != Type::kBool) {
            Error(c->offset, fmt::format("'{}' needs bool operands, got {}",
                                         n.kind == NodeKind::kAnd ? "&&" : "||", Name(t)));
          }
        }
        return Type::Of(Type::kBool);
      }
      case NodeKind::kTernary: {
        Type c = Visit(*n.children[0]);
        if (c.known() && c.kind != Type::kBool) {
          Error(n.children[0]->offset,
                fmt::format("the condition of '?:' must be a bool, got {}", Name(c)));
        }
        Type a = Visit(*n.children[1]);
        Type b = Visit(*n.children[2]);
        if (a.kind != Type::kNull && b.kind != Type::kNull && Conflicts(a, b)) {
          Error(n.offset, fmt::format("the branches of '?:' have different types, {} and {}",
                                      Name(a), Name(b)));
        }
        return SameType(a, b) ? a : Type{};
      }
      case NodeKind::kList: {
        std::vector<Type> elems;
        for (const auto& c : n.children) elems.push_back(Visit(*c));
        return Type::Container(Type::kList, Common(elems));
      }
      case NodeKind::kMap: {
        std::vector<Type> values;
        for (size_t i = 0; i + 1 < n.children.size(); i += 2) {
          Type k = Visit(*n.children[i]);
          if (k.known() && k.kind != Type::kString) {
            Error(n.children[i]->offset, fmt::format("map keys must be strings, got {}", Name(k)));
          }
          values.push_back(Visit(*n.children[i + 1]));
        }
        return Type::Container(Type::kMap, Common(values));
      }
      case NodeKind::kHas:
        Visit(*n.children[0]);
        return Type::Of(Type::kBool);
      case NodeKind::kMacro:
        return Macro(n);
    }
    return Type{};
  }

  std::vector<ExprError> errors;

 private:
  void Error(size_t offset, std::string msg) { errors.push_back({offset, std::move(msg)}); }

  static Type Common(const std::vector<Type>& ts) {
    if (ts.empty()) return Type{};
    for (const auto& t : ts) {
      if (!SameType(t, ts[0])) return Type{};
    }
    return ts[0];
  }

  Type Ident(const Node& n) {
    for (auto it = locals_.rbegin(); it != locals_.rend(); ++it) {
      if (it->first == n.name) return it->second;
    }
    if (std::find(scope_.roots.begin(), scope_.roots.end(), n.name) != scope_.roots.end()) {
      return Type{};
    }
    std::vector<std::string> candidates = scope_.roots;
    for (const auto& l : locals_) candidates.push_back(l.first);
    std::string s = Suggest(n.name, candidates);
    Error(n.offset, s.empty() ? fmt::format("unknown name '{}'", n.name)
                              : fmt::format("unknown name '{}' (did you mean '{}'?)", n.name, s));
    return Type{};
  }

  Type Index(const Node& n) {
    Type r = Visit(*n.children[0]);
    Type k = Visit(*n.children[1]);
    if (r.kind == Type::kList) {
      if (k.known() && !k.numeric()) {
        Error(n.offset, fmt::format("list index must be an int, got {}", Name(k)));
      }
      return r.Elem();
    }
    if (r.kind == Type::kMap) return r.Elem();
    if (r.known() && r.kind != Type::kNull) {
      Error(n.offset, fmt::format("cannot index {}", Name(r)));
    }
    return Type{};
  }

  Type Binary(const Node& n) {
    Type a = Visit(*n.children[0]);
    Type b = Visit(*n.children[1]);
    auto bad = [&](std::string msg) {
      Error(n.offset, std::move(msg));
      return Type{};
    };
    switch (n.op) {
      case Op::kEq:
      case Op::kNe:
        if (Conflicts(a, b)) {
          bad(fmt::format("cannot compare {} and {} with '{}'", Name(a), Name(b), OpSymbol(n.op)));
        }
        return Type::Of(Type::kBool);
      case Op::kLt:
      case Op::kLe:
      case Op::kGt:
      case Op::kGe:
        if (a.known() && b.known() && !(a.numeric() && b.numeric()) &&
            !(a.kind == b.kind && (a.kind == Type::kString || a.kind == Type::kBool))) {
          bad(fmt::format("cannot compare {} and {} with '{}'", Name(a), Name(b), OpSymbol(n.op)));
        }
        return Type::Of(Type::kBool);
      case Op::kIn:
        if (b.kind == Type::kList) {
          if (b.elem && Conflicts(a, *b.elem)) {
            bad(fmt::format("'in' looks for {} in {}", Name(a), Name(b)));
          }
        } else if (b.kind == Type::kMap) {
          if (a.known() && a.kind != Type::kString) {
            bad(fmt::format("'in' looks for {} among the string keys of a map", Name(a)));
          }
        } else if (b.known()) {
          bad(fmt::format("'in' needs a list or map on the right, got {}", Name(b)));
        }
        return Type::Of(Type::kBool);
      default:
        break;
    }
    if (!a.known() || !b.known()) {
      // The result type is the known operand's when the operation can only yield that.
      const Type& k = a.known() ? a : b;
      if (k.known() && n.op != Op::kAdd && !k.numeric()) {
        return bad(fmt::format("cannot apply '{}' to {}", OpSymbol(n.op), Name(k)));
      }
      if (k.known() && n.op == Op::kMod && k.kind != Type::kInt) {
        return bad(fmt::format("cannot apply '%' to {}", Name(k)));
      }
      if (k.known() && n.op == Op::kAdd && !k.numeric() && k.kind != Type::kString &&
          k.kind != Type::kList) {
        return bad(fmt::format("cannot add {}", Name(k)));
      }
      return Type{};
    }
    bool same = a.kind == b.kind;
    switch (n.op) {
      case Op::kAdd:
        if (same && (a.numeric() || a.kind == Type::kString)) return a;
        if (same && a.kind == Type::kList) {
          if (a.elem && b.elem && Conflicts(*a.elem, *b.elem)) {
            return bad(fmt::format("cannot add {} and {}", Name(a), Name(b)));
          }
          return SameType(a, b) ? a : Type::Of(Type::kList);
        }
        return bad(fmt::format("cannot add {} and {}", Name(a), Name(b)));
      case Op::kMod:
        if (same && a.kind == Type::kInt) return a;
        return bad(fmt::format("cannot apply '%' to {} and {}", Name(a), Name(b)));
      default:
        if (same && a.numeric()) return a;
        return bad(fmt::format("cannot apply '{}' to {} and {}", OpSymbol(n.op), Name(a), Name(b)));
    }
  }

  struct Sig {
    std::string_view name;
    unsigned params[2];  // accepted kinds of the first two arguments
    Type::Kind result;
  };

  Type Call(const Node& n) {
    std::vector<Type> args;
    for (const auto& c : n.children) args.push_back(Visit(*c));
    if (n.fn == nullptr) {
      std::string s = Suggest(n.name, AllFunctionNames());
      Error(n.offset, s.empty()
                          ? fmt::format("unknown function '{}'", n.name)
                          : fmt::format("unknown function '{}' (did you mean '{}'?)", n.name, s));
      return Type{};
    }
    const Function& fn = *n.fn;
    int count = static_cast<int>(args.size());
    if (count < fn.min_args || (fn.max_args >= 0 && count > fn.max_args)) {
      std::string want = fn.max_args < 0 ? fmt::format("at least {}", fn.min_args)
                         : fn.min_args == fn.max_args
                             ? fmt::format("{}", fn.min_args)
                             : fmt::format("{} to {}", fn.min_args, fn.max_args);
      Error(n.offset, fmt::format("{}() takes {} argument{}, got {}", fn.name, want,
                                  want == "1" ? "" : "s", count));
      return Type{};
    }
    static const Sig kSigs[] = {
        {"contains", {kStr, kStr}, Type::kBool},
        {"default", {kAny, kAny}, Type::kDyn},
        {"double", {kNum | kStr, kAny}, Type::kDouble},
        {"endsWith", {kStr, kStr}, Type::kBool},
        {"float", {kNum | kStr, kAny}, Type::kDouble},
        {"format", {kStr, kAny}, Type::kString},
        {"fromJson", {kStr, kAny}, Type::kDyn},
        {"int", {kNum | kStr, kAny}, Type::kInt},
        {"join", {kList, kStr}, Type::kString},
        {"json", {kAny, kAny}, Type::kString},
        {"keys", {kMapT, kAny}, Type::kList},
        {"lower", {kStr, kAny}, Type::kString},
        {"matches", {kStr, kStr}, Type::kBool},
        {"max", {kAny, kAny}, Type::kDyn},
        {"min", {kAny, kAny}, Type::kDyn},
        {"size", {kStr | kList | kMapT, kAny}, Type::kInt},
        {"split", {kStr, kStr}, Type::kList},
        {"startsWith", {kStr, kStr}, Type::kBool},
        {"string", {kNum | kStr | Bit(Type::kBool), kAny}, Type::kString},
        {"sum", {kList, kAny}, Type::kDyn},
        {"trim", {kStr, kAny}, Type::kString},
        {"upper", {kStr, kAny}, Type::kString},
        {"values", {kMapT, kAny}, Type::kList},
    };
    for (const auto& sig : kSigs) {
      if (sig.name != fn.name) continue;
      for (size_t i = 0; i < args.size() && i < 2; ++i) {
        if (args[i].known() && (sig.params[i] & Bit(args[i].kind)) == 0) {
          Error(n.children[i]->offset,
                fmt::format("{}() cannot take {} as argument {}", fn.name, Name(args[i]), i + 1));
        }
      }
      if (fn.name == "matches" && n.children.size() == 2 &&
          n.children[1]->kind == NodeKind::kLiteral && n.children[1]->literal.is_string() &&
          !n.regex) {
        std::string why;
        CompileRegex(n.children[1]->literal.get_string(), &why);
        Error(n.children[1]->offset, fmt::format("invalid regular expression: {}", why));
      }
      if (fn.name == "split" || fn.name == "keys") {
        return Type::Container(Type::kList, Type::Of(Type::kString));
      }
      if (fn.name == "values") return Type::Container(Type::kList, args[0].Elem());
      if (fn.name == "default") return SameType(args[0], args[1]) ? args[0] : Type{};
      return Type::Of(sig.result);
    }
    return Type{};
  }

  Type Macro(const Node& n) {
    Type target = Visit(*n.children[0]);
    Type var;
    if (target.kind == Type::kList) {
      var = target.Elem();
    } else if (target.kind == Type::kMap) {
      var = Type::Of(Type::kString);
    } else if (target.known()) {
      Error(n.offset,
            fmt::format("{}() needs a list or map, got {}", MacroName(n.macro), Name(target)));
    }
    locals_.emplace_back(n.name, var);
    bool has_pred = n.macro != MacroKind::kMap || n.children.size() == 3;
    Type pred;
    if (has_pred) {
      pred = Visit(*n.children[1]);
      if (pred.known() && pred.kind != Type::kBool) {
        Error(n.children[1]->offset, fmt::format("the predicate of {}() must be a bool, got {}",
                                                 MacroName(n.macro), Name(pred)));
      }
    }
    Type body = n.macro == MacroKind::kMap ? Visit(*n.children.back()) : Type{};
    locals_.pop_back();
    switch (n.macro) {
      case MacroKind::kAll:
      case MacroKind::kExists:
        return Type::Of(Type::kBool);
      case MacroKind::kFilter:
        return Type::Container(Type::kList, var);
      case MacroKind::kMap:
        return Type::Container(Type::kList, body);
    }
    return Type{};
  }

  const Scope& scope_;
  std::vector<std::pair<std::string, Type>> locals_;
};

}  // namespace

std::string Suggest(std::string_view name, const std::vector<std::string>& candidates) {
  return ClosestMatch(name, candidates,
                      std::max<size_t>(1, std::min<size_t>(3, name.size() / 3 + 1)));
}

std::vector<ExprError> CheckTree(const Node& root, const Scope& scope) {
  Checker c(scope);
  c.Visit(root);
  std::stable_sort(c.errors.begin(), c.errors.end(),
                   [](const ExprError& a, const ExprError& b) { return a.offset < b.offset; });
  return std::move(c.errors);
}

}  // namespace baton::expr
