// Secrets canary: API keys of the form sk-canary-<random> in the environment of the real `baton`
// binary, used against a real `baton sim-server` process that accepts one of them (so some calls
// succeed and others get 401/400 error bodies, plus an injected error body). Then everything
// baton and sim-server wrote is searched for the keys: stdout and stderr of every output mode,
// the SQLite journal's bytes (and its -wal and -shm), `runs show --trace`, `runs events`,
// `providers check`, sim-server's output and its control API. No key may appear anywhere, not
// even a 10-character piece of one.

#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "e2e/baton_process.hpp"
#include "simserver/test_client.hpp"

namespace baton::reliability {
namespace {

namespace fs = std::filesystem;
using e2e::Output;

std::string RandomPart() {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device rd;
  std::mt19937_64 gen((static_cast<uint64_t>(rd()) << 32) ^ rd());
  std::uniform_int_distribution<int> pick(0, sizeof(kAlphabet) - 2);
  std::string s;
  for (int i = 0; i < 24; ++i) s.push_back(kAlphabet[pick(gen)]);
  return s;
}

struct Canary {
  std::string name;    // the environment variable
  std::string random;  // the random part
  std::string value() const { return "sk-canary-" + random; }
};

// The pieces of `canary` whose presence counts as a leak: the whole key and every 10-character
// window of its random part (a masked echo such as "sk-can...<last 10>" still leaks).
std::vector<std::string> Needles(const Canary& canary) {
  std::vector<std::string> out = {canary.value()};
  for (size_t i = 0; i + 10 <= canary.random.size(); ++i)
    out.push_back(canary.random.substr(i, 10));
  return out;
}

class SecretsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    canaries_ = {{"OPENAI_API_KEY", RandomPart()},     // the key sim-server accepts
                 {"ANTHROPIC_API_KEY", RandomPart()},  // rejected: 401 authentication_error
                 {"GEMINI_API_KEY", RandomPart()},     // rejected: 400 API_KEY_INVALID
                 {"BATON_API_KEY", RandomPart()},      // a secret-like name in baton's env context
                 {"BATON_service_token", RandomPart()}};
  }
  std::vector<std::string> Env() const {
    std::vector<std::string> env;
    for (const auto& c : canaries_) env.push_back(c.name + "=" + c.value());
    env.push_back("BATON_RELIABILITY_VISIBLE=visible-value");
    return env;
  }
  const Canary& Key(std::string_view name) const {
    for (const auto& c : canaries_) {
      if (c.name == name) return c;
    }
    return canaries_.front();
  }
  void Collect(std::string label, std::string text) {
    collected_.emplace_back(std::move(label), std::move(text));
  }
  void Collect(const std::string& label, const Output& o) {
    Collect(label + " stdout", o.out);
    Collect(label + " stderr", o.err);
  }
  // Records a failure for every collected text that holds a piece of a canary.
  void ExpectNoCanary() {
    for (const auto& [label, text] : collected_) {
      for (const auto& c : canaries_) {
        for (const auto& needle : Needles(c)) {
          size_t at = text.find(needle);
          if (at == std::string::npos) continue;
          ADD_FAILURE() << c.name << " leaked into " << label << ": ..."
                        << text.substr(at >= 80 ? at - 80 : 0, 200) << "...";
          break;
        }
      }
    }
  }

  std::vector<Canary> canaries_;
  std::vector<std::pair<std::string, std::string>> collected_;
};

constexpr const char* kWorkflow = R"y(
baton: 1
name: secrets
tools:
  show_env:
    description: Print what the process environment holds
    exec: { argv: [/bin/sh, -c, 'echo "openai=[$OPENAI_API_KEY] anthropic=[$ANTHROPIC_API_KEY] baton=[$BATON_API_KEY]"'] }
models:
  good: { provider: openai, model: gpt-4o-mini, base_url: URL/v1, api_key_env: OPENAI_API_KEY }
  good_stream: { provider: openai, model: gpt-4o-mini, base_url: URL/v1, api_key_env: OPENAI_API_KEY, stream: true }
  broken: { provider: openai, model: gpt-error, base_url: URL/v1, api_key_env: OPENAI_API_KEY }
  claude: { provider: anthropic, model: claude-sonnet-4-5, base_url: URL, api_key_env: ANTHROPIC_API_KEY }
  claude_stream: { provider: anthropic, model: claude-sonnet-4-5, base_url: URL, api_key_env: ANTHROPIC_API_KEY, stream: true }
  gem: { provider: gemini, model: gemini-2.5-flash, base_url: URL, api_key_env: GEMINI_API_KEY }
  gem_stream: { provider: gemini, model: gemini-2.5-flash, base_url: URL, api_key_env: GEMINI_API_KEY, stream: true }
defaults:
  retry: { max_attempts: 2, backoff: { initial: 10ms } }
steps:
  - { id: ok, llm: { model: good, prompt: "Say hello." } }
  - { id: ok_stream, llm: { model: good_stream, prompt: "Say hello, streaming." } }
  - id: broken
    llm: { model: broken, prompt: "This one gets an error body." }
    catch: [ { then: { output: "${{ error }}" } } ]
  - id: claude
    llm: { model: claude, prompt: "Say hello." }
    catch: [ { then: { output: "${{ error }}" } } ]
  - id: claude_stream
    llm: { model: claude_stream, prompt: "Say hello." }
    catch: [ { then: { output: "${{ error }}" } } ]
  - id: gem
    llm: { model: gem, prompt: "Say hello." }
    catch: [ { then: { output: "${{ error }}" } } ]
  - id: gem_stream
    llm: { model: gem_stream, prompt: "Say hello." }
    catch: [ { then: { output: "${{ error }}" } } ]
  # A workflow that tries to read keys through baton's env context and a tool's environment.
  - id: peek
    llm:
      model: good
      prompt: >-
        visible=${{ default(env.BATON_RELIABILITY_VISIBLE, 'none') }}
        key=${{ default(env.BATON_API_KEY, 'none') }}
        token=${{ default(env.BATON_service_token, 'none') }}
        openai=${{ default(env.OPENAI_API_KEY, 'none') }}
  - { id: tool_env, call: show_env }
outputs:
  ok: ${{ steps.ok.output }}
  errors: ["${{ steps.broken.output }}", "${{ steps.claude.output }}", "${{ steps.gem.output }}"]
  peek: ${{ steps.peek.output }}
  tool_env: ${{ steps.tool_env.output }}
)y";

// One step that fails the run with the provider's authentication error.
constexpr const char* kFailing = R"y(
baton: 1
name: secrets-failing
models:
  claude: { provider: anthropic, model: claude-sonnet-4-5, base_url: URL, api_key_env: ANTHROPIC_API_KEY }
steps:
  - { id: denied, llm: { model: claude, prompt: "Say hello." } }
)y";

std::string WithUrl(std::string text, const std::string& url) {
  for (size_t at = text.find("URL"); at != std::string::npos;
       at = text.find("URL", at + url.size())) {
    text.replace(at, 3, url);
  }
  return text;
}

TEST_F(SecretsTest, KeysAppearNowhere) {
  e2e::TempDir dir;
  const fs::path& scratch = dir.path();
  const std::string accepted = Key("OPENAI_API_KEY").value();

  // sim-server accepts only the OpenAI canary; a fault keyed to it gives one model an error body.
  e2e::Child server = e2e::Start(
      {"sim-server", "--port", "0", "--api-key", accepted, "--fault",
       "status:400,model=gpt-error,key=" + accepted + ",message=Rejected by upstream rules"},
      scratch, scratch);
  ASSERT_GT(server.pid, 0);
  std::string url;
  ASSERT_TRUE(e2e::PollUntil([&] {
    std::string out = server.Out();
    size_t at = out.find("listening on ");
    size_t end = out.find('\n', at);
    if (at == std::string::npos || end == std::string::npos) return false;
    url = out.substr(at + 13, end - at - 13);
    return true;
  })) << server.Err();
  uint16_t port = static_cast<uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));

  fs::path wf = dir.Write("secrets.yaml", WithUrl(kWorkflow, url));
  fs::path failing = dir.Write("failing.yaml", WithUrl(kFailing, url));
  const std::string store = (scratch / "journal.db").string();
  auto baton = [&](std::vector<std::string> args) {
    args.push_back("--store");
    args.push_back(store);
    return e2e::Baton(args, scratch, scratch, Env());
  };

  // Every output mode of `baton run`, on the workflow that succeeds and the one that fails.
  std::vector<std::string> run_ids;
  for (const std::vector<std::string>& mode :
       {std::vector<std::string>{}, {"-o", "json"}, {"-o", "jsonl"}, {"--stream"}}) {
    std::string flags;
    for (const auto& m : mode) flags += " " + m;
    std::string label = "run secrets.yaml" + flags;
    Output o = baton([&] {
      std::vector<std::string> args = {"run", wf.string()};
      args.insert(args.end(), mode.begin(), mode.end());
      return args;
    }());
    EXPECT_EQ(o.code, 0) << label << "\n" << o.err;
    Collect(label, o);
    Output f = baton([&] {
      std::vector<std::string> args = {"run", failing.string()};
      args.insert(args.end(), mode.begin(), mode.end());
      return args;
    }());
    EXPECT_NE(f.code, 0) << f.out;
    Collect("run failing.yaml" + flags, f);
  }
  Output list = baton({"runs", "list", "-o", "json"});
  Collect("runs list", list);
  json::value runs = e2e::MustParse(list.out, "runs list -o json");
  ASSERT_TRUE(runs.is_array());
  for (const auto& r : runs.as_array()) run_ids.emplace_back(r.at("run_id").as_string());
  EXPECT_EQ(run_ids.size(), 8u);

  // The workflow's calls really went through: some succeeded, some were refused.
  {
    Output json_run = baton({"run", wf.string(), "-o", "json"});
    Collect("run -o json (again)", json_run);
    json::value summary = e2e::MustParse(json_run.out, "run -o json");
    ASSERT_TRUE(summary.is_object());
    EXPECT_EQ(summary.at("status").as_string(), "succeeded");
    const auto& errors = summary.at("outputs").at("errors").as_array();
    ASSERT_EQ(errors.size(), 3u);
    EXPECT_EQ(errors[0].at("type").as_string(), "invalid_request") << ToJson(errors[0]);
    EXPECT_EQ(errors[1].at("type").as_string(), "auth") << ToJson(errors[1]);
    EXPECT_EQ(errors[2].at("type").as_string(), "auth") << ToJson(errors[2]);
    // A tool's environment is an allow-list: no keys.
    std::string tool(summary.at("outputs").at("tool_env").as_string());
    EXPECT_NE(tool.find("openai=[]"), std::string::npos) << tool;
    EXPECT_NE(tool.find("baton=[]"), std::string::npos) << tool;
    run_ids.emplace_back(summary.at("run_id").as_string());
  }

  for (const std::string& id : run_ids) {
    Collect("runs show --trace -o json " + id,
            baton({"runs", "show", id, "--trace", "-o", "json"}));
    Collect("runs show --trace " + id, baton({"runs", "show", id, "--trace"}));
    Output events = baton({"runs", "events", id, "-o", "jsonl"});
    Collect("runs events -o jsonl " + id, events);
    Collect("runs events " + id, baton({"runs", "events", id}));
    // run_started records the env context: BATON_* names only, secret-looking ones left out.
    size_t nl = events.out.find('\n');
    json::value first = e2e::MustParse(events.out.substr(0, nl), "run_started");
    if (!first.is_object()) continue;
    EXPECT_EQ(first.at("type").as_string(), "run_started");
    const auto* data = first.as_object().if_contains("data");
    const json::object* env = nullptr;
    if (data != nullptr && data->is_object() && data->as_object().contains("env")) {
      env = &data->at("env").as_object();
    }
    ASSERT_NE(env, nullptr) << events.out.substr(0, nl);
    EXPECT_TRUE(env->contains("BATON_RELIABILITY_VISIBLE")) << ToJson(*env);
    EXPECT_FALSE(env->contains("BATON_API_KEY")) << ToJson(*env);
    EXPECT_FALSE(env->contains("BATON_service_token")) << ToJson(*env);
  }
  Collect("providers check", baton({"providers", "check", wf.string()}));
  Collect("providers check -o json", baton({"providers", "check", wf.string(), "-o", "json"}));
  Collect("providers list", baton({"providers", "list"}));
  Collect("validate", baton({"validate", wf.string()}));

  // The journal's bytes.
  for (const char* suffix : {"", "-wal", "-shm"}) {
    fs::path p = store + suffix;
    if (fs::exists(p)) Collect("journal file " + p.filename().string(), e2e::ReadFile(p));
  }
  EXPECT_TRUE(fs::exists(store));

  // sim-server's control API (it needs the key, which travels only in the request header).
  std::vector<simserver::testing::Header> auth = {{"Authorization", "Bearer " + accepted}};
  simserver::testing::Response stats = simserver::testing::Get(port, "/_sim/stats", auth);
  EXPECT_EQ(stats.status, 200);
  EXPECT_NE(stats.body.find("\"status\":401"), std::string::npos) << "some calls were refused";
  EXPECT_NE(stats.body.find("\"status\":200"), std::string::npos) << "some calls succeeded";
  Collect("GET /_sim/stats", stats.raw);
  Collect("GET /_sim/faults", simserver::testing::Get(port, "/_sim/faults", auth).raw);
  Collect("GET /_sim/requests", simserver::testing::Get(port, "/_sim/requests", auth).raw);
  // ... and its own output, after a clean stop.
  ASSERT_EQ(kill(server.pid, SIGTERM), 0);
  EXPECT_EQ(e2e::Wait(server), 0);
  Collect("sim-server stdout", server.Out());
  Collect("sim-server stderr", server.Err());

  // Something was collected from every source, and the canaries are nowhere in it.
  size_t bytes = 0;
  for (const auto& [label, text] : collected_) bytes += text.size();
  EXPECT_GT(bytes, 10'000u);
  ExpectNoCanary();
  std::printf("[ figures ] searched %zu texts (%zu bytes) for %zu canaries\n", collected_.size(),
              bytes, canaries_.size());
}

}  // namespace
}  // namespace baton::reliability
