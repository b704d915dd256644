// OpenAI Chat Completions codec: golden requests in the shapes of OpenAI's API reference,
// decoding of documented bodies and streams (and the compatible servers' variants), every split
// of a stream, error mapping and rate-limit headers.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "codec_test_util.hpp"
#include "providers/openai/openai_codec.hpp"

namespace baton::providers {
namespace {

using testing::Canon;
using testing::Json;
using testing::Msg;

class OpenAiCodecTest : public testing::CodecFixture {
 protected:
  OpenAiCodecTest()
      : CodecFixture("openai", Endpoint{"https://api.openai.com/v1/", "sk-test", {}}) {}

  std::string Body(const ChatRequest& r, bool stream = false) {
    return Canon(std::string_view(Encode(r, stream).body));
  }
};

TEST_F(OpenAiCodecTest, PlainRequestMatchesTheApiReference) {
  ChatRequest r;
  r.model = "gpt-4o";
  r.messages = {Msg("user", "Hello!")};
  http::HttpRequest req = Encode(r);
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.url, "https://api.openai.com/v1/chat/completions");
  EXPECT_EQ(req.headers, (std::vector<http::Header>{{"Content-Type", "application/json"},
                                                    {"Authorization", "Bearer sk-test"}}));
  EXPECT_EQ(Canon(std::string_view(req.body)),
            Canon(R"({"model":"gpt-4o","messages":[{"role":"user","content":"Hello!"}]})"));
}

TEST_F(OpenAiCodecTest, SystemMultiTurnTemperatureAndMaxTokens) {
  ChatRequest r;
  r.model = "gpt-4o";
  r.messages = {Msg("system", "You are a helpful assistant."), Msg("user", "Hello!"),
                Msg("assistant", "Hi! How can I help?"), Msg("user", "Tell me a joke.")};
  r.temperature = 0.2;
  r.max_tokens = 256;
  EXPECT_EQ(Body(r), Canon(R"({"model":"gpt-4o","messages":[
      {"role":"system","content":"You are a helpful assistant."},
      {"role":"user","content":"Hello!"},
      {"role":"assistant","content":"Hi! How can I help?"},
      {"role":"user","content":"Tell me a joke."}],
      "temperature":0.2,"max_completion_tokens":256})"));

  // Compatible servers get the legacy name, which all of them honour; no key, no header.
  endpoint_ = Endpoint{"http://127.0.0.1:8000/v1", "", {{"HTTP-Referer", "https://x.example"}}};
  http::HttpRequest req = Encode(r);
  EXPECT_EQ(req.url, "http://127.0.0.1:8000/v1/chat/completions");
  EXPECT_EQ(req.headers, (std::vector<http::Header>{{"Content-Type", "application/json"},
                                                    {"HTTP-Referer", "https://x.example"}}));
  EXPECT_EQ(Json(req.body).at("max_tokens").as_int64(), 256);
  EXPECT_EQ(Json(req.body).as_object().count("max_completion_tokens"), 0u);
}

TEST_F(OpenAiCodecTest, EmptyBaseUrlIsOpenAi) {
  endpoint_.base_url = "";
  ChatRequest r;
  r.model = "m";
  r.messages = {Msg("user", "x")};
  EXPECT_EQ(Encode(r).url, "https://api.openai.com/v1/chat/completions");
}

TEST_F(OpenAiCodecTest, ToolsParallelCallsAndResults) {
  ChatRequest r;
  r.model = "gpt-4o";
  r.tools = {testing::WeatherTool()};
  r.tool_choice = "auto";
  r.messages = {
      Msg("user", "What's the weather like in Paris and Boston today?"),
      testing::AssistantCalls("", {{"call_1", "get_weather", R"({"location":"Paris, France"})"},
                                   {"call_2", "get_weather", R"({"location":"Boston, MA"})"}}),
      testing::ToolResult("call_1", "get_weather", "rainy, 14C"),
      testing::ToolResult("call_2", "get_weather", "sunny, 22C")};
  EXPECT_EQ(Body(r), Canon(R"({"model":"gpt-4o","messages":[
      {"role":"user","content":"What's the weather like in Paris and Boston today?"},
      {"role":"assistant","content":null,"tool_calls":[
        {"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Paris, France\"}"}},
        {"id":"call_2","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Boston, MA\"}"}}]},
      {"role":"tool","tool_call_id":"call_1","content":"rainy, 14C"},
      {"role":"tool","tool_call_id":"call_2","content":"sunny, 22C"}],
      "tools":[{"type":"function","function":{"name":"get_weather",
        "description":"Get the current weather in a given location",
        "parameters":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}}],
      "tool_choice":"auto"})"));

  r.tool_choice = "get_weather";
  EXPECT_EQ(Canon(Json(Encode(r).body).at("tool_choice")),
            Canon(R"({"type":"function","function":{"name":"get_weather"}})"));
  r.tool_choice = "required";
  EXPECT_EQ(Json(Encode(r).body).at("tool_choice"), "required");
  r.tool_choice = "";
  EXPECT_EQ(Json(Encode(r).body).as_object().count("tool_choice"), 0u);
  // tool_choice without tools is an API error: it is left out.
  r.tools.clear();
  r.tool_choice = "none";
  EXPECT_EQ(Json(Encode(r).body).as_object().count("tool_choice"), 0u);
}

TEST_F(OpenAiCodecTest, StrictStructuredOutput) {
  ChatRequest r;
  r.model = "gpt-4o";
  r.messages = {Msg("user", "Extract the event.")};
  r.output_schema = Json(R"({"$schema":"https://json-schema.org/draft/2020-12/schema",
      "type":"object","properties":{"name":{"type":"string"},
      "participants":{"type":"array","items":{"type":"string"}}},
      "required":["name","participants"],"additionalProperties":false})");
  EXPECT_EQ(Canon(Json(Encode(r).body).at("response_format")),
            Canon(R"({"type":"json_schema","json_schema":{"name":"output","strict":true,
      "schema":{"type":"object","properties":{"name":{"type":"string"},
      "participants":{"type":"array","items":{"type":"string"}}},
      "required":["name","participants"],"additionalProperties":false}}})"));
}

TEST_F(OpenAiCodecTest, NonStrictObjectSchemaTravelsWithStrictFalse) {
  ChatRequest r;
  r.model = "gpt-4o";
  r.messages = {Msg("system", "Be terse."), Msg("user", "Rate it.")};
  r.output_schema =
      Json(R"({"type":"object","properties":{"score":{"type":"integer","minimum":1}}})");
  json::value body = Json(Encode(r).body);
  EXPECT_EQ(Canon(body.at("response_format")),
            Canon(R"({"type":"json_schema","json_schema":{"name":"output","strict":false,
      "schema":{"type":"object","properties":{"score":{"type":"integer","minimum":1}}}}})"));
  EXPECT_EQ(body.at("messages").at(0).at("content"), "Be terse.");
  EXPECT_EQ(body.at("messages").as_array().size(), 2u);

  // A non-object root has no response_format: the schema goes in a system instruction, added
  // in front when there is no system message.
  r.messages = {Msg("user", "List three colours.")};
  r.output_schema = Json(R"({"type":"array","items":{"type":"string"}})");
  body = Json(Encode(r).body);
  EXPECT_EQ(body.as_object().count("response_format"), 0u);
  EXPECT_EQ(body.at("messages").at(0).at("role"), "system");
  EXPECT_EQ(body.at("messages").at(1).at("content"), "List three colours.");
}

TEST_F(OpenAiCodecTest, StrictCompatibilityRules) {
  using openai::StrictSchemaCompatible;
  EXPECT_TRUE(StrictSchemaCompatible(Json(
      R"({"type":"object","properties":{"a":{"anyOf":[{"type":"string"},{"type":"null"}]},
          "b":{"$ref":"#/$defs/x"}},"required":["a","b"],"additionalProperties":false,
          "$defs":{"x":{"type":"object","properties":{},"required":[],"additionalProperties":false}}})")));
  EXPECT_FALSE(StrictSchemaCompatible(Json(R"({"type":"object","properties":{"a":{"type":"string"}},
      "required":[],"additionalProperties":false})")));  // optional property
  EXPECT_FALSE(StrictSchemaCompatible(Json(R"({"type":"object","properties":{}})")));  // open
  EXPECT_FALSE(StrictSchemaCompatible(Json(R"({"type":"object","properties":{"a":{"type":"string",
      "minLength":2}},"required":["a"],"additionalProperties":false})")));  // unsupported keyword
  EXPECT_FALSE(StrictSchemaCompatible(Json(R"({"type":"string"})")));
  EXPECT_FALSE(StrictSchemaCompatible(Json(R"({"type":"object","properties":{"a":{}},
      "required":["a"],"additionalProperties":false})")));  // untyped property
}

TEST_F(OpenAiCodecTest, StreamRequestAsksForUsage) {
  ChatRequest r;
  r.model = "gpt-4o";
  r.messages = {Msg("user", "Hi")};
  http::HttpRequest req = Encode(r, true);
  json::value body = Json(req.body);
  EXPECT_EQ(body.at("stream"), true);
  EXPECT_EQ(Canon(body.at("stream_options")), Canon(R"({"include_usage":true})"));
  EXPECT_EQ(req.headers[1], http::Header("Accept", "text/event-stream"));
}

TEST_F(OpenAiCodecTest, NativeTurnIsSentBackVerbatimToTheSameProtocolOnly) {
  Message turn = testing::AssistantCalls("", {{"call_9", "get_weather", R"({"location":"Oslo"})"}});
  turn.native = Json(R"({"role":"assistant","content":null,"reasoning_content":"Need weather.",
      "tool_calls":[{"id":"call_9","type":"function","function":{"name":"get_weather",
      "arguments":"{\"location\":\"Oslo\"}"},"extra_content":{"google":{"thought_signature":"c2ln"}}}]})");
  turn.native_protocol = "openai";
  ChatRequest r;
  r.model = "m";
  r.messages = {Msg("user", "Oslo?"), turn, testing::ToolResult("call_9", "get_weather", "cold")};
  json::value body = Json(Encode(r).body);
  EXPECT_EQ(Canon(body.at("messages").at(1)), Canon(*turn.native));

  turn.native_protocol = "anthropic";
  r.messages[1] = turn;
  body = Json(Encode(r).body);
  EXPECT_EQ(Canon(body.at("messages").at(1)),
            Canon(R"({"role":"assistant","content":null,"tool_calls":[{"id":"call_9",
      "type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Oslo\"}"}}]})"));
}

TEST_F(OpenAiCodecTest, RejectsWhatTheProtocolCannotSay) {
  ChatRequest r;
  r.model = "m";
  r.messages = {Msg("narrator", "x")};
  EXPECT_EQ(codec_->Encode(r, endpoint_, false).status().code(), Code::kInvalidArgument);
  r.messages = {testing::ToolResult("", "t", "x")};
  EXPECT_EQ(codec_->Encode(r, endpoint_, false).status().code(), Code::kInvalidArgument);
  r.model.clear();
  EXPECT_FALSE(codec_->Encode(r, endpoint_, false).ok());
}

// ---- decoding whole bodies ----------------------------------------------------------------------

constexpr std::string_view kToolCallBody = R"({
  "id": "chatcmpl-abc123", "object": "chat.completion", "created": 1699896916,
  "model": "gpt-4o-2024-08-06",
  "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "refusal": null,
      "tool_calls": [
        {"id": "call_abc", "type": "function", "function": {"name": "get_weather", "arguments": "{\"location\":\"Paris, France\"}"}},
        {"id": "call_def", "type": "function", "function": {"name": "get_weather", "arguments": "{\"location\":\"Boston, MA\"}"}}]},
    "logprobs": null, "finish_reason": "tool_calls"}],
  "usage": {"prompt_tokens": 82, "completion_tokens": 17, "total_tokens": 99,
    "prompt_tokens_details": {"cached_tokens": 64, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 5, "audio_tokens": 0}},
  "system_fingerprint": "fp_123", "service_tier": "default"})";

TEST_F(OpenAiCodecTest, DecodesToolCallBody) {
  auto r = codec_->Decode(kToolCallBody, ChatRequest{});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->text, "");
  EXPECT_EQ(r->finish_reason, "tool_calls");
  ASSERT_EQ(r->tool_calls.size(), 2u);
  EXPECT_EQ(r->tool_calls[1].id, "call_def");
  EXPECT_EQ(r->tool_calls[1].name, "get_weather");
  EXPECT_EQ(r->tool_calls[1].arguments, R"({"location":"Boston, MA"})");
  EXPECT_EQ(r->usage.input_tokens, 82);
  EXPECT_EQ(r->usage.output_tokens, 17);
  EXPECT_EQ(r->usage.cached_tokens, 64);
  EXPECT_EQ(r->usage.reasoning_tokens, 5);
  EXPECT_EQ(r->model, "gpt-4o-2024-08-06");
  EXPECT_EQ(r->request_id, "chatcmpl-abc123");
  EXPECT_EQ(r->native_protocol, "openai");
  EXPECT_EQ(Canon(*r->native), Canon(Json(kToolCallBody).at("choices").at(0).at("message")));
}

TEST_F(OpenAiCodecTest, DecodesReasoningOfCompatibleServers) {
  for (std::string_view key : {"reasoning_content", "reasoning"}) {
    std::string body =
        R"({"id":"x","model":"qwen3","choices":[{"index":0,"message":{"role":"assistant",
        "content":"42","KEY":"Think first."},"finish_reason":"stop"}]})";
    body.replace(body.find("KEY"), 3, key);
    auto r = codec_->Decode(body, ChatRequest{});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->text, "42");
    EXPECT_EQ(r->reasoning, "Think first.");
    EXPECT_EQ(r->finish_reason, "stop");
  }
}

TEST_F(OpenAiCodecTest, DecodesStructuredOutputRefusalAndLiberalShapes) {
  ChatRequest r;
  r.output_schema = Json(R"({"type":"object"})");
  auto ok = codec_->Decode(R"({"choices":[{"message":{"role":"assistant",
      "content":"{\"name\":\"Standup\"}"},"finish_reason":"stop"}]})",
                           r);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(Canon(*ok->structured), Canon(R"({"name":"Standup"})"));

  auto fenced = codec_->Decode(R"({"choices":[{"message":{"role":"assistant",
      "content":"```json\n{\"a\":1}\n```"},"finish_reason":"stop"}]})",
                               r);
  ASSERT_TRUE(fenced.ok());
  EXPECT_EQ(Canon(*fenced->structured), Canon(R"({"a":1})"));

  auto refusal = codec_->Decode(R"({"choices":[{"message":{"role":"assistant","content":null,
      "refusal":"I'm sorry, I cannot help with that."},"finish_reason":"stop"}]})",
                                r);
  ASSERT_TRUE(refusal.ok());
  EXPECT_EQ(refusal->finish_reason, "content_filter");
  EXPECT_EQ(refusal->text, "I'm sorry, I cannot help with that.");
  EXPECT_FALSE(refusal->structured.has_value());

  // A server that says "stop" while calling tools, with arguments as an object.
  auto liberal = codec_->Decode(R"({"choices":[{"message":{"role":"assistant","content":"",
      "tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":{"x":1}}}]},
      "finish_reason":"stop"}]})",
                                ChatRequest{});
  ASSERT_TRUE(liberal.ok());
  EXPECT_EQ(liberal->finish_reason, "tool_calls");
  EXPECT_EQ(liberal->tool_calls[0].arguments, R"({"x":1})");

  auto length = codec_->Decode(R"({"choices":[{"message":{"role":"assistant","content":"abc"},
      "finish_reason":"length"}]})",
                               ChatRequest{});
  ASSERT_TRUE(length.ok());
  EXPECT_EQ(length->finish_reason, "length");
}

TEST_F(OpenAiCodecTest, BadBodiesFail) {
  auto not_json = codec_->Decode("<html>bad gateway</html>", ChatRequest{});
  EXPECT_EQ(not_json.status().ErrorType(), "server_error");
  auto no_choices = codec_->Decode(R"({"id":"x","choices":[]})", ChatRequest{});
  EXPECT_EQ(no_choices.status().ErrorType(), "server_error");
  auto error = codec_->Decode(R"({"error":{"message":"Provider returned error","code":502}})",
                              ChatRequest{});
  EXPECT_EQ(error.status().ErrorType(), "server_error");
  EXPECT_NE(error.status().message().find("Provider returned error"), std::string::npos);
}

// ---- streams ------------------------------------------------------------------------------------

constexpr std::string_view kToolStream =
    R"(data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_abc","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"location\":"}}]},"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]},"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}],"usage":null}

data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":80,"completion_tokens":17,"total_tokens":97,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}

data: [DONE]

)";

TEST_F(OpenAiCodecTest, DecodesDocumentedToolCallStream) {
  auto events = testing::ParseSse(kToolStream);
  ASSERT_EQ(events.size(), 6u);
  auto run = testing::RunStream(*codec_, ChatRequest{}, events);
  ASSERT_TRUE(run.result.ok()) << run.result.status().ToString();
  const ChatResponse& r = *run.result;
  EXPECT_EQ(r.finish_reason, "tool_calls");
  ASSERT_EQ(r.tool_calls.size(), 1u);
  EXPECT_EQ(r.tool_calls[0].id, "call_abc");
  EXPECT_EQ(r.tool_calls[0].arguments, R"({"location":"Paris"})");
  EXPECT_EQ(r.usage.input_tokens, 80);
  EXPECT_EQ(r.usage.output_tokens, 17);
  EXPECT_EQ(r.model, "gpt-4o");
  EXPECT_EQ(r.request_id, "chatcmpl-1");
  EXPECT_EQ(Canon(*r.native),
            Canon(R"({"role":"assistant","content":null,"tool_calls":[{"id":"call_abc",
      "type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Paris\"}"}}]})"));
  ASSERT_EQ(run.deltas.size(), 3u);
  EXPECT_EQ(run.deltas[0].tool_id, "call_abc");
  EXPECT_EQ(run.deltas[0].tool_name, "get_weather");
  EXPECT_EQ(run.deltas[1].tool_id, "");
  EXPECT_EQ(run.Arguments(), std::vector<std::string>{R"({"location":"Paris"})"});
}

TEST_F(OpenAiCodecTest, ParallelCallsInterleavedByIndex) {
  std::vector<http::SseEvent> events = {
      testing::Data(R"({"choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[
          {"index":0,"id":"call_a","type":"function","function":{"name":"get_weather","arguments":""}},
          {"index":1,"id":"call_b","type":"function","function":{"name":"get_time","arguments":"{\"tz\""}}]}}]})"),
      testing::Data(
          R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"location\":"}}]}}]})"),
      testing::Data(
          R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":":\"CET\"}"}}]}}]})"),
      testing::Data(
          R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Oslo\"}"}}]}}]})"),
      testing::Data(R"({"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]})"),
      testing::Data("[DONE]")};
  auto run = testing::RunStream(*codec_, ChatRequest{}, events);
  ASSERT_TRUE(run.result.ok());
  ASSERT_EQ(run.result->tool_calls.size(), 2u);
  EXPECT_EQ(run.result->tool_calls[0].arguments, R"({"location":"Oslo"})");
  EXPECT_EQ(run.result->tool_calls[1].name, "get_time");
  EXPECT_EQ(run.result->tool_calls[1].arguments, R"({"tz":"CET"})");
  EXPECT_EQ(run.Arguments(),
            (std::vector<std::string>{R"({"location":"Oslo"})", R"({"tz":"CET"})"}));
}

TEST_F(OpenAiCodecTest, WholeCallsWithoutIndexAndTextWithReasoning) {
  // Ollama/llama.cpp style: each call whole, same index or none; reasoning_content deltas.
  std::vector<http::SseEvent> events = {
      testing::Data(
          R"({"id":"c","model":"qwen3","choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"Let me "}}]})"),
      testing::Data(R"({"choices":[{"index":0,"delta":{"reasoning_content":"check."}}]})"),
      testing::Data(R"({"choices":[{"index":0,"delta":{"content":"Checking"}}]})"),
      testing::Data(
          R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":{"x":1}}}]}}]})"),
      testing::Data(
          R"({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"b","function":{"name":"g","arguments":"{}"}}]}}]})"),
      testing::Data(R"({"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})"),
      testing::Data("[DONE]")};
  auto run = testing::RunStream(*codec_, ChatRequest{}, events);
  ASSERT_TRUE(run.result.ok());
  EXPECT_EQ(run.result->reasoning, "Let me check.");
  EXPECT_EQ(run.Text(StreamDelta::Kind::kReasoning), "Let me check.");
  EXPECT_EQ(run.result->text, "Checking");
  ASSERT_EQ(run.result->tool_calls.size(), 2u);
  EXPECT_EQ(run.result->tool_calls[0].arguments, R"({"x":1})");
  EXPECT_EQ(run.result->tool_calls[1].id, "b");
  EXPECT_EQ(run.result->finish_reason, "tool_calls");
  EXPECT_EQ(run.result->native->at("reasoning_content"), "Let me check.");
}

TEST_F(OpenAiCodecTest, StreamWithoutDoneIsTruncatedAtEveryCut) {
  auto events = testing::ParseSse(kToolStream);
  for (size_t n = 0; n < events.size(); ++n) {
    auto run = testing::RunStream(*codec_, ChatRequest{}, events, n);
    EXPECT_EQ(run.result.status().ErrorType(), "network") << n;
    EXPECT_NE(run.result.status().message().find("stream truncated"), std::string::npos);
  }
}

TEST_F(OpenAiCodecTest, MalformedAndErrorEvents) {
  std::vector<http::SseEvent> events = {
      testing::Data(R"({"choices":[{"index":0,"delta":{"content":"Hi"}}]})"),
      testing::Data(R"({"choices":[{"index":0,"delta":{"content":)")};
  auto run = testing::RunStream(*codec_, ChatRequest{}, events);
  EXPECT_EQ(run.event_status.ErrorType(), "server_error");
  EXPECT_NE(run.event_status.message().find("event 1"), std::string::npos)
      << run.event_status.message();

  events[1] = testing::Data(
      R"({"error":{"message":"Rate limit reached for gpt-4o","type":"requests","code":"rate_limit_exceeded"}})");
  run = testing::RunStream(*codec_, ChatRequest{}, events);
  EXPECT_EQ(run.event_status.ErrorType(), "rate_limited");
  EXPECT_NE(run.event_status.message().find("Rate limit reached"), std::string::npos);

  // OpenRouter: a mid-stream error with a numeric code and finish_reason "error".
  events[1] = testing::Data(
      R"({"id":"gen-1","error":{"code":502,"message":"Upstream overloaded"},"choices":[{"index":0,"delta":{"content":""},"finish_reason":"error"}]})");
  run = testing::RunStream(*codec_, ChatRequest{}, events);
  EXPECT_EQ(run.event_status.ErrorType(), "server_error");
}

// Every way a server could cut the same reply into chunks gives the same response.
TEST_F(OpenAiCodecTest, EverySplitOfTheContentGivesTheSameResponse) {
  const std::string text = "Hello, wörld! \"quoted\"";
  const std::string args = R"({"location":"São Paulo","unit":"c"})";
  auto chunk = [](const json::object& delta) {
    json::object c{{"id", "chatcmpl-9"},
                   {"model", "gpt-4o"},
                   {"choices", json::array{json::object{{"index", 0}, {"delta", delta}}}}};
    return testing::Data(json::serialize(c));
  };
  auto build = [&](size_t ti, size_t ai) {
    std::vector<http::SseEvent> ev;
    ev.push_back(chunk(json::object{{"role", "assistant"}, {"content", text.substr(0, ti)}}));
    ev.push_back(chunk(json::object{{"content", text.substr(ti)}}));
    json::object fn0{{"name", "get_weather"}, {"arguments", args.substr(0, ai)}};
    ev.push_back(chunk(json::object{
        {"tool_calls",
         json::array{json::object{
             {"index", 0}, {"id", "call_z"}, {"type", "function"}, {"function", fn0}}}}}));
    json::object fn1{{"arguments", args.substr(ai)}};
    ev.push_back(chunk(
        json::object{{"tool_calls", json::array{json::object{{"index", 0}, {"function", fn1}}}}}));
    ev.push_back(
        testing::Data(R"({"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]})"));
    ev.push_back(
        testing::Data(R"({"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}})"));
    ev.push_back(testing::Data("[DONE]"));
    return ev;
  };
  auto reference = testing::RunStream(*codec_, ChatRequest{}, build(0, 0));
  ASSERT_TRUE(reference.result.ok());
  EXPECT_EQ(reference.result->text, text);
  EXPECT_EQ(reference.result->tool_calls[0].arguments, args);
  std::string want = testing::Summary(*reference.result);
  for (size_t ti = 0; ti <= text.size(); ++ti) {
    for (size_t ai = 0; ai <= args.size(); ai += 3) {
      if (!testing::Boundary(text, ti) || !testing::Boundary(args, ai)) continue;
      auto run = testing::RunStream(*codec_, ChatRequest{}, build(ti, ai));
      ASSERT_TRUE(run.result.ok());
      ASSERT_EQ(testing::Summary(*run.result), want) << ti << " " << ai;
      ASSERT_EQ(run.Text(StreamDelta::Kind::kText), text);
      ASSERT_EQ(run.Arguments(), std::vector<std::string>{args});
    }
  }
}

TEST_F(OpenAiCodecTest, EveryByteSplitOfTheWireGivesTheSameResponse) {
  std::string crlf;
  for (char c : kToolStream) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  std::string want = testing::Summary(*testing::RunBytes(*codec_, ChatRequest{}, kToolStream, 0));
  for (std::string_view bytes : {std::string_view(kToolStream), std::string_view(crlf)}) {
    for (size_t cut = 0; cut <= bytes.size(); ++cut) {
      auto r = testing::RunBytes(*codec_, ChatRequest{}, bytes, cut);
      ASSERT_TRUE(r.ok()) << cut << r.status().ToString();
      ASSERT_EQ(testing::Summary(*r), want) << cut;
    }
  }
}

TEST_F(OpenAiCodecTest, StreamAndBodyAgree) {
  constexpr std::string_view body = R"({"id":"chatcmpl-7","model":"gpt-4o","choices":[{"index":0,
      "message":{"role":"assistant","content":"Hi there"},"finish_reason":"stop"}],
      "usage":{"prompt_tokens":5,"completion_tokens":2}})";
  std::vector<http::SseEvent> events = {
      testing::Data(
          R"({"id":"chatcmpl-7","model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"}}]})"),
      testing::Data(
          R"({"id":"chatcmpl-7","model":"gpt-4o","choices":[{"index":0,"delta":{"content":" there"},"finish_reason":"stop"}]})"),
      testing::Data(
          R"({"id":"chatcmpl-7","model":"gpt-4o","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2}})"),
      testing::Data("[DONE]")};
  auto whole = codec_->Decode(body, ChatRequest{});
  auto run = testing::RunStream(*codec_, ChatRequest{}, events);
  ASSERT_TRUE(whole.ok());
  ASSERT_TRUE(run.result.ok());
  EXPECT_EQ(testing::Summary(*run.result), testing::Summary(*whole));
}

// ---- errors and headers
// ---------------------------------------------------------------------------

struct ErrorCase {
  int status;
  std::string body;
  std::vector<http::Header> headers;
  std::string type;
  bool no_retry;
  int64_t retry_after_ms;
  std::string words;  // the provider's own words, quoted in the message
};

TEST_F(OpenAiCodecTest, ErrorMappingTable) {
  auto err = [](std::string message, std::string type, std::string code) {
    return json::serialize(json::object{
        {"error",
         json::object{{"message", message},
                      {"type", type},
                      {"param", nullptr},
                      {"code", code.empty() ? json::value(nullptr) : json::value(code)}}}});
  };
  std::vector<ErrorCase> cases = {
      {400,
       err("Invalid 'messages[1].content'", "invalid_request_error", ""),
       {},
       "invalid_request",
       false,
       -1,
       "Invalid 'messages[1].content'"},
      {400,
       err("This model's maximum context length is 128000 tokens.", "invalid_request_error",
           "context_length_exceeded"),
       {},
       "context_length",
       false,
       -1,
       "maximum context length"},
      {400,
       err("Your request was rejected as a result of our safety system.", "invalid_request_error",
           "content_policy_violation"),
       {},
       "content_filter",
       false,
       -1,
       "safety system"},
      {401,
       err("Incorrect API key provided: sk-****", "invalid_request_error", "invalid_api_key"),
       {},
       "auth",
       false,
       -1,
       "Incorrect API key"},
      {403,
       err("Country, region, or territory not supported", "request_forbidden", ""),
       {},
       "auth",
       false,
       -1,
       "not supported"},
      {404,
       err("The model `gpt-9` does not exist", "invalid_request_error", "model_not_found"),
       {},
       "invalid_request",
       false,
       -1,
       "model or endpoint not found"},
      {408, "", {}, "timeout", false, -1, "HTTP 408"},
      {413, "request entity too large", {}, "invalid_request", false, -1, "too large"},
      {429,
       err("Rate limit reached for gpt-4o", "requests", "rate_limit_exceeded"),
       {{"retry-after-ms", "1500"}, {"retry-after", "2"}},
       "rate_limited",
       false,
       1500,
       "Rate limit reached"},
      {429,
       err("Rate limit reached", "tokens", "rate_limit_exceeded"),
       {{"Retry-After", "7"}},
       "rate_limited",
       false,
       7000,
       "Rate limit"},
      {429,
       err("You exceeded your current quota", "insufficient_quota", "insufficient_quota"),
       {},
       "quota_exhausted",
       true,
       -1,
       "current quota"},
      {402,
       R"({"error":{"code":402,"message":"Insufficient credits"}})",
       {},
       "quota_exhausted",
       true,
       -1,
       "Insufficient credits"},
      {500,
       err("The server had an error", "server_error", ""),
       {},
       "server_error",
       false,
       -1,
       "server had an error"},
      {502, "<html>Bad Gateway</html>", {}, "server_error", false, -1, "Bad Gateway"},
      {503,
       err("The engine is currently overloaded", "server_error", ""),
       {{"retry-after", "Tue, 14 Nov 2023 22:13:30 GMT"}},
       "overloaded",
       false,
       10'000,
       "overloaded"},
      {504, "", {}, "timeout", false, -1, "HTTP 504"},
      {529, "", {}, "overloaded", false, -1, "HTTP 529"},
      {400,
       R"({"object":"error","message":"This model's maximum context length is 4096 tokens","type":"BadRequestError","code":400})",
       {},
       "context_length",
       false,
       -1,
       "maximum context length"},  // vLLM
      {500,
       err("boom", "server_error", ""),
       {{"x-should-retry", "false"}},
       "server_error",
       true,
       -1,
       "boom"},
  };
  clock_.Set(1'700'000'000'000);  // 2023-11-14T22:13:20Z
  for (const auto& c : cases) {
    Status s = codec_->DecodeError(testing::Response(c.status, c.body, c.headers));
    SCOPED_TRACE(c.status);
    SCOPED_TRACE(c.body);
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(s.ErrorType(), c.type) << s.message();
    EXPECT_EQ(s.retry_hints().no_retry, c.no_retry);
    EXPECT_EQ(s.retry_hints().retry_after_ms, c.retry_after_ms);
    EXPECT_NE(s.message().find(c.words), std::string::npos) << s.message();
    EXPECT_EQ(s.message().find("sk-test"), std::string::npos);
  }
  Status with_id = codec_->DecodeError(
      testing::Response(500, err("x", "server_error", ""), {{"x-request-id", "req_42"}}));
  EXPECT_NE(with_id.message().find("req_42"), std::string::npos);
}

TEST_F(OpenAiCodecTest, RateLimitHeaders) {
  auto info = codec_->ParseRateLimits(testing::Response(200, "",
                                                        {{"x-ratelimit-limit-requests", "60"},
                                                         {"x-ratelimit-limit-tokens", "150000"},
                                                         {"x-ratelimit-remaining-requests", "59"},
                                                         {"x-ratelimit-remaining-tokens", "149984"},
                                                         {"x-ratelimit-reset-requests", "1s"},
                                                         {"x-ratelimit-reset-tokens", "6m0s"},
                                                         {"x-request-id", "req_1"}}));
  EXPECT_EQ(info.limit_requests, 60);
  EXPECT_EQ(info.remaining_requests, 59);
  EXPECT_EQ(info.limit_tokens, 150000);
  EXPECT_EQ(info.remaining_tokens, 149984);
  EXPECT_EQ(info.reset_requests_ms, 1000);
  EXPECT_EQ(info.reset_tokens_ms, 360'000);
  EXPECT_FALSE(info.retry_after_ms.has_value());
  EXPECT_EQ(codec_->RequestId(testing::Response(200, "", {{"X-Request-Id", "req_1"}})), "req_1");

  auto none = codec_->ParseRateLimits(testing::Response(200, "", {}));
  EXPECT_FALSE(none.limit_requests || none.remaining_tokens || none.reset_tokens_ms);
}

}  // namespace
}  // namespace baton::providers
