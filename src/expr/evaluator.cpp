#include "expr/evaluator.hpp"

#include <fmt/format.h>

#include <array>
#include <cmath>

#include "expr/functions.hpp"

namespace baton::expr {

namespace {

Value Bool(bool b) { return Value::Bool(b); }

// A child of `parent`: borrowed when the parent is borrowed, moved out of it otherwise.
Value Child(Value& parent, const json::value& child) {
  if (parent.borrowed()) return Value::Borrow(child);
  // `child` lies inside the parent's owned value, which is about to be dropped.
  return Value(std::move(const_cast<json::value&>(child)));
}

Result<Value> Select(const Node& node, EvalState& st) {
  BATON_ASSIGN_OR_RETURN(Value recv, Eval(*node.children[0], st));
  const json::value& v = recv.get();
  if (v.is_object()) {
    auto it = v.get_object().find(node.name);
    if (it != v.get_object().end()) return Child(recv, it->value());
    if (node.optional) return Value();
    return Missing(fmt::format("no such key '{}' in {}", node.name, Describe(*node.children[0])));
  }
  if (v.is_null()) {
    if (node.optional) return Value();
    return Missing(fmt::format("cannot read '{}' of null ({} is null)", node.name,
                               Describe(*node.children[0])));
  }
  return EvalError(fmt::format("cannot read field '{}' of {} ({} is not a map)", node.name,
                               TypeName(v), Describe(*node.children[0])));
}

Result<Value> Index(const Node& node, EvalState& st) {
  BATON_ASSIGN_OR_RETURN(Value recv, Eval(*node.children[0], st));
  BATON_ASSIGN_OR_RETURN(Value key, Eval(*node.children[1], st));
  const json::value& v = recv.get();
  const json::value& k = key.get();
  if (v.is_array()) {
    int64_t i;
    if (k.is_int64()) {
      i = k.get_int64();
    } else if (k.is_double() && std::trunc(k.get_double()) == k.get_double() &&
               std::abs(k.get_double()) < 9.0e15) {
      i = static_cast<int64_t>(k.get_double());
    } else {
      return EvalError(fmt::format("list index must be an int, got {}", TypeName(k)));
    }
    const auto& arr = v.get_array();
    if (i < 0 || static_cast<uint64_t>(i) >= arr.size()) {
      return Missing(fmt::format("index {} out of range for {} (size {})", i,
                                 Describe(*node.children[0]), arr.size()));
    }
    return Child(recv, arr[static_cast<size_t>(i)]);
  }
  if (v.is_object()) {
    if (!k.is_string()) {
      return Missing(
          fmt::format("no such key {} in {}", ToCompactJson(k), Describe(*node.children[0])));
    }
    auto it = v.get_object().find(k.get_string());
    if (it == v.get_object().end()) {
      return Missing(fmt::format("no such key '{}' in {}", std::string_view(k.get_string()),
                                 Describe(*node.children[0])));
    }
    return Child(recv, it->value());
  }
  if (v.is_null()) {
    return Missing(fmt::format("cannot index null ({} is null)", Describe(*node.children[0])));
  }
  return EvalError(fmt::format("cannot index {} ({})", TypeName(v), Describe(*node.children[0])));
}

Result<Value> Call(const Node& node, EvalState& st) {
  const Function* fn = node.fn;
  if (fn == nullptr) return EvalError(fmt::format("unknown function '{}'", node.name));
  int n = static_cast<int>(node.children.size());
  if (n < fn->min_args || (fn->max_args >= 0 && n > fn->max_args)) {
    return EvalError(fmt::format("wrong number of arguments to {}()", fn->name));
  }
  if (fn->impl == nullptr) {
    // default(x, y): y when x is null or missing.
    Result<Value> first = Eval(*node.children[0], st);
    if (first.ok() && !first->get().is_null()) return first;
    if (!first.ok() && first.error().code() != Code::kNotFound) return first;
    return Eval(*node.children[1], st);
  }
  std::array<Value, 4> small;
  std::vector<Value> large;
  std::span<Value> args;
  if (n <= 4) {
    args = std::span<Value>(small.data(), static_cast<size_t>(n));
  } else {
    large.resize(static_cast<size_t>(n));
    args = std::span<Value>(large);
  }
  for (int i = 0; i < n; ++i) {
    BATON_ASSIGN_OR_RETURN(args[static_cast<size_t>(i)], Eval(*node.children[i], st));
  }
  return fn->impl(args, node, st);
}

Result<Value> Unary(const Node& node, EvalState& st) {
  BATON_ASSIGN_OR_RETURN(Value operand, Eval(*node.children[0], st));
  const json::value& v = operand.get();
  if (node.op == Op::kNot) {
    if (!v.is_bool()) return EvalError(fmt::format("'!' needs a bool, got {}", TypeName(v)));
    return Bool(!v.get_bool());
  }
  if (v.is_int64()) {
    if (v.get_int64() == INT64_MIN) return EvalError("integer overflow in negation");
    return Value(json::value(-v.get_int64()));
  }
  if (v.is_double()) return Value(json::value(-v.get_double()));
  return EvalError(fmt::format("'-' needs a number, got {}", TypeName(v)));
}

std::string_view Verb(Op op) {
  switch (op) {
    case Op::kAdd:
      return "add";
    case Op::kSub:
      return "subtract";
    case Op::kMul:
      return "multiply";
    case Op::kDiv:
      return "divide";
    default:
      return "take the remainder of";
  }
}

Result<Value> Arithmetic(Op op, const json::value& a, const json::value& b) {
  if (a.is_int64() && b.is_int64()) {
    int64_t x = a.get_int64(), y = b.get_int64(), r = 0;
    bool overflow = false;
    switch (op) {
      case Op::kAdd:
        overflow = __builtin_add_overflow(x, y, &r);
        break;
      case Op::kSub:
        overflow = __builtin_sub_overflow(x, y, &r);
        break;
      case Op::kMul:
        overflow = __builtin_mul_overflow(x, y, &r);
        break;
      case Op::kDiv:
        if (y == 0) return EvalError("division by zero");
        if (x == INT64_MIN && y == -1) {
          overflow = true;
        } else {
          r = x / y;
        }
        break;
      default:
        if (y == 0) return EvalError("modulo by zero");
        r = y == -1 ? 0 : x % y;
        break;
    }
    if (overflow) {
      return EvalError(fmt::format("integer overflow in {} {} {}", x, OpSymbol(op), y));
    }
    return Value(json::value(r));
  }
  if (a.is_double() && b.is_double() && op != Op::kMod) {
    double x = a.get_double(), y = b.get_double();
    double r = op == Op::kAdd ? x + y : op == Op::kSub ? x - y : op == Op::kMul ? x * y : x / y;
    return Value(json::value(r));
  }
  if (op == Op::kAdd && a.is_string() && b.is_string()) {
    size_t n = a.get_string().size() + b.get_string().size();
    if (n > kMaxStringBytes) return BudgetExceeded();
    json::string s;
    s.reserve(n);
    s.append(a.get_string());
    s.append(b.get_string());
    return Value(json::value(std::move(s)));
  }
  if (op == Op::kAdd && a.is_array() && b.is_array()) {
    size_t n = a.get_array().size() + b.get_array().size();
    if (n > kMaxListSize) return BudgetExceeded();
    json::array out;
    out.reserve(n);
    for (const auto& e : a.get_array()) out.push_back(e);
    for (const auto& e : b.get_array()) out.push_back(e);
    return Value(json::value(std::move(out)));
  }
  return EvalError(fmt::format("cannot {} {} and {}", Verb(op), TypeName(a), TypeName(b)));
}

Result<Value> Binary(const Node& node, EvalState& st) {
  BATON_ASSIGN_OR_RETURN(Value lhs, Eval(*node.children[0], st));
  BATON_ASSIGN_OR_RETURN(Value rhs, Eval(*node.children[1], st));
  const json::value& a = lhs.get();
  const json::value& b = rhs.get();
  switch (node.op) {
    case Op::kEq:
      return Bool(Equal(a, b));
    case Op::kNe:
      return Bool(!Equal(a, b));
    case Op::kLt:
    case Op::kLe:
    case Op::kGt:
    case Op::kGe: {
      Order o;
      if (!Compare(a, b, &o)) {
        return EvalError(fmt::format("cannot compare {} and {} with '{}'", TypeName(a), TypeName(b),
                                     OpSymbol(node.op)));
      }
      if (o == Order::kUnordered) return Bool(false);
      switch (node.op) {
        case Op::kLt:
          return Bool(o == Order::kLess);
        case Op::kLe:
          return Bool(o != Order::kGreater);
        case Op::kGt:
          return Bool(o == Order::kGreater);
        default:
          return Bool(o != Order::kLess);
      }
    }
    case Op::kIn: {
      if (b.is_array()) {
        if (!st.Spend(static_cast<int64_t>(b.get_array().size()))) return BudgetExceeded();
        for (const auto& e : b.get_array()) {
          if (Equal(a, e)) return Bool(true);
        }
        return Bool(false);
      }
      if (b.is_object()) {
        return Bool(a.is_string() && b.get_object().contains(a.get_string()));
      }
      return EvalError(fmt::format("'in' needs a list or map on the right, got {}", TypeName(b)));
    }
    default:
      return Arithmetic(node.op, a, b);
  }
}

// && and || with CEL's commutative error absorption: a decisive operand wins over an error
// (or non-bool) on the other side.
Result<Value> Logical(const Node& node, EvalState& st) {
  bool is_and = node.kind == NodeKind::kAnd;
  auto as_status = [&](Result<Value>& r) -> Status {
    if (!r.ok()) return r.error();
    if (!r->get().is_bool()) {
      return EvalError(fmt::format("'{}' needs bool operands, got {}", is_and ? "&&" : "||",
                                   TypeName(r->get())));
    }
    return Status::Ok();
  };
  Result<Value> lhs = Eval(*node.children[0], st);
  Status lhs_status = as_status(lhs);
  if (lhs_status.ok() && lhs->get().get_bool() != is_and) return Bool(!is_and);
  Result<Value> rhs = Eval(*node.children[1], st);
  Status rhs_status = as_status(rhs);
  if (rhs_status.ok() && rhs->get().get_bool() != is_and) return Bool(!is_and);
  if (!lhs_status.ok()) return lhs_status;
  if (!rhs_status.ok()) return rhs_status;
  return Bool(is_and);
}

Result<Value> Ternary(const Node& node, EvalState& st) {
  BATON_ASSIGN_OR_RETURN(Value cond, Eval(*node.children[0], st));
  if (!cond->is_bool()) {
    return EvalError(
        fmt::format("the condition of '?:' must be a bool, got {}", TypeName(cond.get())));
  }
  return Eval(*node.children[cond->get_bool() ? 1 : 2], st);
}

Result<Value> List(const Node& node, EvalState& st) {
  json::array out;
  out.reserve(node.children.size());
  for (const auto& c : node.children) {
    BATON_ASSIGN_OR_RETURN(Value v, Eval(*c, st));
    out.push_back(std::move(v).Take());
  }
  return Value(json::value(std::move(out)));
}

Result<Value> Map(const Node& node, EvalState& st) {
  json::object out;
  out.reserve(node.children.size() / 2);
  for (size_t i = 0; i + 1 < node.children.size(); i += 2) {
    BATON_ASSIGN_OR_RETURN(Value k, Eval(*node.children[i], st));
    if (!k->is_string()) {
      return EvalError(fmt::format("map keys must be strings, got {}", TypeName(k.get())));
    }
    if (out.contains(k->get_string())) {
      return EvalError(fmt::format("duplicate map key '{}'", std::string_view(k->get_string())));
    }
    BATON_ASSIGN_OR_RETURN(Value v, Eval(*node.children[i + 1], st));
    out.emplace(k->get_string(), std::move(v).Take());
  }
  return Value(json::value(std::move(out)));
}

Result<Value> Has(const Node& node, EvalState& st) {
  BATON_ASSIGN_OR_RETURN(Value recv, Eval(*node.children[0], st));
  return Bool(recv->is_object() && recv->get_object().contains(node.name));
}

class LocalScope {
 public:
  LocalScope(EvalState& st, std::string_view name) : st_(st) {
    st_.locals.emplace_back(name, nullptr);
  }
  ~LocalScope() { st_.locals.pop_back(); }
  void Bind(const json::value* v) { st_.locals.back().second = v; }

 private:
  EvalState& st_;
};

Result<Value> Macro(const Node& node, EvalState& st) {
  BATON_ASSIGN_OR_RETURN(Value target, Eval(*node.children[0], st));
  const json::value& t = target.get();
  if (!t.is_array() && !t.is_object()) {
    return EvalError(
        fmt::format("{}() needs a list or map, got {}", MacroName(node.macro), TypeName(t)));
  }
  // Iterate list elements, or map keys (materialized as values so the variable can point at
  // them).
  json::array key_storage;
  const json::array* items = nullptr;
  if (t.is_array()) {
    items = &t.get_array();
  } else {
    key_storage.reserve(t.get_object().size());
    for (const auto& kv : t.get_object()) key_storage.emplace_back(json::string(kv.key()));
    items = &key_storage;
  }
  LocalScope scope(st, node.name);
  const Node& body = *node.children.back();
  const Node* filter = node.children.size() == 3 ? node.children[1].get() : nullptr;
  const Node& pred = *node.children[1];
  auto bool_of = [&](Result<Value>& r) -> Status {
    if (!r.ok()) return r.error();
    if (!r->get().is_bool()) {
      return EvalError(fmt::format("the predicate of {}() must return a bool, got {}",
                                   MacroName(node.macro), TypeName(r->get())));
    }
    return Status::Ok();
  };
  switch (node.macro) {
    case MacroKind::kAll:
    case MacroKind::kExists: {
      bool is_all = node.macro == MacroKind::kAll;
      Status first_error;
      for (const auto& item : *items) {
        if (!st.Spend(1)) return BudgetExceeded();
        scope.Bind(&item);
        Result<Value> r = Eval(pred, st);
        Status s = bool_of(r);
        if (!s.ok()) {
          if (s.code() == Code::kResourceExhausted) return s;
          if (first_error.ok()) first_error = s;
          continue;
        }
        if (r->get().get_bool() != is_all) return Bool(!is_all);
      }
      if (!first_error.ok()) return first_error;
      return Bool(is_all);
    }
    case MacroKind::kFilter:
    case MacroKind::kMap: {
      json::array out;
      for (const auto& item : *items) {
        if (!st.Spend(1)) return BudgetExceeded();
        scope.Bind(&item);
        if (node.macro == MacroKind::kFilter || filter != nullptr) {
          Result<Value> r = Eval(pred, st);
          BATON_RETURN_IF_ERROR(bool_of(r));
          if (!r->get().get_bool()) continue;
          if (node.macro == MacroKind::kFilter) {
            out.push_back(item);
            continue;
          }
        }
        BATON_ASSIGN_OR_RETURN(Value v, Eval(body, st));
        out.push_back(std::move(v).Take());
      }
      return Value(json::value(std::move(out)));
    }
  }
  return EvalError("unknown macro");
}

}  // namespace

Result<Value> Eval(const Node& node, EvalState& st) {
  if (!st.Spend(1)) return BudgetExceeded();
  switch (node.kind) {
    case NodeKind::kLiteral:
      return Value::Borrow(node.literal);
    case NodeKind::kIdent: {
      for (auto it = st.locals.rbegin(); it != st.locals.rend(); ++it) {
        if (it->first == node.name) return Value::Borrow(*it->second);
      }
      const json::value* v = st.env.Lookup(node.name);
      if (v == nullptr) return Missing(fmt::format("unknown name '{}'", node.name));
      return Value::Borrow(*v);
    }
    case NodeKind::kSelect:
      return Select(node, st);
    case NodeKind::kIndex:
      return Index(node, st);
    case NodeKind::kCall:
      return Call(node, st);
    case NodeKind::kUnary:
      return Unary(node, st);
    case NodeKind::kBinary:
      return Binary(node, st);
    case NodeKind::kAnd:
    case NodeKind::kOr:
      return Logical(node, st);
    case NodeKind::kTernary:
      return Ternary(node, st);
    case NodeKind::kList:
      return List(node, st);
    case NodeKind::kMap:
      return Map(node, st);
    case NodeKind::kHas:
      return Has(node, st);
    case NodeKind::kMacro:
      return Macro(node, st);
  }
  return EvalError("unknown node");
}

std::string Describe(const Node& node) {
  switch (node.kind) {
    case NodeKind::kIdent:
      return node.name;
    case NodeKind::kSelect:
      return Describe(*node.children[0]) + (node.optional ? "?." : ".") + node.name;
    case NodeKind::kIndex: {
      const Node& k = *node.children[1];
      if (k.kind == NodeKind::kLiteral) {
        return Describe(*node.children[0]) + "[" + ToCompactJson(k.literal) + "]";
      }
      return Describe(*node.children[0]) + "[...]";
    }
    case NodeKind::kCall:
      return node.name + "(...)";
    default:
      return "value";
  }
}

std::string_view OpSymbol(Op op) {
  switch (op) {
    case Op::kAdd:
      return "+";
    case Op::kSub:
      return "-";
    case Op::kMul:
      return "*";
    case Op::kDiv:
      return "/";
    case Op::kMod:
      return "%";
    case Op::kEq:
      return "==";
    case Op::kNe:
      return "!=";
    case Op::kLt:
      return "<";
    case Op::kLe:
      return "<=";
    case Op::kGt:
      return ">";
    case Op::kGe:
      return ">=";
    case Op::kIn:
      return "in";
    case Op::kNot:
      return "!";
    case Op::kNeg:
      return "-";
  }
  return "?";
}

std::string_view MacroName(MacroKind m) {
  switch (m) {
    case MacroKind::kAll:
      return "all";
    case MacroKind::kExists:
      return "exists";
    case MacroKind::kMap:
      return "map";
    case MacroKind::kFilter:
      return "filter";
  }
  return "?";
}

}  // namespace baton::expr
