#include <gtest/gtest.h>

#include "expr/expr.hpp"

namespace baton::expr {
namespace {

const Scope kScope{{"inputs", "steps", "memory", "run", "workflow", "env", "item", "index"}};

std::vector<ExprError> CheckSource(std::string_view source) {
  auto e = Expression::Parse(source);
  EXPECT_TRUE(e.ok()) << source;
  if (!e.ok()) return {};
  return e->Check(kScope);
}

// The single problem reported for `source`.
std::string OneProblem(std::string_view source, size_t* offset = nullptr) {
  auto errors = CheckSource(source);
  EXPECT_EQ(errors.size(), 1u) << source;
  if (errors.empty()) return "";
  if (offset) *offset = errors[0].offset;
  return errors[0].message;
}

TEST(CheckerTest, CleanExpressionsPass) {
  for (const char* src :
       {"steps.plan.output.questions.size() > 0", "inputs.x + 1", "item.name.startsWith('a')",
        "steps.a.output.map(q, q.text).filter(t, t != '')", "has(memory.notes)",
        "default(inputs.x, 'y')", "format('{} {}', run.id, workflow.name)", "1 < 1.5",
        "inputs.flag ? 'a' : null", "[1, 2].all(x, x > 0)", "{'a': 1}.a + 1", "index % 2 == 0",
        "size(split(inputs.s, ',')) == 2", "keys(inputs).exists(k, k == 'a')"}) {
    EXPECT_TRUE(CheckSource(src).empty()) << src << ": " << CheckSource(src)[0].message;
  }
}

TEST(CheckerTest, UnknownRootWithSuggestion) {
  size_t offset = 99;
  EXPECT_EQ(OneProblem("1 + stpes.plan.output", &offset),
            "unknown name 'stpes' (did you mean 'steps'?)");
  EXPECT_EQ(offset, 4u);
  EXPECT_EQ(OneProblem("input.x"), "unknown name 'input' (did you mean 'inputs'?)");
  EXPECT_EQ(OneProblem("zzzzzz"), "unknown name 'zzzzzz'");
}

TEST(CheckerTest, MacroVariablesAreInScopeOnlyInsideTheirMacro) {
  EXPECT_TRUE(CheckSource("inputs.xs.all(x, x > 0)").empty());
  EXPECT_EQ(OneProblem("inputs.xs.all(x, x > 0) && x"), "unknown name 'x'");
  EXPECT_EQ(OneProblem("inputs.xs.map(value, valeu)"),
            "unknown name 'valeu' (did you mean 'value'?)");
}

TEST(CheckerTest, UnknownFunctionWithSuggestion) {
  EXPECT_EQ(OneProblem("inputs.s.startWith('a')"),
            "unknown function 'startWith' (did you mean 'startsWith'?)");
  EXPECT_EQ(OneProblem("lenght(inputs.s)"), "unknown function 'lenght'");
  EXPECT_EQ(OneProblem("sise(inputs.s)"), "unknown function 'sise' (did you mean 'size'?)");
}

TEST(CheckerTest, Arity) {
  EXPECT_EQ(OneProblem("size(inputs.a, inputs.b)"), "size() takes 1 argument, got 2");
  EXPECT_EQ(OneProblem("inputs.s.contains()"), "contains() takes 2 arguments, got 1");
  EXPECT_EQ(OneProblem("join()"), "join() takes 1 to 2 arguments, got 0");
  EXPECT_EQ(OneProblem("format()"), "format() takes at least 1 arguments, got 0");
}

TEST(CheckerTest, TypeErrorsKnowableFromLiterals) {
  EXPECT_EQ(OneProblem("'a' - 1"), "cannot apply '-' to string and int");
  EXPECT_EQ(OneProblem("1 + 1.0"), "cannot add int and double");
  EXPECT_EQ(OneProblem("size(1)"), "size() cannot take int as argument 1");
  EXPECT_EQ(OneProblem("!'x'"), "'!' needs a bool, got string");
  EXPECT_EQ(OneProblem("-'x'"), "'-' needs a number, got string");
  EXPECT_EQ(OneProblem("1 == 'a'"), "cannot compare int and string with '=='");
  EXPECT_EQ(OneProblem("[1] == ['a']"), "cannot compare list(int) and list(string) with '=='");
  EXPECT_EQ(OneProblem("true && 1"), "'&&' needs bool operands, got int");
  EXPECT_EQ(OneProblem("1 ? 2 : 3"), "the condition of '?:' must be a bool, got int");
  EXPECT_EQ(OneProblem("true ? 1 : 'a'"),
            "the branches of '?:' have different types, int and string");
  EXPECT_EQ(OneProblem("1 in 'abc'"), "'in' needs a list or map on the right, got string");
  EXPECT_EQ(OneProblem("1.0 in [1, 2]"), "'in' looks for double in list(int)");
  EXPECT_EQ(OneProblem("[1].all(x, x)"), "the predicate of all() must be a bool, got int");
  EXPECT_EQ(OneProblem("'abc'.all(x, true)"), "all() needs a list or map, got string");
  EXPECT_EQ(OneProblem("size(inputs.s) + 'a'"), "cannot add int and string");
  EXPECT_EQ(OneProblem("'a'.matches('(')"), "invalid regular expression: missing ): (");
  EXPECT_EQ(OneProblem("{1: 'a'}"), "map keys must be strings, got int");
  EXPECT_EQ(OneProblem("1.5 % 2.0"), "cannot apply '%' to double and double");
  EXPECT_EQ(OneProblem("[1, 2].map(x, x + 'a')"), "cannot add int and string");
  EXPECT_EQ(OneProblem("'a'.x"), "cannot read field 'x' of string");
  EXPECT_EQ(OneProblem("[1] + ['a']"), "cannot add list(int) and list(string)");
  EXPECT_EQ(OneProblem("'a' < 1"), "cannot compare string and int with '<'");
}

TEST(CheckerTest, ReportsEveryProblem) {
  auto errors = CheckSource("stpes.x + nope(1) + size(1)");
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_LT(errors[0].offset, errors[1].offset);
  EXPECT_LT(errors[1].offset, errors[2].offset);
}

std::vector<std::vector<std::string>> Paths(std::string_view source) {
  std::vector<std::vector<std::string>> out;
  for (const auto& r : Expression::Parse(source)->References()) out.push_back(r.path);
  return out;
}

using P = std::vector<std::vector<std::string>>;

TEST(ReferencesTest, StaticPaths) {
  EXPECT_EQ(Paths("steps.plan.output.questions"), (P{{"steps", "plan", "output", "questions"}}));
  EXPECT_EQ(Paths("steps['plan'].output[0].text"), (P{{"steps", "plan", "output", "0", "text"}}));
  EXPECT_EQ(Paths("steps.plan.output[inputs.i].text"),
            (P{{"steps", "plan", "output"}, {"inputs", "i"}}));
  EXPECT_EQ(Paths("size(steps.a.output) + inputs.n"),
            (P{{"steps", "a", "output"}, {"inputs", "n"}}));
  EXPECT_EQ(Paths("steps.a.output.size()"), (P{{"steps", "a", "output"}}));
  EXPECT_EQ(Paths("has(steps.a.output)"), (P{{"steps", "a", "output"}}));
  EXPECT_EQ(Paths("inputs?.a.b"), (P{{"inputs", "a", "b"}}));
  EXPECT_EQ(Paths("1 + 2"), P{});
}

TEST(ReferencesTest, MacroVariablesAreNotRoots) {
  EXPECT_EQ(Paths("steps.s.output.map(q, q.text + item.x)"),
            (P{{"steps", "s", "output"}, {"item", "x"}}));
}

TEST(ReferencesTest, OffsetsPointAtTheRoot) {
  auto refs = Expression::Parse("1 + inputs.a")->References();
  ASSERT_EQ(refs.size(), 1u);
  EXPECT_EQ(refs[0].offset, 4u);
}

}  // namespace
}  // namespace baton::expr
