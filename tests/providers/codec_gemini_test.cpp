// Gemini generateContent codec: golden requests in the shapes of the Gemini API reference,
// decoding of documented bodies and SSE streams (thought parts and thought signatures, function
// calls), every split of a stream, google.rpc error mapping with RetryInfo and QuotaFailure.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "codec_test_util.hpp"
#include "providers/gemini/gemini_codec.hpp"

namespace baton::providers {
namespace {

using testing::Canon;
using testing::Json;
using testing::Msg;

class GeminiCodecTest : public testing::CodecFixture {
 protected:
  GeminiCodecTest() : CodecFixture("gemini", Endpoint{"", "AIza-test", {}}) {}

  json::value Body(const ChatRequest& r) { return Json(Encode(r).body); }
};

TEST_F(GeminiCodecTest, PlainRequestMatchesTheApiReference) {
  ChatRequest r;
  r.model = "gemini-2.5-flash";
  r.messages = {Msg("user", "Explain how AI works in a few words")};
  http::HttpRequest req = Encode(r);
  EXPECT_EQ(
      req.url,
      "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent");
  EXPECT_EQ(req.headers, (std::vector<http::Header>{{"Content-Type", "application/json"},
                                                    {"x-goog-api-key", "AIza-test"}}));
  EXPECT_EQ(
      Canon(std::string_view(req.body)),
      Canon(
          R"({"contents":[{"role":"user","parts":[{"text":"Explain how AI works in a few words"}]}]})"));
}

TEST_F(GeminiCodecTest, UrlForms) {
  ChatRequest r;
  r.model = "models/gemini-2.5-pro";
  r.messages = {Msg("user", "x")};
  EXPECT_EQ(Encode(r, true).url,
            "https://generativelanguage.googleapis.com/v1beta/models/"
            "gemini-2.5-pro:streamGenerateContent?alt=sse");
  endpoint_.base_url = "http://127.0.0.1:9000/v1beta/";
  EXPECT_EQ(Encode(r).url, "http://127.0.0.1:9000/v1beta/models/gemini-2.5-pro:generateContent");
  endpoint_.base_url = "http://127.0.0.1:9000";
  r.model = "tuned/a b";
  EXPECT_EQ(Encode(r).url, "http://127.0.0.1:9000/v1beta/models/tuned%2Fa%20b:generateContent");
}

TEST_F(GeminiCodecTest, SystemInstructionMultiTurnAndGenerationConfig) {
  ChatRequest r;
  r.model = "gemini-2.5-flash";
  r.temperature = 0.1;
  r.max_tokens = 800;
  r.messages = {Msg("system", "You are a cat. Your name is Neko."), Msg("user", "Hello there"),
                Msg("assistant", "Meow."), Msg("user", "What is your name?")};
  EXPECT_EQ(Canon(Body(r)), Canon(R"({
      "systemInstruction":{"parts":[{"text":"You are a cat. Your name is Neko."}]},
      "contents":[{"role":"user","parts":[{"text":"Hello there"}]},
                  {"role":"model","parts":[{"text":"Meow."}]},
                  {"role":"user","parts":[{"text":"What is your name?"}]}],
      "generationConfig":{"temperature":0.1,"maxOutputTokens":800}})"));
}

TEST_F(GeminiCodecTest, FunctionCallingRoundTrip) {
  ChatRequest r;
  r.model = "gemini-2.5-flash";
  r.tools = {testing::WeatherTool()};
  r.tool_choice = "auto";
  // Calls made by another protocol (ids given) and by Gemini (synthesised ids, never sent).
  r.messages = {
      Msg("user", "Weather in London and Paris?"),
      testing::AssistantCalls("", {{"gcall_r1_0", "get_weather", R"({"location":"London"})"},
                                   {"gcall_r1_1", "get_weather", R"({"location":"Paris"})"}}),
      testing::ToolResult("gcall_r1_0", "get_weather", R"({"temp":12})"),
      testing::ToolResult("gcall_r1_1", "", "sunny")};
  EXPECT_EQ(Canon(Body(r)), Canon(R"({
      "contents":[
        {"role":"user","parts":[{"text":"Weather in London and Paris?"}]},
        {"role":"model","parts":[
          {"functionCall":{"name":"get_weather","args":{"location":"London"}},
           "thoughtSignature":"skip_thought_signature_validator"},
          {"functionCall":{"name":"get_weather","args":{"location":"Paris"}}}]},
        {"role":"user","parts":[
          {"functionResponse":{"name":"get_weather","response":{"temp":12}}},
          {"functionResponse":{"name":"get_weather","response":{"output":"sunny"}}}]}],
      "tools":[{"functionDeclarations":[{"name":"get_weather",
        "description":"Get the current weather in a given location",
        "parametersJsonSchema":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}]}],
      "toolConfig":{"functionCallingConfig":{"mode":"AUTO"}}})"));

  // Ids from elsewhere are echoed on both sides.
  r.messages = {Msg("user", "x"), testing::AssistantCalls("", {{"call_abc", "get_weather", "{}"}}),
                testing::ToolResult("call_abc", "get_weather", "[1,2]")};
  json::value b = Body(r);
  EXPECT_EQ(b.at("contents").at(1).at("parts").at(0).at("functionCall").at("id"), "call_abc");
  EXPECT_EQ(
      Canon(b.at("contents").at(2).at("parts").at(0)),
      Canon(
          R"({"functionResponse":{"name":"get_weather","response":{"output":[1,2]},"id":"call_abc"}})"));

  auto mode = [&](std::string choice) {
    r.tool_choice = std::move(choice);
    json::value body = Body(r);
    return body.as_object().contains("toolConfig") ? Canon(body.at("toolConfig"))
                                                   : std::string("-");
  };
  EXPECT_EQ(mode("none"), Canon(R"({"functionCallingConfig":{"mode":"NONE"}})"));
  EXPECT_EQ(mode("required"), Canon(R"({"functionCallingConfig":{"mode":"ANY"}})"));
  EXPECT_EQ(
      mode("get_weather"),
      Canon(R"({"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["get_weather"]}})"));
  EXPECT_EQ(mode(""), "-");

  // A tool result whose tool cannot be named cannot be expressed.
  r.messages = {Msg("user", "x"), testing::ToolResult("nowhere", "", "y")};
  EXPECT_EQ(codec_->Encode(r, endpoint_, false).status().code(), Code::kInvalidArgument);
}

TEST_F(GeminiCodecTest, StructuredOutputUsesResponseJsonSchema) {
  ChatRequest r;
  r.model = "gemini-2.5-flash";
  r.messages = {Msg("user", "List a few cookie recipes.")};
  r.output_schema = Json(R"({"type":"array","items":{"type":"object","properties":{
      "recipeName":{"type":"string"},"ingredients":{"type":"array","items":{"type":"string"}}},
      "required":["recipeName"]}})");
  json::value b = Body(r);
  EXPECT_EQ(b.at("generationConfig").at("responseMimeType"), "application/json");
  EXPECT_EQ(Canon(b.at("generationConfig").at("responseJsonSchema")), Canon(*r.output_schema));
}

TEST_F(GeminiCodecTest, NativePartsWithSignaturesAreReplayedVerbatim) {
  json::value native = Json(R"({"role":"model","parts":[
      {"text":"**Checking**","thought":true},
      {"functionCall":{"name":"get_weather","args":{"location":"Oslo"}},"thoughtSignature":"CiQBVKhc7oDqpWeSJ2Q=="},
      {"functionCall":{"name":"get_weather","args":{"location":"Bergen"}}}]})");
  Message turn =
      testing::AssistantCalls("", {{"gcall_x_0", "get_weather", R"({"location":"Oslo"})"},
                                   {"gcall_x_1", "get_weather", R"({"location":"Bergen"})"}});
  turn.native = native;
  turn.native_protocol = "gemini";
  ChatRequest r;
  r.model = "gemini-3-pro-preview";
  r.messages = {Msg("user", "Oslo and Bergen?"), turn,
                testing::ToolResult("gcall_x_0", "get_weather", "cold"),
                testing::ToolResult("gcall_x_1", "get_weather", "wet")};
  EXPECT_EQ(Canon(Body(r).at("contents").at(1)), Canon(native));
}

// ---- decoding whole bodies ----------------------------------------------------------------------

constexpr std::string_view kCallBody = R"({
  "candidates": [{"content": {"role": "model", "parts": [
      {"text": "The user wants two cities.", "thought": true},
      {"functionCall": {"name": "get_weather", "args": {"location": "London"}}, "thoughtSignature": "CiQBVKhc7oDq"},
      {"functionCall": {"name": "get_weather", "args": {"location": "Paris"}}}]},
    "finishReason": "STOP", "index": 0}],
  "usageMetadata": {"promptTokenCount": 120, "candidatesTokenCount": 30, "totalTokenCount": 200,
    "thoughtsTokenCount": 50, "cachedContentTokenCount": 64,
    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 120}]},
  "modelVersion": "gemini-2.5-flash", "responseId": "Ab3iaOvQN"})";

TEST_F(GeminiCodecTest, DecodesParallelFunctionCallsWithThoughts) {
  auto r = codec_->Decode(kCallBody, ChatRequest{});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->text, "");
  EXPECT_EQ(r->reasoning, "The user wants two cities.");
  EXPECT_EQ(r->finish_reason, "tool_calls");
  ASSERT_EQ(r->tool_calls.size(), 2u);
  EXPECT_EQ(r->tool_calls[0].id, "gcall_Ab3iaOvQN_0");
  EXPECT_EQ(r->tool_calls[1].id, "gcall_Ab3iaOvQN_1");
  EXPECT_EQ(r->tool_calls[1].arguments, R"({"location":"Paris"})");
  EXPECT_EQ(r->usage.input_tokens, 120);
  EXPECT_EQ(r->usage.output_tokens, 80);
  EXPECT_EQ(r->usage.reasoning_tokens, 50);
  EXPECT_EQ(r->usage.cached_tokens, 64);
  EXPECT_EQ(r->model, "gemini-2.5-flash");
  EXPECT_EQ(r->request_id, "Ab3iaOvQN");
  EXPECT_EQ(Canon(*r->native), Canon(Json(kCallBody).at("candidates").at(0).at("content")));
}

TEST_F(GeminiCodecTest, FinishReasonsBlockedPromptsAndStructuredText) {
  auto finish = [&](std::string_view reason) {
    std::string body =
        R"({"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"R"}]})";
    body.replace(body.find("\"R\""), 3, "\"" + std::string(reason) + "\"");
    return codec_->Decode(body, ChatRequest{})->finish_reason;
  };
  EXPECT_EQ(finish("STOP"), "stop");
  EXPECT_EQ(finish("MAX_TOKENS"), "length");
  EXPECT_EQ(finish("SAFETY"), "content_filter");
  EXPECT_EQ(finish("RECITATION"), "content_filter");
  EXPECT_EQ(finish("MALFORMED_FUNCTION_CALL"), "stop");

  auto blocked = codec_->Decode(R"({"promptFeedback":{"blockReason":"SAFETY"},
      "usageMetadata":{"promptTokenCount":8}})",
                                ChatRequest{});
  ASSERT_TRUE(blocked.ok());
  EXPECT_EQ(blocked->finish_reason, "content_filter");
  EXPECT_EQ(blocked->usage.input_tokens, 8);

  ChatRequest req;
  req.output_schema = Json(R"({"type":"array"})");
  auto structured = codec_->Decode(R"({"candidates":[{"content":{"role":"model","parts":[
      {"text":"[{\"recipeName\": \"Chocolate Chip\"}]"}]},"finishReason":"STOP"}]})",
                                   req);
  ASSERT_TRUE(structured.ok());
  EXPECT_EQ(Canon(*structured->structured), Canon(R"([{"recipeName":"Chocolate Chip"}])"));

  EXPECT_EQ(codec_->Decode(R"({"candidates":[]})", ChatRequest{}).status().ErrorType(),
            "server_error");
}

// ---- streams ------------------------------------------------------------------------------------

constexpr std::string_view kTextStream =
    R"(data: {"candidates": [{"content": {"parts": [{"text": "**Weighing** the options","thought": true}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 9,"totalTokenCount": 9},"modelVersion": "gemini-2.5-flash","responseId": "s1"}

data: {"candidates": [{"content": {"parts": [{"text": "AI learns"}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 9,"candidatesTokenCount": 2,"totalTokenCount": 30,"thoughtsTokenCount": 19},"modelVersion": "gemini-2.5-flash","responseId": "s1"}

data: {"candidates": [{"content": {"parts": [{"text": " patterns from data."}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 9,"candidatesTokenCount": 6,"totalTokenCount": 34,"thoughtsTokenCount": 19},"modelVersion": "gemini-2.5-flash","responseId": "s1"}

data: {"candidates": [{"content": {"parts": [{"text": "","thoughtSignature": "Cs4BAdHtim9"}],"role": "model"},"finishReason": "STOP","index": 0}],"usageMetadata": {"promptTokenCount": 9,"candidatesTokenCount": 6,"totalTokenCount": 34,"thoughtsTokenCount": 19},"modelVersion": "gemini-2.5-flash","responseId": "s1"}

)";

TEST_F(GeminiCodecTest, DecodesTextStreamWithThoughtsAndTrailingSignature) {
  auto run = testing::RunStream(*codec_, ChatRequest{}, testing::ParseSse(kTextStream));
  ASSERT_TRUE(run.result.ok()) << run.result.status().ToString();
  const ChatResponse& r = *run.result;
  EXPECT_EQ(r.text, "AI learns patterns from data.");
  EXPECT_EQ(run.Text(StreamDelta::Kind::kText), r.text);
  EXPECT_EQ(r.reasoning, "**Weighing** the options");
  EXPECT_EQ(r.finish_reason, "stop");
  EXPECT_EQ(r.usage.input_tokens, 9);
  EXPECT_EQ(r.usage.output_tokens, 25);
  EXPECT_EQ(r.usage.reasoning_tokens, 19);
  EXPECT_EQ(r.request_id, "s1");
  // Text pieces are joined; the signature stays on the part it came with.
  EXPECT_EQ(Canon(*r.native), Canon(R"({"role":"model","parts":[
      {"text":"**Weighing** the options","thought":true},
      {"text":"AI learns patterns from data."},
      {"text":"","thoughtSignature":"Cs4BAdHtim9"}]})"));
}

TEST_F(GeminiCodecTest, FunctionCallStreamAndIdsMatchTheDeltas) {
  std::vector<http::SseEvent> events = {
      testing::Data(
          R"({"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"location":"London"}},"thoughtSignature":"c2ln"}]},"index":0}],"responseId":"r9"})"),
      testing::Data(
          R"({"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"get_time","args":{}}}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":4},"responseId":"r9"})")};
  auto run = testing::RunStream(*codec_, ChatRequest{}, events);
  ASSERT_TRUE(run.result.ok());
  ASSERT_EQ(run.result->tool_calls.size(), 2u);
  EXPECT_EQ(run.result->finish_reason, "tool_calls");
  ASSERT_EQ(run.deltas.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(run.deltas[i].tool_index, static_cast<int>(i));
    EXPECT_EQ(run.deltas[i].tool_id, run.result->tool_calls[i].id);
    EXPECT_EQ(run.deltas[i].tool_name, run.result->tool_calls[i].name);
    EXPECT_EQ(run.deltas[i].arguments, run.result->tool_calls[i].arguments);
  }
  EXPECT_EQ(run.result->tool_calls[0].id, "gcall_r9_0");
  EXPECT_EQ(run.result->native->at("parts").at(0).at("thoughtSignature"), "c2ln");
}

TEST_F(GeminiCodecTest, TruncationErrorsAndMalformedEvents) {
  auto events = testing::ParseSse(kTextStream);
  for (size_t n = 0; n < events.size(); ++n) {
    auto run = testing::RunStream(*codec_, ChatRequest{}, events, n);
    EXPECT_EQ(run.result.status().ErrorType(), "network") << n;
  }
  std::vector<http::SseEvent> err(events.begin(), events.begin() + 1);
  err.push_back(testing::Data(
      R"({"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}})"));
  auto run = testing::RunStream(*codec_, ChatRequest{}, err);
  EXPECT_EQ(run.event_status.ErrorType(), "overloaded");
  EXPECT_NE(run.event_status.message().find("overloaded"), std::string::npos);

  err[1] = testing::Data("{\"candidates\": [");
  run = testing::RunStream(*codec_, ChatRequest{}, err);
  EXPECT_EQ(run.event_status.ErrorType(), "server_error");
  EXPECT_NE(run.event_status.message().find("event 1"), std::string::npos);

  // A usage-only chunk after the finishing one is still read.
  std::vector<http::SseEvent> tail = events;
  tail.push_back(testing::Data(
      R"({"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":7,"thoughtsTokenCount":19}})"));
  auto r = testing::RunStream(*codec_, ChatRequest{}, tail);
  ASSERT_TRUE(r.result.ok());
  EXPECT_EQ(r.result->usage.output_tokens, 26);
}

TEST_F(GeminiCodecTest, EverySplitOfTheContentGivesTheSameResponse) {
  const std::string text = R"({"recipeName": "Crème brûlée", "steps": 3})";
  ChatRequest req;
  req.output_schema = Json(R"({"type":"object"})");
  auto chunk = [](std::string piece, bool last) {
    json::object cand{
        {"content",
         json::object{{"role", "model"}, {"parts", json::array{json::object{{"text", piece}}}}}},
        {"index", 0}};
    if (last) cand["finishReason"] = "STOP";
    json::object c{
        {"candidates", json::array{cand}},
        {"responseId", "sp"},
        {"modelVersion", "g"},
        {"usageMetadata", json::object{{"promptTokenCount", 4}, {"candidatesTokenCount", 9}}}};
    return testing::Data(json::serialize(c));
  };
  std::string want;
  for (size_t i = 0; i <= text.size(); ++i) {
    for (size_t j = i; j <= text.size(); j += 5) {
      if (!testing::Boundary(text, i) || !testing::Boundary(text, j)) continue;
      std::vector<http::SseEvent> ev = {chunk(text.substr(0, i), false),
                                        chunk(text.substr(i, j - i), false),
                                        chunk(text.substr(j), true)};
      auto run = testing::RunStream(*codec_, req, ev);
      ASSERT_TRUE(run.result.ok());
      ASSERT_EQ(run.Text(StreamDelta::Kind::kText), text);
      std::string got = testing::Summary(*run.result);
      if (want.empty()) want = got;
      ASSERT_EQ(got, want) << i << " " << j;
    }
  }
  auto whole = codec_->Decode(
      R"({"candidates":[{"content":{"role":"model","parts":[{"text":)" +
          json::serialize(json::string(text)) +
          R"(}]},"finishReason":"STOP","index":0}],"responseId":"sp","modelVersion":"g",
      "usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":9}})",
      req);
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(testing::Summary(*whole), want);  // the stream and the body agree
  EXPECT_EQ(whole->structured->at("steps"), 3);
}

TEST_F(GeminiCodecTest, EveryByteSplitOfTheWireGivesTheSameResponse) {
  std::string want = testing::Summary(*testing::RunBytes(*codec_, ChatRequest{}, kTextStream, 0));
  for (size_t cut = 0; cut <= kTextStream.size(); ++cut) {
    auto r = testing::RunBytes(*codec_, ChatRequest{}, kTextStream, cut);
    ASSERT_TRUE(r.ok()) << cut;
    ASSERT_EQ(testing::Summary(*r), want) << cut;
  }
}

// ---- errors and headers
// ---------------------------------------------------------------------------

TEST_F(GeminiCodecTest, ErrorMappingTable) {
  auto err = [](int code, std::string status, std::string message, std::string details = "[]") {
    return R"({"error":{"code":)" + std::to_string(code) + R"(,"message":)" +
           json::serialize(json::string(message)) + R"(,"status":")" + status + R"(","details":)" +
           details + "}}";
  };
  struct Case {
    int status;
    std::string body;
    std::string type;
    bool no_retry;
    int64_t retry_after_ms;
    std::string words;
  };
  std::vector<Case> cases = {
      {429,
       err(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).",
           R"([{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaMetric":"generativelanguage.googleapis.com/generate_content_free_tier_requests","quotaId":"GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}]},
                    {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"36s"}])"),
       "rate_limited", false, 36'000, "Resource has been exhausted"},
      {429,
       err(429, "RESOURCE_EXHAUSTED", "You exceeded your current quota.",
           R"([{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaId":"GenerateRequestsPerDayPerProjectPerModel-FreeTier"}]},
                    {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"2.5s"}])"),
       "quota_exhausted", true, 2500, "current quota"},
      {503, err(503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
       "overloaded", false, -1, "model is overloaded"},
      {500, err(500, "INTERNAL", "An internal error has occurred."), "server_error", false, -1,
       "internal error"},
      {504, err(504, "DEADLINE_EXCEEDED", "Deadline expired."), "timeout", false, -1, "Deadline"},
      {400, err(400, "INVALID_ARGUMENT", "Invalid JSON payload received."), "invalid_request",
       false, -1, "Invalid JSON payload"},
      {400,
       err(400, "INVALID_ARGUMENT",
           "The input token count (1200000) exceeds the maximum number of tokens allowed "
           "(1048576)."),
       "context_length", false, -1, "input token count"},
      {400,
       err(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.",
           R"([{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com"}])"),
       "auth", false, -1, "API key not valid"},
      {403, err(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers."), "auth",
       false, -1, "unregistered callers"},
      {404, err(404, "NOT_FOUND", "models/gemini-9 is not found for API version v1beta"),
       "invalid_request", false, -1, "model or endpoint not found: models/gemini-9"},
      {502, "<html>502</html>", "server_error", false, -1, "502"},
      {400, R"([{"error":{"code":400,"message":"array form","status":"INVALID_ARGUMENT"}}])",
       "invalid_request", false, -1, "array form"},
  };
  for (const auto& c : cases) {
    Status s = codec_->DecodeError(testing::Response(c.status, c.body));
    SCOPED_TRACE(c.body);
    EXPECT_EQ(s.ErrorType(), c.type) << s.message();
    EXPECT_EQ(s.retry_hints().no_retry, c.no_retry);
    EXPECT_EQ(s.retry_hints().retry_after_ms, c.retry_after_ms);
    EXPECT_NE(s.message().find(c.words), std::string::npos) << s.message();
    EXPECT_EQ(s.message().find("AIza-test"), std::string::npos);
  }
  // A Retry-After header wins over the body's RetryInfo.
  Status s = codec_->DecodeError(testing::Response(
      429,
      err(429, "RESOURCE_EXHAUSTED", "x",
          R"([{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"36s"}])"),
      {{"Retry-After", "3"}}));
  EXPECT_EQ(s.retry_hints().retry_after_ms, 3000);
  EXPECT_EQ(
      codec_->ParseRateLimits(testing::Response(429, "", {{"retry-after", "3"}})).retry_after_ms,
      3000);
}

}  // namespace
}  // namespace baton::providers
