// Anthropic Messages codec: golden requests in the shapes of Anthropic's API reference, decoding
// of documented bodies and streams (thinking with signatures, tool use, structured output via the
// forced tool), every split of a stream, error mapping and rate-limit headers.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "codec_test_util.hpp"
#include "providers/anthropic/anthropic_codec.hpp"

namespace baton::providers {
namespace {

using testing::Canon;
using testing::Json;
using testing::Msg;

class AnthropicCodecTest : public testing::CodecFixture {
 protected:
  AnthropicCodecTest() : CodecFixture("anthropic", Endpoint{"", "sk-ant-test", {}}) {}

  json::value Body(const ChatRequest& r, bool stream = false) {
    return Json(Encode(r, stream).body);
  }
};

TEST_F(AnthropicCodecTest, PlainRequestMatchesTheApiReference) {
  ChatRequest r;
  r.model = "claude-sonnet-4-5";
  r.max_tokens = 1024;
  r.messages = {Msg("user", "Hello, world")};
  http::HttpRequest req = Encode(r);
  EXPECT_EQ(req.url, "https://api.anthropic.com/v1/messages");
  EXPECT_EQ(req.headers, (std::vector<http::Header>{{"Content-Type", "application/json"},
                                                    {"x-api-key", "sk-ant-test"},
                                                    {"anthropic-version", "2023-06-01"}}));
  EXPECT_EQ(Canon(std::string_view(req.body)),
            Canon(R"({"model":"claude-sonnet-4-5","max_tokens":1024,
                      "messages":[{"role":"user","content":"Hello, world"}]})"));
}

TEST_F(AnthropicCodecTest, BaseUrlForms) {
  ChatRequest r;
  r.model = "m";
  r.messages = {Msg("user", "x")};
  endpoint_.base_url = "http://localhost:11434/";
  EXPECT_EQ(Encode(r).url, "http://localhost:11434/v1/messages");
  endpoint_.base_url = "http://127.0.0.1:8080/v1";
  EXPECT_EQ(Encode(r).url, "http://127.0.0.1:8080/v1/messages");
  endpoint_.api_key.clear();
  EXPECT_EQ(Encode(r).headers.size(), 2u);  // no x-api-key
}

TEST_F(AnthropicCodecTest, SystemIsTopLevelAndMaxTokensDefaults) {
  ChatRequest r;
  r.model = "claude-haiku-4-5";
  r.temperature = 0.5;
  r.messages = {Msg("system", "You are a pirate."), Msg("user", "Hi"),
                Msg("assistant", "Arr."),           Msg("system", "Answer in one line."),
                Msg("user", "Where is the gold?"),  Msg("user", "Quick!")};
  EXPECT_EQ(Canon(Body(r, true)), Canon(R"({"model":"claude-haiku-4-5","max_tokens":4096,
      "system":"You are a pirate.\n\nAnswer in one line.",
      "messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Arr."},
        {"role":"user","content":[{"type":"text","text":"Where is the gold?"},{"type":"text","text":"Quick!"}]}],
      "temperature":0.5,"stream":true})"));
}

TEST_F(AnthropicCodecTest, ToolUseAndParallelToolResults) {
  ChatRequest r;
  r.model = "claude-sonnet-4-5";
  r.max_tokens = 1024;
  r.tools = {testing::WeatherTool()};
  r.messages = {
      Msg("user", "What's the weather like in San Francisco and Paris?"),
      testing::AssistantCalls("I'll check both.",
                              {{"toolu_01A", "get_weather", R"({"location":"San Francisco, CA"})"},
                               {"toolu_01B", "get_weather", R"({"location":"Paris"})"}}),
      testing::ToolResult("toolu_01A", "get_weather", "15 degrees"),
      testing::ToolResult("toolu_01B", "get_weather", "12 degrees"),
      Msg("user", "Which is warmer?")};
  EXPECT_EQ(Canon(Body(r)), Canon(R"({"model":"claude-sonnet-4-5","max_tokens":1024,
      "messages":[
        {"role":"user","content":"What's the weather like in San Francisco and Paris?"},
        {"role":"assistant","content":[{"type":"text","text":"I'll check both."},
          {"type":"tool_use","id":"toolu_01A","name":"get_weather","input":{"location":"San Francisco, CA"}},
          {"type":"tool_use","id":"toolu_01B","name":"get_weather","input":{"location":"Paris"}}]},
        {"role":"user","content":[
          {"type":"tool_result","tool_use_id":"toolu_01A","content":"15 degrees"},
          {"type":"tool_result","tool_use_id":"toolu_01B","content":"12 degrees"},
          {"type":"text","text":"Which is warmer?"}]}],
      "tools":[{"name":"get_weather","description":"Get the current weather in a given location",
        "input_schema":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}]})"));

  auto choice = [&](std::string c) {
    r.tool_choice = std::move(c);
    json::value b = Body(r);
    return b.as_object().contains("tool_choice") ? Canon(b.at("tool_choice")) : std::string("-");
  };
  EXPECT_EQ(choice("auto"), Canon(R"({"type":"auto"})"));
  EXPECT_EQ(choice("none"), Canon(R"({"type":"none"})"));
  EXPECT_EQ(choice("required"), Canon(R"({"type":"any"})"));
  EXPECT_EQ(choice("get_weather"), Canon(R"({"type":"tool","name":"get_weather"})"));
  EXPECT_EQ(choice(""), "-");
}

TEST_F(AnthropicCodecTest, StructuredOutputIsAForcedTool) {
  ChatRequest r;
  r.model = "claude-sonnet-4-5";
  r.messages = {Msg("user", "Extract the event.")};
  r.output_schema =
      Json(R"({"type":"object","properties":{"name":{"type":"string"}},"required":["name"]})");
  json::value b = Body(r);
  EXPECT_EQ(Canon(b.at("tool_choice")), Canon(R"({"type":"tool","name":"structured_output"})"));
  ASSERT_EQ(b.at("tools").as_array().size(), 1u);
  EXPECT_EQ(b.at("tools").at(0).at("name"), "structured_output");
  EXPECT_EQ(Canon(b.at("tools").at(0).at("input_schema")), Canon(*r.output_schema));

  // With the agent's own tools: any tool, one at a time, so the answer comes alone.
  r.tools = {testing::WeatherTool()};
  b = Body(r);
  EXPECT_EQ(Canon(b.at("tool_choice")),
            Canon(R"({"type":"any","disable_parallel_tool_use":true})"));
  EXPECT_EQ(b.at("tools").as_array().size(), 2u);

  // A non-object schema is wrapped in {"value": ...}.
  r.tools.clear();
  r.output_schema = Json(R"({"type":"array","items":{"type":"integer"}})");
  b = Body(r);
  EXPECT_EQ(
      Canon(b.at("tools").at(0).at("input_schema")),
      Canon(R"({"type":"object","properties":{"value":{"type":"array","items":{"type":"integer"}}},
                      "required":["value"]})"));
}

TEST_F(AnthropicCodecTest, NativeThinkingTurnIsReplayedVerbatim) {
  json::value native = Json(R"({"role":"assistant","content":[
      {"type":"thinking","thinking":"Let me find the weather.","signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"},
      {"type":"redacted_thinking","data":"EmwKAhgBEgy3va3pzix/LafPsn4a"},
      {"type":"tool_use","id":"toolu_01C","name":"get_weather","input":{"location":"Paris"}}]})");
  Message turn =
      testing::AssistantCalls("", {{"toolu_01C", "get_weather", R"({"location":"Paris"})"}});
  turn.native = native;
  turn.native_protocol = "anthropic";
  ChatRequest r;
  r.model = "claude-sonnet-4-5";
  r.tools = {testing::WeatherTool()};
  r.messages = {Msg("user", "Paris?"), turn,
                testing::ToolResult("toolu_01C", "get_weather", "12C")};
  json::value b = Body(r);
  EXPECT_EQ(Canon(b.at("messages").at(1)), Canon(native));

  turn.native_protocol = "gemini";  // another protocol's turn is rebuilt from the neutral fields
  r.messages[1] = turn;
  b = Body(r);
  EXPECT_EQ(Canon(b.at("messages").at(1)),
            Canon(R"({"role":"assistant","content":[{"type":"tool_use",
      "id":"toolu_01C","name":"get_weather","input":{"location":"Paris"}}]})"));
}

// ---- decoding whole bodies ----------------------------------------------------------------------

constexpr std::string_view kToolUseBody = R"({
  "id": "msg_01Aq9w938a90dw8q", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
  "content": [
    {"type": "thinking", "thinking": "The user wants weather.", "signature": "WaUjzkypQ2mUEVM36O2T"},
    {"type": "text", "text": "I'll check the current weather in San Francisco for you."},
    {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather", "input": {"location": "San Francisco, CA", "unit": "celsius"}}],
  "stop_reason": "tool_use", "stop_sequence": null,
  "usage": {"input_tokens": 472, "cache_creation_input_tokens": 100, "cache_read_input_tokens": 2000, "output_tokens": 89}})";

TEST_F(AnthropicCodecTest, DecodesToolUseBodyWithThinking) {
  auto r = codec_->Decode(kToolUseBody, ChatRequest{});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->text, "I'll check the current weather in San Francisco for you.");
  EXPECT_EQ(r->reasoning, "The user wants weather.");
  EXPECT_EQ(r->finish_reason, "tool_calls");
  ASSERT_EQ(r->tool_calls.size(), 1u);
  EXPECT_EQ(r->tool_calls[0].id, "toolu_01A09q90qw90lq917835lq9");
  EXPECT_EQ(Canon(std::string_view(r->tool_calls[0].arguments)),
            Canon(R"({"location":"San Francisco, CA","unit":"celsius"})"));
  EXPECT_EQ(r->usage.input_tokens, 2572);
  EXPECT_EQ(r->usage.cached_tokens, 2000);
  EXPECT_EQ(r->usage.output_tokens, 89);
  EXPECT_EQ(r->model, "claude-sonnet-4-5-20250929");
  EXPECT_EQ(r->request_id, "msg_01Aq9w938a90dw8q");
  EXPECT_EQ(Canon(*r->native),
            Canon(json::value(json::object{{"role", "assistant"},
                                           {"content", Json(kToolUseBody).at("content")}})));
}

TEST_F(AnthropicCodecTest, StopReasons) {
  auto finish = [&](std::string_view reason) {
    std::string body = R"({"id":"m","content":[{"type":"text","text":"x"}],"stop_reason":"R"})";
    body.replace(body.find("\"R\""), 3, "\"" + std::string(reason) + "\"");
    return codec_->Decode(body, ChatRequest{})->finish_reason;
  };
  EXPECT_EQ(finish("end_turn"), "stop");
  EXPECT_EQ(finish("stop_sequence"), "stop");
  EXPECT_EQ(finish("max_tokens"), "length");
  EXPECT_EQ(finish("refusal"), "content_filter");
  EXPECT_EQ(finish("pause_turn"), "stop");
}

TEST_F(AnthropicCodecTest, DecodesTheForcedToolAsTheStructuredAnswer) {
  ChatRequest req;
  req.output_schema = Json(R"({"type":"object"})");
  auto r = codec_->Decode(R"({"id":"msg_2","model":"c","content":[
      {"type":"tool_use","id":"toolu_9","name":"structured_output","input":{"name":"Standup","day":"Thu"}}],
      "stop_reason":"tool_use","usage":{"input_tokens":10,"output_tokens":5}})",
                          req);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->tool_calls.empty());
  EXPECT_EQ(r->finish_reason, "stop");
  EXPECT_EQ(Canon(*r->structured), Canon(R"({"name":"Standup","day":"Thu"})"));
  EXPECT_EQ(Canon(std::string_view(r->text)), Canon(R"({"name":"Standup","day":"Thu"})"));
  // The replayable turn holds the answer as text: no tool_use left without a tool_result.
  EXPECT_EQ(r->native->at("content").at(0).at("type"), "text");

  req.output_schema = Json(R"({"type":"array"})");
  auto wrapped =
      codec_->Decode(R"({"content":[{"type":"tool_use","id":"t","name":"structured_output",
      "input":{"value":[1,2,3]}}],"stop_reason":"tool_use"})",
                     req);
  ASSERT_TRUE(wrapped.ok());
  EXPECT_EQ(wrapped->text, "[1,2,3]");
  EXPECT_EQ(Canon(*wrapped->structured), Canon("[1,2,3]"));

  // Without an output_schema the tool is just a tool.
  auto plain = codec_->Decode(R"({"content":[{"type":"tool_use","id":"t","name":"structured_output",
      "input":{}}],"stop_reason":"tool_use"})",
                              ChatRequest{});
  EXPECT_EQ(plain->tool_calls.size(), 1u);
}

TEST_F(AnthropicCodecTest, ErrorBodyWithStatus200Fails) {
  auto r = codec_->Decode(
      R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})",
      ChatRequest{});
  EXPECT_EQ(r.status().ErrorType(), "overloaded");
  EXPECT_EQ(codec_->Decode("{}", ChatRequest{}).status().ErrorType(), "server_error");
}

// ---- streams ------------------------------------------------------------------------------------

constexpr std::string_view kToolStream = R"(event: message_start
data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":472,"cache_read_input_tokens":0,"output_tokens":2}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: ping
data: {"type":"ping"}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Okay, let's check"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" the weather."}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"location\": \"San Fra"}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"ncisco, CA\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}

event: message_stop
data: {"type":"message_stop"}

)";

TEST_F(AnthropicCodecTest, DecodesDocumentedToolUseStream) {
  auto events = testing::ParseSse(kToolStream);
  ASSERT_EQ(events.size(), 13u);
  auto run = testing::RunStream(*codec_, ChatRequest{}, events);
  ASSERT_TRUE(run.result.ok()) << run.result.status().ToString();
  const ChatResponse& r = *run.result;
  EXPECT_EQ(r.text, "Okay, let's check the weather.");
  EXPECT_EQ(run.Text(StreamDelta::Kind::kText), r.text);
  EXPECT_EQ(r.finish_reason, "tool_calls");
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].id, "toolu_01T1x1fJ34qAmk2tNTrN7Up6");
  EXPECT_EQ(r.tool_calls[0].arguments, R"({"location":"San Francisco, CA"})");
  EXPECT_EQ(run.Arguments(), std::vector<std::string>{R"({"location": "San Francisco, CA"})"});
  EXPECT_EQ(r.usage.input_tokens, 472);
  EXPECT_EQ(r.usage.output_tokens, 89);
  EXPECT_EQ(r.request_id, "msg_1");
  EXPECT_EQ(Canon(*r.native), Canon(R"({"role":"assistant","content":[
      {"type":"text","text":"Okay, let's check the weather."},
      {"type":"tool_use","id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather",
       "input":{"location":"San Francisco, CA"}}]})"));
}

constexpr std::string_view kThinkingStream = R"(event: message_start
data: {"type":"message_start","message":{"id":"msg_01","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"usage":{"input_tokens":10,"output_tokens":1}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Let me solve this step by step:\n\n1. First break down 27 * 453"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"\n2. 453 = 400 + 50 + 3"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"27 * 453 = 12,231"}}

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":120}}

event: message_stop
data: {"type":"message_stop"}

)";

TEST_F(AnthropicCodecTest, ThinkingStreamRebuildsBlocksWithSignatures) {
  auto run = testing::RunStream(*codec_, ChatRequest{}, testing::ParseSse(kThinkingStream));
  ASSERT_TRUE(run.result.ok());
  const ChatResponse& r = *run.result;
  EXPECT_EQ(
      r.reasoning,
      "Let me solve this step by step:\n\n1. First break down 27 * 453\n2. 453 = 400 + 50 + 3");
  EXPECT_EQ(run.Text(StreamDelta::Kind::kReasoning), r.reasoning);
  EXPECT_EQ(r.text, "27 * 453 = 12,231");
  EXPECT_EQ(r.finish_reason, "stop");
  EXPECT_EQ(Canon(*r.native), Canon(R"({"role":"assistant","content":[
      {"type":"thinking","thinking":"Let me solve this step by step:\n\n1. First break down 27 * 453\n2. 453 = 400 + 50 + 3",
       "signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"},
      {"type":"text","text":"27 * 453 = 12,231"}]})"));

  // The rebuilt turn goes back unchanged on the next request.
  Message turn;
  turn.role = "assistant";
  turn.content = r.text;
  turn.native = r.native;
  turn.native_protocol = r.native_protocol;
  ChatRequest next;
  next.model = "claude-sonnet-4-5";
  next.messages = {Msg("user", "27 * 453?"), turn, Msg("user", "And times 2?")};
  EXPECT_EQ(Canon(Body(next).at("messages").at(1)), Canon(*r.native));
}

TEST_F(AnthropicCodecTest, StructuredAnswerStreamsAsText) {
  ChatRequest req;
  req.output_schema = Json(R"({"type":"object"})");
  std::vector<http::SseEvent> events = {
      testing::Data(
          R"({"type":"message_start","message":{"id":"m","model":"c","usage":{"input_tokens":3}}})",
          "message_start"),
      testing::Data(
          R"({"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t","name":"structured_output","input":{}}})"),
      testing::Data(
          R"({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"ok\":"}})"),
      testing::Data(
          R"({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"true}"}})"),
      testing::Data(R"({"type":"content_block_stop","index":0})"),
      testing::Data(
          R"({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":7}})"),
      testing::Data(R"({"type":"message_stop"})")};
  auto run = testing::RunStream(*codec_, req, events);
  ASSERT_TRUE(run.result.ok());
  EXPECT_EQ(run.Text(StreamDelta::Kind::kText), R"({"ok":true})");
  EXPECT_TRUE(run.result->tool_calls.empty());
  EXPECT_EQ(run.result->finish_reason, "stop");
  EXPECT_EQ(Canon(*run.result->structured), Canon(R"({"ok":true})"));
  EXPECT_EQ(run.result->usage.output_tokens, 7);
}

TEST_F(AnthropicCodecTest, ErrorEventMalformedEventAndTruncation) {
  auto events = testing::ParseSse(kToolStream);
  std::vector<http::SseEvent> with_error(events.begin(), events.begin() + 4);
  with_error.push_back(testing::Data(
      R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})", "error"));
  auto run = testing::RunStream(*codec_, ChatRequest{}, with_error);
  EXPECT_EQ(run.event_status.ErrorType(), "overloaded");
  EXPECT_EQ(run.failed_at, 4u);
  EXPECT_NE(run.event_status.message().find("Overloaded"), std::string::npos);

  std::vector<http::SseEvent> malformed(events.begin(), events.begin() + 3);
  malformed.push_back(testing::Data(R"({"type":"content_block_delta",)", "content_block_delta"));
  run = testing::RunStream(*codec_, ChatRequest{}, malformed);
  EXPECT_EQ(run.event_status.ErrorType(), "server_error");
  EXPECT_NE(run.event_status.message().find("event 3"), std::string::npos);

  for (size_t n = 0; n < events.size(); ++n) {
    auto cut = testing::RunStream(*codec_, ChatRequest{}, events, n);
    EXPECT_EQ(cut.result.status().ErrorType(), "network") << n;
  }
  // Unknown event types are ignored, as the docs ask.
  std::vector<http::SseEvent> extra = events;
  extra.insert(extra.begin() + 2,
               testing::Data(R"({"type":"future_event","x":1})", "future_event"));
  EXPECT_TRUE(testing::RunStream(*codec_, ChatRequest{}, extra).result.ok());
}

TEST_F(AnthropicCodecTest, EverySplitOfTheContentGivesTheSameResponse) {
  const std::string text = "Okay, let's check the weather. ☀";
  const std::string args = R"({"location": "San Francisco, CA", "unit": "celsius"})";
  auto ev = [](json::object o) { return testing::Data(json::serialize(o)); };
  auto build = [&](size_t ti, size_t ai) {
    std::vector<http::SseEvent> v;
    v.push_back(ev({{"type", "message_start"},
                    {"message", json::object{{"id", "msg_s"},
                                             {"model", "c"},
                                             {"usage", json::object{{"input_tokens", 9}}}}}}));
    v.push_back(ev({{"type", "content_block_start"},
                    {"index", 0},
                    {"content_block", json::object{{"type", "text"}, {"text", ""}}}}));
    for (auto piece : {text.substr(0, ti), text.substr(ti)}) {
      v.push_back(ev({{"type", "content_block_delta"},
                      {"index", 0},
                      {"delta", json::object{{"type", "text_delta"}, {"text", piece}}}}));
    }
    v.push_back(ev({{"type", "content_block_stop"}, {"index", 0}}));
    v.push_back(ev({{"type", "content_block_start"},
                    {"index", 1},
                    {"content_block", json::object{{"type", "tool_use"},
                                                   {"id", "toolu_s"},
                                                   {"name", "get_weather"},
                                                   {"input", json::object()}}}}));
    for (auto piece : {args.substr(0, ai), args.substr(ai)}) {
      v.push_back(
          ev({{"type", "content_block_delta"},
              {"index", 1},
              {"delta", json::object{{"type", "input_json_delta"}, {"partial_json", piece}}}}));
    }
    v.push_back(ev({{"type", "content_block_stop"}, {"index", 1}}));
    v.push_back(ev({{"type", "message_delta"},
                    {"delta", json::object{{"stop_reason", "tool_use"}}},
                    {"usage", json::object{{"output_tokens", 30}}}}));
    v.push_back(ev({{"type", "message_stop"}}));
    return v;
  };
  auto reference = testing::RunStream(*codec_, ChatRequest{}, build(0, 0));
  ASSERT_TRUE(reference.result.ok());
  std::string want = testing::Summary(*reference.result);
  for (size_t ti = 0; ti <= text.size(); ++ti) {
    for (size_t ai = 0; ai <= args.size(); ai += 2) {
      if (!testing::Boundary(text, ti) || !testing::Boundary(args, ai)) continue;
      auto run = testing::RunStream(*codec_, ChatRequest{}, build(ti, ai));
      ASSERT_TRUE(run.result.ok());
      ASSERT_EQ(testing::Summary(*run.result), want) << ti << " " << ai;
      ASSERT_EQ(run.Text(StreamDelta::Kind::kText), text);
      ASSERT_EQ(run.Arguments(), std::vector<std::string>{args});
    }
  }
}

TEST_F(AnthropicCodecTest, EveryByteSplitOfTheWireGivesTheSameResponse) {
  std::string want =
      testing::Summary(*testing::RunBytes(*codec_, ChatRequest{}, kThinkingStream, 0));
  for (size_t cut = 0; cut <= kThinkingStream.size(); ++cut) {
    auto r = testing::RunBytes(*codec_, ChatRequest{}, kThinkingStream, cut);
    ASSERT_TRUE(r.ok()) << cut;
    ASSERT_EQ(testing::Summary(*r), want) << cut;
  }
}

TEST_F(AnthropicCodecTest, StreamAndBodyAgree) {
  constexpr std::string_view body = R"({"id":"msg_1","type":"message","role":"assistant",
      "model":"claude-sonnet-4-5","content":[{"type":"text","text":"Okay, let's check the weather."},
      {"type":"tool_use","id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather","input":{"location":"San Francisco, CA"}}],
      "stop_reason":"tool_use","stop_sequence":null,
      "usage":{"input_tokens":472,"cache_read_input_tokens":0,"output_tokens":89}})";
  auto whole = codec_->Decode(body, ChatRequest{});
  auto run = testing::RunStream(*codec_, ChatRequest{}, testing::ParseSse(kToolStream));
  ASSERT_TRUE(whole.ok());
  ASSERT_TRUE(run.result.ok());
  EXPECT_EQ(testing::Summary(*run.result), testing::Summary(*whole));
}

// ---- errors and headers
// ---------------------------------------------------------------------------

TEST_F(AnthropicCodecTest, ErrorMappingTable) {
  auto err = [](std::string type, std::string message) {
    return json::serialize(
        json::object{{"type", "error"},
                     {"error", json::object{{"type", type}, {"message", message}}},
                     {"request_id", "req_011CSHoEeqs5C35K2UUqR7Fy"}});
  };
  struct Case {
    int status;
    std::string body;
    std::vector<http::Header> headers;
    std::string type;
    bool no_retry;
    int64_t retry_after_ms;
    std::string words;
  };
  std::vector<Case> cases = {
      {400,
       err("invalid_request_error", "messages: roles must alternate"),
       {},
       "invalid_request",
       false,
       -1,
       "roles must alternate"},
      {400,
       err("invalid_request_error", "prompt is too long: 208310 tokens > 200000 maximum"),
       {},
       "context_length",
       false,
       -1,
       "prompt is too long"},
      {401,
       err("authentication_error", "invalid x-api-key"),
       {},
       "auth",
       false,
       -1,
       "invalid x-api-key"},
      {402,
       err("billing_error", "Your credit balance is too low"),
       {},
       "quota_exhausted",
       true,
       -1,
       "credit balance"},
      {403,
       err("permission_error", "Your API key does not have permission"),
       {},
       "auth",
       false,
       -1,
       "permission"},
      {404,
       err("not_found_error", "model: claude-9"),
       {},
       "invalid_request",
       false,
       -1,
       "model or endpoint not found: model: claude-9"},
      {413,
       err("request_too_large", "Request exceeds the maximum allowed number of bytes."),
       {},
       "invalid_request",
       false,
       -1,
       "maximum allowed"},
      {429,
       err("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"),
       {{"retry-after", "30"}},
       "rate_limited",
       false,
       30'000,
       "per-minute rate limit"},
      {429,
       R"({"type":"error","error":{"type":"rate_limit_error","message":"spend limit","details":{"error_code":"enforced_spend_limit_reached"}}})",
       {},
       "quota_exhausted",
       true,
       -1,
       "spend limit"},
      {500,
       err("api_error", "Internal server error"),
       {},
       "server_error",
       false,
       -1,
       "Internal server error"},
      {504, err("timeout_error", "Request timed out"), {}, "timeout", false, -1, "timed out"},
      {529,
       err("overloaded_error", "Overloaded"),
       {{"x-should-retry", "true"}},
       "overloaded",
       false,
       -1,
       "Overloaded"},
      {503, "upstream connect error", {}, "overloaded", false, -1, "upstream connect error"},
  };
  for (const auto& c : cases) {
    Status s = codec_->DecodeError(testing::Response(c.status, c.body, c.headers));
    SCOPED_TRACE(c.body);
    EXPECT_EQ(s.ErrorType(), c.type) << s.message();
    EXPECT_EQ(s.retry_hints().no_retry, c.no_retry);
    EXPECT_EQ(s.retry_hints().retry_after_ms, c.retry_after_ms);
    EXPECT_NE(s.message().find(c.words), std::string::npos) << s.message();
    EXPECT_EQ(s.message().find("sk-ant-test"), std::string::npos);
  }
  Status s = codec_->DecodeError(testing::Response(500, err("api_error", "x")));
  EXPECT_NE(s.message().find("req_011CSHoEeqs5C35K2UUqR7Fy"), std::string::npos);
  s = codec_->DecodeError(testing::Response(500, "{}", {{"request-id", "req_hdr"}}));
  EXPECT_NE(s.message().find("req_hdr"), std::string::npos);
}

TEST_F(AnthropicCodecTest, RateLimitHeadersResetIsRelativeToTheClock) {
  clock_.Set(1'700'000'000'000);  // 2023-11-14T22:13:20Z
  auto info = codec_->ParseRateLimits(
      testing::Response(200, "",
                        {{"anthropic-ratelimit-requests-limit", "50"},
                         {"anthropic-ratelimit-requests-remaining", "49"},
                         {"anthropic-ratelimit-requests-reset", "2023-11-14T22:13:21Z"},
                         {"anthropic-ratelimit-tokens-limit", "40000"},
                         {"anthropic-ratelimit-tokens-remaining", "39000"},
                         {"anthropic-ratelimit-tokens-reset", "2023-11-14T22:14:20.500Z"},
                         {"anthropic-ratelimit-input-tokens-limit", "30000"},
                         {"retry-after", "4"}}));
  EXPECT_EQ(info.limit_requests, 50);
  EXPECT_EQ(info.remaining_requests, 49);
  EXPECT_EQ(info.reset_requests_ms, 1000);
  EXPECT_EQ(info.limit_tokens, 40000);
  EXPECT_EQ(info.remaining_tokens, 39000);
  EXPECT_EQ(info.reset_tokens_ms, 60'500);
  EXPECT_EQ(info.retry_after_ms, 4000);

  // Only input-token limits given: they stand for the token limits. A past reset is 0.
  info = codec_->ParseRateLimits(
      testing::Response(200, "",
                        {{"anthropic-ratelimit-input-tokens-limit", "30000"},
                         {"anthropic-ratelimit-input-tokens-remaining", "100"},
                         {"anthropic-ratelimit-input-tokens-reset", "2020-01-01T00:00:00Z"}}));
  EXPECT_EQ(info.limit_tokens, 30000);
  EXPECT_EQ(info.remaining_tokens, 100);
  EXPECT_EQ(info.reset_tokens_ms, 0);
  EXPECT_EQ(codec_->RequestId(testing::Response(200, "", {{"request-id", "req_7"}})), "req_7");
}

}  // namespace
}  // namespace baton::providers
