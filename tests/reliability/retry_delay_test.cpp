// Retry delays stay within the step's policy over hundreds of samples: full jitter in
// [0, min(max, initial × factor^(attempt-1))], never below a server's retry-after, and actually
// jittered. Real Engine + real sim-server answering 500s; the evidence is the journal's
// retry_scheduled events.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>

#include "harness.hpp"

namespace baton::reliability {
namespace {

constexpr int64_t kInitialMs = 40;
constexpr double kFactor = 2.0;
constexpr int64_t kMaxMs = 500;
constexpr int64_t kRetryAfterMs = 300;

// The policy's bound on the delay after failed attempt `attempt` (1-based).
double Bound(int attempt) {
  return std::min(static_cast<double>(kMaxMs),
                  static_cast<double>(kInitialMs) * std::pow(kFactor, attempt - 1));
}

TEST(RetryDelayTest, DelaysStayWithinThePolicyAndAreJittered) {
  auto server = StartSim();
  ASSERT_TRUE(server);
  // The first 180 requests fail with a plain 500, the next 80 with a 500 carrying
  // retry-after: 300 ms (retry-after-ms on the OpenAI wire); everything after succeeds.
  AddFaults(*server, {"500,count=180", "500,count=80,retry_after=300ms"});
  Host host;
  auto wf = host.Load(R"y(
baton: 1
name: retry-delays
inputs:
  items: { type: array }
models:
  m:
    provider: openai
    model: gpt-4o-mini
    base_url: SERVER/v1
    # Off (docs/admission.md allows `breaker: false`, but the loader rejects a boolean).
    breaker: { failures: 1000000, failure_rate: 0 }
    retry_budget: { ratio: 1000, min_per_second: 1000 }
steps:
  - id: ask
    for_each: ${{ inputs.items }}
    llm: "Item ${{ item }}: say hello."
    retry: { max_attempts: 10, backoff: { initial: 40ms, factor: 2, max: 500ms, jitter: full } }
)y",
                      server->url());
  ASSERT_TRUE(wf);
  json::array items;
  for (int i = 0; i < 100; ++i) items.emplace_back(i);
  std::string id = host.Start(wf, json::object{{"items", std::move(items)}});
  runtime::RunResult r = host.Wait(id);
  ASSERT_EQ(r.status, core::RunStatus::kSucceeded) << ToJson(r.summary());

  std::vector<core::Event> events = host.Events(id);
  std::vector<const core::Event*> retries = OfType(events, core::EventType::kRetryScheduled);
  ASSERT_EQ(retries.size(), 260u);  // one per injected failure

  std::set<int64_t> distinct;
  double ratio_sum = 0;
  int plain = 0;
  int hinted = 0;
  int above_bound = 0;  // hinted delays that only the retry-after explains
  for (const core::Event* e : retries) {
    int64_t delay = e->data.at("delay_ms").to_number<int64_t>();
    const auto& err = e->data.at("error").as_object();
    EXPECT_EQ(err.at("type").as_string(), "server_error");
    double bound = Bound(e->attempt);
    ASSERT_GE(e->attempt, 1);
    EXPECT_GE(delay, 0);
    const json::object* call = CallError(events, *e);
    ASSERT_NE(call, nullptr) << "no model_called for " << ToJson(e->data);
    if (const auto* h = call->if_contains("retry_after_ms"); h && h->to_number<int64_t>() > 0) {
      int64_t hint = h->to_number<int64_t>();
      EXPECT_EQ(hint, kRetryAfterMs) << ToJson(e->data);
      EXPECT_GE(delay, hint) << "the retry-after is a floor";
      EXPECT_LE(static_cast<double>(delay), std::max(bound, static_cast<double>(hint)));
      above_bound += static_cast<double>(delay) > bound ? 1 : 0;
      ++hinted;
    } else {
      EXPECT_LE(static_cast<double>(delay), bound)
          << "attempt " << e->attempt << ": " << ToJson(e->data);
      distinct.insert(delay);
      ratio_sum += static_cast<double>(delay) / bound;
      ++plain;
    }
  }
  EXPECT_EQ(plain, 180);
  EXPECT_EQ(hinted, 80);
  EXPECT_GT(above_bound, 0);
  // Full jitter: uniform in [0, bound], so delay/bound has mean 1/2 (standard deviation of the
  // mean over 180 samples ≈ 0.02); [0.3, 0.7] only fails when the jitter is broken.
  double mean = ratio_sum / plain;
  EXPECT_GT(mean, 0.3);
  EXPECT_LT(mean, 0.7);
  EXPECT_GE(distinct.size(), 30u) << "delays look degenerate";
  std::printf(
      "[ figures ] %zu retry delays: %d plain (mean delay/bound %.3f, %zu distinct), %d "
      "with retry-after\n",
      retries.size(), plain, mean, distinct.size(), hinted);
}

}  // namespace
}  // namespace baton::reliability
