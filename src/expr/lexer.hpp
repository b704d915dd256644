#pragma once

// Splits expression source into tokens. Pure; errors carry the byte offset.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.hpp"
#include "expr/expr.hpp"

namespace baton::expr {

enum class Tok : uint8_t {
  kEnd,
  kInt,
  kDouble,
  kString,
  kIdent,
  kTrue,
  kFalse,
  kNull,
  kIn,
  kLParen,
  kRParen,
  kLBracket,
  kRBracket,
  kLBrace,
  kRBrace,
  kDot,
  kQuestionDot,
  kComma,
  kColon,
  kQuestion,
  kPlus,
  kMinus,
  kStar,
  kSlash,
  kPercent,
  kEqEq,
  kNotEq,
  kLess,
  kLessEq,
  kGreater,
  kGreaterEq,
  kAndAnd,
  kOrOr,
  kBang,
};

struct Token {
  Tok kind = Tok::kEnd;
  size_t offset = 0;
  std::string text;  // identifier name or decoded string literal
  int64_t int_value = 0;
  double double_value = 0;
};

// Tokenizes all of `source`; the last token is kEnd.
bool Lex(std::string_view source, std::vector<Token>* out, ExprError* error);

std::string_view TokName(Tok t);

}  // namespace baton::expr
