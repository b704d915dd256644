#include "schema/synthesize.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <set>
#include <string>

#include "schema/validator.hpp"

namespace baton::schema {
namespace {

json::value Json(std::string_view text) {
  auto v = ParseJson(text);
  EXPECT_TRUE(v.ok()) << text;
  return v.ok() ? *v : json::value();
}

// Synthesizes with several seeds and checks each value against the validator.
void ExpectConforms(std::string_view schema_text, std::string_view hint = "solar power") {
  json::value schema = Json(schema_text);
  auto compiled = Schema::Compile(schema);
  ASSERT_TRUE(compiled.ok()) << compiled.error().ToString() << "\n" << schema_text;
  for (uint64_t seed = 0; seed < 25; ++seed) {
    json::value v = Synthesize(schema, seed, hint);
    auto errors = compiled->Validate(v);
    EXPECT_TRUE(errors.empty()) << schema_text << "\nseed " << seed << ": " << ToJson(v) << "\n"
                                << FormatErrors(errors);
  }
}

TEST(SynthesizeTest, ScalarTypes) {
  ExpectConforms(R"({"type": "string"})");
  ExpectConforms(R"({"type": "integer"})");
  ExpectConforms(R"({"type": "number"})");
  ExpectConforms(R"({"type": "boolean"})");
  ExpectConforms(R"({"type": "null"})");
  ExpectConforms(R"({"type": ["null", "integer"]})");
  ExpectConforms(R"({})");
  ExpectConforms("true");
}

TEST(SynthesizeTest, NumericBounds) {
  ExpectConforms(R"({"type": "integer", "minimum": 10, "maximum": 12})");
  ExpectConforms(R"({"type": "integer", "exclusiveMinimum": 10, "exclusiveMaximum": 12})");
  ExpectConforms(R"({"type": "integer", "minimum": -1000})");
  ExpectConforms(R"({"type": "integer", "maximum": -1000})");
  ExpectConforms(R"({"type": "integer", "minimum": 1, "maximum": 100, "multipleOf": 7})");
  ExpectConforms(R"({"type": "integer", "minimum": 3, "maximum": 3})");
  ExpectConforms(R"({"type": "number", "minimum": 0, "maximum": 1})");
  ExpectConforms(R"({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 0.01})");
  ExpectConforms(R"({"type": "number", "minimum": 0.5, "multipleOf": 0.5})");
  ExpectConforms(R"({"type": "number", "multipleOf": 0.25, "maximum": 2})");
  ExpectConforms(R"({"minimum": 5})");
}

TEST(SynthesizeTest, StringLengthsAndFormats) {
  ExpectConforms(R"({"type": "string", "minLength": 200})");
  ExpectConforms(R"({"type": "string", "maxLength": 5})");
  ExpectConforms(R"({"type": "string", "minLength": 3, "maxLength": 3})");
  ExpectConforms(R"({"type": "string", "maxLength": 4})", "ünïcödé tøpic");
  for (std::string_view format :
       {"date-time", "date", "time", "email", "uri", "uuid", "hostname", "ipv4", "ipv6"}) {
    json::value v = Synthesize(json::object{{"type", "string"}, {"format", format}}, 1, "x");
    ASSERT_TRUE(v.is_string()) << format;
    EXPECT_FALSE(v.get_string().empty()) << format;
  }
  std::string uuid(Synthesize(Json(R"({"type": "string", "format": "uuid"})"), 9, "").as_string());
  ASSERT_EQ(uuid.size(), 36u);
  EXPECT_EQ(uuid[8], '-');
  EXPECT_EQ(uuid[14], '4');
  std::string when(
      Synthesize(Json(R"({"type": "string", "format": "date-time"})"), 9, "").as_string());
  EXPECT_EQ(when.size(), 20u);
  EXPECT_EQ(when[10], 'T');
  EXPECT_EQ(when.back(), 'Z');
  std::string email(Synthesize(Json(R"({"format": "email"})"), 9, "").as_string());
  EXPECT_NE(email.find("@example.com"), std::string::npos);
}

TEST(SynthesizeTest, EnumAndConst) {
  ExpectConforms(R"({"enum": ["a", 1, null, {"x": 2}]})");
  ExpectConforms(R"({"const": {"fixed": [1, 2]}})");
  ExpectConforms(R"({"type": "string", "enum": ["approve", "revise", "reject"]})");
  std::set<std::string> picked;
  for (uint64_t seed = 0; seed < 30; ++seed) {
    picked.insert(ToJson(Synthesize(Json(R"({"enum": ["a", "b", "c"]})"), seed, "")));
  }
  EXPECT_EQ(picked.size(), 3u);
}

TEST(SynthesizeTest, ObjectsFillEveryPropertyAndRequiredOnes) {
  ExpectConforms(R"({"type": "object", "properties": {"a": {"type": "string"},
                     "b": {"type": "integer"}}, "required": ["a", "c"],
                     "additionalProperties": {"type": "number"}})");
  ExpectConforms(R"({"type": "object", "minProperties": 4})");
  ExpectConforms(R"({"type": "object", "properties": {"a": {}, "b": {}, "c": {}},
                     "required": ["a"], "maxProperties": 1})");
  ExpectConforms(R"({"type": "object", "properties": {"x": {"type": "string"}},
                     "additionalProperties": false, "required": ["x"]})");
  json::value v = Synthesize(
      Json(R"({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "null"}}})"),
      1, "");
  EXPECT_TRUE(v.as_object().contains("a"));
  EXPECT_TRUE(v.as_object().contains("b"));
}

TEST(SynthesizeTest, ArraysHonourCountsPrefixItemsAndUniqueness) {
  ExpectConforms(R"({"type": "array", "items": {"type": "integer"}})");
  ExpectConforms(R"({"type": "array", "minItems": 7})");
  ExpectConforms(R"({"type": "array", "maxItems": 1})");
  ExpectConforms(R"({"type": "array", "prefixItems": [{"type": "integer"}, {"type": "boolean"}],
                     "items": false})");
  ExpectConforms(R"({"type": "array", "prefixItems": [{"const": 1}], "items": {"type": "string"},
                     "minItems": 4})");
  ExpectConforms(R"({"type": "array", "items": {"enum": [1, 2, 3, 4]}, "uniqueItems": true,
                     "minItems": 4})");
  ExpectConforms(R"({"type": "array", "items": {"type": "boolean"}, "uniqueItems": true})");
  json::value four = Synthesize(
      Json(R"({"items": {"enum": [1, 2, 3, 4]}, "uniqueItems": true, "minItems": 4})"), 3, "");
  EXPECT_EQ(std::set<std::string>({"1", "2", "3", "4"}),
            std::set<std::string>(
                {ToJson(four.at(0)), ToJson(four.at(1)), ToJson(four.at(2)), ToJson(four.at(3))}));
  EXPECT_EQ(Synthesize(Json(R"({"type": "array"})"), 1, "").as_array().size(), 3u);
}

TEST(SynthesizeTest, CompositionAndReferences) {
  ExpectConforms(R"({"allOf": [{"type": "object", "properties": {"a": {"type": "integer"}},
                     "required": ["a"]}, {"properties": {"b": {"type": "string"}},
                     "required": ["b"]}, {"properties": {"a": {"minimum": 50}}}]})");
  ExpectConforms(R"({"anyOf": [{"type": "null"}, {"type": "string", "minLength": 2}]})");
  ExpectConforms(R"({"oneOf": [{"type": "integer", "minimum": 3}, {"type": "string"}]})");
  ExpectConforms(R"({"$defs": {"pos": {"type": "integer", "minimum": 1}},
                     "type": "object", "properties": {"n": {"$ref": "#/$defs/pos"}},
                     "required": ["n"]})");
  ExpectConforms(R"({"definitions": {"a~b": {"type": "boolean"}},
                     "properties": {"flag": {"$ref": "#/definitions/a~0b"}}})");
  // Recursive schema: the tree stops growing below the depth limit.
  ExpectConforms(R"({"type": "object", "properties": {"name": {"type": "string"},
                     "children": {"type": "array", "items": {"$ref": "#"}}},
                     "required": ["name"]})");
  ExpectConforms(R"({"$ref": "#/$defs/list", "$defs": {"list": {"type": "object",
                     "properties": {"value": {"type": "integer"}, "next": {"anyOf": [
                     {"$ref": "#/$defs/list"}, {"type": "null"}]}},
                     "required": ["value", "next"]}}})");
  EXPECT_TRUE(Synthesize(json::value(false), 1, "").is_null());
}

TEST(SynthesizeTest, StringsReadLikeTheHintAndPropertyName) {
  json::value schema = Json(R"({"type": "object", "properties": {
      "questions": {"type": "array", "items": {"type": "string"}},
      "title": {"type": "string"}, "summary": {"type": "string"},
      "tags": {"type": "array", "items": {"type": "string"}}}})");
  json::value v = Synthesize(schema, 4, "solar power");
  const json::array& questions = v.at("questions").as_array();
  ASSERT_EQ(questions.size(), 3u);
  EXPECT_EQ(questions[0].as_string(), "Question 1 about solar power?");
  EXPECT_EQ(questions[1].as_string(), "Question 2 about solar power?");
  EXPECT_EQ(v.at("title").as_string(), "Solar power: an overview");
  EXPECT_EQ(v.at("summary").as_string(), "A short summary of solar power.");
  EXPECT_EQ(v.at("tags").as_array()[0].as_string(), "solar-power-1");
  EXPECT_EQ(Synthesize(Json(R"({"type": "string"})"), 1, "").as_string(),
            "Example about the topic.");
}

TEST(SynthesizeTest, ConfidenceAndApprovalAreSeeded) {
  json::value schema = Json(R"({"type": "object", "properties": {
      "confidence": {"type": "number"}, "approved": {"type": "boolean"},
      "ok": {"type": "boolean"}, "verbose": {"type": "boolean"}}})");
  std::set<bool> approved, ok;
  std::set<double> confidences;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    json::value v = Synthesize(schema, seed, "x");
    double c = v.at("confidence").as_double();
    EXPECT_GE(c, 0.6);
    EXPECT_LE(c, 0.99);
    confidences.insert(c);
    approved.insert(v.at("approved").as_bool());
    ok.insert(v.at("ok").as_bool());
    EXPECT_TRUE(v.at("verbose").as_bool());
  }
  EXPECT_EQ(approved.size(), 2u);
  EXPECT_EQ(ok.size(), 2u);
  EXPECT_GE(confidences.size(), 10u);
}

TEST(SynthesizeTest, DeterministicPerSeed) {
  json::value schema = Json(R"({"type": "object", "properties": {
      "id": {"type": "string", "format": "uuid"}, "score": {"type": "integer"},
      "confidence": {"type": "number"}}})");
  EXPECT_EQ(Synthesize(schema, 42, "h"), Synthesize(schema, 42, "h"));
  std::set<std::string> distinct;
  for (uint64_t seed = 0; seed < 10; ++seed) distinct.insert(ToJson(Synthesize(schema, seed, "h")));
  EXPECT_EQ(distinct.size(), 10u);
}

TEST(SynthesizeTest, RealisticAgentSchemas) {
  ExpectConforms(R"({"type": "object", "properties": {"questions": {"type": "array",
      "items": {"type": "string"}, "minItems": 2, "maxItems": 5}}, "required": ["questions"]})");
  ExpectConforms(R"({"type": "object", "properties": {
      "verdict": {"enum": ["approve", "revise"]}, "feedback": {"type": "string", "maxLength": 80},
      "confidence": {"type": "number", "minimum": 0, "maximum": 1},
      "issues": {"type": "array", "items": {"type": "object",
        "properties": {"line": {"type": "integer", "minimum": 1}, "severity":
        {"enum": ["low", "high"]}, "url": {"type": "string", "format": "uri"}},
        "required": ["line", "severity"], "additionalProperties": false}}},
      "required": ["verdict", "feedback"], "additionalProperties": false})");
}

}  // namespace
}  // namespace baton::schema
