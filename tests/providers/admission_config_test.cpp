#include "providers/admission/admission_config.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace baton::providers::admission {
namespace {

json::object Options(std::string_view text) { return ParseJson(text).value().as_object(); }

Status Error(std::string_view text) {
  auto r = ParseAdmissionConfig(Options(text), "smart");
  EXPECT_FALSE(r.ok()) << text;
  return r.ok() ? Status::Ok() : r.error();
}

TEST(AdmissionConfigTest, DefaultsWhenNoAdmissionKeyIsGiven) {
  auto r = ParseAdmissionConfig(Options(R"({"base_url":"http://x","temperature":0.2})"), "m");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_FALSE(r->configured);
  EXPECT_FALSE(r->rate_limit.rpm);
  EXPECT_FALSE(r->rate_limit.tpm);
  EXPECT_TRUE(r->breaker.enabled);
  EXPECT_EQ(r->breaker.failures, 5);
  EXPECT_EQ(r->breaker.open_for, Millis(30'000));
  EXPECT_EQ(r->breaker.half_open_probes, 1);
  EXPECT_TRUE(r->retry_budget.enabled);
  EXPECT_DOUBLE_EQ(r->retry_budget.ratio, 0.2);
  EXPECT_FALSE(r->cache.enabled);
  EXPECT_TRUE(r->fallback.empty());
  EXPECT_EQ(r->fallback_on, DefaultFallbackOn());
}

TEST(AdmissionConfigTest, ParsesEveryKey) {
  auto r = ParseAdmissionConfig(Options(R"({
      "rate_limit": {"rpm": 500, "tpm": 200000},
      "breaker": {"failures": 3, "failure_rate": 0.25, "min_calls": 8, "window": "1m",
                  "open_for": 10, "half_open_probes": 2},
      "retry_budget": {"ratio": 0.1, "min_per_second": 0, "window": "30s"},
      "cache": {"ttl": "2h"},
      "fallback": ["cheap", "local"],
      "fallback_on": ["overloaded", "context_length"]})"),
                                "smart");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_TRUE(r->configured);
  EXPECT_DOUBLE_EQ(*r->rate_limit.rpm, 500);
  EXPECT_DOUBLE_EQ(*r->rate_limit.tpm, 200000);
  EXPECT_EQ(r->breaker.failures, 3);
  EXPECT_DOUBLE_EQ(r->breaker.failure_rate, 0.25);
  EXPECT_EQ(r->breaker.min_calls, 8);
  EXPECT_EQ(r->breaker.window, Millis(60'000));
  EXPECT_EQ(r->breaker.open_for, Millis(10'000));  // a bare number is seconds
  EXPECT_EQ(r->breaker.half_open_probes, 2);
  EXPECT_DOUBLE_EQ(r->retry_budget.ratio, 0.1);
  EXPECT_DOUBLE_EQ(r->retry_budget.min_per_second, 0);
  EXPECT_EQ(r->retry_budget.window, Millis(30'000));
  EXPECT_TRUE(r->cache.enabled);
  EXPECT_EQ(r->cache.ttl, Millis(7'200'000));
  EXPECT_EQ(r->fallback, (std::vector<std::string>{"cheap", "local"}));
  EXPECT_EQ(r->fallback_on, (std::vector<std::string>{"overloaded", "context_length"}));
}

TEST(AdmissionConfigTest, FlagsAndShortForms) {
  auto r = ParseAdmissionConfig(
      Options(R"({"cache": true, "breaker": false, "retry_budget": false, "fallback": "cheap"})"));
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_TRUE(r->cache.enabled);
  EXPECT_EQ(r->cache.ttl, Millis(3'600'000));
  EXPECT_FALSE(r->breaker.enabled);
  EXPECT_FALSE(r->retry_budget.enabled);
  EXPECT_EQ(r->fallback, std::vector<std::string>{"cheap"});
  auto off = ParseAdmissionConfig(Options(R"({"cache": false})"));
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->cache.enabled);
}

TEST(AdmissionConfigTest, MessagesNameTheBadKey) {
  EXPECT_EQ(Error(R"({"breaker": {"failures": 0}})").message(),
            "models.smart.breaker.failures: expected a positive integer");
  EXPECT_EQ(Error(R"({"breaker": {"failures": 2.5}})").message(),
            "models.smart.breaker.failures: expected a positive integer");
  EXPECT_EQ(Error(R"({"breaker": {"failure_rate": 2}})").message(),
            "models.smart.breaker.failure_rate: expected a number between 0 and 1 (0: off)");
  EXPECT_EQ(Error(R"({"breaker": {"open_for": "soon"}})").message(),
            "models.smart.breaker.open_for: invalid duration 'soon': expected a number");
  EXPECT_EQ(Error(R"({"breaker": {"open_for": "0s"}})").message(),
            "models.smart.breaker.open_for: expected a positive duration");
  EXPECT_EQ(Error(R"({"breaker": {"failurs": 3}})").message(),
            "models.smart.breaker: unknown key 'failurs' (expected failures, failure_rate, "
            "min_calls, window, open_for, half_open_probes)");
  EXPECT_EQ(Error(R"({"breaker": 5})").message(),
            "models.smart.breaker: expected true, false or a mapping");
  EXPECT_EQ(Error(R"({"rate_limit": {"rpm": -1}})").message(),
            "models.smart.rate_limit.rpm: expected a positive number");
  EXPECT_EQ(Error(R"({"rate_limit": {"rps": 1}})").message(),
            "models.smart.rate_limit: unknown key 'rps' (expected rpm, tpm)");
  EXPECT_EQ(Error(R"({"rate_limit": 500})").message(),
            "models.smart.rate_limit: expected a mapping such as { rpm: 500 }");
  EXPECT_EQ(Error(R"({"retry_budget": {"ratio": "lots"}})").message(),
            "models.smart.retry_budget.ratio: expected a number greater than or equal to 0");
  EXPECT_EQ(Error(R"({"cache": {"ttl": "1y"}})").message(),
            "models.smart.cache.ttl: invalid duration '1y': unknown unit 'y' (use ms, s, m, h, d)");
  EXPECT_EQ(Error(R"({"fallback": ["smart"]})").message(),
            "models.smart.fallback: a model cannot fall back to itself");
  EXPECT_EQ(Error(R"({"fallback": ["a", "a"]})").message(),
            "models.smart.fallback: 'a' is listed twice");
  EXPECT_EQ(Error(R"({"fallback": [1]})").message(),
            "models.smart.fallback: expected a list of names");
  EXPECT_EQ(Error(R"({"fallback_on": ["rate_limit"]})").message(),
            "models.smart.fallback_on: unknown error type 'rate_limit' (expected one of "
            "rate_limited, overloaded, server_error, timeout, network, context_length, "
            "content_filter, invalid_request, auth, quota_exhausted)");
  EXPECT_EQ(Error(R"({"breaker": {"failures": 0}})").code(), Code::kInvalidArgument);
  // Without a model name the key path starts at the key.
  auto r = ParseAdmissionConfig(Options(R"({"cache": {"ttl": 0}})"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "cache.ttl: expected a positive duration");
}

TEST(AdmissionConfigTest, ErrorClasses) {
  EXPECT_TRUE(IsBreakerFailure("server_error"));
  EXPECT_TRUE(IsBreakerFailure("overloaded"));
  EXPECT_TRUE(IsBreakerFailure("timeout"));
  EXPECT_TRUE(IsBreakerFailure("network"));
  EXPECT_FALSE(IsBreakerFailure("rate_limited"));
  EXPECT_FALSE(IsBreakerFailure("invalid_request"));
  EXPECT_FALSE(IsBreakerFailure("auth"));
  EXPECT_FALSE(IsBreakerFailure("context_length"));
  EXPECT_TRUE(IsTransientFailure("rate_limited"));
  EXPECT_FALSE(IsTransientFailure("quota_exhausted"));
}

}  // namespace
}  // namespace baton::providers::admission
