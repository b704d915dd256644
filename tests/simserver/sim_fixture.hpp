#pragma once

// A SimServer on 127.0.0.1:0 per test, with a FakeClock for the limiter and fault windows, and
// request helpers for each protocol.

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "simserver/sim_server.hpp"
#include "test_client.hpp"

namespace baton::simserver::testing {

inline json::value J(std::string_view text) { return ParseOrFail(text); }

class SimServerTest : public ::testing::Test {
 protected:
  void StartServer(SimServerOptions options = {}) {
    options.clock = &clock_;
    auto s = SimServer::Start(std::move(options));
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    server_ = std::move(s).value();
  }
  // With the sim options given as JSON (a workflow's `sim:` block).
  void StartWithSim(std::string_view sim_json, SimServerOptions options = {}) {
    auto sim = providers::sim::ParseSimOptions(J(sim_json));
    ASSERT_TRUE(sim.ok()) << sim.error().ToString();
    options.sim = std::move(sim).value();
    StartServer(std::move(options));
  }
  uint16_t port() const { return server_->port(); }

  Response OpenAi(const json::value& body, std::vector<Header> headers = {}) {
    headers.emplace_back("Authorization", "Bearer sk-test-key");
    return PostJson(port(), "/v1/chat/completions", body, std::move(headers));
  }
  Response Anthropic(const json::value& body, std::vector<Header> headers = {}) {
    headers.emplace_back("x-api-key", "sk-ant-test");
    headers.emplace_back("anthropic-version", "2023-06-01");
    return PostJson(port(), "/v1/messages", body, std::move(headers));
  }
  Response Gemini(std::string_view model, std::string_view method, const json::value& body,
                  std::string query = "", std::vector<Header> headers = {}) {
    headers.emplace_back("x-goog-api-key", "gm-test");
    std::string target = "/v1beta/models/" + std::string(model) + ":" + std::string(method);
    if (!query.empty()) target += "?" + query;
    return PostJson(port(), target, body, std::move(headers));
  }
  json::value Stats() { return Get(port(), "/_sim/stats").Json(); }

  FakeClock clock_;
  std::unique_ptr<SimServer> server_;
};

// Tools used across the protocol tests.
inline json::value WeatherSchema() {
  return J(R"({"type":"object","properties":{"city":{"type":"string"},
              "unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["city"]})");
}

}  // namespace baton::simserver::testing
