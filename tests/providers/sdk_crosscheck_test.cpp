// Cross-check against the official SDKs (openai, @anthropic-ai/sdk, @google/genai, pinned in
// tests/peers/package.json and run under node as a child process):
//  1. the SDKs work against sim-server: tests/peers/sdk/run.mjs makes plain, streamed, tool-loop,
//     structured-output and failing calls and reports each check;
//  2. baton's HttpModel sends what the SDK sends: for every logical call in
//     tests/peers/sdk/cases.json, both requests (captured by sim-server, GET /_sim/requests) must
//     agree field by field: method, path and query, the JSON body, the headers that carry
//     meaning, and the API key (as its fingerprint). Legitimate differences are listed in
//     kAllowances below, each with its reason; every other difference fails, and an allowance
//     no call needed fails too (so the list cannot go stale).
// Like cel_diff, the test fails (it does not skip) when node or the pinned SDKs are missing:
// scripts/install-deps installs them.

#include <fnmatch.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "base/json.hpp"
#include "providers/registry.hpp"
#include "simserver/sim_server.hpp"

namespace baton::providers {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;

constexpr std::string_view kAbsent = "(absent)";

// ---- the comparison -----------------------------------------------------------------------------

// One way the SDK's request may differ from baton's. Body paths are JSON Pointers with `*`
// for any one token (fnmatch with FNM_PATHNAME); header paths are lower-case names.
struct Allowance {
  enum class Kind {
    kIgnoreHeader,  // the header is not compared
    kHeader,        // the header differs exactly so: baton's value, the SDK's value
    kBody,          // the body value at `path` differs exactly so ("*" for any value)
    kRename,        // the SDK names the field at `path` `sdk`; baton names it `baton`
  };
  std::string_view protocol;  // openai | anthropic | gemini | * (all)
  Kind kind;
  std::string_view path;
  std::string_view baton;  // compact JSON, kAbsent, or "*"
  std::string_view sdk;
  std::string_view why;
};

using K = Allowance::Kind;

// clang-format off
const std::vector<Allowance> kAllowances = {
  // Who is calling. None of these change what the server does.
  {"*", K::kIgnoreHeader, "user-agent", "", "", "client identification"},
  {"*", K::kIgnoreHeader, "x-stainless-*", "", "",
   "OpenAI/Anthropic SDK telemetry: os, arch, runtime, package version, retry count, timeout, "
   "helper method"},
  {"gemini", K::kIgnoreHeader, "x-goog-api-client", "", "", "Gemini SDK telemetry"},
  // Transport details of each HTTP client. content-length differs because the two serializers
  // write numbers and key order differently; the bodies are compared as JSON below.
  {"*", K::kIgnoreHeader, "host", "", "", "transport"},
  {"*", K::kIgnoreHeader, "connection", "", "", "transport"},
  {"*", K::kIgnoreHeader, "content-length", "", "", "transport; bodies are compared as JSON"},
  {"*", K::kIgnoreHeader, "accept-encoding", "", "", "transport (node's fetch asks for gzip)"},
  {"*", K::kIgnoreHeader, "accept-language", "", "", "node's fetch adds `*`"},
  {"*", K::kIgnoreHeader, "sec-fetch-mode", "", "", "node's fetch adds `cors`"},
  // Accept: the OpenAI and Anthropic SDKs send application/json, even when they ask for a
  // stream; the Gemini SDK sets none, so node's fetch sends */*. baton asks for
  // text/event-stream when it streams and otherwise leaves libcurl's */*. The servers answer by
  // the body's `stream` (Gemini: by the method), not by accept.
  {"openai", K::kHeader, "accept", "\"text/event-stream\"", "\"application/json\"",
   "baton names the stream's media type; the SDK always sends application/json"},
  {"anthropic", K::kHeader, "accept", "\"text/event-stream\"", "\"application/json\"",
   "baton names the stream's media type; the SDK always sends application/json"},
  {"openai", K::kHeader, "accept", "\"*/*\"", "\"application/json\"",
   "libcurl's default accept for a whole response; the SDK always sends application/json"},
  {"anthropic", K::kHeader, "accept", "\"*/*\"", "\"application/json\"",
   "libcurl's default accept for a whole response; the SDK always sends application/json"},
  {"gemini", K::kHeader, "accept", "\"text/event-stream\"", "\"*/*\"",
   "baton names the stream's media type; the Gemini SDK leaves fetch's default"},

  // Anthropic: SDK 1.x speaks API version 2026-10-21 and sends the key as a bearer token;
  // baton pins 2023-06-01 with x-api-key, which the API still serves. (2026-10-21 removes
  // `temperature`, which baton's workflows may set.) The key itself is compared through its
  // fingerprint either way.
  {"anthropic", K::kHeader, "anthropic-version", "\"2023-06-01\"", "\"2026-10-21\"",
   "baton pins API version 2023-06-01; SDK 1.x pins 2026-10-21"},
  {"anthropic", K::kHeader, "x-api-key", "\"<redacted>\"", kAbsent,
   "API version 2023-06-01 authenticates with x-api-key"},
  {"anthropic", K::kHeader, "authorization", kAbsent, "\"Bearer <redacted>\"",
   "SDK 1.x sends the API key as a bearer token"},

  // OpenAI: baton sends the classic `max_tokens` to servers other than api.openai.com and
  // Azure (compatible servers often know no other name); the SDK caller here uses the current
  // `max_completion_tokens`. The values must still be equal.
  {"openai", K::kRename, "/max_completion_tokens", "max_tokens", "max_completion_tokens",
   "compatible servers take max_tokens; OpenAI's own hosts get max_completion_tokens"},
  // The SDK's stream helper (ChatCompletionStream) assembles the assistant message with
  // client-side fields `parsed: null` and `refusal: null`, and the caller sends it back as is;
  // baton sends the message without them. A null field is an absent field to the API.
  {"openai", K::kBody, "/messages/*/parsed", kAbsent, "null",
   "added by the SDK's stream helper to the message it assembles"},
  {"openai", K::kBody, "/messages/*/refusal", kAbsent, "null",
   "the SDK's stream helper sets refusal: null; baton leaves an empty refusal out"},

  // Gemini: the SDK turns a string systemInstruction into a Content with role "user" (the API
  // ignores the role of a system instruction; the REST docs send none), and always sends a
  // generationConfig, empty when nothing is set.
  {"gemini", K::kBody, "/systemInstruction/role", kAbsent, "\"user\"",
   "the SDK's tContent() gives the system instruction a role"},
  {"gemini", K::kBody, "/generationConfig", kAbsent, "{}",
   "the SDK always sends generationConfig; baton leaves an empty one out"},
};
// clang-format on

struct Difference {
  std::string path;
  std::string baton;  // compact JSON or kAbsent
  std::string sdk;
};

std::string Repr(const json::value* v) { return v == nullptr ? std::string(kAbsent) : ToJson(*v); }

bool SameNumber(const json::value& a, const json::value& b) {
  return a.is_number() && b.is_number() && a.to_number<double>() == b.to_number<double>();
}

// Every difference between two JSON values (numbers compare by value: JSON has one number type).
void Diff(const json::value* baton, const json::value* sdk, const std::string& path,
          std::vector<Difference>& out) {
  if (baton != nullptr && sdk != nullptr) {
    if (SameNumber(*baton, *sdk)) return;
    if (baton->is_object() && sdk->is_object()) {
      std::set<std::string> keys;
      for (const auto& kv : baton->get_object()) keys.insert(std::string(kv.key()));
      for (const auto& kv : sdk->get_object()) keys.insert(std::string(kv.key()));
      for (const auto& k : keys) {
        Diff(baton->get_object().if_contains(k), sdk->get_object().if_contains(k),
             path + "/" + EscapePointerToken(k), out);
      }
      return;
    }
    if (baton->is_array() && sdk->is_array()) {
      const auto& a = baton->get_array();
      const auto& b = sdk->get_array();
      for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
        Diff(i < a.size() ? &a[i] : nullptr, i < b.size() ? &b[i] : nullptr,
             path + "/" + std::to_string(i), out);
      }
      return;
    }
    if (*baton == *sdk) return;
  } else if (baton == nullptr && sdk == nullptr) {
    return;
  }
  out.push_back({path.empty() ? "/" : path, Repr(baton), Repr(sdk)});
}

bool Matches(std::string_view pattern, const std::string& path, bool pointer) {
  return fnmatch(std::string(pattern).c_str(), path.c_str(), pointer ? FNM_PATHNAME : 0) == 0;
}

bool AppliesTo(const Allowance& a, std::string_view protocol) {
  return a.protocol == "*" || a.protocol == protocol;
}

// Compares one captured request pair; returns the differences no allowance accepts. Marks the
// allowances used in `used`.
class RequestComparer {
 public:
  explicit RequestComparer(std::string protocol) : protocol_(std::move(protocol)) {}

  std::vector<Difference> Compare(const json::value& baton, const json::value& sdk) {
    std::vector<Difference> bad;
    for (std::string_view field : {"method", "target", "key_fp"}) {
      Diff(baton.as_object().if_contains(field), sdk.as_object().if_contains(field),
           std::string(field), bad);
    }
    CompareHeaders(baton.at("headers").as_object(), sdk.at("headers").as_object(), bad);
    json::value sdk_body = sdk.at("body");
    Rename(sdk_body);
    std::vector<Difference> body;
    Diff(&baton.at("body"), &sdk_body, "", body);
    for (auto& d : body) {
      if (!Allowed(K::kBody, d, true)) bad.push_back(std::move(d));
    }
    return bad;
  }

  // The allowances for this protocol that no comparison needed.
  std::vector<std::string> Unused() const {
    std::vector<std::string> out;
    for (size_t i = 0; i < kAllowances.size(); ++i) {
      const Allowance& a = kAllowances[i];
      if (a.protocol == protocol_ && used_.count(i) == 0) {
        out.push_back(std::string(a.path) + " (" + std::string(a.why) + ")");
      }
    }
    return out;
  }

 private:
  void CompareHeaders(const json::object& baton, const json::object& sdk,
                      std::vector<Difference>& bad) {
    std::set<std::string> names;
    for (const auto& kv : baton) names.insert(std::string(kv.key()));
    for (const auto& kv : sdk) names.insert(std::string(kv.key()));
    for (const auto& name : names) {
      if (Ignored(name)) continue;
      const json::value* a = baton.if_contains(name);
      const json::value* b = sdk.if_contains(name);
      if (a != nullptr && b != nullptr && *a == *b) continue;
      Difference d{"header " + name, Repr(a), Repr(b)};
      if (!Allowed(K::kHeader, d, false, name)) bad.push_back(std::move(d));
    }
  }

  bool Ignored(const std::string& name) {
    for (size_t i = 0; i < kAllowances.size(); ++i) {
      const Allowance& a = kAllowances[i];
      if (a.kind == K::kIgnoreHeader && AppliesTo(a, protocol_) && Matches(a.path, name, false)) {
        used_.insert(i);
        return true;
      }
    }
    return false;
  }

  bool Allowed(K kind, const Difference& d, bool pointer, const std::string& name = "") {
    for (size_t i = 0; i < kAllowances.size(); ++i) {
      const Allowance& a = kAllowances[i];
      if (a.kind != kind || !AppliesTo(a, protocol_)) continue;
      if (!Matches(a.path, pointer ? d.path : name, pointer)) continue;
      if (a.baton != "*" && a.baton != d.baton) continue;
      if (a.sdk != "*" && a.sdk != d.sdk) continue;
      used_.insert(i);
      return true;
    }
    return false;
  }

  // Applies the kRename allowances to the SDK's body (top-level fields).
  void Rename(json::value& body) {
    if (!body.is_object()) return;
    json::object& o = body.as_object();
    for (size_t i = 0; i < kAllowances.size(); ++i) {
      const Allowance& a = kAllowances[i];
      if (a.kind != K::kRename || !AppliesTo(a, protocol_)) continue;
      std::string from(a.sdk);
      if (!o.contains(from) || o.contains(a.baton)) continue;
      o[a.baton] = o[from];
      o.erase(from);
      used_.insert(i);
    }
  }

  std::string protocol_;
  std::set<size_t> used_;
};

std::string Describe(const std::vector<Difference>& diffs) {
  std::string out;
  for (const auto& d : diffs) {
    auto cut = [](const std::string& s) { return s.size() > 300 ? s.substr(0, 300) + "..." : s; };
    out += "\n  " + d.path + "\n    baton: " + cut(d.baton) + "\n    sdk:   " + cut(d.sdk);
  }
  return out;
}

// ---- the comparison itself can fail -------------------------------------------------------------

json::value Captured(std::string_view body, std::string_view headers = R"({})") {
  json::object o;
  o["method"] = "POST";
  o["target"] = "/v1/chat/completions";
  o["key_fp"] = "12345678";
  o["headers"] = ParseJson(headers).value();
  o["body"] = ParseJson(body).value();
  return o;
}

TEST(SdkCrossCheckCompareTest, FindsEveryDifferenceNotAllowed) {
  RequestComparer cmp("openai");
  auto diffs = cmp.Compare(Captured(R"({"model":"a","temperature":0.5,"n":[1,2]})"),
                           Captured(R"({"model":"b","temperature":0.5,"n":[1],"x":null})"));
  ASSERT_EQ(diffs.size(), 3u) << Describe(diffs);
  EXPECT_EQ(diffs[0].path, "/model");
  EXPECT_EQ(diffs[1].path, "/n/1");
  EXPECT_EQ(diffs[1].sdk, kAbsent);
  EXPECT_EQ(diffs[2].path, "/x");
}

TEST(SdkCrossCheckCompareTest, NumbersCompareByValueAndKeyOrderDoesNotMatter) {
  RequestComparer cmp("openai");
  EXPECT_TRUE(cmp.Compare(Captured(R"({"a":1.0,"b":{"c":2,"d":3}})"),
                          Captured(R"({"b":{"d":3,"c":2},"a":1})"))
                  .empty());
}

TEST(SdkCrossCheckCompareTest, AllowancesApplyOnlyWhereAndAsDeclared) {
  RequestComparer cmp("openai");
  // Allowed: the rename with equal values, and the helper's null fields.
  EXPECT_TRUE(cmp.Compare(Captured(R"({"max_tokens":5,"messages":[{"role":"assistant"}]})"),
                          Captured(R"({"max_completion_tokens":5,
                                       "messages":[{"role":"assistant","parsed":null}]})"))
                  .empty());
  // Not allowed: a renamed field with another value, a non-null `parsed`, a header that counts.
  auto diffs = cmp.Compare(
      Captured(R"({"max_tokens":5,"messages":[{}]})", R"({"content-type":"application/json"})"),
      Captured(R"({"max_completion_tokens":6,"messages":[{"parsed":{}}]})",
               R"({"content-type":"text/plain","user-agent":"x","x-stainless-os":"y"})"));
  ASSERT_EQ(diffs.size(), 3u) << Describe(diffs);
  EXPECT_EQ(diffs[0].path, "header content-type");
  EXPECT_EQ(diffs[1].path, "/max_tokens");
  EXPECT_EQ(diffs[2].path, "/messages/0/parsed");
  // An allowance of another protocol does not apply.
  RequestComparer gemini("gemini");
  EXPECT_EQ(
      gemini.Compare(Captured(R"({"max_tokens":5})"), Captured(R"({"max_completion_tokens":5})"))
          .size(),
      2u);
}

// ---- running both sides -------------------------------------------------------------------------

fs::path Peers() { return fs::path(BATON_SOURCE_DIR) / "tests/peers"; }

std::string ReadFile(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

json::value ReadJson(const fs::path& p) {
  auto v = ParseJson(ReadFile(p));
  EXPECT_TRUE(v.ok()) << p << ": " << (v.ok() ? "" : v.error().message());
  return v.ok() ? std::move(v).value() : json::value();
}

asio::awaitable<void> CallInto(ChatModel* model, ChatRequest request,
                               std::optional<Result<ChatResponse>>* out) {
  out->emplace(co_await model->Complete(std::move(request)));
}

Result<ChatResponse> Call(ChatModel* model, ChatRequest request) {
  asio::io_context io;
  std::optional<Result<ChatResponse>> out;
  asio::co_spawn(io, CallInto(model, std::move(request), &out), asio::detached);
  io.run();
  if (!out) return Status(Code::kInternal, "the call did not finish");
  return std::move(*out);
}

// What the stream sink saw (called on the HTTP client's thread).
struct Deltas {
  std::mutex mu;
  std::string text;
  int count = 0;
};

class SdkCrossCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(std::system("command -v node >/dev/null 2>&1"), 0) << "node is not on PATH";
    const json::value pkg = ReadJson(Peers() / "package.json");
    for (const char* sdk : {"openai", "@anthropic-ai/sdk", "@google/genai"}) {
      ASSERT_TRUE(pkg.at("dependencies").as_object().contains(sdk)) << sdk;
      ASSERT_TRUE(fs::exists(Peers() / "node_modules" / sdk / "package.json"))
          << "test peers missing: run scripts/install-deps (npm ci in tests/peers)";
    }
    cases_ = ReadJson(Peers() / "sdk/cases.json");
    // One server per side, so that neither side's requests change what the other is told.
    for (auto* server : {&sdk_server_, &baton_server_}) {
      auto started = simserver::SimServer::Start({});
      ASSERT_TRUE(started.ok()) << started.error().ToString();
      *server = std::move(started).value();
    }
    RegisterBuiltinProviders(registry_);
  }

  // Runs the SDK checks for `protocol` against the SDK's server; returns the report.
  json::value RunSdks(const std::string& protocol) {
    const fs::path dir = fs::path(::testing::TempDir()) /
                         ("baton_sdk_crosscheck_" + protocol + "_" + std::to_string(getpid()));
    fs::create_directories(dir);
    const fs::path out = dir / "report.json", err = dir / "stderr.txt";
    // A bound on the run: a stalled request would otherwise wait for ctest's timeout.
    std::string cmd = "timeout 120 node '" + (Peers() / "sdk/run.mjs").string() + "' '" +
                      sdk_server_->url() + "' " + protocol + " > '" + out.string() + "' 2> '" +
                      err.string() + "'";
    int rc = std::system(cmd.c_str());
    json::value report = ReadJson(out);
    EXPECT_TRUE(report.is_object()) << "node wrote no report: " << ReadFile(err);
    if (!report.is_object()) return report;
    int failed = 0;
    for (const auto& c : report.at("checks").as_array()) {
      if (c.at("ok").as_bool()) continue;
      ++failed;
      ADD_FAILURE() << protocol << " SDK check failed: " << c.at("name").as_string() << ": "
                    << c.at("detail").as_string();
    }
    EXPECT_EQ(rc, 0) << "node failed: " << ReadFile(err);
    EXPECT_EQ(failed, 0);
    EXPECT_GE(report.at("checks").as_array().size(), 30u);
    // The SDK that ran is the pinned one (node_modules matches package.json).
    const char* pkg = protocol == "openai"      ? "openai"
                      : protocol == "anthropic" ? "@anthropic-ai/sdk"
                                                : "@google/genai";
    EXPECT_EQ(report.at("versions").at(protocol),
              ReadJson(Peers() / "package.json").at("dependencies").at(pkg));
    fs::remove_all(dir);
    return report;
  }

  std::string BaseUrl(const std::string& protocol) const {
    return baton_server_->url() + (protocol == "openai" ? "/v1" : "");
  }

  std::unique_ptr<ChatModel> Model(const std::string& protocol, const json::object& c) {
    const std::string key(cases_.at("keys").at(protocol).as_string());
    setenv("BATON_SDK_CROSSCHECK_KEY", key.c_str(), 1);
    core::ModelConfig config;
    config.name = "crosscheck";
    config.provider = protocol;
    config.model = std::string(c.at("model").as_string());
    config.options["base_url"] = BaseUrl(protocol);
    config.options["api_key_env"] = "BATON_SDK_CROSSCHECK_KEY";
    if (const json::value* thinking = c.if_contains("thinking")) {
      config.options["params"] = json::object{{"thinking", *thinking}};
    }
    auto model = registry_.Create(config);
    EXPECT_TRUE(model.ok()) << model.error().ToString();
    return model.ok() ? std::move(model).value() : nullptr;
  }

  ChatRequest Request(const json::object& c) const {
    ChatRequest r;
    r.model = std::string(c.at("model").as_string());
    if (const json::value* s = c.if_contains("system")) {
      r.messages.push_back({.role = "system", .content = std::string(s->as_string())});
    }
    if (const json::value* h = c.if_contains("history")) {
      for (const auto& m : h->as_array()) {
        r.messages.push_back({.role = std::string(m.at("role").as_string()),
                              .content = std::string(m.at("content").as_string())});
      }
    }
    r.messages.push_back({.role = "user", .content = std::string(c.at("user").as_string())});
    if (const json::value* tools = c.if_contains("tools")) {
      for (const auto& name : tools->as_array()) {
        const json::value& t = cases_.at("tools").at(name.as_string());
        r.tools.push_back({std::string(name.as_string()),
                           std::string(t.at("description").as_string()), t.at("parameters")});
      }
    }
    if (const json::value* v = c.if_contains("tool_choice")) {
      r.tool_choice = std::string(v->as_string());
    }
    if (const json::value* v = c.if_contains("output_schema")) r.output_schema = *v;
    if (const json::value* v = c.if_contains("temperature")) r.temperature = v->to_number<double>();
    if (const json::value* v = c.if_contains("max_tokens")) r.max_tokens = v->to_number<int64_t>();
    return r;
  }

  // One call through baton; `stream` turns on deltas. Returns the response and what was sent.
  Result<ChatResponse> Turn(ChatModel* model, ChatRequest request, bool stream, json::array* sent,
                            const std::string& what) {
    int64_t since = baton_server_->captures().ToJson().at("last_seq").as_int64();
    auto deltas = std::make_shared<Deltas>();
    if (stream) {
      request.stream = [deltas](const StreamDelta& d) {
        std::lock_guard lock(deltas->mu);
        ++deltas->count;
        if (d.kind == StreamDelta::Kind::kText) deltas->text += d.text;
      };
    }
    auto response = Call(model, std::move(request));
    json::value captured = baton_server_->captures().ToJson(since);
    for (auto& r : captured.at("requests").as_array()) sent->push_back(std::move(r));
    if (response.ok() && stream) {
      std::lock_guard lock(deltas->mu);
      EXPECT_GT(deltas->count, 0) << what;
      if (!response->structured) {
        EXPECT_EQ(deltas->text, response->text) << what;
      }
    }
    return response;
  }

  // Makes each logical call of `protocol` through baton and compares the requests with the
  // ones the SDK sent (report.captures).
  void CompareWithBaton(const std::string& protocol, const json::value& report) {
    RequestComparer comparer(protocol);
    const json::object& sdk_captures = report.at("captures").at(protocol).as_object();
    int compared = 0;
    for (const auto& cv : cases_.at("cases").as_array()) {
      const json::object& c = cv.as_object();
      if (const json::value* only = c.if_contains("protocols")) {
        bool listed = false;
        for (const auto& p : only->as_array()) listed = listed || p.as_string() == protocol;
        if (!listed) continue;
      }
      const std::string name(c.at("name").as_string());
      SCOPED_TRACE(protocol + " case " + name);
      auto model = Model(protocol, c);
      ASSERT_NE(model, nullptr);
      bool stream = c.contains("stream") && c.at("stream").as_bool();
      json::array sent;
      ChatRequest request = Request(c);
      auto first = Turn(model.get(), request, stream, &sent, name);
      ASSERT_TRUE(first.ok()) << first.error().ToString();
      if (c.contains("tool_result")) {
        ASSERT_FALSE(first->tool_calls.empty()) << first->text;
        Message assistant{.role = "assistant", .content = first->text};
        assistant.tool_calls = first->tool_calls;
        assistant.native = first->native;
        assistant.native_protocol = first->native_protocol;
        request.messages.push_back(std::move(assistant));
        for (const auto& call : first->tool_calls) {
          request.messages.push_back({.role = "tool",
                                      .content = std::string(c.at("tool_result").as_string()),
                                      .tool_call_id = call.id,
                                      .tool_name = call.name});
        }
        auto second = Turn(model.get(), request, stream, &sent, name + " turn 2");
        ASSERT_TRUE(second.ok()) << second.error().ToString();
        EXPECT_NE(second->text.find("(from " + first->tool_calls[0].name + ")"), std::string::npos)
            << second->text;
      }
      const json::value* theirs = sdk_captures.if_contains(name);
      ASSERT_NE(theirs, nullptr) << "the SDK run has no requests for this case";
      ASSERT_EQ(sent.size(), theirs->as_array().size()) << "turns";
      for (size_t i = 0; i < sent.size(); ++i) {
        auto diffs = comparer.Compare(sent[i], theirs->as_array()[i]);
        EXPECT_TRUE(diffs.empty()) << "turn " << i + 1 << " differs:" << Describe(diffs);
        ++compared;
      }
    }
    EXPECT_GE(compared, 10);
    auto unused = comparer.Unused();
    EXPECT_TRUE(unused.empty()) << "allowances no call needed (remove them): "
                                << ToJson(json::value_from(unused));
  }

  void Check(const std::string& protocol) {
    json::value report = RunSdks(protocol);
    ASSERT_TRUE(report.is_object());
    CompareWithBaton(protocol, report);
  }

  json::value cases_;
  std::unique_ptr<simserver::SimServer> sdk_server_;
  std::unique_ptr<simserver::SimServer> baton_server_;
  ModelRegistry registry_;
};

TEST_F(SdkCrossCheckTest, OpenAi) { Check("openai"); }
TEST_F(SdkCrossCheckTest, Anthropic) { Check("anthropic"); }
TEST_F(SdkCrossCheckTest, Gemini) { Check("gemini"); }

}  // namespace
}  // namespace baton::providers
