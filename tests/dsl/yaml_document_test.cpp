#include "dsl/yaml_document.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cmath>

namespace baton::dsl {
namespace {

struct Parsed {
  YamlDocument doc;
  std::vector<Diagnostic> diags;
};

Parsed ParseText(std::string_view text) {
  Parsed p;
  p.doc = YamlDocument::Parse(text, "t.yaml", p.diags);
  return p;
}

json::value Scalar(std::string_view yaml_value) {
  Parsed p = ParseText("v: " + std::string(yaml_value) + "\n");
  EXPECT_TRUE(p.diags.empty()) << yaml_value;
  return p.doc.root().as_object().at("v");
}

TEST(YamlTypingTest, YesNoOnOffAreStrings) {
  for (const char* s : {"yes", "no", "on", "off", "Yes", "NO", "y", "n"}) {
    json::value v = Scalar(s);
    ASSERT_TRUE(v.is_string()) << s;
    EXPECT_EQ(v.get_string(), s);
  }
}

TEST(YamlTypingTest, CoreSchemaBooleans) {
  for (const char* s : {"true", "True", "TRUE"}) EXPECT_EQ(Scalar(s), json::value(true)) << s;
  for (const char* s : {"false", "False", "FALSE"}) EXPECT_EQ(Scalar(s), json::value(false)) << s;
  EXPECT_TRUE(Scalar("tRUE").is_string());
}

TEST(YamlTypingTest, Nulls) {
  for (const char* s : {"null", "Null", "NULL", "~", ""}) EXPECT_TRUE(Scalar(s).is_null()) << s;
  EXPECT_TRUE(Scalar("nULL").is_string());
}

TEST(YamlTypingTest, Integers) {
  EXPECT_EQ(Scalar("42"), json::value(42));
  EXPECT_EQ(Scalar("-7"), json::value(-7));
  EXPECT_EQ(Scalar("+3"), json::value(3));
  EXPECT_EQ(Scalar("0o17"), json::value(15));
  EXPECT_EQ(Scalar("0x1F"), json::value(31));
  EXPECT_TRUE(Scalar("0x").is_string());
  EXPECT_TRUE(Scalar("0o9").is_string());
  EXPECT_TRUE(Scalar("1_000").is_string());  // YAML 1.1 only
  EXPECT_TRUE(Scalar("99999999999999999999").is_double());
}

TEST(YamlTypingTest, Floats) {
  EXPECT_EQ(Scalar("1.5"), json::value(1.5));
  EXPECT_EQ(Scalar("-.5"), json::value(-0.5));
  EXPECT_EQ(Scalar("1e3"), json::value(1000.0));
  EXPECT_EQ(Scalar("2."), json::value(2.0));
  EXPECT_TRUE(std::isinf(Scalar(".inf").get_double()));
  EXPECT_LT(Scalar("-.Inf").get_double(), 0);
  EXPECT_TRUE(std::isnan(Scalar(".nan").get_double()));
  EXPECT_TRUE(Scalar("1.2.3").is_string());
  EXPECT_TRUE(Scalar("1:30").is_string());  // no YAML 1.1 sexagesimals
}

TEST(YamlTypingTest, QuotedAndBlockScalarsAreStrings) {
  EXPECT_EQ(Scalar("'123'"), json::value("123"));
  EXPECT_EQ(Scalar("\"true\""), json::value("true"));
  EXPECT_EQ(Scalar("'null'"), json::value("null"));
  EXPECT_EQ(Scalar("!!str 12"), json::value("12"));
  Parsed p = ParseText("v: |\n  42\n");
  EXPECT_EQ(p.doc.root().as_object().at("v"), json::value("42\n"));
}

TEST(YamlDocumentTest, DuplicateKeysAreErrors) {
  Parsed p = ParseText("a: 1\nb: 2\na: 3\n");
  ASSERT_EQ(p.diags.size(), 1u);
  EXPECT_EQ(FormatDiagnostic(p.diags[0]),
            "t.yaml:3:1: error: duplicate key 'a' (first defined at line 1)");
  EXPECT_EQ(p.doc.root().as_object().at("a"), json::value(1));  // the first wins
}

TEST(YamlDocumentTest, SyntaxErrorAtMark) {
  Parsed p = ParseText("a:\n  - b\n c: [1\n");
  ASSERT_FALSE(p.diags.empty());
  EXPECT_GT(p.diags[0].line, 1);
  EXPECT_TRUE(p.doc.root().is_null());
}

TEST(YamlDocumentTest, PositionsOfKeysAndValues) {
  Parsed p = ParseText("steps:\n  - id: a\n    agent: \"w\"\n");
  const NodeInfo& id = p.doc.Info("/steps/0/id");
  EXPECT_EQ(id.key.line, 2);
  EXPECT_EQ(id.key.col, 5);
  EXPECT_EQ(id.value.col, 9);
  const NodeInfo& agent = p.doc.Info("/steps/0/agent");
  EXPECT_EQ(agent.style, ScalarStyle::kDoubleQuoted);
  // Unknown pointers fall back to the nearest ancestor.
  EXPECT_EQ(p.doc.Info("/steps/0/nope/x").value.line, 2);
}

TEST(YamlDocumentTest, LocateInsideScalars) {
  Parsed p = ParseText(
      "plain: ab ${{ x }}\n"
      "quoted: \"a\\\"b ${{ x }}\"\n"
      "single: 'it''s ${{ x }}'\n"
      "block: |\n"
      "  first\n"
      "  second ${{ x }}\n"
      "folded: >\n"
      "  zz\n");
  // offset 3 is the '$' in each case.
  EXPECT_EQ(p.doc.Locate("/plain", 3).col, 11);
  Position q = p.doc.Locate("/quoted", 4);  // decoded: a " b _ $
  EXPECT_EQ(q.line, 2);
  EXPECT_EQ(q.col, 15);
  EXPECT_EQ(p.doc.Locate("/single", 5).col, 16);
  Position b = p.doc.Locate("/block", 13);  // "first\n" is 6 bytes; "second " 7 more
  EXPECT_EQ(b.line, 6);
  EXPECT_EQ(b.col, 10);
  Position f = p.doc.Locate("/folded", 1);
  EXPECT_EQ(f.line, 7);
  EXPECT_EQ(f.col, 9);
}

TEST(YamlDocumentTest, SelfReferentialAliasDoesNotRecurseForever) {
  Parsed p = ParseText("a: &x [*x]\n");
  ASSERT_FALSE(p.diags.empty());
  EXPECT_NE(p.diags[0].message.find("nesting deeper"), std::string::npos);
}

TEST(YamlDocumentTest, AliasExpansionIsBounded) {
  std::string text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  std::string prev = "a";
  for (int i = 0; i < 8; ++i) {
    std::string name = "l" + std::to_string(i);
    text += name + ": &" + name + " [";
    for (int j = 0; j < 10; ++j) text += (j ? ", *" : "*") + prev;
    text += "]\n";
    prev = name;
  }
  Parsed p = ParseText(text);
  ASSERT_FALSE(p.diags.empty());
  EXPECT_NE(p.diags.back().message.find("more than"), std::string::npos);
}

TEST(YamlDocumentTest, JsonIsAccepted) {
  Parsed p = ParseText("{\"a\": [1, 2.5, \"yes\", true, null], \"b\": {\"c\": \"d\"}}");
  ASSERT_TRUE(p.diags.empty());
  EXPECT_EQ(p.doc.root(), json::parse(R"({"a":[1,2.5,"yes",true,null],"b":{"c":"d"}})"));
  EXPECT_EQ(p.doc.Info("/b/c").value.col, 47);
}

TEST(YamlDocumentTest, PointerEscaping) {
  EXPECT_EQ(ChildPointer("/a", "b/c~d"), "/a/b~1c~0d");
  EXPECT_EQ(ChildPointer("", size_t{3}), "/3");
}

}  // namespace
}  // namespace baton::dsl

namespace baton::dsl {
namespace {

TEST(YamlDocumentTest, OneDocumentPerFile) {
  Parsed p = ParseText("---\na: 1\n---\nb: 2\n");
  ASSERT_EQ(p.diags.size(), 1u);
  EXPECT_EQ(FormatDiagnostic(p.diags[0]),
            "t.yaml:3:1: error: a workflow file holds one YAML document; found more");
  EXPECT_TRUE(ParseText("# c\n---\na: 1\n...\n").diags.empty());
}

// yaml-cpp's LoadAll never returns on this input; the loader must.
TEST(YamlDocumentTest, TrailingJunkAfterFlowMappingTerminates) {
  Parsed p = ParseText("{\"baton\": 1, \"name\": \"x\"},\n \"steps\": [{\"id\": \"a\"}]\n");
  EXPECT_TRUE(p.doc.root().is_object());
}

}  // namespace
}  // namespace baton::dsl
