// sim-server speaking the Gemini API.

#include "sim_fixture.hpp"

namespace baton::simserver::testing {
namespace {

json::value Ask(std::string_view question) {
  json::object body;
  body["systemInstruction"] = J(R"({"parts":[{"text":"Be brief."}]})");
  body["contents"] = json::array{
      json::object{{"role", "user"}, {"parts", json::array{json::object{{"text", question}}}}}};
  return body;
}

json::value Tools() {
  return json::array{
      json::object{{"functionDeclarations",
                    json::array{json::object{{"name", "get_weather"},
                                             {"description", "Current weather for a city"},
                                             {"parametersJsonSchema", WeatherSchema()}}}}}};
}

std::string TextOf(const json::value& response) {
  std::string text;
  for (const auto& part : response.at("candidates").at(0).at("content").at("parts").as_array()) {
    if (part.as_object().contains("thought")) continue;
    if (const auto* t = part.as_object().if_contains("text")) text += t->as_string();
  }
  return text;
}

using GeminiTest = SimServerTest;

TEST_F(GeminiTest, GenerateContentHasTheOfficialShape) {
  StartServer();
  auto r = Gemini("gemini-sim", "generateContent", Ask("Explain quantum entanglement"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/json; charset=UTF-8");
  json::object body = r.Json().as_object();
  const auto& c = body.at("candidates").at(0).as_object();
  EXPECT_EQ(c.at("finishReason"), "STOP");
  EXPECT_EQ(c.at("index"), 0);
  EXPECT_EQ(c.at("content").at("role"), "model");
  EXPECT_EQ(TextOf(body).substr(0, 6), "[sim] ");
  const auto& u = body.at("usageMetadata").as_object();
  EXPECT_GT(u.at("promptTokenCount").as_int64(), 0);
  EXPECT_GT(u.at("candidatesTokenCount").as_int64(), 0);
  EXPECT_EQ(u.at("totalTokenCount").as_int64(),
            u.at("promptTokenCount").as_int64() + u.at("candidatesTokenCount").as_int64());
  EXPECT_FALSE(u.contains("thoughtsTokenCount"));
  EXPECT_EQ(body.at("modelVersion"), "gemini-sim");
  EXPECT_TRUE(body.at("responseId").is_string());
}

TEST_F(GeminiTest, SseStreamUsesCrlfAndEndsWithFinishReason) {
  StartServer();
  std::string whole =
      TextOf(Gemini("gemini-sim", "generateContent", Ask("Explain quantum entanglement")).Json());
  auto r =
      Gemini("gemini-sim", "streamGenerateContent", Ask("Explain quantum entanglement"), "alt=sse");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "text/event-stream");
  EXPECT_NE(r.body.find("\r\n\r\n"), std::string::npos);
  auto events = ParseSse(r.body);
  ASSERT_GE(events.size(), 2u);
  std::string text;
  for (size_t i = 0; i < events.size(); ++i) {
    json::value chunk = J(events[i].data);
    text += TextOf(chunk);
    bool last = i + 1 == events.size();
    EXPECT_EQ(chunk.at("candidates").at(0).as_object().contains("finishReason"), last);
    EXPECT_EQ(chunk.at("usageMetadata").as_object().contains("candidatesTokenCount"), last);
  }
  EXPECT_EQ(text, whole);
}

TEST_F(GeminiTest, StreamWithoutAltIsAJsonArray) {
  StartServer();
  auto r = Gemini("gemini-sim", "streamGenerateContent", Ask("hello there"));
  ASSERT_EQ(r.status, 200);
  json::value all = r.Json();
  ASSERT_TRUE(all.is_array());
  EXPECT_GE(all.as_array().size(), 1u);
  EXPECT_EQ(all.as_array().back().at("candidates").at(0).at("finishReason"), "STOP");
}

TEST_F(GeminiTest, FunctionCallCarriesAThoughtSignatureThatMustBeEchoed) {
  StartServer();
  json::value body = Ask("What is the weather in Paris?");
  body.as_object()["tools"] = Tools();
  auto r = Gemini("gemini-sim", "generateContent", body);
  ASSERT_EQ(r.status, 200) << r.body;
  json::value content = r.Json().at("candidates").at(0).at("content");
  const auto& part = content.at("parts").at(0).as_object();
  EXPECT_EQ(part.at("functionCall").at("name"), "get_weather");
  EXPECT_TRUE(part.at("functionCall").at("args").at("city").is_string());
  EXPECT_FALSE(part.at("thoughtSignature").as_string().empty());

  json::value response = J(R"({"role":"user","parts":[{"functionResponse":{"name":"get_weather",
                              "response":{"result":"rainy"}}}]})");
  // Without the signature: 400 as Gemini 3 answers.
  json::value stripped = content;
  stripped.at("parts").at(0).as_object().erase("thoughtSignature");
  json::value bad = body;
  bad.at("contents").as_array().push_back(stripped);
  bad.at("contents").as_array().push_back(response);
  auto rejected = Gemini("gemini-sim", "generateContent", bad);
  EXPECT_EQ(rejected.status, 400);
  EXPECT_EQ(rejected.Json().at("error").at("status"), "INVALID_ARGUMENT");
  EXPECT_EQ(rejected.Json().at("error").at("code"), 400);
  EXPECT_NE(rejected.body.find("thought_signature"), std::string::npos);

  json::value good = body;
  good.at("contents").as_array().push_back(content);
  good.at("contents").as_array().push_back(response);
  auto answer = Gemini("gemini-sim", "generateContent", good);
  ASSERT_EQ(answer.status, 200) << answer.body;
  EXPECT_NE(TextOf(answer.Json()).find("(from get_weather)"), std::string::npos);
  EXPECT_GT(answer.Json().at("usageMetadata").at("cachedContentTokenCount").as_int64(), 0);
}

TEST_F(GeminiTest, ThoughtsWhenAskedFor) {
  StartServer();
  json::value body = Ask("Why is the sky blue?");
  body.as_object()["generationConfig"] =
      J(R"({"thinkingConfig":{"includeThoughts":true,"thinkingBudget":1024}})");
  auto r = Gemini("gemini-sim", "generateContent", body);
  ASSERT_EQ(r.status, 200);
  json::value rj = r.Json();
  const auto& parts = rj.at("candidates").at(0).at("content").at("parts").as_array();
  ASSERT_GE(parts.size(), 2u);
  EXPECT_EQ(parts[0].at("thought"), true);
  EXPECT_GT(r.Json().at("usageMetadata").at("thoughtsTokenCount").as_int64(), 0);
}

TEST_F(GeminiTest, StructuredOutputWithAnOpenApiSchema) {
  StartServer();
  json::value body = Ask("Rate the movie Alien");
  body.as_object()["generationConfig"] = J(R"({"responseMimeType":"application/json",
      "responseSchema":{"type":"OBJECT","properties":{"score":{"type":"INTEGER"}},"required":["score"]}})");
  auto r = Gemini("gemini-sim", "generateContent", body);
  EXPECT_TRUE(J(TextOf(r.Json())).at("score").is_int64());
}

TEST_F(GeminiTest, KeysByHeaderOrQueryAndTheAuthErrorShape) {
  SimServerOptions o;
  o.api_key = "gm-right";
  StartServer(o);
  auto wrong = Gemini("gemini-sim", "generateContent", Ask("hi"));
  EXPECT_EQ(wrong.status, 400);
  EXPECT_EQ(wrong.Json().at("error").at("status"), "INVALID_ARGUMENT");
  EXPECT_EQ(wrong.Json().at("error").at("details").at(0).at("reason"), "API_KEY_INVALID");
  auto by_query =
      PostJson(port(), "/v1beta/models/gemini-sim:generateContent?key=gm-right", Ask("hi"));
  EXPECT_EQ(by_query.status, 200) << by_query.body;
  auto models = Get(port(), "/v1beta/models?key=gm-right");
  EXPECT_EQ(models.Json().at("models").at(0).at("name"), "models/sim-small");
  auto count =
      PostJson(port(), "/v1beta/models/gemini-sim:countTokens?key=gm-right", Ask("hi there"));
  EXPECT_GT(count.Json().at("totalTokens").as_int64(), 0);
}

TEST_F(GeminiTest, RateLimitErrorCarriesRetryInfo) {
  StartServer();
  auto r = Gemini("gemini-sim", "generateContent", Ask("hi"), "",
                  {{"x-sim-fault", "429,retry_after=7s"}});
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.header("retry-after"), "7");
  json::object e = r.Json().at("error").as_object();
  EXPECT_EQ(e.at("code"), 429);
  EXPECT_EQ(e.at("status"), "RESOURCE_EXHAUSTED");
  bool retry_info = false;
  for (const auto& d : e.at("details").as_array()) {
    if (d.at("@type") == "type.googleapis.com/google.rpc.RetryInfo") {
      retry_info = true;
      EXPECT_EQ(d.at("retryDelay"), "7s");
    }
  }
  EXPECT_TRUE(retry_info);
}

}  // namespace
}  // namespace baton::simserver::testing
