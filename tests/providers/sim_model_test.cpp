#include "providers/sim/sim_model.hpp"

#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <optional>
#include <set>

#include "providers/pricing.hpp"
#include "schema/validator.hpp"

namespace baton::providers::sim {
namespace {

namespace asio = boost::asio;

core::ModelConfig Config(json::value sim, std::string model = "sim-small") {
  core::ModelConfig c;
  c.name = "fast";
  c.provider = "sim";
  c.model = std::move(model);
  if (!sim.is_null()) c.options["sim"] = std::move(sim);
  return c;
}

json::value Json(std::string_view text) { return ParseJson(text).value(); }

std::unique_ptr<ChatModel> Make(json::value sim) {
  auto m = CreateSimModel(Config(std::move(sim)));
  EXPECT_TRUE(m.ok()) << m.error().ToString();
  return std::move(m).value();
}

SimModel& AsSim(ChatModel& m) { return static_cast<SimModel&>(m); }

ChatRequest Request(std::string step, std::string prompt, int32_t item = -1, int32_t attempt = 1) {
  ChatRequest r;
  r.model = "sim-small";
  r.run_id = "run-1";
  r.step_id = std::move(step);
  r.item = item;
  r.attempt = attempt;
  r.messages = {{"system", "You are terse."}, {"user", std::move(prompt)}};
  return r;
}

asio::awaitable<void> CallInto(ChatModel& model, ChatRequest request,
                               std::optional<Result<ChatResponse>>& out) {
  out.emplace(co_await model.Complete(std::move(request)));
}

Result<ChatResponse> Call(ChatModel& model, ChatRequest request) {
  asio::io_context io;
  std::optional<Result<ChatResponse>> out;
  asio::co_spawn(io, CallInto(model, std::move(request), out), asio::detached);
  io.run();
  EXPECT_TRUE(out.has_value());
  return std::move(*out);
}

TEST(SimModelTest, SameRequestSameReplyAndPlausibleText) {
  auto model = Make(json::object{{"seed", 7}});
  auto a = Call(*model, Request("summarize", "Explain quantum entanglement to a child"));
  auto b = Call(*model, Request("summarize", "Explain quantum entanglement to a child"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->text, b->text);
  EXPECT_EQ(a->text.rfind("[sim] ", 0), 0u) << a->text;
  EXPECT_NE(a->text.find("quantum"), std::string::npos) << a->text;
  EXPECT_NE(a->text.find("entanglement"), std::string::npos) << a->text;
  EXPECT_EQ(a->provider, "sim");
  EXPECT_EQ(a->model, "sim-small");
  EXPECT_EQ(a->finish_reason, "stop");
  EXPECT_FALSE(a->structured);
}

TEST(SimModelTest, ReplyDependsOnStepItemPromptAndSeed) {
  auto model = Make(json::object{{"seed", 7}});
  auto& sim = AsSim(*model);
  std::set<std::string> texts;
  for (int i = 0; i < 10; ++i) {
    texts.insert(
        sim.Respond(Request("step" + std::to_string(i), "Compare rust and go")).value().text);
  }
  EXPECT_GE(texts.size(), 5u);
  std::set<std::string> items;
  for (int i = 0; i < 10; ++i)
    items.insert(sim.Respond(Request("s", "Compare rust and go", i))->text);
  EXPECT_GE(items.size(), 5u);
  std::set<std::string> seeds;
  for (int seed = 0; seed < 10; ++seed) {
    auto other = Make(json::object{{"seed", seed}});
    seeds.insert(AsSim(*other).Respond(Request("s", "Compare rust and go"))->text);
  }
  EXPECT_GE(seeds.size(), 5u);
}

TEST(SimModelTest, ReplyIgnoresRunIdAndAttempt) {
  auto model = Make(json::object{{"seed", 3}});
  auto& sim = AsSim(*model);
  ChatRequest first = Request("draft", "Write about tidal energy", 2, 1);
  ChatRequest resumed = first;
  resumed.run_id = "run-2";
  resumed.attempt = 3;
  auto a = sim.Respond(first);
  auto b = sim.Respond(resumed);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->text, b->text);
  EXPECT_EQ(a->usage.output_tokens, b->usage.output_tokens);
}

TEST(SimModelTest, ScriptedRepliesByStepThenAgentThenWildcard) {
  auto model = Make(Json(R"({"replies": {"planner": ["from agent"], "summarize": "from step",
                                         "*": ["fallback"]}})"));
  auto& sim = AsSim(*model);
  ChatRequest r = Request("summarize", "x");
  r.agent = "planner";
  EXPECT_EQ(sim.Respond(r)->text, "from step");  // step id wins over agent name
  r.step_id = "plan";
  EXPECT_EQ(sim.Respond(r)->text, "from agent");
  r.agent = "writer";
  EXPECT_EQ(sim.Respond(r)->text, "fallback");
}

TEST(SimModelTest, UnmatchedKeysFallBackToGeneratedReplies) {
  auto model = Make(Json(R"({"replies": {"planner": ["scripted"]}})"));
  auto r = AsSim(*model).Respond(Request("other", "Describe volcanoes"));
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->text.find("volcanoes"), std::string::npos);
}

TEST(SimModelTest, ScriptedListIsIndexedByAttemptAndLastRepeats) {
  auto model = Make(Json(R"({"replies": ["first", "second"]})"));
  auto& sim = AsSim(*model);
  EXPECT_EQ(sim.Respond(Request("a", "x", -1, 1))->text, "first");
  EXPECT_EQ(sim.Respond(Request("a", "x", -1, 2))->text, "second");
  EXPECT_EQ(sim.Respond(Request("b", "y", 4, 7))->text, "second");
}

TEST(SimModelTest, ScriptedErrorsFailThatAttemptOnly) {
  auto model =
      Make(Json(R"({"replies": {"fetch": [{"error": "rate_limited", "message": "slow down"},
                                                   {"error": "timeout"}, "done"]}})"));
  auto& sim = AsSim(*model);
  auto first = sim.Respond(Request("fetch", "go", -1, 1));
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.error().code(), Code::kResourceExhausted);
  EXPECT_EQ(first.error().ErrorType(), "rate_limited");
  EXPECT_EQ(first.error().message(), "slow down");
  auto second = Call(*model, Request("fetch", "go", -1, 2));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().ErrorType(), "timeout");
  EXPECT_NE(second.error().message().find("step 'fetch'"), std::string::npos);
  auto third = sim.Respond(Request("fetch", "go", -1, 3));
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->text, "done");
}

TEST(SimModelTest, ScriptedStructuredReplies) {
  auto model = Make(Json(R"({"replies": {"judge": [{"approved": false}, "{\"approved\": true}"],
                                         "raw": [{"json": {"error": "not an error"}}]}})"));
  auto& sim = AsSim(*model);
  ChatRequest r = Request("judge", "Review this");
  r.output_schema = Json(R"({"type": "object", "properties": {"approved": {"type": "boolean"}}})");
  auto first = sim.Respond(r);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(first->structured);
  EXPECT_EQ(*first->structured, Json(R"({"approved": false})"));
  EXPECT_EQ(first->text, R"({"approved":false})");
  r.attempt = 2;
  auto second = sim.Respond(r);
  ASSERT_TRUE(second.ok() && second->structured);
  EXPECT_EQ(*second->structured, Json(R"({"approved": true})"));
  r.step_id = "raw";
  auto raw = sim.Respond(r);
  ASSERT_TRUE(raw.ok() && raw->structured);
  EXPECT_EQ(*raw->structured, Json(R"({"error": "not an error"})"));
}

TEST(SimModelTest, FailureRateIsHonouredAndRetriesCanSucceed) {
  auto model = Make(Json(R"({"seed": 11, "fail": {"rate": 0.3, "type": "overloaded"}})"));
  auto& sim = AsSim(*model);
  int failures = 0;
  for (int i = 0; i < 1000; ++i) {
    auto r = sim.Respond(Request("step" + std::to_string(i % 10), "hello", i / 10));
    if (!r.ok()) {
      ++failures;
      EXPECT_EQ(r.error().ErrorType(), "overloaded");
      EXPECT_EQ(r.error().code(), Code::kUnavailable);
    }
  }
  EXPECT_GT(failures, 250);
  EXPECT_LT(failures, 350);

  // A failing call succeeds at some later attempt; the outcome per attempt is stable.
  int recovered = 0;
  for (int i = 0; i < 50; ++i) {
    if (sim.Respond(Request("s", "hello", i, 1)).ok()) continue;
    for (int attempt = 2; attempt <= 10; ++attempt) {
      bool ok = sim.Respond(Request("s", "hello", i, attempt)).ok();
      EXPECT_EQ(ok, sim.Respond(Request("s", "hello", i, attempt)).ok());
      if (ok) {
        ++recovered;
        break;
      }
    }
  }
  EXPECT_GT(recovered, 5);

  auto never = Make(Json(R"({"fail": 0})"));
  auto always = Make(Json(R"({"fail": {"rate": 1, "message": "boom"}})"));
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(AsSim(*never).Respond(Request("s", "x", i)).ok());
    auto r = AsSim(*always).Respond(Request("s", "x", i));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message(), "boom");
    EXPECT_EQ(r.error().ErrorType(), "server_error");
  }
}

TEST(SimModelTest, StructuredOutputsConformToTheirSchema) {
  auto model = Make(json::object{{"seed", 5}});
  auto& sim = AsSim(*model);
  const char* schemas[] = {
      R"({"type": "object", "properties": {"questions": {"type": "array",
          "items": {"type": "string"}}}, "required": ["questions"]})",
      R"({"type": "object", "properties": {"approved": {"type": "boolean"},
          "feedback": {"type": "string", "maxLength": 40}, "confidence": {"type": "number"},
          "score": {"type": "integer", "minimum": 1, "maximum": 5}},
          "required": ["approved", "feedback"], "additionalProperties": false})",
      R"({"type": "array", "items": {"enum": ["red", "green", "blue"]}, "minItems": 5})",
      R"({"$defs": {"node": {"type": "object", "properties": {"label": {"type": "string"},
          "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
          "required": ["label"]}}, "$ref": "#/$defs/node"})",
  };
  for (const char* text : schemas) {
    json::value schema = Json(text);
    auto compiled = schema::Schema::Compile(schema);
    ASSERT_TRUE(compiled.ok()) << compiled.error().ToString();
    for (int i = 0; i < 20; ++i) {
      ChatRequest r = Request("plan", "Topic: deep sea mining", i);
      r.output_schema = schema;
      auto reply = sim.Respond(r);
      ASSERT_TRUE(reply.ok());
      ASSERT_TRUE(reply->structured);
      EXPECT_EQ(reply->text, ToJson(*reply->structured));
      EXPECT_TRUE(compiled->IsValid(*reply->structured))
          << text << "\n"
          << reply->text << "\n"
          << schema::FormatErrors(compiled->Validate(*reply->structured));
    }
  }
  ChatRequest r = Request("plan", "Topic: deep sea mining");
  r.output_schema = Json(schemas[0]);
  auto reply = sim.Respond(r);
  const json::array& questions = reply->structured->at("questions").as_array();
  ASSERT_EQ(questions.size(), 3u);
  EXPECT_EQ(questions[1].as_string(), "Question 2 about deep sea mining?");
}

TEST(SimModelTest, UsageAndCostFollowTheTextAndThePriceTable) {
  auto model = Make(json::object{{"seed", 1}});
  ChatRequest r = Request("s", "abcdefghij");  // 14 + 10 = 24 chars -> 6 tokens
  auto reply = AsSim(*model).Respond(r);
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->usage.input_tokens, 6);
  int64_t out = static_cast<int64_t>(std::ceil(static_cast<double>(reply->text.size()) * 0.25));
  EXPECT_EQ(reply->usage.output_tokens, out);
  Price price = *BuiltinPrice("sim-small");
  EXPECT_DOUBLE_EQ(reply->usage.cost_usd, price.Cost(reply->usage));
  EXPECT_GT(reply->usage.cost_usd, 0);
  EXPECT_TRUE(reply->reasoning.empty());

  // tokens_per_char, reasoning, and a price override.
  core::ModelConfig c = Config(json::object{{"tokens_per_char", 1.0}, {"reasoning", true}});
  c.options["price"] = json::object{{"input", 1000000.0}, {"output", 0.0}, {"reasoning", 0.0}};
  auto priced = CreateSimModel(c);
  ASSERT_TRUE(priced.ok());
  auto reply2 = AsSim(**priced).Respond(r);
  ASSERT_TRUE(reply2.ok());
  EXPECT_EQ(reply2->usage.input_tokens, 24);
  EXPECT_FALSE(reply2->reasoning.empty());
  EXPECT_EQ(reply2->usage.reasoning_tokens, static_cast<int64_t>(reply2->reasoning.size()));
  EXPECT_EQ(reply2->usage.output_tokens,
            static_cast<int64_t>(reply2->text.size() + reply2->reasoning.size()));
  EXPECT_DOUBLE_EQ(reply2->usage.cost_usd, 24.0);
}

TEST(SimModelTest, MaxTokensTruncatesWithFinishReasonLength) {
  auto model = Make(json::value());
  ChatRequest r = Request("s", "Summarize the history of the printing press");
  r.max_tokens = 3;
  auto reply = AsSim(*model).Respond(r);
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->finish_reason, "length");
  EXPECT_EQ(reply->usage.output_tokens, 3);
  EXPECT_EQ(reply->text.size(), 12u);
}

TEST(SimModelTest, LatencyIsSampledDeterministicallyWithinBounds) {
  auto fixed = Make(Json(R"({"latency": "2ms"})"));
  auto reply = Call(*fixed, Request("s", "hi"));  // waits on a real timer, then replies
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(AsSim(*fixed).LatencyFor(Request("s", "hi")), Millis(2));

  auto uniform = Make(Json(R"({"latency": {"distribution": "uniform", "min": "10ms",
                                           "max": "20ms"}})"));
  auto normal = Make(Json(R"({"latency": {"distribution": "normal", "mean": "50ms",
                                          "stddev": "40ms", "min": "5ms"}})"));
  auto lognormal = Make(Json(R"({"latency": {"distribution": "lognormal", "mean": "100ms",
                                             "stddev": "50ms", "max": "1s"}})"));
  std::set<int64_t> seen;
  double sum = 0;
  for (int i = 0; i < 200; ++i) {
    ChatRequest r = Request("s", "hi", i);
    Millis u = AsSim(*uniform).LatencyFor(r);
    EXPECT_GE(u, Millis(10));
    EXPECT_LE(u, Millis(20));
    seen.insert(u.count());
    EXPECT_GE(AsSim(*normal).LatencyFor(r), Millis(5));
    Millis l = AsSim(*lognormal).LatencyFor(r);
    EXPECT_GT(l, Millis(0));
    EXPECT_LE(l, Millis(1000));
    sum += static_cast<double>(l.count());
    EXPECT_EQ(AsSim(*lognormal).LatencyFor(r), l);
  }
  EXPECT_GE(seen.size(), 5u);
  EXPECT_GT(sum / 200, 70);
  EXPECT_LT(sum / 200, 130);
}

TEST(SimModelTest, CancellationEndsALongWait) {
  auto model = Make(Json(R"({"latency": "10m"})"));
  asio::io_context io;
  asio::cancellation_signal signal;
  std::optional<Result<ChatResponse>> out;
  asio::co_spawn(io, CallInto(*model, Request("slow", "hi"), out),
                 asio::bind_cancellation_slot(signal.slot(), asio::detached));
  io.poll();  // runs until the call waits on its timer
  ASSERT_FALSE(out.has_value());
  signal.emit(asio::cancellation_type::terminal);
  io.run_for(std::chrono::seconds(60));  // bound only; completes at once when cancelled
  ASSERT_TRUE(out.has_value());
  ASSERT_FALSE(out->ok());
  EXPECT_EQ(out->error().code(), Code::kCancelled);
}

TEST(SimModelTest, RepliesFileHasTheSameShapeAsReplies) {
  std::string path = testing::TempDir() + "/sim_replies_test.json";
  {
    std::ofstream f(path);
    f << R"({"review": ["looks good"]})";
  }
  auto model = Make(json::object{{"replies_file", path}});
  EXPECT_EQ(AsSim(*model).Respond(Request("review", "x"))->text, "looks good");
  auto missing = CreateSimModel(Config(json::object{{"replies_file", path + ".missing"}}));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("cannot read replies_file"), std::string::npos);
}

TEST(SimModelTest, InvalidOptionsAreReportedClearly) {
  struct Case {
    const char* options;
    const char* message;
  };
  const Case cases[] = {
      {R"({"sed": 1})", "unknown option 'sed'"},
      {R"({"seed": "x"})", "seed must be an integer"},
      {R"({"latency": "50 ms"})", "latency"},
      {R"({"latency": 50})", "latency must be a duration"},
      {R"({"latency": {"distribution": "uniform", "min": "5ms"}})", "needs min and max"},
      {R"({"latency": {"distribution": "gamma", "mean": "5ms"}})", "latency.distribution"},
      {R"({"latency": {"mean": "5ms", "jitter": "1ms"}})", "unknown latency option 'jitter'"},
      {R"({"fail": {"rate": 1.5}})", "between 0 and 1"},
      {R"({"fail": -0.1})", "between 0 and 1"},
      {R"({"fail": {"rate": 0.1, "type": "ratelimited"}})", "unknown error type 'ratelimited'"},
      {R"({"replies": [{"error": "nope"}]})", "replies[0]: unknown error type 'nope'"},
      {R"({"replies": []})", "must not be empty"},
      {R"({"replies": "hello"})", "must be a list"},
      {R"({"replies": ["a"], "replies_file": "x.json"})", "not both"},
      {R"({"tokens_per_char": 0})", "tokens_per_char"},
      {R"({"reasoning": "yes"})", "reasoning must be true or false"},
  };
  for (const Case& c : cases) {
    auto r = CreateSimModel(Config(Json(c.options)));
    ASSERT_FALSE(r.ok()) << c.options;
    EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
    EXPECT_NE(r.error().message().find(c.message), std::string::npos)
        << c.options << " -> " << r.error().message();
    EXPECT_EQ(r.error().message().rfind("model 'fast': sim: ", 0), 0u) << r.error().message();
  }
}

// ---- tool calls ------------------------------------------------------------------------------

ChatRequest WithTools(std::string prompt) {
  ChatRequest r = Request("agent-step", std::move(prompt));
  r.tools = {
      {"search_web", "Search the web for pages",
       Json(R"({"type":"object","properties":{"query":{"type":"string"}},"required":["query"]})")},
      {"get_weather", "Current weather for a city",
       Json(R"({"type":"object","properties":{"city":{"type":"string"}},"required":["city"]})")}};
  return r;
}

TEST(SimModelTest, OffersOfToolsGetOneDeterministicCall) {
  auto model = Make(json::object{{"seed", 3}});
  auto a = Call(*model, WithTools("What is the weather in Paris today?"));
  ASSERT_TRUE(a.ok()) << a.error().ToString();
  ASSERT_EQ(a->tool_calls.size(), 1u);
  EXPECT_EQ(a->tool_calls[0].name, "get_weather") << "the tool sharing words with the question";
  EXPECT_EQ(a->tool_calls[0].id.rfind("call_", 0), 0u);
  auto args = ParseJson(a->tool_calls[0].arguments);
  ASSERT_TRUE(args.ok());
  EXPECT_TRUE(args->at("city").is_string());
  EXPECT_EQ(a->finish_reason, "tool_calls");
  EXPECT_TRUE(a->text.empty());
  EXPECT_GT(a->usage.output_tokens, 0);
  auto b = Call(*model, WithTools("What is the weather in Paris today?"));
  EXPECT_EQ(b->tool_calls[0].id, a->tool_calls[0].id);
  EXPECT_EQ(b->tool_calls[0].arguments, a->tool_calls[0].arguments);
}

TEST(SimModelTest, AnswersInTextOnceTheToolResultsAreIn) {
  auto model = Make(nullptr);
  ChatRequest r = WithTools("What is the weather in Paris today?");
  auto call = Call(*model, r);
  ASSERT_TRUE(call.ok());
  Message assistant;
  assistant.role = "assistant";
  assistant.tool_calls = call->tool_calls;
  r.messages.push_back(assistant);
  Message result;
  result.role = "tool";
  result.tool_call_id = call->tool_calls[0].id;
  result.tool_name = "get_weather";
  result.content = "rainy, 14C";
  r.messages.push_back(result);
  auto answer = Call(*model, r);
  ASSERT_TRUE(answer.ok());
  EXPECT_TRUE(answer->tool_calls.empty());
  EXPECT_EQ(answer->finish_reason, "stop");
  EXPECT_NE(answer->text.find("(from get_weather)"), std::string::npos) << answer->text;

  r.tool_choice = "required";  // forces another call even after results
  EXPECT_EQ(Call(*model, r)->tool_calls.size(), 1u);
}

TEST(SimModelTest, ToolChoiceNoneOrNamed) {
  auto model = Make(nullptr);
  ChatRequest r = WithTools("What is the weather in Paris today?");
  r.tool_choice = "none";
  EXPECT_TRUE(Call(*model, r)->tool_calls.empty());
  r.tool_choice = "search_web";
  auto named = Call(*model, r);
  ASSERT_EQ(named->tool_calls.size(), 1u);
  EXPECT_EQ(named->tool_calls[0].name, "search_web");
  EXPECT_TRUE(ParseJson(named->tool_calls[0].arguments)->at("query").is_string());
}

TEST(SimModelTest, ScriptedToolCallsAdvanceWithEachToolTurn) {
  auto model = Make(Json(R"({"replies":[{"text":"Checking.","tool_calls":[
      {"name":"get_weather","arguments":{"city":"Paris"}},{"name":"search_web"}]}, "Done."]})"));
  ChatRequest r = WithTools("Weather and news for Paris?");
  auto first = Call(*model, r);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->text, "Checking.");
  ASSERT_EQ(first->tool_calls.size(), 2u);
  EXPECT_EQ(first->tool_calls[0].arguments, R"({"city":"Paris"})");
  EXPECT_TRUE(ParseJson(first->tool_calls[1].arguments)->at("query").is_string());
  EXPECT_NE(first->tool_calls[0].id, first->tool_calls[1].id);
  Message assistant;
  assistant.role = "assistant";
  assistant.tool_calls = first->tool_calls;
  r.messages.push_back(assistant);
  for (const auto& c : first->tool_calls) {
    Message result;
    result.role = "tool";
    result.tool_call_id = c.id;
    result.content = "ok";
    r.messages.push_back(result);
  }
  EXPECT_EQ(Call(*model, r)->text, "Done.");

  auto bad = CreateSimModel(Config(Json(R"({"replies":[{"tool_calls":[]}]})")));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("tool_calls must be a non-empty list"), std::string::npos);
  auto nameless =
      CreateSimModel(Config(Json(R"({"replies":[{"tool_calls":[{"arguments":{}}]}]})")));
  ASSERT_FALSE(nameless.ok());
  EXPECT_NE(nameless.error().message().find("needs a name"), std::string::npos);
}

}  // namespace
}  // namespace baton::providers::sim
