// Real providers through the real binary: workflows on each wire protocol against a
// `baton sim-server` child process, streaming, fallbacks on an outage, `baton providers`, config
// files and their errors, and `offline: sim`.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <regex>

#include "baton_process.hpp"

namespace baton::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class Providers : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ =
        Start({"sim-server", "--port", "0", "--fault", "outage:503,model=gpt-4o-broken,for=600s"},
              tmp_.path());
    std::smatch m;
    std::regex listening("listening on http://127\\.0\\.0\\.1:([0-9]+)");
    ASSERT_TRUE(PollUntil([&] {
      std::string out = server_.Out();
      return std::regex_search(out, m, listening);
    })) << server_.Err();
    std::string out = server_.Out();
    std::regex_search(out, m, listening);
    port_ = m[1].str();
  }
  void TearDown() override {
    if (server_.pid > 0) {
      kill(server_.pid, SIGTERM);
      Wait(server_);
    }
  }
  std::string Url() const { return "http://127.0.0.1:" + port_; }
  std::string Store() const { return (tmp_ / "baton.db").string(); }
  Output Run(std::vector<std::string> args, std::vector<std::string> env = {}) {
    args.insert(args.end(), {"--store", Store()});
    return Baton(args, tmp_.path(), tmp_.path(), env);
  }
  // A workflow with one model on `provider` at the sim-server.
  fs::path Workflow(const std::string& provider, const std::string& extra = "") {
    std::string base = provider == "openai" ? Url() + "/v1" : Url();
    std::string text = "baton: 1\nname: over-http\nmodels:\n  m: { provider: " + provider +
                       ", model: gpt-4o-mini, base_url: \"" + base + "\"" + extra +
                       " }\n"
                       "agents:\n  critic:\n    model: m\n    instructions: Judge.\n"
                       "    output_schema: { type: object, properties: { ok: { type: boolean } }, "
                       "required: [ok] }\n"
                       "steps:\n  - id: ask\n    llm: \"Say something about tides.\"\n"
                       "  - id: judge\n    agent: critic\n    input: ${{ steps.ask.output }}\n"
                       "outputs:\n  ok: ${{ steps.judge.output.ok }}\n";
    return tmp_.Write(provider + ".yaml", text);
  }

  TempDir tmp_;
  Child server_;
  std::string port_;
};

TEST_F(Providers, EachProtocolRunsAWorkflowWithStructuredOutput) {
  for (const char* provider : {"openai", "anthropic", "gemini"}) {
    SCOPED_TRACE(provider);
    Output o = Run({"run", Workflow(provider).string(), "-o", "json"});
    ASSERT_EQ(o.code, 0) << o.err;
    json::value s = MustParse(o.out, "summary");
    EXPECT_EQ(s.at("status"), "succeeded");
    EXPECT_TRUE(s.at("outputs").at("ok").is_bool());
    EXPECT_THAT(o.err, Not(HasSubstr("sim provider")));  // a real HTTP provider, not sim
    std::string id(s.at("run_id").as_string());
    Output trace = Run({"runs", "show", id, "--trace"});
    EXPECT_THAT(trace.out, HasSubstr(std::string("(") + provider + "/gpt-4o-mini)"));
  }
}

TEST_F(Providers, StreamingShowsTextLiveAndModelDeltaEvents) {
  fs::path wf = Workflow("anthropic");
  Output plain = Run({"run", wf.string(), "--stream"});
  ASSERT_EQ(plain.code, 0) << plain.err;
  EXPECT_THAT(plain.err, HasSubstr("ask: "));
  Output jsonl = Run({"run", wf.string(), "--stream", "-o", "jsonl"});
  ASSERT_EQ(jsonl.code, 0) << jsonl.err;
  EXPECT_THAT(jsonl.out, HasSubstr("\"type\":\"model_delta\""));
  // Deltas are never journaled.
  json::value first = MustParse(jsonl.out.substr(0, jsonl.out.find('\n')), "first event");
  std::string id(first.at("run_id").as_string());
  Output events = Run({"runs", "events", id, "-o", "jsonl"});
  EXPECT_THAT(events.out, Not(HasSubstr("model_delta")));
  EXPECT_THAT(events.out, HasSubstr("model_called"));
}

TEST_F(Providers, FallbackAnswersDuringAnOutageAndTheEventsSaySo) {
  std::string text =
      "baton: 1\nname: fallback\nmodels:\n"
      "  primary: { provider: openai, model: gpt-4o-broken, base_url: \"" +
      Url() +
      "/v1\", fallback: [backup] }\n"
      "  backup: { provider: anthropic, model: claude-3-5-haiku-latest, "
      "base_url: \"" +
      Url() +
      "\" }\n"
      "steps:\n  - id: ask\n    llm: { model: primary, prompt: \"Hello?\" }\n";
  fs::path wf = tmp_.Write("fallback.yaml", text);
  Output o = Run({"run", wf.string(), "-o", "json"});
  ASSERT_EQ(o.code, 0) << o.err;
  std::string id(MustParse(o.out, "summary").at("run_id").as_string());
  Output events = Run({"runs", "events", id, "-o", "jsonl"});
  EXPECT_THAT(events.out, HasSubstr("fallback from primary to backup"));
  EXPECT_THAT(events.out, HasSubstr("\"answered_by\":\"claude-3-5-haiku-latest\""));
}

TEST_F(Providers, CachedRepliesSurviveTheProcessAndCostNothing) {
  fs::path wf = Workflow("openai", ", cache: { ttl: 1h }");
  Output first = Run({"run", wf.string(), "-o", "json"});
  ASSERT_EQ(first.code, 0) << first.err;
  Output second = Run({"run", wf.string(), "-o", "json"});
  ASSERT_EQ(second.code, 0) << second.err;
  json::value a = MustParse(first.out, "first");
  json::value b = MustParse(second.out, "second");
  EXPECT_EQ(a.at("outputs"), b.at("outputs"));
  EXPECT_GT(a.at("usage").at("cost_usd").to_number<double>(), 0.0);
  EXPECT_EQ(b.at("usage").at("cost_usd").to_number<double>(), 0.0);
  Output events = Run({"runs", "events", std::string(b.at("run_id").as_string()), "-o", "jsonl"});
  EXPECT_THAT(events.out, HasSubstr("\"cache_hit\":true"));
}

// What sim-server captured of the requests it was sent (GET /_sim/requests), fetched with curl.
json::value Captured(const std::string& url) {
  std::string cmd = "curl -s --max-time 10 " + url + "/_sim/requests";
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
    pclose(p);
  }
  return MustParse(out, "/_sim/requests");
}

TEST_F(Providers, ParamsAndHeadersReachTheWireMergedIntoTheRequest) {
  fs::path wf = Workflow("gemini",
                         ", max_tokens: 300, params: { generationConfig: { topK: 7 }, "
                         "safetySettings: [] }, headers: { x-team: blue }");
  Output o = Run({"run", wf.string(), "-o", "json"});
  ASSERT_EQ(o.code, 0) << o.err;
  json::value cap = Captured(Url());
  ASSERT_TRUE(cap.is_object()) << cap;
  const auto& requests = cap.at("requests").as_array();
  ASSERT_FALSE(requests.empty());
  const json::value& last = requests.back();  // the structured call
  const json::value& gc = last.at("body").at("generationConfig");
  EXPECT_EQ(gc.at("topK"), 7);
  EXPECT_EQ(gc.at("maxOutputTokens"), 300);  // the codec's fields stay
  EXPECT_TRUE(gc.as_object().contains("responseSchema") ||
              gc.as_object().contains("responseJsonSchema"))
      << gc;
  EXPECT_TRUE(last.at("body").at("safetySettings").is_array());
  EXPECT_THAT(ToJson(last.at("headers")), HasSubstr("blue"));
}

TEST_F(Providers, TheProvidersKeyGoesOnlyToItsOwnEndpointUnlessTheModelNamesIt) {
  // A model at another URL without api_key_env sends no key, even with OPENAI_API_KEY set.
  Output o = Run({"run", Workflow("openai").string(), "-o", "json"},
                 {"OPENAI_API_KEY=sk-canary-not-for-you"});
  ASSERT_EQ(o.code, 0) << o.err;
  json::value cap = Captured(Url());
  ASSERT_TRUE(cap.is_object());
  for (const auto& r : cap.at("requests").as_array()) {
    EXPECT_THAT(ToJson(r.at("headers")), Not(HasSubstr("authorization"))) << r;
  }
  // Naming the variable sends it (redacted in the capture).
  Output named = Run({"run", Workflow("openai", ", api_key_env: MY_KEY").string(), "-o", "json"},
                     {"MY_KEY=sk-canary-mine"});
  ASSERT_EQ(named.code, 0) << named.err;
  cap = Captured(Url());
  EXPECT_THAT(ToJson(cap.at("requests").as_array().back().at("headers")),
              HasSubstr("authorization"));
}

TEST_F(Providers, UnreachableServerFailsWithATypedNetworkError) {
  std::string text =
      "baton: 1\nname: dead\nmodels:\n  m: { provider: ollama, model: llama3, base_url: "
      "\"http://127.0.0.1:1/v1\", timeouts: { connect: 2s } }\n"
      "steps:\n  - id: ask\n    llm: \"Hello?\"\n";
  Output o = Run({"run", tmp_.Write("dead.yaml", text).string(), "-o", "json"});
  EXPECT_EQ(o.code, 3);
  json::value s = MustParse(o.out, "summary");
  EXPECT_EQ(s.at("error").at("type"), "network");
  EXPECT_THAT(std::string(s.at("error").at("message").as_string()), HasSubstr("ollama model 'm'"));
}

TEST_F(Providers, ProvidersCheckReportsEachConfiguredModel) {
  tmp_.Write("baton.yaml",
             "models:\n  good: { provider: openai, model: gpt-4o-mini, base_url: \"" + Url() +
                 "/v1\" }\n  down: { provider: openai, model: gpt-4o-broken, base_url: \"" + Url() +
                 "/v1\" }\n  nokey: { provider: gemini, model: gemini-2.0-flash }\n");
  Output o = Baton({"providers", "check"}, tmp_.path(), tmp_.path());
  EXPECT_EQ(o.code, 1) << o.err;
  EXPECT_THAT(o.out, HasSubstr("good"));
  EXPECT_THAT(o.out, HasSubstr("ok ·"));
  EXPECT_THAT(o.out, HasSubstr("overloaded"));
  EXPECT_THAT(o.out, HasSubstr("no API key: set the environment variable GEMINI_API_KEY"));
  Output list = Baton({"providers", "list"}, tmp_.path(), tmp_.path(),
                      {"ANTHROPIC_API_KEY=sk-ant-not-shown"});
  EXPECT_EQ(list.code, 0);
  EXPECT_THAT(list.out, HasSubstr("ANTHROPIC_API_KEY (set)"));
  EXPECT_THAT(list.out, Not(HasSubstr("sk-ant-not-shown")));
}

TEST_F(Providers, ConfigModelsProviderDefaultsAndTheirErrors) {
  tmp_.Write("baton.yaml", "providers:\n  openai: { base_url: \"" + Url() +
                               "/v1\" }\nmodels:\n  shared: { provider: openai, model: "
                               "gpt-4o-mini }\n");
  fs::path wf = tmp_.Write("uses.yaml",
                           "baton: 1\nname: uses-config\nsteps:\n  - id: ask\n"
                           "    llm: { model: shared, prompt: \"Hi\" }\n");
  Output o = Run({"run", wf.string(), "-o", "json"});
  EXPECT_EQ(o.code, 0) << o.err;

  tmp_.Write("baton.yaml", "models:\n  bad:\n    provider: openai\n    api_key: sk-oops\n");
  Output bad = Run({"run", wf.string()});
  EXPECT_EQ(bad.code, 5);
  EXPECT_THAT(bad.err, HasSubstr("baton.yaml:4:5: error: keys do not belong in files"));
  EXPECT_THAT(bad.err, Not(HasSubstr("sk-oops")));

  // BATON_CONFIG names the one file to read.
  fs::path other = tmp_.Write("other.yaml", "models:\n  shared: { provider: sim, model: s }\n");
  Output via_env = Run({"run", wf.string(), "-o", "json"}, {"BATON_CONFIG=" + other.string()});
  EXPECT_EQ(via_env.code, 0) << via_env.err;
  EXPECT_THAT(via_env.err, HasSubstr("sim provider"));
}

TEST_F(Providers, OfflineSimStandsInWithoutAKeyAndSaysSo) {
  fs::path example = SourceDir() / "examples/openai_compatible.yaml";
  Output offline = Run({"run", example.string(), "-o", "json"});
  ASSERT_EQ(offline.code, 0) << offline.err;
  EXPECT_THAT(offline.err, HasSubstr("model 'chat' (openai) runs on the built-in sim provider"));
  // With a base URL from the environment the same file talks HTTP to the server.
  Output online =
      Run({"run", example.string(), "-o", "json"}, {"OPENAI_BASE_URL=" + Url() + "/v1"});
  ASSERT_EQ(online.code, 0) << online.err;
  EXPECT_THAT(online.err, Not(HasSubstr("sim provider")));
}

}  // namespace
}  // namespace baton::e2e
