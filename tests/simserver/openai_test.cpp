// sim-server speaking OpenAI Chat Completions.

#include "sim_fixture.hpp"

namespace baton::simserver::testing {
namespace {

json::value Tools() {
  return json::array{
      json::object{
          {"type", "function"},
          {"function",
           json::object{
               {"name", "search_web"},
               {"description", "Search the web for pages"},
               {"parameters",
                J(R"({"type":"object","properties":{"query":{"type":"string"}},"required":["query"]})")}}}},
      json::object{{"type", "function"},
                   {"function", json::object{{"name", "get_weather"},
                                             {"description", "Current weather for a city"},
                                             {"parameters", WeatherSchema()}}}}};
}

json::value Ask(std::string_view question, bool stream = false) {
  json::object body;
  body["model"] = "gpt-sim";
  body["messages"] = json::array{json::object{{"role", "system"}, {"content", "Be brief."}},
                                 json::object{{"role", "user"}, {"content", question}}};
  if (stream) {
    body["stream"] = true;
    body["stream_options"] = json::object{{"include_usage", true}};
  }
  return body;
}

// The data payloads of an OpenAI stream, [DONE] included.
std::vector<std::string> DataOf(const Response& r) {
  std::vector<std::string> out;
  for (auto& e : ParseSse(r.body)) {
    EXPECT_TRUE(e.event.empty()) << "OpenAI streams name no events: " << e.event;
    out.push_back(e.data);
  }
  return out;
}

using OpenAiTest = SimServerTest;

TEST_F(OpenAiTest, NonStreamedCompletionHasTheOfficialShape) {
  StartServer();
  auto r = OpenAi(Ask("Explain quantum entanglement"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_FALSE(r.header("x-request-id").empty());
  json::object body = r.Json().as_object();
  EXPECT_EQ(body.at("id").as_string().subview(0, 9), "chatcmpl-");
  EXPECT_EQ(body.at("object"), "chat.completion");
  EXPECT_EQ(body.at("model"), "gpt-sim");
  EXPECT_TRUE(body.at("created").is_int64());
  const auto& choice = body.at("choices").as_array().at(0).as_object();
  EXPECT_EQ(choice.at("index"), 0);
  EXPECT_EQ(choice.at("finish_reason"), "stop");
  EXPECT_TRUE(choice.at("logprobs").is_null());
  const auto& message = choice.at("message").as_object();
  EXPECT_EQ(message.at("role"), "assistant");
  std::string content(message.at("content").as_string());
  EXPECT_EQ(content.rfind("[sim] ", 0), 0u) << content;
  EXPECT_NE(content.find("quantum"), std::string::npos);
  EXPECT_TRUE(message.at("refusal").is_null());
  EXPECT_FALSE(message.contains("tool_calls"));
  const auto& usage = body.at("usage").as_object();
  EXPECT_GT(usage.at("prompt_tokens").as_int64(), 0);
  EXPECT_GT(usage.at("completion_tokens").as_int64(), 0);
  EXPECT_EQ(usage.at("total_tokens").as_int64(),
            usage.at("prompt_tokens").as_int64() + usage.at("completion_tokens").as_int64());
  EXPECT_EQ(usage.at("prompt_tokens_details").at("cached_tokens"), 0);
  EXPECT_EQ(usage.at("completion_tokens_details").at("reasoning_tokens"), 0);
}

TEST_F(OpenAiTest, StreamHasRoleDeltasFinishUsageAndDone) {
  StartServer();
  std::string whole(OpenAi(Ask("Explain quantum entanglement"))
                        .Json()
                        .at("choices")
                        .at(0)
                        .at("message")
                        .at("content")
                        .as_string());
  auto r = OpenAi(Ask("Explain quantum entanglement", /*stream=*/true));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("content-type"), "text/event-stream; charset=utf-8");
  EXPECT_TRUE(r.complete);
  auto data = DataOf(r);
  ASSERT_GE(data.size(), 5u);
  EXPECT_EQ(data.back(), "[DONE]");
  std::string id;
  std::string text;
  for (size_t i = 0; i + 1 < data.size(); ++i) {
    json::object chunk = J(data[i]).as_object();
    EXPECT_EQ(chunk.at("object"), "chat.completion.chunk");
    if (id.empty()) id = std::string(chunk.at("id").as_string());
    EXPECT_EQ(chunk.at("id").as_string(), id) << "one id for the whole stream";
    ASSERT_TRUE(chunk.contains("usage")) << "include_usage: every chunk has a usage field";
    const auto& choices = chunk.at("choices").as_array();
    if (i == data.size() - 2) {  // the usage chunk
      EXPECT_TRUE(choices.empty());
      EXPECT_GT(chunk.at("usage").at("total_tokens").as_int64(), 0);
      EXPECT_TRUE(chunk.at("usage").at("prompt_tokens_details").is_object());
      continue;
    }
    EXPECT_TRUE(chunk.at("usage").is_null());
    const auto& delta = choices.at(0).at("delta").as_object();
    if (i == 0) {
      EXPECT_EQ(delta.at("role"), "assistant");
      EXPECT_EQ(delta.at("content"), "");
    }
    if (const auto* c = delta.if_contains("content")) text += c->as_string();
    if (i == data.size() - 3) {
      EXPECT_EQ(choices.at(0).at("finish_reason"), "stop");
      EXPECT_TRUE(delta.empty());
    } else {
      EXPECT_TRUE(choices.at(0).at("finish_reason").is_null());
    }
  }
  EXPECT_EQ(text, whole) << "the stream says what the whole reply says";
}

TEST_F(OpenAiTest, WithoutIncludeUsageChunksHaveNoUsageField) {
  StartServer();
  json::value body = Ask("hello there", false);
  body.as_object()["stream"] = true;
  auto r = OpenAi(body);
  auto data = DataOf(r);
  ASSERT_GE(data.size(), 3u);
  EXPECT_EQ(data.back(), "[DONE]");
  for (size_t i = 0; i + 1 < data.size(); ++i) {
    json::object chunk = J(data[i]).as_object();
    EXPECT_FALSE(chunk.contains("usage")) << data[i];
    EXPECT_EQ(chunk.at("choices").as_array().size(), 1u);
  }
}

TEST_F(OpenAiTest, ToolCallThenAnswerAfterTheToolResult) {
  StartServer();
  json::value body = Ask("What is the weather in Paris today?");
  body.as_object()["tools"] = Tools();
  auto r = OpenAi(body);
  ASSERT_EQ(r.status, 200) << r.body;
  json::object choice = r.Json().at("choices").at(0).as_object();
  EXPECT_EQ(choice.at("finish_reason"), "tool_calls");
  const auto& message = choice.at("message").as_object();
  EXPECT_TRUE(message.at("content").is_null());
  const auto& calls = message.at("tool_calls").as_array();
  ASSERT_EQ(calls.size(), 1u);
  const auto& call = calls[0].as_object();
  EXPECT_EQ(call.at("type"), "function");
  EXPECT_EQ(call.at("id").as_string().subview(0, 5), "call_");
  EXPECT_EQ(call.at("function").at("name"), "get_weather") << "the tool matching the question";
  json::value args = J(call.at("function").at("arguments").as_string());
  ASSERT_TRUE(args.is_object());
  EXPECT_TRUE(args.as_object().at("city").is_string());

  // Same request again: the same call (deterministic, ids included).
  auto again = OpenAi(body);
  EXPECT_EQ(again.Json().at("choices").at(0).at("message").at("tool_calls"), json::value(calls));

  // Answer the call: the model replies in text.
  json::array& messages = body.as_object()["messages"].as_array();
  messages.push_back(message);
  messages.push_back(
      json::object{{"role", "tool"}, {"tool_call_id", call.at("id")}, {"content", "rainy, 14C"}});
  auto answer = OpenAi(body);
  ASSERT_EQ(answer.status, 200) << answer.body;
  json::object choice2 = answer.Json().at("choices").at(0).as_object();
  EXPECT_EQ(choice2.at("finish_reason"), "stop");
  std::string text(choice2.at("message").at("content").as_string());
  EXPECT_NE(text.find("(from get_weather)"), std::string::npos) << text;
  // The earlier turns were seen: they count as cached prompt tokens.
  EXPECT_GT(answer.Json().at("usage").at("prompt_tokens_details").at("cached_tokens").as_int64(),
            0);
}

TEST_F(OpenAiTest, StreamedToolCallDeltas) {
  StartServer();
  json::value body = Ask("What is the weather in Paris today?", true);
  body.as_object()["tools"] = Tools();
  auto r = OpenAi(body);
  auto data = DataOf(r);
  ASSERT_EQ(data.back(), "[DONE]");
  std::string arguments;
  int headers_seen = 0;
  std::string finish;
  for (size_t i = 0; i + 1 < data.size(); ++i) {
    json::object chunk = J(data[i]).as_object();
    if (chunk.at("choices").as_array().empty()) continue;
    const auto& choice = chunk.at("choices").at(0).as_object();
    if (!choice.at("finish_reason").is_null())
      finish = std::string(choice.at("finish_reason").as_string());
    const auto* calls = choice.at("delta").as_object().if_contains("tool_calls");
    if (calls == nullptr) continue;
    const auto& c = calls->as_array().at(0).as_object();
    EXPECT_EQ(c.at("index"), 0);
    if (c.contains("id")) {
      ++headers_seen;
      EXPECT_EQ(c.at("type"), "function");
      EXPECT_EQ(c.at("function").at("name"), "get_weather");
      EXPECT_EQ(c.at("function").at("arguments"), "");
    } else {
      EXPECT_FALSE(c.at("function").as_object().contains("name"));
      arguments += c.at("function").at("arguments").as_string();
    }
  }
  EXPECT_EQ(headers_seen, 1);
  EXPECT_EQ(finish, "tool_calls");
  EXPECT_TRUE(J(arguments).as_object().contains("city"));
}

TEST_F(OpenAiTest, ScriptedParallelToolCallsStreamByIndex) {
  StartWithSim(R"({"replies":[{"tool_calls":[{"name":"get_weather","arguments":{"city":"Paris"}},
                                              {"name":"get_weather","arguments":{"city":"Rome"}}]},
                              "Both are sunny."]})");
  json::value body = Ask("Weather in Paris and Rome?", true);
  body.as_object()["tools"] = Tools();
  auto r = OpenAi(body);
  std::map<int64_t, std::string> args;
  std::map<int64_t, std::string> ids;
  for (const auto& d : DataOf(r)) {
    if (d == "[DONE]") continue;
    json::object chunk = J(d).as_object();
    if (chunk.at("choices").as_array().empty()) continue;
    const auto* calls = chunk.at("choices").at(0).at("delta").as_object().if_contains("tool_calls");
    if (calls == nullptr) continue;
    for (const auto& c : calls->as_array()) {
      int64_t index = c.at("index").as_int64();
      if (c.as_object().contains("id")) ids[index] = std::string(c.at("id").as_string());
      args[index] += c.at("function").at("arguments").as_string();
    }
  }
  ASSERT_EQ(args.size(), 2u);
  EXPECT_EQ(J(args[0]), J(R"({"city":"Paris"})"));
  EXPECT_EQ(J(args[1]), J(R"({"city":"Rome"})"));
  EXPECT_NE(ids[0], ids[1]);

  // The next turn (both calls answered) takes the script's next reply.
  json::value turn = Ask("Weather in Paris and Rome?");
  turn.as_object()["tools"] = Tools();
  json::array calls;
  for (int64_t i = 0; i < 2; ++i) {
    calls.push_back(
        json::object{{"id", ids[i]},
                     {"type", "function"},
                     {"function", json::object{{"name", "get_weather"}, {"arguments", args[i]}}}});
  }
  auto& messages = turn.as_object()["messages"].as_array();
  messages.push_back(
      json::object{{"role", "assistant"}, {"content", nullptr}, {"tool_calls", calls}});
  for (int64_t i = 0; i < 2; ++i) {
    messages.push_back(
        json::object{{"role", "tool"}, {"tool_call_id", ids[i]}, {"content", "sunny"}});
  }
  auto answer = OpenAi(turn);
  ASSERT_EQ(answer.status, 200) << answer.body;
  EXPECT_EQ(answer.Json().at("choices").at(0).at("message").at("content"), "Both are sunny.");
}

TEST_F(OpenAiTest, UnansweredToolCallsAreRejectedLikeOpenAi) {
  StartServer();
  json::value body = Ask("hi");
  auto& messages = body.as_object()["messages"].as_array();
  messages.push_back(
      J(R"({"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",
                           "function":{"name":"get_weather","arguments":"{}"}}]})"));
  messages.push_back(J(R"({"role":"user","content":"and?"})"));
  auto r = OpenAi(body);
  EXPECT_EQ(r.status, 400);
  json::object error = r.Json().at("error").as_object();
  EXPECT_EQ(error.at("type"), "invalid_request_error");
  EXPECT_TRUE(error.contains("param"));
  EXPECT_TRUE(error.contains("code"));
  EXPECT_NE(error.at("message").as_string().find("call_1"), std::string::npos);
}

TEST_F(OpenAiTest, ResponseFormatJsonSchemaAndJsonObject) {
  StartServer();
  json::value body = Ask("Rate the movie Alien");
  body.as_object()["response_format"] = J(R"({"type":"json_schema","json_schema":{"name":"rating",
      "schema":{"type":"object","properties":{"score":{"type":"integer","minimum":1,"maximum":5},
      "summary":{"type":"string"}},"required":["score","summary"]},"strict":true}})");
  auto r = OpenAi(body);
  json::value content = J(r.Json().at("choices").at(0).at("message").at("content").as_string());
  int64_t score = content.at("score").as_int64();
  EXPECT_GE(score, 1);
  EXPECT_LE(score, 5);
  EXPECT_TRUE(content.at("summary").is_string());

  body.as_object()["response_format"] = J(R"({"type":"json_object"})");
  auto r2 = OpenAi(body);
  EXPECT_TRUE(J(r2.Json().at("choices").at(0).at("message").at("content").as_string()).is_object());
}

TEST_F(OpenAiTest, ReasoningEffortReportsReasoningTokens) {
  StartServer();
  json::value body = Ask("Why is the sky blue?");
  body.as_object()["reasoning_effort"] = "high";
  auto r = OpenAi(body);
  EXPECT_GT(r.Json().at("usage").at("completion_tokens_details").at("reasoning_tokens").as_int64(),
            0);
}

TEST_F(OpenAiTest, ModelsListAndBadRequests) {
  StartServer();
  auto models = Get(port(), "/v1/models", {{"Authorization", "Bearer x"}});
  ASSERT_EQ(models.status, 200);
  EXPECT_EQ(models.Json().at("object"), "list");
  EXPECT_EQ(models.Json().at("data").at(0).at("object"), "model");

  auto bad = OpenAi(J(R"({"model":"m","messages":[]})"));
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.Json().at("error").at("type"), "invalid_request_error");
  Request broken;
  broken.target = "/v1/chat/completions";
  broken.body = "{not json";
  auto b2 = Fetch(port(), broken);
  EXPECT_EQ(b2.status, 400);
  auto missing = Get(port(), "/v1/nothing-here");
  EXPECT_EQ(missing.status, 404);
  EXPECT_TRUE(missing.Json().at("error").as_object().contains("message"));
}

TEST_F(OpenAiTest, ApiKeyIsEnforcedAndNeverRecorded) {
  SimServerOptions o;
  o.api_key = "sk-right-key-123";
  StartServer(o);
  auto wrong = OpenAi(Ask("hello"));  // sends sk-test-key
  EXPECT_EQ(wrong.status, 401);
  json::object error = wrong.Json().at("error").as_object();
  EXPECT_EQ(error.at("code"), "invalid_api_key");
  EXPECT_EQ(error.at("type"), "invalid_request_error");
  EXPECT_EQ(wrong.body.find("sk-test-key"), std::string::npos) << "never echo a key";

  auto right = PostJson(port(), "/v1/chat/completions", Ask("hello"),
                        {{"Authorization", "Bearer sk-right-key-123"}});
  EXPECT_EQ(right.status, 200) << right.body;

  // The control API wants the key too; stats hold fingerprints only.
  EXPECT_EQ(Get(port(), "/_sim/stats").status, 401);
  auto stats = Get(port(), "/_sim/stats", {{"Authorization", "Bearer sk-right-key-123"}});
  ASSERT_EQ(stats.status, 200);
  EXPECT_EQ(stats.body.find("sk-right-key-123"), std::string::npos);
  EXPECT_EQ(stats.body.find("sk-test-key"), std::string::npos);
  json::value stats_json = stats.Json();
  const auto& records = stats_json.at("requests").as_array();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].at("status"), 401);
  EXPECT_EQ(records[0].at("key_fp").as_string(), KeyFingerprint("sk-test-key"));
  EXPECT_EQ(records[1].at("status"), 200);
  EXPECT_EQ(records[1].at("key_fp").as_string(), KeyFingerprint("sk-right-key-123"));
  EXPECT_EQ(records[1].at("protocol"), "openai");
  EXPECT_EQ(records[1].at("model"), "gpt-sim");
  EXPECT_EQ(KeyFingerprint("sk-right-key-123").size(), 8u);
}

}  // namespace
}  // namespace baton::simserver::testing
