#include "schema/validator.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace baton::schema {
namespace {

json::value Parse(std::string_view text) {
  Result<json::value> v = ParseJson(text);
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  return v.ok() ? *v : json::value();
}

Schema MustCompile(std::string_view text) {
  Result<Schema> s = Schema::Compile(Parse(text));
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return *s;
}

TEST(ValidatorTest, MinimumErrorHasPointerLocationAndMessage) {
  Schema s = MustCompile(R"({"properties": {"age": {"type": "integer", "minimum": 0}}})");
  std::vector<ValidationError> errors = s.Validate(Parse(R"({"age": -3})"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].instance_pointer, "/age");
  EXPECT_EQ(errors[0].keyword_location, "/properties/age/minimum");
  EXPECT_EQ(errors[0].message, "must be >= 0, got -3");
  EXPECT_TRUE(s.IsValid(Parse(R"({"age": 4.0})")));
}

TEST(ValidatorTest, RequiredAndTypeErrors) {
  Schema s = MustCompile(R"({"type": "object", "required": ["name", "id"],
                             "properties": {"id": {"type": ["integer", "null"]}}})");
  std::vector<ValidationError> errors = s.Validate(Parse(R"({"id": "x"})"));
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].instance_pointer, "");
  EXPECT_EQ(errors[0].keyword_location, "/required");
  EXPECT_EQ(errors[0].message, "missing required property \"name\"");
  EXPECT_EQ(errors[1].instance_pointer, "/id");
  EXPECT_EQ(errors[1].keyword_location, "/properties/id/type");
  EXPECT_EQ(errors[1].message, "must be one of null, integer, got string");
}

TEST(ValidatorTest, PointersEscapeAndIndexArrays) {
  Schema s = MustCompile(R"({"properties": {"a/b~c": {"items": {"maxLength": 2}}}})");
  std::vector<ValidationError> errors = s.Validate(Parse(R"({"a/b~c": ["ok", "héllo"]})"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].instance_pointer, "/a~1b~0c/1");
  EXPECT_EQ(errors[0].keyword_location, "/properties/a~1b~0c/items/maxLength");
  EXPECT_EQ(errors[0].message, "must be at most 2 characters long, got 5");
}

TEST(ValidatorTest, KeywordLocationFollowsRefs) {
  Schema s = MustCompile(R"({"$defs": {"pos": {"exclusiveMinimum": 0}},
                             "properties": {"n": {"$ref": "#/$defs/pos"}}})");
  std::vector<ValidationError> errors = s.Validate(Parse(R"({"n": 0})"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].instance_pointer, "/n");
  EXPECT_EQ(errors[0].keyword_location, "/properties/n/$ref/exclusiveMinimum");
  EXPECT_EQ(errors[0].message, "must be > 0, got 0");
}

TEST(ValidatorTest, AdditionalAndUnevaluatedPropertiesNameTheProperty) {
  Schema s = MustCompile(R"({"properties": {"a": true}, "additionalProperties": false})");
  std::vector<ValidationError> errors = s.Validate(Parse(R"({"a": 1, "b": 2})"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].instance_pointer, "/b");
  EXPECT_EQ(errors[0].keyword_location, "/additionalProperties");
  EXPECT_EQ(errors[0].message, "property \"b\" is not allowed");

  Schema u =
      MustCompile(R"({"allOf": [{"properties": {"a": true}}], "unevaluatedProperties": false})");
  errors = u.Validate(Parse(R"({"a": 1, "c": 2})"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].instance_pointer, "/c");
  EXPECT_EQ(errors[0].keyword_location, "/unevaluatedProperties");
}

TEST(ValidatorTest, CombinatorMessages) {
  Schema s = MustCompile(R"({"oneOf": [{"type": "number"}, {"minimum": 0}]})");
  std::vector<ValidationError> errors = s.Validate(Parse("5"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].keyword_location, "/oneOf");
  EXPECT_EQ(errors[0].message, "must match exactly one schema in oneOf, matched 0 and 1");
  Schema any = MustCompile(R"({"anyOf": [{"type": "string"}, {"type": "null"}]})");
  errors = any.Validate(Parse("5"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message, "must match at least one schema in anyOf");
}

TEST(ValidatorTest, MaxErrorsCapsTheList) {
  Schema s = MustCompile(R"({"items": {"type": "string"}})");
  EXPECT_EQ(s.Validate(Parse("[1, 2, 3, 4, 5]")).size(), 5u);
  EXPECT_EQ(s.Validate(Parse("[1, 2, 3, 4, 5]"), 2).size(), 2u);
  EXPECT_EQ(s.Validate(Parse("[1, 2, 3, 4, 5]"), 0).size(), 1u);
  EXPECT_FALSE(s.IsValid(Parse("[1]")));
}

TEST(ValidatorTest, FormatErrorsOneLinePerError) {
  std::vector<ValidationError> errors = {{"", "/required", "missing required property \"x\""},
                                         {"/a/0", "/properties/a/items/type", "must be string"}};
  EXPECT_EQ(FormatErrors(errors),
            "(root): missing required property \"x\" [at /required]\n"
            "/a/0: must be string [at /properties/a/items/type]");
  EXPECT_EQ(FormatErrors({}), "");
}

TEST(ValidatorTest, InvalidSchemasFailToCompile) {
  for (std::string_view text :
       {R"({"type": "strin"})", R"({"minimum": "0"})", R"({"required": [1]})",
        R"({"pattern": "(unclosed"})", R"({"$ref": "#/$defs/missing"})", R"({"items": [true]})",
        R"({"multipleOf": 0})", R"({"properties": {"a": 3}})", "42",
        R"({"$ref": "http://example.com/nowhere.json"})"}) {
    Result<Schema> s = Schema::Compile(Parse(text));
    ASSERT_FALSE(s.ok()) << text;
    EXPECT_EQ(s.status().code(), Code::kInvalidArgument) << text;
  }
}

TEST(ValidatorTest, RegistryResolvesRemoteRefs) {
  Registry registry;
  registry.Add("https://example.com/money.json", Parse(R"({"type": "object", "required": ["cents"],
                         "properties": {"cents": {"type": "integer"}}})"));
  Result<Schema> s = Schema::Compile(Parse(R"({"$id": "https://example.com/order.json",
                "properties": {"total": {"$ref": "money.json"}}})"),
                                     registry);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_TRUE(s->IsValid(Parse(R"({"total": {"cents": 5}})")));
  std::vector<ValidationError> errors = s->Validate(Parse(R"({"total": {"cents": 1.5}})"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].instance_pointer, "/total/cents");
  EXPECT_EQ(errors[0].keyword_location, "/properties/total/$ref/properties/cents/type");
}

TEST(ValidatorTest, BuiltInMetaSchemaValidatesSchemas) {
  Schema meta = MustCompile(R"({"$ref": "https://json-schema.org/draft/2020-12/schema"})");
  EXPECT_TRUE(meta.IsValid(Parse(R"({"type": "string", "minLength": 1})")));
  EXPECT_FALSE(meta.IsValid(Parse(R"({"minLength": -1})")));
  EXPECT_FALSE(meta.IsValid(Parse(R"({"type": "strin"})")));
}

TEST(ValidatorTest, ReferenceLoopStopsWithAnError) {
  Schema s = MustCompile(R"({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}},
                             "$ref": "#/$defs/a"})");
  std::vector<ValidationError> errors = s.Validate(Parse("1"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].message.find("reference loop"), std::string::npos) << errors[0].message;
  EXPECT_FALSE(s.IsValid(Parse("1")));
}

TEST(ValidatorTest, ExponentialSchemasHitTheBudget) {
  // Each level of nesting doubles the work: the first branch fails only after its items were
  // evaluated, so anyOf evaluates the nested value twice per level.
  Schema s = MustCompile(R"({"$defs": {"n": {"anyOf": [{"items": {"$ref": "#/$defs/n"},
                                                        "contains": {"type": "string"}},
                                                       {"items": {"$ref": "#/$defs/n"}}]}},
                             "$ref": "#/$defs/n"})");
  json::value deep = json::array();
  for (int i = 0; i < 40; ++i) deep = json::array({deep});
  std::vector<ValidationError> errors = s.Validate(deep);
  ASSERT_FALSE(errors.empty());
  EXPECT_EQ(errors[0].message, "validation stopped: more than 2000000 schema evaluations")
      << FormatErrors(errors);
  EXPECT_FALSE(s.IsValid(deep));
}

TEST(ValidatorTest, CopiesShareTheCompiledSchemaAcrossThreads) {
  Schema s = MustCompile(R"({"type": "array", "items": {"type": "integer"}, "uniqueItems": true})");
  std::vector<std::thread> threads;
  std::atomic<int> valid{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([copy = s, &valid] {
      for (int i = 0; i < 200; ++i) {
        if (copy.IsValid(Parse("[1, 2, 3]")) && !copy.IsValid(Parse("[1, 1]"))) ++valid;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(valid.load(), 800);
}

}  // namespace
}  // namespace baton::schema
