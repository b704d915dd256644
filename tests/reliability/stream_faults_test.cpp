// Truncated and malformed replies on each wire protocol, streamed and whole: each call fails with
// a clear, typed error (network "...truncated...", server_error "malformed ..." / "not a JSON
// object") and nothing crashes. Real Engine + real sim-server.

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "harness.hpp"

namespace baton::reliability {
namespace {

struct Case {
  std::string protocol;  // openai | anthropic | gemini
  std::string fault;     // truncate | malformed
  bool stream = false;
  std::string id() const { return protocol + "_" + fault + (stream ? "_stream" : "_whole"); }
  std::string model_id() const { return "m-" + id(); }
};

std::vector<Case> Cases() {
  std::vector<Case> out;
  for (const char* p : {"openai", "anthropic", "gemini"}) {
    for (const char* f : {"truncate", "malformed"}) {
      for (bool s : {false, true}) out.push_back({p, f, s});
    }
  }
  return out;
}

TEST(StreamFaultsTest, TruncatedAndMalformedRepliesFailWithTypedErrors) {
  auto server = StartSim();
  ASSERT_TRUE(server);
  std::vector<std::string> faults;
  std::string models;
  std::string steps;
  for (const Case& c : Cases()) {
    faults.push_back(c.fault + ",model=" + c.model_id());
    std::string base = c.protocol == "openai" ? "SERVER/v1" : "SERVER";
    models += "  " + c.id() + ": { provider: " + c.protocol + ", model: " + c.model_id() +
              ", base_url: " + base + ", stream: " + (c.stream ? "true" : "false") + " }\n";
    steps += "  - id: " + c.id() + "\n    needs: []\n    llm: { model: " + c.id() +
             ", prompt: \"Tell me a long story about tides and the moon.\" }\n"
             "    retry: { max_attempts: 1 }\n"
             "    catch: [ { then: { output: \"${{ error }}\" } } ]\n";
  }
  AddFaults(*server, faults);
  Host host;
  auto wf = host.Load("baton: 1\nname: stream-faults\nmodels:\n" + models + "steps:\n" + steps,
                      server->url());
  ASSERT_TRUE(wf);
  std::string id = host.Start(wf);
  runtime::RunResult r = host.Wait(id);
  ASSERT_EQ(r.status, core::RunStatus::kSucceeded) << ToJson(r.summary());

  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.id());
    const json::value& err = StepOutput(r, c.id());
    ASSERT_TRUE(err.is_object()) << ToJson(err);
    std::string type(err.at("type").as_string());
    std::string message(err.at("message").as_string());
    if (c.fault == "truncate") {
      EXPECT_EQ(type, "network") << message;
      EXPECT_NE(message.find("truncated"), std::string::npos) << message;
    } else {
      EXPECT_EQ(type, "server_error") << message;
      if (c.stream) {
        EXPECT_NE(message.find("malformed stream event"), std::string::npos) << message;
      } else {
        EXPECT_NE(message.find("not a JSON object"), std::string::npos) << message;
      }
    }
    // The message says which model it was about.
    EXPECT_NE(message.find("'" + c.id() + "'"), std::string::npos) << message;
    std::printf("[ figures ] %-26s %s: %.140s\n", c.id().c_str(), type.c_str(), message.c_str());
  }

  // The server really applied each fault once, to a request streamed or not as configured.
  std::map<std::string, Request> by_model;
  for (const Request& q : Requests(*server)) by_model[q.model] = q;
  EXPECT_EQ(by_model.size(), Cases().size());
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.id());
    ASSERT_TRUE(by_model.count(c.model_id()));
    const Request& q = by_model[c.model_id()];
    EXPECT_EQ(q.outcome, c.fault);
    EXPECT_EQ(q.stream, c.stream);
  }
}

}  // namespace
}  // namespace baton::reliability
