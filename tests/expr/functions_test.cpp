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
  EXPECT_NE(r.error().message().find(part), std::string::npos)
      << source << ": " << r.error().message();
}

TEST(FunctionsTest, Size) {
  EXPECT_EQ(RunJson("size('héllo')"), "5");  // code points, not bytes
  EXPECT_EQ(RunJson("'abc'.size()"), "3");
  EXPECT_EQ(RunJson("size(nums)"), "3");
  EXPECT_EQ(RunJson("m.size()"), "2");
  ExpectError("size(1)", "size() argument 1 must be a string, list or map, got int");
}

TEST(FunctionsTest, StringPredicates) {
  EXPECT_EQ(RunJson("'hello'.contains('ell')"), "true");
  EXPECT_EQ(RunJson("contains('hello', 'z')"), "false");
  EXPECT_EQ(RunJson("'hello'.startsWith('he')"), "true");
  EXPECT_EQ(RunJson("'hello'.endsWith('lo')"), "true");
  EXPECT_EQ(RunJson("endsWith('hello', 'x')"), "false");
  ExpectError("'a'.startsWith(1)", "startsWith() argument 2 must be a string");
}

TEST(FunctionsTest, Matches) {
  EXPECT_EQ(RunJson("'abc123'.matches('[0-9]+')"), "true");  // partial match, as in CEL
  EXPECT_EQ(RunJson("matches('abc', '^b')"), "false");
  EXPECT_EQ(RunJson("'abc'.matches('^' + 'a')"), "true");  // dynamic pattern
  ExpectError("'a'.matches('(' + '')", "invalid regular expression");
  // RE2 runs in linear time: this pattern is catastrophic for backtracking engines.
  std::string s = "'" + std::string(5000, 'a') + "!'.matches('^(a+)+$')";
  EXPECT_EQ(RunJson(s), "false");
}

TEST(FunctionsTest, CaseAndTrim) {
  EXPECT_EQ(RunJson("upper('Ada 1')"), R"("ADA 1")");
  EXPECT_EQ(RunJson("'ADA'.lower()"), R"("ada")");
  EXPECT_EQ(RunJson("trim('  x y \\n')"), R"("x y")");
  ExpectError("upper(1)", "upper() argument 1 must be a string");
}

TEST(FunctionsTest, SplitAndJoin) {
  EXPECT_EQ(RunJson("split('a,b,,c', ',')"), R"(["a","b","","c"])");
  EXPECT_EQ(RunJson("'héy'.split('')"), R"(["h","é","y"])");
  EXPECT_EQ(RunJson("join(inputs.tags, '-')"), R"("a-b-c")");
  EXPECT_EQ(RunJson("inputs.tags.join()"), R"("abc")");
  EXPECT_EQ(RunJson("join([], ',')"), R"("")");
  ExpectError("join(nums, ',')", "join() needs a list of strings, found int");
}

TEST(FunctionsTest, Format) {
  EXPECT_EQ(RunJson("format('{} of {}', 1, 'two')"), R"("1 of two")");
  EXPECT_EQ(RunJson("format('{}|{}|{}|{}', null, 1.5, [1, 'a'], {'k': true})"),
            R"("|1.5|[1,\"a\"]|{\"k\":true}")");
  EXPECT_EQ(RunJson("format('{{}} {}', 2)"), R"("{} 2")");
  ExpectError("format('{} {}', 1)", "more {} placeholders than arguments");
  ExpectError("format('{}', 1, 2)", "got 2 arguments but has 1 placeholders");
  ExpectError("format('{x}', 1)", "lone '{'");
}

TEST(FunctionsTest, JsonRoundTrip) {
  EXPECT_EQ(RunJson("json(steps.plan.output.nested)"), R"("{\"x\":1}")");
  EXPECT_EQ(RunJson("json('a\"b')"), R"("\"a\\\"b\"")");
  EXPECT_EQ(RunJson("json(2.0)"), R"("2")");
  EXPECT_EQ(RunJson("fromJson('{\"a\": [1, 2.5]}').a"), "[1,2.5]");
  EXPECT_TRUE(EvalSource("fromJson('[1]')[0]")->is_int64());  // JSON integers are ints
  EXPECT_TRUE(EvalSource("fromJson('1.0')")->is_double());    // JSON reals are doubles
  ExpectError("fromJson('{')", "fromJson()");
}

TEST(FunctionsTest, KeysValues) {
  EXPECT_EQ(RunJson("keys(m)"), R"(["a","b"])");
  EXPECT_EQ(RunJson("m.values()"), "[1,2]");
  ExpectError("keys(nums)", "keys() argument 1 must be a map");
}

TEST(FunctionsTest, Default) {
  EXPECT_EQ(RunJson("default(inputs.nothing, 'x')"), R"("x")");
  EXPECT_EQ(RunJson("default(inputs.missing, 'x')"), R"("x")");
  EXPECT_EQ(RunJson("default(steps.nope.output.deep, 5)"), "5");  // missing keys absorbed
  EXPECT_EQ(RunJson("default(nums[10], 0)"), "0");
  EXPECT_EQ(RunJson("default(inputs.nothing.x, 0)"), "0");
  EXPECT_EQ(RunJson("default(inputs.name, 'x')"), R"("ada")");
  EXPECT_EQ(RunJson("default(undefined_root, 1)"), "1");
  ExpectError("default(1 / 0, 1)", "division by zero");  // real errors are not absorbed
  ExpectError("default(1)", "wrong number of arguments");
}

TEST(FunctionsTest, MinMaxSum) {
  EXPECT_EQ(RunJson("min(nums)"), "1");
  EXPECT_EQ(RunJson("max(nums)"), "3");
  EXPECT_EQ(RunJson("min(3, 1.5, 2)"), "1.5");
  EXPECT_EQ(RunJson("max(['b', 'c', 'a'])"), R"("c")");
  EXPECT_EQ(RunJson("sum(nums)"), "6");
  EXPECT_EQ(RunJson("sum(doubles)"), "4");
  EXPECT_TRUE(EvalSource("sum(doubles)")->is_double());
  EXPECT_EQ(RunJson("sum([])"), "0");
  ExpectError("min([])", "min() of an empty list");
  ExpectError("max([1, 'a'])", "cannot compare");
  ExpectError("sum([1, 2.0])", "cannot mix int and double");
  ExpectError("sum(['a'])", "needs a list of numbers");
  ExpectError("sum([9223372036854775807, 1])", "integer overflow");
}

TEST(FunctionsTest, Conversions) {
  EXPECT_EQ(RunJson("int(2.7)"), "2");
  EXPECT_EQ(RunJson("int(-2.7)"), "-2");
  EXPECT_EQ(RunJson("int('-12')"), "-12");
  EXPECT_EQ(RunJson("int(5)"), "5");
  EXPECT_TRUE(EvalSource("float(2)")->is_double());
  EXPECT_EQ(RunJson("float('1.5')"), "1.5");
  EXPECT_EQ(RunJson("double(3)"), "3");
  EXPECT_EQ(RunJson("string(1.5)"), R"("1.5")");
  EXPECT_EQ(RunJson("string(2.0)"), R"("2")");
  EXPECT_EQ(RunJson("string(1e21)"), R"("1e+21")");
  EXPECT_EQ(RunJson("string(1e-7)"), R"("1e-7")");
  EXPECT_EQ(RunJson("string(123456.789)"), R"("123456.789")");
  EXPECT_EQ(RunJson("string(-0.001)"), R"("-0.001")");
  EXPECT_EQ(RunJson("string(42)"), R"("42")");
  EXPECT_EQ(RunJson("string(true)"), R"("true")");
  ExpectError("int(1e20)", "out of range");
  ExpectError("int('1x')", "cannot convert");
  ExpectError("int(true)", "int() argument 1");
  ExpectError("string(null)", "use json()");
}

TEST(FunctionsTest, UnknownFunctionAndArity) {
  ExpectError("nope(1)", "unknown function 'nope'");
  ExpectError("size(1, 2)", "wrong number of arguments to size()");
}

TEST(FunctionsTest, FunctionNamesListsEverything) {
  const auto& names = FunctionNames();
  for (const char* n :
       {"size",  "has",    "contains", "startsWith", "endsWith", "matches", "lower",
        "upper", "trim",   "split",    "join",       "format",   "json",    "fromJson",
        "keys",  "values", "default",  "min",        "max",      "sum",     "int",
        "float", "string", "all",      "exists",     "map",      "filter"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  }
}

}  // namespace
}  // namespace baton::expr
