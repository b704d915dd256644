#include "expr/parser.hpp"

#include <fmt/format.h>
#include <re2/re2.h>

#include <vector>

#include "expr/functions.hpp"
#include "expr/lexer.hpp"

namespace baton::expr {

namespace {

// Binding powers, lowest first (CEL: ?: < || < && < relations < +- < */% < unary < member).
enum Prec : int {
  kPrecNone = 0,
  kPrecOr = 2,
  kPrecAnd = 3,
  kPrecRel = 4,
  kPrecAdd = 5,
  kPrecMul = 6
};

int InfixPrec(Tok t) {
  switch (t) {
    case Tok::kOrOr:
      return kPrecOr;
    case Tok::kAndAnd:
      return kPrecAnd;
    case Tok::kEqEq:
    case Tok::kNotEq:
    case Tok::kLess:
    case Tok::kLessEq:
    case Tok::kGreater:
    case Tok::kGreaterEq:
    case Tok::kIn:
      return kPrecRel;
    case Tok::kPlus:
    case Tok::kMinus:
      return kPrecAdd;
    case Tok::kStar:
    case Tok::kSlash:
    case Tok::kPercent:
      return kPrecMul;
    default:
      return kPrecNone;
  }
}

Op InfixOp(Tok t) {
  switch (t) {
    case Tok::kEqEq:
      return Op::kEq;
    case Tok::kNotEq:
      return Op::kNe;
    case Tok::kLess:
      return Op::kLt;
    case Tok::kLessEq:
      return Op::kLe;
    case Tok::kGreater:
      return Op::kGt;
    case Tok::kGreaterEq:
      return Op::kGe;
    case Tok::kIn:
      return Op::kIn;
    case Tok::kPlus:
      return Op::kAdd;
    case Tok::kMinus:
      return Op::kSub;
    case Tok::kStar:
      return Op::kMul;
    case Tok::kSlash:
      return Op::kDiv;
    default:
      return Op::kMod;
  }
}

std::unique_ptr<Node> MakeNode(NodeKind kind, size_t offset) {
  auto n = std::make_unique<Node>();
  n->kind = kind;
  n->offset = offset;
  return n;
}

class Parser {
 public:
  Parser(std::vector<Token> toks, ExprError* error) : toks_(std::move(toks)), error_(error) {}

  std::unique_ptr<Node> Run() {
    auto root = Expr();
    if (!root) return nullptr;
    if (Cur().kind != Tok::kEnd) {
      return Fail(Cur().offset, fmt::format("unexpected {} after expression", TokName(Cur().kind)));
    }
    return root;
  }

 private:
  const Token& Cur() const { return toks_[pos_]; }
  const Token& Ahead(size_t n) const { return toks_[std::min(pos_ + n, toks_.size() - 1)]; }
  void Advance() {
    if (pos_ + 1 < toks_.size()) ++pos_;
  }
  bool Accept(Tok t) {
    if (Cur().kind != t) return false;
    Advance();
    return true;
  }
  std::unique_ptr<Node> Fail(size_t offset, std::string msg) {
    if (error_ && !failed_) *error_ = {offset, std::move(msg)};
    failed_ = true;
    return nullptr;
  }
  bool Expect(Tok t, std::string_view what) {
    if (Accept(t)) return true;
    Fail(Cur().offset,
         fmt::format("expected {} {}, found {}", TokName(t), what, TokName(Cur().kind)));
    return false;
  }

  // expr := or ('?' expr ':' expr)?
  std::unique_ptr<Node> Expr() {
    if (++depth_ > kMaxDepth) return Fail(Cur().offset, "expression is nested too deeply");
    auto cond = Binary(kPrecOr);
    if (cond && Cur().kind == Tok::kQuestion) {
      auto n = MakeNode(NodeKind::kTernary, Cur().offset);
      Advance();
      auto yes = Expr();
      if (!yes || !Expect(Tok::kColon, "in conditional")) return nullptr;
      auto no = Expr();
      if (!no) return nullptr;
      n->children.push_back(std::move(cond));
      n->children.push_back(std::move(yes));
      n->children.push_back(std::move(no));
      cond = std::move(n);
    }
    --depth_;
    return cond;
  }

  std::unique_ptr<Node> Binary(int min_prec) {
    auto lhs = Unary();
    while (lhs) {
      Tok t = Cur().kind;
      int prec = InfixPrec(t);
      if (prec == kPrecNone || prec < min_prec) break;
      size_t offset = Cur().offset;
      Advance();
      auto rhs = Binary(prec + 1);
      if (!rhs) return nullptr;
      NodeKind kind = t == Tok::kAndAnd ? NodeKind::kAnd
                      : t == Tok::kOrOr ? NodeKind::kOr
                                        : NodeKind::kBinary;
      auto n = MakeNode(kind, offset);
      n->op = InfixOp(t);
      n->children.push_back(std::move(lhs));
      n->children.push_back(std::move(rhs));
      lhs = std::move(n);
    }
    return lhs;
  }

  std::unique_ptr<Node> Unary() {
    if (++depth_ > kMaxDepth) return Fail(Cur().offset, "expression is nested too deeply");
    std::unique_ptr<Node> result;
    size_t offset = Cur().offset;
    if (Cur().kind == Tok::kBang || Cur().kind == Tok::kMinus) {
      bool neg = Cur().kind == Tok::kMinus;
      Advance();
      // -9223372036854775808 is the one literal that only exists negated.
      if (neg && Cur().kind == Tok::kInt && Cur().double_value != 0 && !IsPostfix(Ahead(1).kind)) {
        result = MakeNode(NodeKind::kLiteral, offset);
        result->literal = INT64_MIN;
        Advance();
      } else {
        auto operand = Unary();
        if (!operand) return nullptr;
        if (neg && operand->kind == NodeKind::kLiteral && operand->literal.is_int64() &&
            operand->literal.get_int64() != INT64_MIN) {
          operand->literal = -operand->literal.get_int64();
          operand->offset = offset;
          result = std::move(operand);
        } else if (neg && operand->kind == NodeKind::kLiteral && operand->literal.is_double()) {
          operand->literal = -operand->literal.get_double();
          operand->offset = offset;
          result = std::move(operand);
        } else {
          result = MakeNode(NodeKind::kUnary, offset);
          result->op = neg ? Op::kNeg : Op::kNot;
          result->children.push_back(std::move(operand));
        }
      }
    } else {
      result = Postfix();
    }
    --depth_;
    return result;
  }

  static bool IsPostfix(Tok t) {
    return t == Tok::kDot || t == Tok::kQuestionDot || t == Tok::kLBracket || t == Tok::kLParen;
  }

  std::unique_ptr<Node> Postfix() {
    auto n = Primary();
    while (n) {
      if (Cur().kind == Tok::kDot || Cur().kind == Tok::kQuestionDot) {
        bool optional = Cur().kind == Tok::kQuestionDot;
        Advance();
        if (Cur().kind != Tok::kIdent) {
          return Fail(Cur().offset, fmt::format("expected a field name after '.', found {}",
                                                TokName(Cur().kind)));
        }
        size_t name_offset = Cur().offset;
        std::string name = Cur().text;
        Advance();
        if (!optional && Cur().kind == Tok::kLParen) {
          n = Method(std::move(n), std::move(name), name_offset);
          continue;
        }
        auto sel = MakeNode(NodeKind::kSelect, name_offset);
        sel->name = std::move(name);
        sel->optional = optional;
        sel->children.push_back(std::move(n));
        n = std::move(sel);
      } else if (Cur().kind == Tok::kLBracket) {
        auto idx = MakeNode(NodeKind::kIndex, Cur().offset);
        Advance();
        auto key = Expr();
        if (!key || !Expect(Tok::kRBracket, "after index")) return nullptr;
        idx->children.push_back(std::move(n));
        idx->children.push_back(std::move(key));
        n = std::move(idx);
      } else {
        break;
      }
    }
    return n;
  }

  // Parses '(' args ')' after `receiver.name`: a macro or a receiver-style call.
  std::unique_ptr<Node> Method(std::unique_ptr<Node> receiver, std::string name, size_t offset) {
    MacroKind macro = MacroKind::kAll;
    bool is_macro = true;
    if (name == "all") {
      macro = MacroKind::kAll;
    } else if (name == "exists") {
      macro = MacroKind::kExists;
    } else if (name == "map") {
      macro = MacroKind::kMap;
    } else if (name == "filter") {
      macro = MacroKind::kFilter;
    } else {
      is_macro = false;
    }
    std::vector<std::unique_ptr<Node>> args;
    if (!Args(&args)) return nullptr;
    if (is_macro) {
      size_t want_max = macro == MacroKind::kMap ? 3 : 2;
      if (args.size() < 2 || args.size() > want_max) {
        return Fail(offset, fmt::format("{}() takes a variable name and {}", name,
                                        macro == MacroKind::kMap
                                            ? "an expression (or a filter and an expression)"
                                            : "a predicate"));
      }
      if (args[0]->kind != NodeKind::kIdent) {
        return Fail(args[0]->offset,
                    fmt::format("the first argument of {}() must be a variable name", name));
      }
      auto n = MakeNode(NodeKind::kMacro, offset);
      n->macro = macro;
      n->name = args[0]->name;
      n->children.push_back(std::move(receiver));
      for (size_t i = 1; i < args.size(); ++i) n->children.push_back(std::move(args[i]));
      return n;
    }
    auto n = MakeNode(NodeKind::kCall, offset);
    n->name = std::move(name);
    n->method = true;
    n->children.push_back(std::move(receiver));
    for (auto& a : args) n->children.push_back(std::move(a));
    Resolve(n.get());
    return n;
  }

  bool Args(std::vector<std::unique_ptr<Node>>* args) {
    if (!Expect(Tok::kLParen, "to start arguments")) return false;
    if (Accept(Tok::kRParen)) return true;
    while (true) {
      auto a = Expr();
      if (!a) return false;
      args->push_back(std::move(a));
      if (Accept(Tok::kRParen)) return true;
      if (!Expect(Tok::kComma, "between arguments")) return false;
    }
  }

  void Resolve(Node* call) {
    call->fn = FindFunction(call->name);
    if (call->name == "matches" && call->children.size() == 2 &&
        call->children[1]->kind == NodeKind::kLiteral && call->children[1]->literal.is_string()) {
      call->regex = CompileRegex(call->children[1]->literal.get_string());
    }
  }

  std::unique_ptr<Node> Primary() {
    const Token& t = Cur();
    size_t offset = t.offset;
    switch (t.kind) {
      case Tok::kInt: {
        if (t.double_value != 0) return Fail(offset, "integer literal out of range");
        auto n = MakeNode(NodeKind::kLiteral, offset);
        n->literal = t.int_value;
        Advance();
        return n;
      }
      case Tok::kDouble: {
        auto n = MakeNode(NodeKind::kLiteral, offset);
        n->literal = t.double_value;
        Advance();
        return n;
      }
      case Tok::kString: {
        auto n = MakeNode(NodeKind::kLiteral, offset);
        n->literal = json::string(t.text);
        Advance();
        return n;
      }
      case Tok::kTrue:
      case Tok::kFalse: {
        auto n = MakeNode(NodeKind::kLiteral, offset);
        n->literal = t.kind == Tok::kTrue;
        Advance();
        return n;
      }
      case Tok::kNull: {
        Advance();
        return MakeNode(NodeKind::kLiteral, offset);
      }
      case Tok::kLParen: {
        Advance();
        auto inner = Expr();
        if (!inner || !Expect(Tok::kRParen, "to close '('")) return nullptr;
        return inner;
      }
      case Tok::kLBracket:
        return List();
      case Tok::kLBrace:
        return Map();
      case Tok::kIdent: {
        std::string name = t.text;
        Advance();
        if (Cur().kind != Tok::kLParen) {
          auto n = MakeNode(NodeKind::kIdent, offset);
          n->name = std::move(name);
          return n;
        }
        std::vector<std::unique_ptr<Node>> args;
        if (!Args(&args)) return nullptr;
        if (name == "has") return Has(std::move(args), offset);
        auto n = MakeNode(NodeKind::kCall, offset);
        n->name = std::move(name);
        n->children = std::move(args);
        Resolve(n.get());
        return n;
      }
      case Tok::kEnd:
        return Fail(offset, "unexpected end of expression");
      default:
        return Fail(offset, fmt::format("unexpected {}", TokName(t.kind)));
    }
  }

  std::unique_ptr<Node> Has(std::vector<std::unique_ptr<Node>> args, size_t offset) {
    if (args.size() != 1 || args[0]->kind != NodeKind::kSelect) {
      return Fail(offset, "has() takes one field selection, e.g. has(a.b)");
    }
    auto n = MakeNode(NodeKind::kHas, offset);
    n->name = args[0]->name;
    n->children.push_back(std::move(args[0]->children[0]));
    return n;
  }

  std::unique_ptr<Node> List() {
    auto n = MakeNode(NodeKind::kList, Cur().offset);
    Advance();
    while (Cur().kind != Tok::kRBracket) {
      auto e = Expr();
      if (!e) return nullptr;
      n->children.push_back(std::move(e));
      if (!Accept(Tok::kComma)) break;
    }
    if (!Expect(Tok::kRBracket, "to close list")) return nullptr;
    return n;
  }

  std::unique_ptr<Node> Map() {
    auto n = MakeNode(NodeKind::kMap, Cur().offset);
    Advance();
    while (Cur().kind != Tok::kRBrace) {
      auto k = Expr();
      if (!k || !Expect(Tok::kColon, "after map key")) return nullptr;
      auto v = Expr();
      if (!v) return nullptr;
      n->children.push_back(std::move(k));
      n->children.push_back(std::move(v));
      if (!Accept(Tok::kComma)) break;
    }
    if (!Expect(Tok::kRBrace, "to close map")) return nullptr;
    return n;
  }

  std::vector<Token> toks_;
  ExprError* error_;
  size_t pos_ = 0;
  int depth_ = 0;
  bool failed_ = false;
};

}  // namespace

std::unique_ptr<Node> ParseTree(std::string_view source, ExprError* error) {
  std::vector<Token> toks;
  if (!Lex(source, &toks, error)) return nullptr;
  return Parser(std::move(toks), error).Run();
}

}  // namespace baton::expr
