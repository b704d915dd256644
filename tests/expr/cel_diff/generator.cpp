#include "generator.hpp"

#include <random>

namespace baton::expr::cel_diff {

std::string BindingsJson() {
  return R"({"i": 7, "j": -3, "z": 0, "big": 9223372036854775807, "small": -9223372036854775808,
    "d": 2.5, "e": -0.5, "s": "hello", "t": "World", "empty": "", "l": [1, 2, 3],
    "sl": ["a", "b", "c"], "dl": [1.5, 2.5], "m": {"a": 1, "b": 2},
    "nested": {"x": {"y": "z"}, "list": [1, 2]}, "n": null, "yes": true, "no": false})";
}

std::vector<std::string> BindingNames() {
  return {"i",     "j", "z",  "big", "small", "d",      "e", "s",   "t",
          "empty", "l", "sl", "dl",  "m",     "nested", "n", "yes", "no"};
}

namespace {

enum class T { kInt, kDouble, kString, kBool, kList, kMap };

class Gen {
 public:
  explicit Gen(uint64_t seed) : rng_(seed) {}

  std::string Any(int depth) { return Of(static_cast<T>(Pick(6)), depth); }

  std::string Of(T t, int depth) {
    // Now and then an operand of the wrong type, to cover ill-typed expressions.
    if (depth > 0 && Pick(25) == 0) t = static_cast<T>(Pick(6));
    switch (t) {
      case T::kInt:
        return Int(depth);
      case T::kDouble:
        return Double(depth);
      case T::kString:
        return Str(depth);
      case T::kBool:
        return Bool(depth);
      case T::kList:
        return List(depth);
      case T::kMap:
        return Map(depth);
    }
    return "null";
  }

 private:
  size_t Pick(size_t n) { return static_cast<size_t>(rng_() % n); }
  template <typename... S>
  std::string One(S... options) {
    const char* all[] = {options...};
    return all[Pick(sizeof...(options))];
  }

  std::string IntLeaf() {
    switch (Pick(6)) {
      case 0:
      case 1:
        return std::to_string(static_cast<int>(Pick(12)));
      case 2:
        return One("i", "j", "z", "m.a", "m['b']", "nested.list[0]", "l[2]");
      case 3:
        return "-" + std::to_string(2 + Pick(9));
      case 4:
        return One("big", "small", "9223372036854775807", "0x10", "1000000007");
      default:
        return One("l[0]", "l[1]", "size(s)", "s.size()", "size(l)", "sl.size()");
    }
  }

  std::string Int(int depth) {
    if (depth <= 0 || Pick(3) == 0) return IntLeaf();
    switch (Pick(7)) {
      case 0:
      case 1: {
        std::string op = One("+", "-", "*", "/", "%");
        std::string rhs = Int(depth - 1);
        if ((op == "/" || op == "%") && Pick(3) != 0) rhs = std::to_string(1 + Pick(9));
        return "(" + Int(depth - 1) + " " + op + " " + rhs + ")";
      }
      case 2:
        return "(" + Bool(depth - 1) + " ? " + Int(depth - 1) + " : " + Int(depth - 1) + ")";
      case 3:
        return "size(" + One("l", "sl", "m", "s", "empty", "[1, 2]", "'abc'") + ")";
      case 4:
        return List(depth - 1, T::kInt) + "[" + std::to_string(Pick(4)) + "]";
      case 5:
        return "-" + One("i", "j", "z", "(i + 1)", "l[0]");
      default:
        return "(" + IntLeaf() + " + " + IntLeaf() + ")";
    }
  }

  std::string DoubleLeaf() {
    return One("1.5", "0.25", "2.0", "d", "e", "dl[0]", "dl[1]", "1e3", "0.1", "3.0", "-2.5",
               "1e300", "100.0");
  }

  std::string Double(int depth) {
    if (depth <= 0 || Pick(3) == 0) return DoubleLeaf();
    switch (Pick(4)) {
      case 0:
      case 1:
        return "(" + Double(depth - 1) + " " + One("+", "-", "*", "/") + " " + Double(depth - 1) +
               ")";
      case 2:
        return "(" + Bool(depth - 1) + " ? " + Double(depth - 1) + " : " + Double(depth - 1) + ")";
      default:
        return "-" + One("d", "e", "1.5", "(d * 2.0)");
    }
  }

  std::string StrLeaf() {
    return One("'abc'", "\"x y\"", "''", "s", "t", "empty", "sl[0]", "sl[2]", "nested.x.y",
               "'a\\nb'", "'tab\\there'", "'quote\\'s'", "\"\\u00e9t\\u00e9\"", "'HELLO'", "'b'");
  }

  std::string Str(int depth) {
    if (depth <= 0 || Pick(3) == 0) return StrLeaf();
    switch (Pick(4)) {
      case 0:
      case 1:
        return "(" + Str(depth - 1) + " + " + Str(depth - 1) + ")";
      case 2:
        return "(" + Bool(depth - 1) + " ? " + Str(depth - 1) + " : " + Str(depth - 1) + ")";
      default:
        return List(depth - 1, T::kString) + "[" + std::to_string(Pick(3)) + "]";
    }
  }

  std::string BoolLeaf() { return One("true", "false", "yes", "no"); }

  std::string Bool(int depth) {
    if (depth <= 0 || Pick(5) == 0) return BoolLeaf();
    switch (Pick(16)) {
      case 0:
      case 1: {
        std::string op = One("<", "<=", ">", ">=", "==", "!=");
        T t = static_cast<T>(Pick(3));
        // Mixed int/double ordering is part of the common subset.
        if (op[0] != '=' && op[0] != '!' && t == T::kDouble && Pick(2)) {
          return "(" + Int(depth - 1) + " " + op + " " + Double(depth - 1) + ")";
        }
        return "(" + Of(t, depth - 1) + " " + op + " " + Of(t, depth - 1) + ")";
      }
      case 2:
        return "(" + Bool(depth - 1) + " && " + Bool(depth - 1) + ")";
      case 3:
        return "(" + Bool(depth - 1) + " || " + Bool(depth - 1) + ")";
      case 4:
        return "!" + Bool(depth - 1);
      case 5:
        return "(" + Int(depth - 1) + " in " + One("l", "[1, 2, 3]", "nested.list", "[]") + ")";
      case 6:
        return "(" + Str(depth - 1) + " in " + One("sl", "m", "['abc', 'hello']", "{'a': 1}") + ")";
      case 7:
        return Str(depth - 1) + "." + One("contains", "startsWith", "endsWith") + "(" +
               Str(depth - 1) + ")";
      case 8:
        return Str(depth - 1) + ".matches(" +
               One("'^a'", "'l+'", "'[0-9]'", "'^$'", "'b|c'", "'(ab)+'", "'.*'", "'H.*O'") + ")";
      case 9:
        return "has(" + One("m.a", "m.zz", "nested.x", "nested.x.y", "nested.q", "nested.x.q") +
               ")";
      case 10:
        return List(depth - 1, T::kInt) + "." + One("all", "exists") + "(x, " +
               One("x > 1", "x % 2 == 0", "x != 0", "10 / x > 2", "x == i", "x < 0") + ")";
      case 11:
        return "sl." + One("all", "exists") + "(w, " +
               One("w != ''", "w == 'b'", "w < 'c'", "w + s == 'ahello'") + ")";
      case 12:
        return "m." + One("all", "exists") + "(k, " + One("m[k] > 1", "k == 'a'") + ")";
      case 13:
        return "(" + Int(depth - 1) + " " + One("==", "!=", "<") + " " + Int(depth - 1) + ")";
      case 14:
        return "(" + List(depth - 1, T::kInt) + " " + One("==", "!=") + " " +
               List(depth - 1, T::kInt) + ")";
      default:
        return "(" + Map(depth - 1) + " " + One("==", "!=") + " " + Map(depth - 1) + ")";
    }
  }

  std::string List(int depth, T elem = T::kInt) {
    if (elem == T::kString) {
      if (depth <= 0 || Pick(2) == 0) return One("sl", "['x', 'y']", "['hello']");
      switch (Pick(3)) {
        case 0:
          return "sl.map(w, w + " + Str(depth - 1) + ")";
        case 1:
          return "[" + Str(depth - 1) + ", " + Str(depth - 1) + "]";
        default:
          return "(sl + " + One("['d']", "sl", "[]") + ")";
      }
    }
    if (depth <= 0 || Pick(3) == 0) {
      // No bare "[]" here: the reference rejects macros over an empty literal list
      // ("Operator overload ... overlaps"), which is a bug of its own.
      return One("l", "[1, 2, 3]", "nested.list", "[5]", "[0, 4, 8]");
    }
    switch (Pick(6)) {
      case 0:
        return "[" + Int(depth - 1) + ", " + Int(depth - 1) + "]";
      case 1:
        return "(" + List(depth - 1) + " + " + List(depth - 1) + ")";
      case 2:
        return List(depth - 1) + ".map(x, " + One("x * 2", "x + i", "x - 1", "x / 2", "-x") + ")";
      case 3:
        return List(depth - 1) + ".filter(x, " + One("x > 1", "x % 2 == 1", "x != 2") + ")";
      case 4:
        return List(depth - 1) + ".map(x, x > 1, x * 10)";
      default:
        return "m.map(k, m[k])";
    }
  }

  std::string Map(int depth) {
    if (depth <= 0 || Pick(2) == 0) return One("m", "nested.x", "{'a': 1, 'b': 2}", "{}");
    switch (Pick(3)) {
      case 0:
        return "{'k': " + Int(depth - 1) + "}";
      case 1:
        return "{'k': " + Int(depth - 1) + ", 'j': " + Int(depth - 1) + "}";
      default:
        return "{" + Str(0) + ": " + Str(depth - 1) + "}";
    }
  }

  std::mt19937_64 rng_;
};

// Edge cases worth pinning whatever the generator draws.
const char* const kFixed[] = {
    "big + 1",
    "small - 1",
    "big * 2",
    "-big - 2",
    "small + big",
    "big - big",
    "i / z",
    "i % z",
    "d / 0.0",
    "-d / 0.0",
    "0.0 / 0.0 == 0.0 / 0.0",
    "1 + 1.0",
    "1.0 + 1",
    "'a' + 1",
    "1 + 'a'",
    "'a' - 'b'",
    "!1",
    "-'a'",
    "-true",
    "true && 1",
    "1 || false",
    "false && (1 / 0 == 1)",
    "(1 / 0 == 1) && false",
    "true || (1 / 0 == 1)",
    "(1 / 0 == 1) || true",
    "(1 / 0 == 1) && true",
    "false || (1 / 0 == 1)",
    "i ? 1 : 2",
    "yes ? 1 : 2",
    "no ? 's' : t",
    "l[3]",
    "l[-1]",
    "l[1.0]",
    "m.zz",
    "m['zz']",
    "nested.x.y.z",
    "nested.q.r",
    "n.x",
    "has(n.x)",
    "has(m.a)",
    "has(s.x)",
    "size(1)",
    "size(n)",
    "size(yes)",
    "size('héllo')",
    "size('😀')",
    "'abc'.startsWith(1)",
    "1.0 in [1, 2]",
    "1 == 1.0",
    "1 == 'a'",
    "null == 1",
    "n == null",
    "s == null",
    "m.a == 1.0",
    "m.a == null",
    "s == 1",
    "l == ['a']",
    "l == [1, 2, 3]",
    "m == {'a': 1, 'b': 2}",
    "m == {'b': 2, 'a': 1}",
    "[[1], [2, 3]] == [[1], [2, 3]]",
    "{'a': [1]} == {'a': [1]}",
    "i < d",
    "d > i",
    "1 < 1.5",
    "j <= -3.0",
    "'abc' < 'abd'",
    "'B' < 'a'",
    "true < false",
    "[1] < [2]",
    "n < n",
    "l.all(x, x)",
    "l.exists(x, 1 / (x - 2) == 5)",
    "[1, 0].all(x, 10 / x > 100)",
    "[0, 1].exists(x, 10 / x == 10)",
    "[0, 1].all(x, 10 / x > 1)",
    "l.map(x, x + 0.5)",
    "l.map(x, [x])",
    "l.map(x, l.map(y, x * y))",
    "m.filter(k, k == 'a')",
    "m.map(k, k + '!')",
    "s.all(c, true)",
    "'a'.matches('[')",
    "s.matches('^h.*o$')",
    "t.matches('[A-Z]')",
    "5 % -3",
    "-5 % 3",
    "-7 / 2",
    "0x7fffffffffffffff + 0",
    "1e300 * 1e300",
    "-1e300 * 1e300",
    "0.1 + 0.2",
    "1.0 / 3.0",
    "2.0 * 0.5",
    "123456789.0 * 1000.0",
    "1e21 + 1.0",
    "0.000001 * 0.1",
    "-0.0",
    "e * 0.0",
    "'a\\tb\\\\c\\\"d'",
    "'\\x41\\101'",
    "\"\\U0001F600\"",
    "r'raw\\n'",
    "'''tri'ple'''",
    "l + sl",
    "[1] + ['a']",
    "sl + sl",
    "{}",
    "[]",
    "[[]]",
    "{'k': {'j': [1, {'x': 'y'}]}}",
    "{'a': 1}.a",
    "{'a': 1}['b']",
    "{'a': 1}.size()",
    "'a' in 'abc'",
    "1 in m",
    "n in l",
    "d in dl",
    "2.5 in dl",
    "true ? 1 : 'a'",
    "yes ? false : yes ? 1 : 2",
    "(i + 1) * (j - 1) / 2 % 5",
    "-(-i)",
    "--i",
    "!!yes",
    "!(i > 2) || !(d < 1.0)",
    "i > 2 && d < 1.0 || s == 'hello'",
    "size(m) + size(sl) + size(s)",
    "nested.list.map(x, x * i).filter(x, x > 7)",
    "has(nested.x.y) && nested.x.y == 'z'",
    "empty.size() == 0 && !empty.contains('a') && ''.startsWith('')",
};

}  // namespace

std::vector<std::string> GenerateExpressions(uint64_t seed, int count) {
  Gen g(seed);
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(count) + std::size(kFixed));
  for (int k = 0; k < count; ++k) out.push_back(g.Any(1 + k % 4));
  for (const char* f : kFixed) out.emplace_back(f);
  return out;
}

}  // namespace baton::expr::cel_diff
