// Round trips through every codec: a documented reply decoded, kept as the neutral message
// plus its native turn, then encoded into the next request, to the same protocol (the native
// turn goes back verbatim) and to each other protocol (rebuilt from the neutral fields, with
// tool calls and results still paired).

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "codec_test_util.hpp"

namespace baton::providers {
namespace {

using testing::Canon;
using testing::Json;

struct Fixture {
  std::string protocol;
  std::string body;
  // Where the assistant turn sits in the encoded next request.
  std::string turns_key;
};

const std::vector<Fixture>& Fixtures() {
  static const auto* const kFixtures = new std::vector<Fixture>{
      {"openai",
       R"({"id":"chatcmpl-1","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant",
          "content":null,"refusal":null,"tool_calls":[{"id":"call_1","type":"function",
          "function":{"name":"get_weather","arguments":"{\"location\":\"Paris\"}"}}]},
          "finish_reason":"tool_calls"}]})",
       "messages"},
      {"anthropic",
       R"({"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5",
          "content":[{"type":"thinking","thinking":"Weather needed.","signature":"c2lnbmF0dXJl"},
          {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"location":"Paris"}}],
          "stop_reason":"tool_use","usage":{"input_tokens":5,"output_tokens":6}})",
       "messages"},
      {"gemini",
       R"({"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"get_weather",
          "args":{"location":"Paris"}},"thoughtSignature":"c2lnbmF0dXJl"}]},"finishReason":"STOP"}],
          "responseId":"resp1","modelVersion":"gemini-2.5-flash"})",
       "contents"},
  };
  return *kFixtures;
}

// The next request after `reply`: the user's question, the reply, the tool's result.
ChatRequest NextRequest(const ChatResponse& reply) {
  Message turn;
  turn.role = "assistant";
  turn.content = reply.text;
  turn.tool_calls = reply.tool_calls;
  turn.native = reply.native;
  turn.native_protocol = reply.native_protocol;
  ChatRequest r;
  r.model = "some-model";
  r.tools = {testing::WeatherTool()};
  r.messages = {testing::Msg("user", "Weather in Paris?"), turn};
  for (const auto& c : reply.tool_calls) {
    r.messages.push_back(testing::ToolResult(c.id, c.name, "rainy, 14C"));
  }
  return r;
}

TEST(CodecRoundTripTest, NativeTurnGoesBackVerbatimToItsProtocol) {
  FakeClock clock;
  for (const auto& f : Fixtures()) {
    SCOPED_TRACE(f.protocol);
    auto codec = testing::Make(f.protocol, clock);
    auto reply = codec->Decode(f.body, ChatRequest{});
    ASSERT_TRUE(reply.ok()) << reply.status().ToString();
    ASSERT_EQ(reply->tool_calls.size(), 1u);
    EXPECT_EQ(reply->finish_reason, "tool_calls");
    auto req = codec->Encode(NextRequest(*reply), Endpoint{}, false);
    ASSERT_TRUE(req.ok()) << req.status().ToString();
    json::value body = Json(req->body);
    EXPECT_EQ(Canon(body.at(f.turns_key).at(1)), Canon(*reply->native));
  }
}

TEST(CodecRoundTripTest, EveryReplyCanContinueOnEveryOtherProtocol) {
  FakeClock clock;
  for (const auto& from : Fixtures()) {
    auto source = testing::Make(from.protocol, clock);
    auto reply = source->Decode(from.body, ChatRequest{});
    ASSERT_TRUE(reply.ok());
    const ToolCall& call = reply->tool_calls[0];
    for (const auto& to : Fixtures()) {
      if (to.protocol == from.protocol) continue;
      SCOPED_TRACE(from.protocol + " -> " + to.protocol);
      auto target = testing::Make(to.protocol, clock);
      auto req = target->Encode(NextRequest(*reply), Endpoint{}, false);
      ASSERT_TRUE(req.ok()) << req.status().ToString();
      std::string body = req->body;
      // The call is rebuilt from the neutral fields (no foreign native blocks leak through)...
      EXPECT_EQ(body.find("c2lnbmF0dXJl"), std::string::npos) << body;
      EXPECT_NE(body.find("get_weather"), std::string::npos);
      EXPECT_NE(body.find("rainy, 14C"), std::string::npos);
      // ...and its result answers it: by id where the target pairs by id.
      if (to.protocol != "gemini") {
        size_t n = 0;
        for (size_t at = body.find(call.id); at != std::string::npos;
             at = body.find(call.id, at + 1)) {
          ++n;
        }
        EXPECT_EQ(n, 2u) << body;
      }
    }
  }
}

}  // namespace
}  // namespace baton::providers
