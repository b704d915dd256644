// Faults (spec syntax, header, control API, CLI-style options), the limiter, latency, size
// bounds and Stop() of sim-server.

#include <chrono>
#include <thread>

#include "sim_fixture.hpp"

namespace baton::simserver::testing {
namespace {

json::value Ask(std::string_view question, bool stream = false) {
  json::object body;
  body["model"] = "gpt-sim";
  body["messages"] = json::array{json::object{{"role", "user"}, {"content", question}}};
  if (stream) body["stream"] = true;
  return body;
}

Request OpenAiRequest(std::string_view question, bool stream, std::string fault = "") {
  Request r;
  r.target = "/v1/chat/completions";
  r.headers = {{"Authorization", "Bearer sk-a"}, {"Content-Type", "application/json"}};
  if (!fault.empty()) r.headers.emplace_back("x-sim-fault", fault);
  r.body = ToJson(Ask(question, stream));
  return r;
}

// ---- spec parsing ----------------------------------------------------------------------------

TEST(FaultSpecTest, ParsesKindsAndOptions) {
  auto f = ParseFaultSpec("429,count=2,protocol=openai,retry_after=3s");
  ASSERT_TRUE(f.ok()) << f.error().ToString();
  EXPECT_EQ(f->kind, Fault::Kind::kStatus);
  EXPECT_EQ(f->status, 429);
  EXPECT_EQ(f->count, 2);
  EXPECT_EQ(f->protocol, Protocol::kOpenAi);
  EXPECT_EQ(f->retry_after, Millis(3000));
  EXPECT_EQ(FormatFault(*f), "status:429,count=2,protocol=openai,retry_after=3s");

  auto outage = ParseFaultSpec("outage:overloaded,for=10s,model=m1");
  ASSERT_TRUE(outage.ok());
  EXPECT_TRUE(outage->outage);
  EXPECT_EQ(outage->error, "overloaded");
  EXPECT_EQ(outage->window, Millis(10'000));

  auto key = ParseFaultSpec("stall-bytes:12,key=sk-secret");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->n, 12);
  EXPECT_EQ(key->key_fp, KeyFingerprint("sk-secret"));
  EXPECT_EQ(FormatFault(*key).find("sk-secret"), std::string::npos);

  EXPECT_EQ(ParseFaultSpec("drip:50ms")->interval, Millis(50));
  EXPECT_EQ(ParseFaultSpec("truncate")->n, -1);
  EXPECT_EQ(ParseFaultSpec("malformed")->n, 1);
  EXPECT_EQ(ParseFaultSpec("stall_events:3")->kind, Fault::Kind::kStallEvents);
  EXPECT_EQ(ParseFaultSpec("disconnect")->kind, Fault::Kind::kDisconnect);
  EXPECT_EQ(ParseFaultSpec("status:529,after=2")->n, 2);
}

TEST(FaultSpecTest, RejectsBadSpecsWithAReason) {
  for (const char* bad :
       {"", "explode", "status", "status:200", "status:teapot", "drip", "stall-bytes",
        "429,count=0", "429,bogus=1", "429,protocol=x", "stall-headers:3", "429 count=2"}) {
    auto f = ParseFaultSpec(bad);
    EXPECT_FALSE(f.ok()) << bad;
    if (!f.ok()) {
      EXPECT_EQ(f.error().message().rfind("fault: ", 0), 0u) << f.error().message();
    }
  }
}

TEST(FaultSpecTest, JsonForms) {
  auto list = ParseFaultJson(J(R"(["429,count=1", {"kind":"drip","value":"10ms"},
                                   {"status":503,"count":2}, {"spec":"disconnect"},
                                   {"faults":["stall-headers"]}])"));
  ASSERT_TRUE(list.ok()) << list.error().ToString();
  ASSERT_EQ(list->size(), 5u);
  EXPECT_EQ((*list)[1].interval, Millis(10));
  EXPECT_EQ((*list)[2].status, 503);
  EXPECT_EQ((*list)[2].count, 2);
  EXPECT_FALSE(ParseFaultJson(J(R"({"kind":"status"})")).ok());
  EXPECT_FALSE(ParseFaultJson(J("42")).ok());
}

TEST(FaultSetTest, CountsAndWindows) {
  FakeClock clock;
  FaultSet set(clock);
  set.Add({*ParseFaultSpec("429,count=2,protocol=openai"), *ParseFaultSpec("outage:500,for=5s")});
  EXPECT_EQ(set.Take(Protocol::kOpenAi, "m", "")->status, 429);
  EXPECT_EQ(set.Take(Protocol::kGemini, "m", "")->status, 500);  // protocol does not match
  EXPECT_EQ(set.Take(Protocol::kOpenAi, "m", "")->status, 429);
  EXPECT_EQ(set.Take(Protocol::kOpenAi, "m", "")->status, 500);  // count used up
  clock.Advance(Millis(5000));
  EXPECT_FALSE(set.Take(Protocol::kOpenAi, "m", "").has_value());
  EXPECT_TRUE(set.List().empty());
}

// ---- faults over the wire ------------------------------------------------------------------

using FaultTest = SimServerTest;

TEST_F(FaultTest, StatusFaultsForTheNextRequestsThenNormal) {
  SimServerOptions o;
  o.faults = {*ParseFaultSpec("429,count=2")};
  StartServer(o);
  for (int i = 0; i < 2; ++i) {
    auto r = OpenAi(Ask("hi"));
    EXPECT_EQ(r.status, 429);
    EXPECT_EQ(r.header("retry-after"), "1");
    EXPECT_EQ(r.header("retry-after-ms"), "1000");
    json::object e = r.Json().at("error").as_object();
    EXPECT_EQ(e.at("code"), "rate_limit_exceeded");
    EXPECT_EQ(e.at("type"), "requests");
  }
  EXPECT_EQ(OpenAi(Ask("hi")).status, 200);
  auto stats = Stats();
  const auto& records = stats.at("requests").as_array();
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].at("fault"), "status:429,count=2");
  EXPECT_TRUE(records[2].at("fault").is_null());
  EXPECT_EQ(stats.at("by_status").at("429"), 2);
}

TEST_F(FaultTest, OutageLastsForItsWindow) {
  StartServer();
  auto add = PostJson(port(), "/_sim/faults", J(R"({"kind":"outage","value":503,"for":"30s"})"));
  ASSERT_EQ(add.status, 200) << add.body;
  EXPECT_EQ(OpenAi(Ask("a")).status, 503);
  EXPECT_EQ(
      Anthropic(J(R"({"model":"c","max_tokens":10,"messages":[{"role":"user","content":"x"}]})"))
          .status,
      503);
  clock_.Advance(Millis(29'000));
  EXPECT_EQ(OpenAi(Ask("b")).status, 503);
  clock_.Advance(Millis(1'000));
  EXPECT_EQ(OpenAi(Ask("c")).status, 200);
}

TEST_F(FaultTest, ControlApiAddsListsAndClears) {
  StartServer();
  auto bad = PostJson(port(), "/_sim/faults", json::value("nonsense"));
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.Json().at("error").at("message").as_string().find("unknown fault"),
            std::string::npos);
  Request raw;
  raw.target = "/_sim/faults";
  raw.body = "500,protocol=gemini";  // a bare spec, not JSON
  auto added = Fetch(port(), raw);
  ASSERT_EQ(added.status, 200) << added.body;
  int64_t id = added.Json().at("faults").at(0).at("id").as_int64();
  auto list = Get(port(), "/_sim/faults");
  EXPECT_EQ(list.Json().at("faults").at(0).at("spec"), "status:500,protocol=gemini");
  EXPECT_EQ(OpenAi(Ask("x")).status, 200) << "other protocols are not affected";
  Request del;
  del.method = "DELETE";
  del.target = "/_sim/faults/" + std::to_string(id);
  EXPECT_EQ(Fetch(port(), del).status, 200);
  EXPECT_EQ(Fetch(port(), del).status, 404);
  PostJson(port(), "/_sim/faults", J(R"(["429","500"])"));
  Request clear;
  clear.method = "DELETE";
  clear.target = "/_sim/faults";
  EXPECT_EQ(Fetch(port(), clear).Json().at("cleared"), 2);
  EXPECT_TRUE(Get(port(), "/_sim/faults").Json().at("faults").as_array().empty());
}

TEST_F(FaultTest, HeaderFaultAppliesToThatRequestOnly) {
  StartServer();
  EXPECT_EQ(OpenAi(Ask("x"), {{"x-sim-fault", "server_error"}}).status, 400) << "not a spec kind";
  auto r = OpenAi(Ask("x"), {{"x-sim-fault", "status:server_error"}});
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.Json().at("error").at("type"), "server_error");
  EXPECT_EQ(OpenAi(Ask("x")).status, 200);
}

TEST_F(FaultTest, FaultsMatchByKeyAndModel) {
  StartServer();
  PostJson(port(), "/_sim/faults", J(R"(["503,key=sk-bad", "500,model=broken-model"])"));
  EXPECT_EQ(OpenAi(Ask("x")).status, 200);
  auto bad_key =
      PostJson(port(), "/v1/chat/completions", Ask("x"), {{"Authorization", "Bearer sk-bad"}});
  EXPECT_EQ(bad_key.status, 503);
  json::value body = Ask("x");
  body.as_object()["model"] = "broken-model";
  EXPECT_EQ(OpenAi(body).status, 500);
  EXPECT_EQ(Get(port(), "/_sim/faults").body.find("sk-bad"), std::string::npos);
}

TEST_F(FaultTest, StallAfterHeaders) {
  StartServer();
  for (bool stream : {false, true}) {
    Request r = OpenAiRequest("hello", stream, "stall-headers");
    r.read_timeout_ms = 400;
    auto res = Fetch(port(), r);
    EXPECT_EQ(res.status, 200);
    EXPECT_TRUE(res.timed_out);
    EXPECT_FALSE(res.closed);
    EXPECT_TRUE(res.body.empty());
  }
}

TEST_F(FaultTest, StallAfterBytesAndAfterEvents) {
  StartServer();
  Request bytes = OpenAiRequest("hello", false, "stall-bytes:10");
  bytes.read_timeout_ms = 400;
  auto b = Fetch(port(), bytes);
  EXPECT_EQ(b.status, 200);
  EXPECT_TRUE(b.timed_out);
  EXPECT_EQ(b.body.size(), 10u);

  Request sb = OpenAiRequest("hello", true, "stall-bytes:25");
  sb.read_timeout_ms = 400;
  auto s = Fetch(port(), sb);
  EXPECT_EQ(s.body.size(), 25u);
  EXPECT_EQ(s.body.substr(0, 6), "data: ");

  Request events = OpenAiRequest("hello there my friend", true, "stall-events:2");
  events.read_timeout_ms = 400;
  auto e = Fetch(port(), events);
  EXPECT_TRUE(e.timed_out);
  EXPECT_EQ(ParseSse(e.body).size(), 2u);
}

TEST_F(FaultTest, TruncatedStreamsAndBodies) {
  StartServer();
  auto s = Fetch(port(), OpenAiRequest("hello there my friend", true, "truncate:2"));
  EXPECT_EQ(s.status, 200);
  EXPECT_TRUE(s.closed);
  EXPECT_FALSE(s.complete);
  auto events = ParseSse(s.body);
  EXPECT_EQ(events.size(), 2u);
  for (const auto& ev : events) EXPECT_NE(ev.data, "[DONE]");

  auto d = Fetch(port(), OpenAiRequest("hello there my friend", true, "truncate"));
  EXPECT_FALSE(d.complete);
  EXPECT_EQ(d.body.find("[DONE]"), std::string::npos);

  auto w = Fetch(port(), OpenAiRequest("hello", false, "truncate"));
  EXPECT_EQ(w.status, 200);
  EXPECT_TRUE(w.closed);
  EXPECT_FALSE(w.complete);
  EXPECT_LT(w.body.size(), std::stoul(w.header("content-length")));
}

TEST_F(FaultTest, MalformedBodyAndEvent) {
  StartServer();
  auto w = Fetch(port(), OpenAiRequest("hello", false, "malformed"));
  EXPECT_EQ(w.status, 200);
  EXPECT_TRUE(w.complete);
  EXPECT_FALSE(ParseJson(w.body).ok());

  auto s = Fetch(port(), OpenAiRequest("hello there my friend", true, "malformed:1"));
  EXPECT_TRUE(s.complete);
  auto events = ParseSse(s.body);
  int bad = 0;
  for (const auto& e : events) {
    if (e.data != "[DONE]" && !ParseJson(e.data).ok()) ++bad;
  }
  EXPECT_EQ(bad, 1);
  EXPECT_EQ(events.back().data, "[DONE]");
  // The corrupted event is the first one with content (the second event).
  EXPECT_TRUE(ParseJson(events[0].data).ok());
  EXPECT_FALSE(ParseJson(events[1].data).ok());
}

TEST_F(FaultTest, SlowDripSpacesEvents) {
  StartServer();
  auto start = std::chrono::steady_clock::now();
  auto s = Fetch(port(), OpenAiRequest("hello there", true, "drip:40ms"));
  auto took = std::chrono::steady_clock::now() - start;
  auto events = ParseSse(s.body);
  EXPECT_TRUE(s.complete);
  ASSERT_GE(events.size(), 3u);
  // Every event waits for its interval: the stream cannot be faster than that.
  EXPECT_GE(took, std::chrono::milliseconds(40) * static_cast<int>(events.size()));
}

TEST_F(FaultTest, DisconnectDropsTheConnection) {
  StartServer();
  auto r = Fetch(port(), OpenAiRequest("hello", false, "disconnect"));
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(r.closed);
  EXPECT_EQ(Stats().at("requests").at(0).at("outcome"), "disconnect");
}

TEST_F(FaultTest, ScriptedErrorsFailTheFirstAttemptThenSucceed) {
  StartWithSim(R"({"replies":[{"error":"overloaded"},"fine now"]})");
  auto first = OpenAi(Ask("x"));
  EXPECT_EQ(first.status, 503);
  auto second = OpenAi(Ask("x"));
  ASSERT_EQ(second.status, 200);
  EXPECT_EQ(second.Json().at("choices").at(0).at("message").at("content"), "fine now");
  // Anthropic's word for overloaded is 529.
  json::value a = J(R"({"model":"c","max_tokens":10,"messages":[{"role":"user","content":"y"}]})");
  EXPECT_EQ(Anthropic(a).status, 529);
}

// ---- limiter ---------------------------------------------------------------------------------

TEST_F(FaultTest, RequestsPerMinutePerKey) {
  SimServerOptions o;
  o.rpm = 2;
  StartServer(o);
  auto first = OpenAi(Ask("x"));
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.header("x-ratelimit-limit-requests"), "2");
  EXPECT_EQ(first.header("x-ratelimit-remaining-requests"), "1");
  EXPECT_FALSE(first.header("x-ratelimit-reset-requests").empty());
  EXPECT_EQ(OpenAi(Ask("x")).status, 200);
  auto limited = OpenAi(Ask("x"));
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.header("retry-after"), "30");
  EXPECT_EQ(limited.header("x-ratelimit-remaining-requests"), "0");
  EXPECT_EQ(limited.Json().at("error").at("code"), "rate_limit_exceeded");
  // Another key has its own budget.
  EXPECT_EQ(PostJson(port(), "/v1/chat/completions", Ask("x"), {{"Authorization", "Bearer other"}})
                .status,
            200);
  // Anthropic's headers.
  auto a =
      Anthropic(J(R"({"model":"c","max_tokens":10,"messages":[{"role":"user","content":"y"}]})"));
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.header("anthropic-ratelimit-requests-limit"), "2");
  EXPECT_FALSE(a.header("anthropic-ratelimit-requests-reset").empty());
  clock_.Advance(Millis(30'000));
  EXPECT_EQ(OpenAi(Ask("x")).status, 200);
  EXPECT_EQ(Stats().at("by_status").at("429"), 1);
}

TEST_F(FaultTest, ARequestTheLimiterRefusedIsNotAnAttempt) {
  SimServerOptions o;
  o.rpm = 1;
  StartWithSim(R"({"replies":[{"error":"overloaded"},"fine now"]})", o);
  EXPECT_EQ(OpenAi(Ask("x")).status, 503);  // attempt 1
  EXPECT_EQ(OpenAi(Ask("x")).status, 429);  // limited: the model never saw it
  clock_.Advance(Millis(60'000));
  auto third = OpenAi(Ask("x"));  // attempt 2
  ASSERT_EQ(third.status, 200) << third.body;
  EXPECT_EQ(third.Json().at("choices").at(0).at("message").at("content"), "fine now");
}

TEST_F(FaultTest, TokensPerMinute) {
  SimServerOptions o;
  o.tpm = 100;
  StartServer(o);
  int ok = 0;
  Response last;
  for (int i = 0; i < 20; ++i) {
    last = OpenAi(Ask("tell me about the history of printing in europe"));
    if (last.status != 200) break;
    ++ok;
  }
  EXPECT_GT(ok, 0);
  EXPECT_LT(ok, 20);
  EXPECT_EQ(last.status, 429);
  EXPECT_EQ(last.Json().at("error").at("type"), "tokens");
  EXPECT_EQ(last.header("x-ratelimit-limit-tokens"), "100");
}

// ---- latency, size bounds, stop -------------------------------------------------------------

TEST_F(FaultTest, LatencyIsWaitedWithoutBlockingOtherRequests) {
  SimServerOptions o;
  o.threads = 1;  // one thread: concurrent requests overlap only if nothing blocks it
  StartWithSim(R"({"latency":"500ms"})", o);
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> clients;
  std::vector<int> statuses(4);
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back([&, i] { statuses[i] = OpenAi(Ask("x", i % 2 == 0)).status; });
  }
  for (auto& t : clients) t.join();
  auto took = std::chrono::steady_clock::now() - start;
  for (int s : statuses) EXPECT_EQ(s, 200);
  EXPECT_GE(took, std::chrono::milliseconds(500));
  // One after the other they would take 2 s; timers let them overlap on the one thread.
  EXPECT_LT(took, std::chrono::milliseconds(1900));
}

TEST_F(FaultTest, OversizedRequestsGetTheProtocolsError) {
  SimServerOptions o;
  o.max_body_bytes = 2048;
  StartServer(o);
  auto r = OpenAi(Ask(std::string(5000, 'a')));
  EXPECT_EQ(r.status, 413);
  EXPECT_TRUE(r.Json().at("error").as_object().contains("type"));
  json::value a = J(R"({"model":"c","max_tokens":10,"messages":[{"role":"user","content":"y"}]})");
  a.at("messages").at(0).as_object()["content"] = std::string(5000, 'b');
  auto ar = Anthropic(a);
  EXPECT_EQ(ar.status, 413);
  EXPECT_EQ(ar.Json().at("error").at("type"), "request_too_large");
}

TEST_F(FaultTest, StopCutsStalledStreams) {
  SimServerOptions o;
  o.stop_grace = Millis(100);
  StartServer(o);
  std::vector<std::unique_ptr<Connection>> clients;
  for (int i = 0; i < 3; ++i) {
    auto c = std::make_unique<Connection>(port());
    c->Send(Serialize(OpenAiRequest("hello", true, "stall-events:1")));
    clients.push_back(std::move(c));
  }
  for (auto& c : clients) EXPECT_EQ(c->Read(5000, true).status, 200);
  server_->Stop();
  EXPECT_EQ(server_->Connections(), 0u);
  for (auto& c : clients) {
    auto rest = c->Read(5000);
    EXPECT_FALSE(rest.timed_out);
  }
}

}  // namespace
}  // namespace baton::simserver::testing
