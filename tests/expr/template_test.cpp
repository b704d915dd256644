#include <gtest/gtest.h>

#include "expr/expr.hpp"
#include "expr/value.hpp"
#include "test_util.hpp"

namespace baton::expr {
namespace {

std::string Render(std::string_view text) {
  static const json::object obj = testing::TestEnv();
  ObjectEnv env(obj);
  auto t = StringTemplate::Parse(text);
  if (!t.ok()) return "parse error: " + t.error().message();
  auto v = t->Render(env);
  if (!v.ok()) return "error: " + v.error().message();
  return ToCompactJson(*v);
}

TEST(StringTemplateTest, SingleExpressionKeepsItsType) {
  EXPECT_EQ(Render("${{ inputs.count }}"), "3");
  EXPECT_EQ(Render("  ${{ steps.plan.output.questions }}\n"), R"(["q1","q2"])");
  EXPECT_EQ(Render("${{ inputs.nothing }}"), "null");
  auto t = StringTemplate::Parse(" ${{ 1 }} ");
  EXPECT_TRUE(t->IsSingleExpression());
  EXPECT_FALSE(t->IsConstant());
}

TEST(StringTemplateTest, Interpolation) {
  EXPECT_EQ(Render("hi ${{ inputs.name }}!"), R"("hi ada!")");
  EXPECT_EQ(Render("${{ 1 }}${{ 2 }}"), R"("12")");
  EXPECT_EQ(Render("n=${{ inputs.nothing }}."), R"("n=.")");
  EXPECT_EQ(Render("r=${{ inputs.ratio }} t=${{ inputs.tags }} m=${{ {'a': 1} }}"),
            R"("r=0.5 t=[\"a\",\"b\",\"c\"] m={\"a\":1}")");
  EXPECT_EQ(Render("${{ '}}' }} and ${{ {'a': {'b': 1}}.a.b }}"), R"("}} and 1")");
}

TEST(StringTemplateTest, PlainTextAndEscapes) {
  EXPECT_EQ(Render("no expressions"), R"("no expressions")");
  EXPECT_TRUE(StringTemplate::Parse("plain")->IsConstant());
  EXPECT_EQ(Render("literal $${{ x }}"), R"("literal ${{ x }}")");
  EXPECT_EQ(Render("$${{ x }} and ${{ inputs.name }}"), R"("${{ x }} and ada")");
  EXPECT_EQ(Render("$ { } }} $x"), R"("$ { } }} $x")");
}

TEST(StringTemplateTest, ErrorsCarryOffsetsIntoTheText) {
  ExprError err;
  EXPECT_FALSE(StringTemplate::Parse("abc ${{ inputs.x ", &err).ok());
  EXPECT_EQ(err.offset, 4u);
  EXPECT_NE(err.message.find("unterminated"), std::string::npos);
  EXPECT_FALSE(StringTemplate::Parse("ab ${{ 1 + }}", &err).ok());
  EXPECT_EQ(err.offset, 11u);  // the end of "1 + " inside the text
  EXPECT_FALSE(StringTemplate::Parse("${{  }}", &err).ok());
  EXPECT_NE(err.message.find("empty"), std::string::npos);
  auto t = StringTemplate::Parse("x ${{ inputs.a }} y ${{ inputs.b }}");
  ASSERT_TRUE(t.ok());
  std::vector<size_t> offsets;
  for (const auto& p : t->parts()) {
    if (p.is_expr) offsets.push_back(p.offset);
  }
  EXPECT_EQ(offsets, (std::vector<size_t>{5, 23}));
  EXPECT_EQ(Render("${{ inputs.missing }}"), "error: no such key 'missing' in inputs");
}

TEST(TemplateTest, RendersEveryLeaf) {
  auto raw = ParseJson(R"({"with": {"argv": ["echo", "${{ inputs.name }}", "n=${{ inputs.count }}"],
                           "count": "${{ inputs.count }}", "keep": 5, "esc": "$${{ x }}"}})");
  ASSERT_TRUE(raw.ok());
  auto t = Template::Compile(*raw);
  ASSERT_TRUE(t.ok()) << t.error().message();
  EXPECT_FALSE(t->IsConstant());
  EXPECT_EQ(t->raw(), *raw);
  json::object obj = testing::TestEnv();
  ObjectEnv env(obj);
  auto out = t->Render(env);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(ToCompactJson(*out),
            R"({"with":{"argv":["echo","ada","n=3"],"count":3,"keep":5,"esc":"${{ x }}"}})");
  std::vector<std::string> seen;
  t->ForEachExpression([&](const Expression& e, const std::string& pointer, size_t offset) {
    seen.push_back(pointer + "@" + std::to_string(offset) + ":" + e.source());
  });
  EXPECT_EQ(seen, (std::vector<std::string>{"/with/argv/1@3: inputs.name ",
                                            "/with/argv/2@5: inputs.count ",
                                            "/with/count@3: inputs.count "}));
}

TEST(TemplateTest, ConstantTreesRenderByCopy) {
  auto raw = ParseJson(R"({"a": [1, "x"], "b": "$${{ y }}"})");
  auto t = Template::Compile(*raw);
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->IsConstant());
  json::object empty;
  ObjectEnv env(empty);
  EXPECT_EQ(ToCompactJson(*t->Render(env)), R"({"a":[1,"x"],"b":"${{ y }}"})");
}

TEST(TemplateTest, CompileErrorNamesTheLeaf) {
  auto raw = ParseJson(R"({"with": {"a/b": ["ok", "${{ 1 + }}"]}})");
  ExprError err;
  std::string pointer;
  auto t = Template::Compile(*raw, &err, &pointer);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(pointer, "/with/a~1b/1");
  EXPECT_EQ(err.offset, 8u);
  EXPECT_NE(t.error().message().find("/with/a~1b/1"), std::string::npos);
}

TEST(TemplateTest, RenderErrorNamesTheLeaf) {
  auto raw = ParseJson(R"({"x": ["${{ nope }}"]})");
  auto t = Template::Compile(*raw);
  ASSERT_TRUE(t.ok());
  json::object empty;
  ObjectEnv env(empty);
  auto out = t->Render(env);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().message(), "/x/0: unknown name 'nope'");
}

}  // namespace
}  // namespace baton::expr
