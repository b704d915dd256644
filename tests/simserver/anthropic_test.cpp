// sim-server speaking Anthropic Messages.

#include "sim_fixture.hpp"

namespace baton::simserver::testing {
namespace {

json::value Ask(std::string_view question, bool stream = false) {
  json::object body;
  body["model"] = "claude-sim";
  body["max_tokens"] = 4096;
  body["system"] = "Be brief.";
  body["messages"] = json::array{json::object{{"role", "user"}, {"content", question}}};
  if (stream) body["stream"] = true;
  return body;
}

json::value Tools() {
  return json::array{json::object{{"name", "get_weather"},
                                  {"description", "Current weather for a city"},
                                  {"input_schema", WeatherSchema()}}};
}

// Event names, checking each data payload's type equals its event name.
std::vector<std::string> Names(const std::vector<SseEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) {
    json::value data = J(e.data);
    EXPECT_EQ(data.at("type").as_string(), e.event) << e.data;
    out.push_back(e.event);
  }
  return out;
}

using AnthropicTest = SimServerTest;

TEST_F(AnthropicTest, NonStreamedMessageHasTheOfficialShape) {
  StartServer();
  auto r = Anthropic(Ask("Explain quantum entanglement"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(r.header("request-id").empty());
  json::object m = r.Json().as_object();
  EXPECT_EQ(m.at("id").as_string().subview(0, 4), "msg_");
  EXPECT_EQ(m.at("type"), "message");
  EXPECT_EQ(m.at("role"), "assistant");
  EXPECT_EQ(m.at("model"), "claude-sim");
  EXPECT_EQ(m.at("stop_reason"), "end_turn");
  EXPECT_TRUE(m.at("stop_sequence").is_null());
  const auto& content = m.at("content").as_array();
  ASSERT_EQ(content.size(), 1u);
  EXPECT_EQ(content[0].at("type"), "text");
  EXPECT_EQ(content[0].at("text").as_string().subview(0, 6), "[sim] ");
  const auto& usage = m.at("usage").as_object();
  for (const char* k : {"input_tokens", "output_tokens", "cache_creation_input_tokens",
                        "cache_read_input_tokens"}) {
    EXPECT_TRUE(usage.contains(k)) << k;
  }
}

TEST_F(AnthropicTest, StreamFollowsTheEventSequence) {
  StartServer();
  std::string whole(Anthropic(Ask("Explain quantum entanglement"))
                        .Json()
                        .at("content")
                        .at(0)
                        .at("text")
                        .as_string());
  auto r = Anthropic(Ask("Explain quantum entanglement", true));
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(r.complete);
  auto events = ParseSse(r.body);
  auto names = Names(events);
  ASSERT_GE(names.size(), 7u);
  EXPECT_EQ(names[0], "message_start");
  EXPECT_EQ(names[1], "content_block_start");
  EXPECT_EQ(names[2], "ping");
  EXPECT_EQ(names[names.size() - 3], "content_block_stop");
  EXPECT_EQ(names[names.size() - 2], "message_delta");
  EXPECT_EQ(names.back(), "message_stop");
  std::string text;
  for (size_t i = 3; i + 3 < names.size(); ++i) {
    EXPECT_EQ(names[i], "content_block_delta");
    json::value d = J(events[i].data);
    EXPECT_EQ(d.at("index"), 0);
    EXPECT_EQ(d.at("delta").at("type"), "text_delta");
    text += d.at("delta").at("text").as_string();
  }
  EXPECT_EQ(text, whole);
  json::value start = J(events[0].data);
  EXPECT_TRUE(start.at("message").at("content").as_array().empty());
  EXPECT_TRUE(start.at("message").at("stop_reason").is_null());
  json::value block = J(events[1].data);
  EXPECT_EQ(block.at("content_block"), J(R"({"type":"text","text":""})"));
  json::value delta = J(events[names.size() - 2].data);
  EXPECT_EQ(delta.at("delta").at("stop_reason"), "end_turn");
  EXPECT_GT(delta.at("usage").at("output_tokens").as_int64(), 1);
}

TEST_F(AnthropicTest, ToolUseStreamsInputJsonDeltas) {
  StartServer();
  json::value body = Ask("What is the weather in Paris?", true);
  body.as_object()["tools"] = Tools();
  auto r = Anthropic(body);
  auto events = ParseSse(r.body);
  auto names = Names(events);
  std::string partial;
  bool saw_start = false;
  for (const auto& e : events) {
    json::value d = J(e.data);
    if (e.event == "content_block_start" && d.at("content_block").at("type") == "tool_use") {
      saw_start = true;
      EXPECT_EQ(d.at("content_block").at("name"), "get_weather");
      EXPECT_EQ(d.at("content_block").at("id").as_string().subview(0, 6), "toolu_");
      EXPECT_EQ(d.at("content_block").at("input"), json::value(json::object()));
    }
    if (e.event == "content_block_delta") {
      EXPECT_EQ(d.at("delta").at("type"), "input_json_delta");
      partial += d.at("delta").at("partial_json").as_string();
    }
    if (e.event == "message_delta") {
      EXPECT_EQ(d.at("delta").at("stop_reason"), "tool_use");
    }
  }
  EXPECT_TRUE(saw_start);
  EXPECT_TRUE(J(partial).at("city").is_string());
  EXPECT_EQ(names.back(), "message_stop");
}

TEST_F(AnthropicTest, ThinkingBlocksComeFirstAndMustBeEchoedInToolLoops) {
  StartServer();
  json::value body = Ask("What is the weather in Paris?", true);
  body.as_object()["tools"] = Tools();
  body.as_object()["thinking"] = J(R"({"type":"enabled","budget_tokens":2048})");
  auto r = Anthropic(body);
  auto events = ParseSse(r.body);
  Names(events);
  // thinking block: start, thinking_delta(s), signature_delta, stop; then the tool_use block.
  json::value first_block = J(events[1].data);
  EXPECT_EQ(first_block.at("content_block").at("type"), "thinking");
  EXPECT_EQ(first_block.at("index"), 0);
  std::string thinking, signature;
  size_t i = 3;
  for (; i < events.size() && events[i].event == "content_block_delta"; ++i) {
    json::value d = J(events[i].data);
    if (d.at("delta").at("type") == "thinking_delta") {
      EXPECT_TRUE(signature.empty()) << "the signature comes last";
      thinking += d.at("delta").at("thinking").as_string();
    } else {
      EXPECT_EQ(d.at("delta").at("type"), "signature_delta");
      signature += d.at("delta").at("signature").as_string();
    }
  }
  EXPECT_FALSE(thinking.empty());
  EXPECT_FALSE(signature.empty());
  EXPECT_EQ(events[i].event, "content_block_stop");
  EXPECT_EQ(J(events[i + 1].data).at("content_block").at("type"), "tool_use");
  EXPECT_EQ(J(events[i + 1].data).at("index"), 1);

  // The whole message, to replay.
  body.as_object()["stream"] = false;
  json::value message = Anthropic(body).Json();
  const auto& content = message.at("content").as_array();
  ASSERT_EQ(content.at(0).at("type"), "thinking");
  ASSERT_EQ(content.at(1).at("type"), "tool_use");
  std::string use_id(content.at(1).at("id").as_string());
  json::value result = json::object{
      {"role", "user"},
      {"content", json::array{json::object{
                      {"type", "tool_result"}, {"tool_use_id", use_id}, {"content", "rainy"}}}}};

  // Without the thinking block: rejected as Anthropic does.
  json::value without = body;
  auto& m1 = without.as_object()["messages"].as_array();
  m1.push_back(json::object{{"role", "assistant"}, {"content", json::array{content.at(1)}}});
  m1.push_back(result);
  auto rejected = Anthropic(without);
  EXPECT_EQ(rejected.status, 400);
  EXPECT_EQ(rejected.Json().at("type"), "error");
  EXPECT_EQ(rejected.Json().at("error").at("type"), "invalid_request_error");
  EXPECT_NE(rejected.Json().at("error").at("message").as_string().find("thinking"),
            std::string::npos);

  // With it: an answer.
  json::value with = body;
  auto& m2 = with.as_object()["messages"].as_array();
  m2.push_back(json::object{{"role", "assistant"}, {"content", content}});
  m2.push_back(result);
  auto answer = Anthropic(with);
  ASSERT_EQ(answer.status, 200) << answer.body;
  EXPECT_EQ(answer.Json().at("stop_reason"), "end_turn");
  json::value answer_json = answer.Json();
  const auto& blocks = answer_json.at("content").as_array();
  EXPECT_EQ(blocks.back().at("type"), "text");
  EXPECT_GT(answer.Json().at("usage").at("cache_read_input_tokens").as_int64(), 0);
}

TEST_F(AnthropicTest, ToolUseWithoutResultIsRejected) {
  StartServer();
  json::value body = Ask("hi");
  auto& messages = body.as_object()["messages"].as_array();
  messages.push_back(J(
      R"({"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}]})"));
  messages.push_back(J(R"({"role":"user","content":"go on"})"));
  auto r = Anthropic(body);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.Json().at("error").at("message").as_string().find("toolu_1"), std::string::npos);
}

TEST_F(AnthropicTest, RequiredHeadersAndFields) {
  StartServer();
  auto no_version = PostJson(port(), "/v1/messages", Ask("hi"), {{"x-api-key", "k"}});
  EXPECT_EQ(no_version.status, 400);
  json::object e = no_version.Json().as_object();
  EXPECT_EQ(e.at("type"), "error");
  EXPECT_EQ(e.at("error").at("type"), "invalid_request_error");
  EXPECT_TRUE(e.at("request_id").is_string());
  json::value no_max = Ask("hi");
  no_max.as_object().erase("max_tokens");
  EXPECT_EQ(Anthropic(no_max).status, 400);

  auto count = PostJson(port(), "/v1/messages/count_tokens", Ask("hello world"),
                        {{"x-api-key", "k"}, {"anthropic-version", "2023-06-01"}});
  ASSERT_EQ(count.status, 200) << count.body;
  EXPECT_GT(count.Json().at("input_tokens").as_int64(), 0);
  auto models =
      Get(port(), "/v1/models", {{"x-api-key", "k"}, {"anthropic-version", "2023-06-01"}});
  EXPECT_EQ(models.Json().at("data").at(0).at("type"), "model");
  EXPECT_FALSE(models.Json().at("has_more").as_bool());
}

TEST_F(AnthropicTest, AuthErrorShape) {
  SimServerOptions o;
  o.api_key = "sk-ant-right";
  StartServer(o);
  auto r = Anthropic(Ask("hi"));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.Json().at("error").at("type"), "authentication_error");
}

TEST_F(AnthropicTest, OverloadedAndMidStreamErrors) {
  StartServer();
  auto r = Anthropic(Ask("hi"), {{"x-sim-fault", "status:overloaded"}});
  EXPECT_EQ(r.status, 529);
  EXPECT_EQ(r.Json().at("error").at("type"), "overloaded_error");
  EXPECT_EQ(r.header("retry-after"), "1");
  EXPECT_EQ(r.header("x-should-retry"), "true");

  auto s = Anthropic(Ask("hi there friend", true), {{"x-sim-fault", "status:529,after=3"}});
  EXPECT_EQ(s.status, 200);
  auto events = ParseSse(s.body);
  auto names = Names(events);
  ASSERT_EQ(names.size(), 4u);
  EXPECT_EQ(names[0], "message_start");
  EXPECT_EQ(names.back(), "error");
  EXPECT_EQ(J(events.back().data).at("error").at("type"), "overloaded_error");
}

}  // namespace
}  // namespace baton::simserver::testing
