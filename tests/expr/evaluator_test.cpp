#include <gtest/gtest.h>

#include "expr/expr.hpp"
#include "test_util.hpp"

namespace baton::expr {
namespace {

using testing::EvalSource;
using testing::RunJson;

void ExpectError(std::string_view source, std::string_view part) {
  Result<json::value> r = EvalSource(source);
  ASSERT_FALSE(r.ok()) << source << " gave " << ToCompactJson(*r);
  EXPECT_EQ(r.error().ErrorType(), "expression") << source;
  EXPECT_NE(r.error().message().find(part), std::string::npos)
      << source << ": " << r.error().message();
}

TEST(EvaluatorTest, MemberAndIndex) {
  EXPECT_EQ(RunJson("inputs.name"), R"("ada")");
  EXPECT_EQ(RunJson("steps.plan.output.questions[1]"), R"("q2")");
  EXPECT_EQ(RunJson("steps['plan'].output['score']"), "7");
  EXPECT_EQ(RunJson("nums[1.0]"), "1");
  EXPECT_EQ(RunJson("{'a': {'b': [10, 20]}}.a.b[1]"), "20");
  EXPECT_EQ(RunJson("[[1, 2], [3]][0][1]"), "2");
  ExpectError("steps.plan.output.foo", "no such key 'foo' in steps.plan.output");
  ExpectError("nums[3]", "index 3 out of range for nums (size 3)");
  ExpectError("nums[-1]", "out of range");
  ExpectError("nums['a']", "list index must be an int");
  ExpectError("inputs.name.first", "cannot read field 'first' of string");
  ExpectError("inputs.nothing.x", "cannot read 'x' of null");
  ExpectError("missing", "unknown name 'missing'");
  ExpectError("inputs.count[0]", "cannot index int");
}

TEST(EvaluatorTest, OptionalMember) {
  EXPECT_EQ(RunJson("inputs?.name"), R"("ada")");
  EXPECT_EQ(RunJson("inputs?.nope"), "null");
  EXPECT_EQ(RunJson("inputs.nothing?.x"), "null");
  EXPECT_EQ(RunJson("inputs?.nope?.deeper"), "null");
  ExpectError("inputs.count?.x", "cannot read field");
}

TEST(EvaluatorTest, Arithmetic) {
  EXPECT_EQ(RunJson("7 / 2"), "3");
  EXPECT_EQ(RunJson("-7 / 2"), "-3");
  EXPECT_EQ(RunJson("-7 % 2"), "-1");
  EXPECT_EQ(RunJson("7.0 / 2.0"), "3.5");
  EXPECT_EQ(RunJson("0.1 + 0.2"), "0.30000000000000004");
  EXPECT_EQ(RunJson("'ab' + 'cd'"), R"("abcd")");
  EXPECT_EQ(RunJson("nums + [4]"), "[3,1,2,4]");
  EXPECT_EQ(RunJson("-inputs.ratio"), "-0.5");
  EXPECT_EQ(RunJson("-9223372036854775808 % -1"), "0");
  ExpectError("1 + 1.0", "cannot add int and double");
  ExpectError("'a' + 1", "cannot add string and int");
  ExpectError("'a' - 'b'", "cannot subtract string and string");
  ExpectError("1.5 % 1.0", "remainder");
  ExpectError("9223372036854775807 + 1", "integer overflow");
  ExpectError("-9223372036854775808 - 1", "integer overflow");
  ExpectError("9223372036854775807 * 2", "integer overflow");
  ExpectError("-9223372036854775808 / -1", "integer overflow");
  ExpectError("-(-9223372036854775808)", "overflow");
  ExpectError("1 / 0", "division by zero");
  ExpectError("1 % 0", "modulo by zero");
  ExpectError("-'a'", "'-' needs a number");
  EXPECT_EQ(ToCompactJson(*EvalSource("1.0 / 0.0")), "null");  // Infinity has no JSON form
  EXPECT_TRUE(std::isinf(EvalSource("1.0 / 0.0")->get_double()));
}

TEST(EvaluatorTest, Comparisons) {
  EXPECT_EQ(RunJson("1 == 1"), "true");
  EXPECT_EQ(RunJson("m.a == 1.0"), "true");  // numbers compare by value across int and double
  EXPECT_EQ(RunJson("1 < 1.5"), "true");
  EXPECT_EQ(RunJson("inputs.name == 1"), "false");  // different types are unequal
  EXPECT_EQ(RunJson("inputs.nothing == null"), "true");
  EXPECT_EQ(RunJson("'abc' < 'abd'"), "true");
  EXPECT_EQ(RunJson("false < true"), "true");
  EXPECT_EQ(RunJson("[1, [2, {'a': 3}]] == [1, [2, {'a': 3}]]"), "true");
  EXPECT_EQ(RunJson("{'a': 1, 'b': 2} == m"), "true");
  EXPECT_EQ(RunJson("{'a': 1} != m"), "true");
  EXPECT_EQ(RunJson("0.0 / 0.0 == 0.0 / 0.0"), "false");
  EXPECT_EQ(RunJson("0.0 / 0.0 < 1.0"), "false");
  ExpectError("[1] < [2]", "cannot compare list and list with '<'");
  ExpectError("null < 1", "cannot compare");
}

TEST(EvaluatorTest, InOperator) {
  EXPECT_EQ(RunJson("'b' in inputs.tags"), "true");
  EXPECT_EQ(RunJson("'z' in inputs.tags"), "false");
  EXPECT_EQ(RunJson("'a' in m"), "true");
  EXPECT_EQ(RunJson("1 in m"), "false");
  EXPECT_EQ(RunJson("[1] in [[1], [2]]"), "true");
  ExpectError("'a' in 'abc'", "'in' needs a list or map");
}

TEST(EvaluatorTest, LogicShortCircuitsAndAbsorbsErrors) {
  EXPECT_EQ(RunJson("false && 1 / 0 == 1"), "false");
  EXPECT_EQ(RunJson("1 / 0 == 1 && false"), "false");
  EXPECT_EQ(RunJson("true || missing"), "true");
  EXPECT_EQ(RunJson("missing || true"), "true");
  EXPECT_EQ(RunJson("1 || true"), "true");
  ExpectError("1 / 0 == 1 && true", "division by zero");
  ExpectError("true && 1", "'&&' needs bool operands, got int");
  ExpectError("false || 'x'", "'||' needs bool operands");
  ExpectError("!1", "'!' needs a bool");
}

TEST(EvaluatorTest, Ternary) {
  EXPECT_EQ(RunJson("inputs.flag ? 'y' : 'n'"), R"("y")");
  EXPECT_EQ(RunJson("false ? 1 / 0 : 2"), "2");
  ExpectError("inputs.count ? 1 : 2", "condition of '?:' must be a bool");
}

TEST(EvaluatorTest, HasMacro) {
  EXPECT_EQ(RunJson("has(steps.plan.output)"), "true");
  EXPECT_EQ(RunJson("has(steps.plan.nope)"), "false");
  EXPECT_EQ(RunJson("has(inputs.nothing.x)"), "false");
  EXPECT_EQ(RunJson("has(inputs.name.x)"), "false");
  ExpectError("has(steps.nope.x)", "no such key 'nope'");
}

TEST(EvaluatorTest, ComprehensionMacros) {
  EXPECT_EQ(RunJson("nums.all(x, x > 0)"), "true");
  EXPECT_EQ(RunJson("nums.exists(x, x == 2)"), "true");
  EXPECT_EQ(RunJson("nums.map(x, x * 10)"), "[30,10,20]");
  EXPECT_EQ(RunJson("nums.map(x, x > 1, x * 10)"), "[30,20]");
  EXPECT_EQ(RunJson("nums.filter(x, x >= 2)"), "[3,2]");
  EXPECT_EQ(RunJson("m.filter(k, k == 'b')"), R"(["b"])");
  EXPECT_EQ(RunJson("m.map(k, m[k] * 2)"), "[2,4]");
  EXPECT_EQ(RunJson("m.all(k, k in ['a', 'b'])"), "true");
  EXPECT_EQ(RunJson("[].all(x, false)"), "true");
  EXPECT_EQ(RunJson("[].exists(x, true)"), "false");
  EXPECT_EQ(RunJson("nums.all(x, nums.exists(y, y == x))"), "true");
  EXPECT_EQ(RunJson("[[1, 2], [3]].map(x, x.map(x, x + 1))"), "[[2,3],[4]]");
  // Error absorption: a decisive element wins over an erroring one.
  EXPECT_EQ(RunJson("[1, 0].all(x, 10 / x > 100)"), "false");
  EXPECT_EQ(RunJson("[0, 1].exists(x, 10 / x == 10)"), "true");
  ExpectError("[0, 1].all(x, 10 / x > 1)", "division by zero");
  ExpectError("nums.all(x, x)", "predicate of all() must return a bool");
  ExpectError("inputs.name.all(x, true)", "all() needs a list or map");
  ExpectError("nums.map(x, y)", "unknown name 'y'");
}

TEST(EvaluatorTest, MapLiteralErrors) {
  ExpectError("{1: 'a'}", "map keys must be strings");
  ExpectError("{'a': 1, 'a': 2}", "duplicate map key 'a'");
}

TEST(EvaluatorTest, CostBoundStopsRunawayWork) {
  // 300^3 = 27M visits without a bound.
  std::string range = "[";
  for (int i = 0; i < 300; ++i) range += (i ? "," : "") + std::to_string(i);
  range += "]";
  std::string src = range + ".all(a, " + range + ".all(b, " + range + ".all(c, true)))";
  Result<json::value> r = EvalSource(src);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kResourceExhausted);
  EXPECT_NE(r.error().message().find("cost bound"), std::string::npos);
  // Doubling a string 25 times would make 32 MiB.
  std::string dbl = "'abcdefgh'";
  for (int i = 0; i < 25; ++i) dbl = "[" + dbl + "].map(s, s + s)[0]";
  EXPECT_EQ(EvalSource(dbl).error().code(), Code::kResourceExhausted);
}

TEST(EvaluatorTest, ValuesFromEnvAreNotCopiedIntoTheResultUnlessNeeded) {
  json::object obj = testing::TestEnv();
  ObjectEnv env(obj);
  auto e = Expression::Parse("steps.plan.output");
  ASSERT_TRUE(e.ok());
  Result<json::value> r = e->Evaluate(env);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, obj["steps"].at("plan").at("output"));
}

TEST(EvaluatorTest, EvaluateIsRepeatableAndIndependentOfEnv) {
  auto e = Expression::Parse("x + 1");
  ASSERT_TRUE(e.ok());
  for (int i = 0; i < 3; ++i) {
    json::object obj{{"x", i}};
    ObjectEnv env(obj);
    EXPECT_EQ(e->Evaluate(env)->as_int64(), i + 1);
  }
}

TEST(EvaluatorTest, CustomEnv) {
  class OneEnv : public Env {
   public:
    const json::value* Lookup(std::string_view name) const override {
      return name == "answer" ? &v_ : nullptr;
    }

   private:
    json::value v_ = 42;
  };
  OneEnv env;
  EXPECT_EQ(Expression::Parse("answer * 2")->Evaluate(env)->as_int64(), 84);
  EXPECT_FALSE(Expression::Parse("other")->Evaluate(env).ok());
}

}  // namespace
}  // namespace baton::expr
