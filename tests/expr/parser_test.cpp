#include <gtest/gtest.h>

#include "expr/expr.hpp"
#include "test_util.hpp"

namespace baton::expr {
namespace {

using testing::RunJson;

TEST(ParserTest, Precedence) {
  EXPECT_EQ(RunJson("1 + 2 * 3"), "7");
  EXPECT_EQ(RunJson("(1 + 2) * 3"), "9");
  EXPECT_EQ(RunJson("10 - 4 - 3"), "3");
  EXPECT_EQ(RunJson("2 * 3 % 4"), "2");
  EXPECT_EQ(RunJson("1 + 2 * 3 - 4 / 2 % 3"), "5");
  EXPECT_EQ(RunJson("1 < 2 == true"), "true");
  EXPECT_EQ(RunJson("true || false && false"), "true");
  EXPECT_EQ(RunJson("!true || true"), "true");
  EXPECT_EQ(RunJson("false ? 1 : true ? 2 : 3"), "2");
  EXPECT_EQ(RunJson("1 + 1 == 2 && 'a' in ['a']"), "true");
  EXPECT_EQ(RunJson("-nums[0]"), "-3");
  EXPECT_EQ(RunJson("3 - -3"), "6");
  EXPECT_EQ(RunJson("--3"), "3");
  EXPECT_EQ(RunJson("-9223372036854775808"), "-9223372036854775808");
}

TEST(ParserTest, Literals) {
  EXPECT_EQ(RunJson("0x1F"), "31");
  EXPECT_EQ(RunJson("1.5e3"), "1500");
  EXPECT_TRUE(testing::EvalSource("1.5e3")->is_double());
  EXPECT_EQ(RunJson(".5"), "0.5");
  EXPECT_EQ(RunJson(R"("a\n\t\\\"\'\u00e9")"), R"("a\n\t\\\"'é")");
  EXPECT_EQ(RunJson(R"('it\'s')"), R"("it's")");
  EXPECT_EQ(RunJson(R"(r"a\n")"), R"("a\\n")");
  EXPECT_EQ(RunJson(R"("""tri"ple""")"), R"("tri\"ple")");
  EXPECT_EQ(RunJson(R"("\x41\101\U0001F600")"), R"("AA😀")");
  EXPECT_EQ(RunJson("[1, 'a', null, [true]]"), R"([1,"a",null,[true]])");
  EXPECT_EQ(RunJson("{'k': 1, 'j': {'x': []}}"), R"({"k":1,"j":{"x":[]}})");
  EXPECT_EQ(RunJson("[1, 2,]"), "[1,2]");
}

struct BadCase {
  const char* source;
  size_t offset;
  const char* message_part;
};

TEST(ParserTest, ErrorsCarryOffsets) {
  const BadCase cases[] = {
      {"1 +", 3, "unexpected end"},
      {"(1 + 2", 6, "')'"},
      {"a = b", 2, "did you mean '=='"},
      {"a & b", 2, "'&&'"},
      {"'abc", 0, "unterminated string"},
      {"1 2", 2, "unexpected integer"},
      {"a.", 2, "field name"},
      {"[1, 2", 5, "']'"},
      {"{'a' 1}", 5, "':'"},
      {"9223372036854775808", 0, "out of range"},
      {"99999999999999999999", 0, "out of range"},
      {"1e999", 0, "out of range"},
      {"'\\q'", 1, "invalid escape"},
      {"has(a)", 0, "has()"},
      {"l.all(1, true)", 6, "variable name"},
      {"l.map(x)", 2, "map()"},
      {"a # b", 2, "unexpected character '#'"},
      {"1u", 1, "unsigned"},
      {"12abc", 2, "after number"},
  };
  for (const auto& c : cases) {
    ExprError err;
    Result<Expression> e = Expression::Parse(c.source, &err);
    ASSERT_FALSE(e.ok()) << c.source;
    EXPECT_EQ(err.offset, c.offset) << c.source << ": " << err.message;
    EXPECT_NE(err.message.find(c.message_part), std::string::npos)
        << c.source << ": " << err.message;
    EXPECT_EQ(e.error().ErrorType(), "expression");
  }
}

TEST(ParserTest, DeepNestingIsRejectedNotCrashing) {
  std::string deep(5000, '(');
  deep += "1";
  deep += std::string(5000, ')');
  ExprError err;
  EXPECT_FALSE(Expression::Parse(deep, &err).ok());
  EXPECT_NE(err.message.find("nested too deeply"), std::string::npos);
  std::string negs(5000, '-');
  EXPECT_FALSE(Expression::Parse(negs + "1").ok());
}

TEST(ParserTest, SourceAndValidity) {
  Expression empty;
  EXPECT_FALSE(empty.valid());
  EXPECT_EQ(empty.source(), "");
  auto e = Expression::Parse("inputs.name");
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e->valid());
  EXPECT_EQ(e->source(), "inputs.name");
  json::object no_values;
  ObjectEnv env(no_values);
  EXPECT_FALSE(empty.Evaluate(env).ok());
}

TEST(ParserTest, CommentsAndWhitespace) { EXPECT_EQ(RunJson("  1 +\n 2 // the answer\n"), "3"); }

}  // namespace
}  // namespace baton::expr
