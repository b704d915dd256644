#include "expr/lexer.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

namespace baton::expr {

namespace {

bool IsIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || IsDigit(c); }
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

class Lexer {
 public:
  Lexer(std::string_view src, ExprError* error) : src_(src), error_(error) {}

  bool Run(std::vector<Token>* out) {
    while (true) {
      SkipSpace();
      Token t;
      t.offset = pos_;
      if (pos_ >= src_.size()) {
        t.kind = Tok::kEnd;
        out->push_back(std::move(t));
        return true;
      }
      if (!Next(&t)) return false;
      out->push_back(std::move(t));
    }
  }

 private:
  bool Fail(size_t offset, std::string msg) {
    if (error_) *error_ = {offset, std::move(msg)};
    return false;
  }

  char Peek(size_t ahead = 0) const {
    return pos_ + ahead < src_.size() ? src_[pos_ + ahead] : '\0';
  }

  void SkipSpace() {
    while (pos_ < src_.size()) {
      char c = src_[pos_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
        ++pos_;
      } else if (c == '/' && Peek(1) == '/') {
        while (pos_ < src_.size() && src_[pos_] != '\n') ++pos_;
      } else {
        return;
      }
    }
  }

  bool Next(Token* t) {
    char c = src_[pos_];
    if (IsDigit(c) || (c == '.' && IsDigit(Peek(1)))) return Number(t);
    if ((c == 'r' || c == 'R') && (Peek(1) == '"' || Peek(1) == '\'')) {
      ++pos_;
      return String(t, /*raw=*/true);
    }
    if (c == '"' || c == '\'') return String(t, /*raw=*/false);
    if (IsIdentStart(c)) {
      size_t start = pos_;
      while (pos_ < src_.size() && IsIdentChar(src_[pos_])) ++pos_;
      std::string_view word = src_.substr(start, pos_ - start);
      if (word == "true") {
        t->kind = Tok::kTrue;
      } else if (word == "false") {
        t->kind = Tok::kFalse;
      } else if (word == "null") {
        t->kind = Tok::kNull;
      } else if (word == "in") {
        t->kind = Tok::kIn;
      } else {
        t->kind = Tok::kIdent;
        t->text = std::string(word);
      }
      return true;
    }
    auto one = [&](Tok k) {
      t->kind = k;
      ++pos_;
      return true;
    };
    auto two = [&](Tok k) {
      t->kind = k;
      pos_ += 2;
      return true;
    };
    switch (c) {
      case '(':
        return one(Tok::kLParen);
      case ')':
        return one(Tok::kRParen);
      case '[':
        return one(Tok::kLBracket);
      case ']':
        return one(Tok::kRBracket);
      case '{':
        return one(Tok::kLBrace);
      case '}':
        return one(Tok::kRBrace);
      case '.':
        return one(Tok::kDot);
      case ',':
        return one(Tok::kComma);
      case ':':
        return one(Tok::kColon);
      case '+':
        return one(Tok::kPlus);
      case '-':
        return one(Tok::kMinus);
      case '*':
        return one(Tok::kStar);
      case '/':
        return one(Tok::kSlash);
      case '%':
        return one(Tok::kPercent);
      case '?':
        if (Peek(1) == '.' && IsIdentStart(Peek(2))) return two(Tok::kQuestionDot);
        return one(Tok::kQuestion);
      case '=':
        if (Peek(1) == '=') return two(Tok::kEqEq);
        return Fail(pos_, "unexpected '=' (did you mean '=='?)");
      case '!':
        if (Peek(1) == '=') return two(Tok::kNotEq);
        return one(Tok::kBang);
      case '<':
        if (Peek(1) == '=') return two(Tok::kLessEq);
        return one(Tok::kLess);
      case '>':
        if (Peek(1) == '=') return two(Tok::kGreaterEq);
        return one(Tok::kGreater);
      case '&':
        if (Peek(1) == '&') return two(Tok::kAndAnd);
        return Fail(pos_, "unexpected '&' (did you mean '&&'?)");
      case '|':
        if (Peek(1) == '|') return two(Tok::kOrOr);
        return Fail(pos_, "unexpected '|' (did you mean '||'?)");
      default:
        break;
    }
    unsigned char uc = static_cast<unsigned char>(c);
    if (uc < 0x20 || uc >= 0x7F) return Fail(pos_, fmt::format("unexpected byte 0x{:02x}", uc));
    return Fail(pos_, fmt::format("unexpected character '{}'", c));
  }

  bool Number(Token* t) {
    size_t start = pos_;
    if (Peek() == '0' && (Peek(1) == 'x' || Peek(1) == 'X')) {
      pos_ += 2;
      size_t digits = pos_;
      uint64_t v = 0;
      while (HexValue(Peek()) >= 0) {
        if (v > (UINT64_MAX >> 4)) return Fail(start, "integer literal out of range");
        v = (v << 4) | static_cast<uint64_t>(HexValue(Peek()));
        ++pos_;
      }
      if (pos_ == digits) return Fail(start, "malformed hexadecimal literal");
      return FinishInt(t, start, v);
    }
    bool is_double = false;
    while (IsDigit(Peek())) ++pos_;
    if (Peek() == '.' && IsDigit(Peek(1))) {
      is_double = true;
      ++pos_;
      while (IsDigit(Peek())) ++pos_;
    }
    if (Peek() == 'e' || Peek() == 'E') {
      size_t save = pos_;
      ++pos_;
      if (Peek() == '+' || Peek() == '-') ++pos_;
      if (!IsDigit(Peek())) {
        pos_ = save;
      } else {
        is_double = true;
        while (IsDigit(Peek())) ++pos_;
      }
    }
    std::string_view text = src_.substr(start, pos_ - start);
    if (!is_double && (Peek() == 'u' || Peek() == 'U')) {
      return Fail(pos_, "unsigned integer literals are not supported");
    }
    if (IsIdentStart(Peek())) {
      return Fail(pos_, fmt::format("unexpected '{}' after number", Peek()));
    }
    if (is_double) {
      double d = 0;
      auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
      if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(d)) {
        return Fail(start, fmt::format("number literal '{}' out of range", text));
      }
      t->kind = Tok::kDouble;
      t->double_value = d;
      return true;
    }
    uint64_t v = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || ptr != text.data() + text.size()) {
      return Fail(start, fmt::format("integer literal '{}' out of range", text));
    }
    return FinishInt(t, start, v);
  }

  bool FinishInt(Token* t, size_t start, uint64_t v) {
    if (Peek() == 'u' || Peek() == 'U') {
      return Fail(pos_, "unsigned integer literals are not supported");
    }
    // 2^63 is only valid as the operand of unary minus; the parser checks that.
    if (v > static_cast<uint64_t>(INT64_MAX) + 1) {
      return Fail(start, "integer literal out of range");
    }
    t->kind = Tok::kInt;
    t->int_value = static_cast<int64_t>(v);  // 2^63 wraps to INT64_MIN; flagged below
    t->double_value = v > static_cast<uint64_t>(INT64_MAX) ? 1.0 : 0.0;
    return true;
  }

  bool String(Token* t, bool raw) {
    size_t start = raw ? pos_ - 1 : pos_;
    char quote = src_[pos_];
    bool triple = Peek(1) == quote && Peek(2) == quote;
    pos_ += triple ? 3 : 1;
    std::string out;
    while (true) {
      if (pos_ >= src_.size()) return Fail(start, "unterminated string literal");
      char c = src_[pos_];
      if (c == quote) {
        if (!triple) {
          ++pos_;
          break;
        }
        if (Peek(1) == quote && Peek(2) == quote) {
          pos_ += 3;
          break;
        }
      }
      if (!triple && (c == '\n' || c == '\r')) {
        return Fail(start, "unterminated string literal (newline in string)");
      }
      if (c == '\\' && !raw) {
        if (!Escape(&out)) return false;
        continue;
      }
      out.push_back(c);
      ++pos_;
    }
    t->kind = Tok::kString;
    t->text = std::move(out);
    return true;
  }

  bool Escape(std::string* out) {
    size_t at = pos_;
    char e = Peek(1);
    pos_ += 2;
    switch (e) {
      case 'n':
        out->push_back('\n');
        return true;
      case 't':
        out->push_back('\t');
        return true;
      case 'r':
        out->push_back('\r');
        return true;
      case 'b':
        out->push_back('\b');
        return true;
      case 'f':
        out->push_back('\f');
        return true;
      case 'v':
        out->push_back('\v');
        return true;
      case 'a':
        out->push_back('\a');
        return true;
      case '\\':
        out->push_back('\\');
        return true;
      case '"':
        out->push_back('"');
        return true;
      case '\'':
        out->push_back('\'');
        return true;
      case '`':
        out->push_back('`');
        return true;
      case '?':
        out->push_back('?');
        return true;
      case 'x':
      case 'X':
      case 'u':
      case 'U': {
        int n = (e == 'x' || e == 'X') ? 2 : e == 'u' ? 4 : 8;
        uint32_t cp = 0;
        for (int i = 0; i < n; ++i) {
          int h = HexValue(Peek());
          if (h < 0) return Fail(at, fmt::format("malformed \\{} escape", e));
          cp = (cp << 4) | static_cast<uint32_t>(h);
          ++pos_;
        }
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
          return Fail(at, "escape is not a valid Unicode code point");
        }
        AppendUtf8(cp, out);
        return true;
      }
      default:
        if (e >= '0' && e <= '3') {
          uint32_t cp = static_cast<uint32_t>(e - '0');
          for (int i = 0; i < 2; ++i) {
            char d = Peek();
            if (d < '0' || d > '7') return Fail(at, "malformed octal escape");
            cp = cp * 8 + static_cast<uint32_t>(d - '0');
            ++pos_;
          }
          AppendUtf8(cp, out);
          return true;
        }
        if (e == '\0') return Fail(at, "unterminated string literal");
        return Fail(at, fmt::format("invalid escape sequence '\\{}'", e));
    }
  }

  std::string_view src_;
  ExprError* error_;
  size_t pos_ = 0;
};

}  // namespace

bool Lex(std::string_view source, std::vector<Token>* out, ExprError* error) {
  return Lexer(source, error).Run(out);
}

std::string_view TokName(Tok t) {
  switch (t) {
    case Tok::kEnd:
      return "end of expression";
    case Tok::kInt:
      return "integer";
    case Tok::kDouble:
      return "number";
    case Tok::kString:
      return "string";
    case Tok::kIdent:
      return "identifier";
    case Tok::kTrue:
      return "'true'";
    case Tok::kFalse:
      return "'false'";
    case Tok::kNull:
      return "'null'";
    case Tok::kIn:
      return "'in'";
    case Tok::kLParen:
      return "'('";
    case Tok::kRParen:
      return "')'";
    case Tok::kLBracket:
      return "'['";
    case Tok::kRBracket:
      return "']'";
    case Tok::kLBrace:
      return "'{'";
    case Tok::kRBrace:
      return "'}'";
    case Tok::kDot:
      return "'.'";
    case Tok::kQuestionDot:
      return "'?.'";
    case Tok::kComma:
      return "','";
    case Tok::kColon:
      return "':'";
    case Tok::kQuestion:
      return "'?'";
    case Tok::kPlus:
      return "'+'";
    case Tok::kMinus:
      return "'-'";
    case Tok::kStar:
      return "'*'";
    case Tok::kSlash:
      return "'/'";
    case Tok::kPercent:
      return "'%'";
    case Tok::kEqEq:
      return "'=='";
    case Tok::kNotEq:
      return "'!='";
    case Tok::kLess:
      return "'<'";
    case Tok::kLessEq:
      return "'<='";
    case Tok::kGreater:
      return "'>'";
    case Tok::kGreaterEq:
      return "'>='";
    case Tok::kAndAnd:
      return "'&&'";
    case Tok::kOrOr:
      return "'||'";
    case Tok::kBang:
      return "'!'";
  }
  return "token";
}

}  // namespace baton::expr
