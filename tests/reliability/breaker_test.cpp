// The circuit breaker under a 60 s outage of one model: it opens after the configured failures,
// lets exactly one probe through per open period, closes once a probe succeeds after the outage,
// and no step fails because calls were turned away. Real Engine + real sim-server; the evidence
// is sim-server's request records, the journal and the admission hub's snapshot.

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "harness.hpp"
#include "providers/admission/hub.hpp"

namespace baton::reliability {
namespace {

constexpr int64_t kOutageMs = 60'000;  // do not shorten: the product issue asks for 60 s
constexpr int64_t kOpenForMs = 5'000;
constexpr int kItems = 6;

TEST(BreakerTest, SixtySecondOutageOpensProbesAndCloses) {
  auto server = StartSim();
  ASSERT_TRUE(server);
  Host host;
  auto wf = host.Load(R"y(
baton: 1
name: outage
models:
  flaky:
    provider: openai
    model: gpt-4o-outage
    base_url: SERVER/v1
    breaker: { failures: 3, open_for: 5s, half_open_probes: 1 }
  steady:
    provider: openai
    model: gpt-4o-steady
    base_url: SERVER/v1
    breaker: { failures: 3, open_for: 5s, half_open_probes: 1 }
steps:
  - id: burst
    for_each: [0, 1, 2, 3, 4, 5]
    llm: { model: flaky, prompt: "Item ${{ item }}: say hello." }
    retry: { max_attempts: 40, backoff: { initial: 200ms, max: 2s } }
  - id: after
    llm: { model: flaky, prompt: "And once more after the outage." }
    retry: { max_attempts: 40, backoff: { initial: 200ms, max: 2s } }
  # Another model of the same provider and endpoint: its own breaker stays closed.
  - id: other
    needs: []
    for_each: [0, 1, 2, 3, 4]
    llm: { model: steady, prompt: "Item ${{ item }}: say hello." }
)y",
                      server->url());
  ASSERT_TRUE(wf);
  int64_t outage_start = SystemClock::Get().NowMillis();
  AddFaults(*server, {"outage:503,for=60s,model=gpt-4o-outage"});
  std::string id = host.Start(wf);
  runtime::RunResult r = host.Wait(id);
  ASSERT_EQ(r.status, core::RunStatus::kSucceeded) << ToJson(r.summary());
  int64_t outage_end = outage_start + kOutageMs;

  std::vector<Request> requests = Requests(*server);
  std::vector<Request> failed;  // the outage's 503s, in arrival order
  std::vector<Request> recovered;
  int steady = 0;
  for (const Request& q : requests) {
    if (q.model == "gpt-4o-steady") {
      EXPECT_EQ(q.status, 200);
      ++steady;
      continue;
    }
    ASSERT_EQ(q.model, "gpt-4o-outage");
    if (q.status == 503) {
      failed.push_back(q);
    } else {
      EXPECT_EQ(q.status, 200);
      recovered.push_back(q);
    }
  }
  EXPECT_EQ(steady, 5);
  EXPECT_EQ(recovered.size(), static_cast<size_t>(kItems + 1));

  // Few requests reach the server during the outage: the first wave (every item's first attempt
  // is in flight before the third failure opens the breaker), then at most one probe per open
  // period (half_open_probes: 1), i.e. at most outage/open_for + 1 of them.
  const size_t bound = kItems + (kOutageMs / kOpenForMs + 1) * 1;
  EXPECT_GE(failed.size(), static_cast<size_t>(kItems));
  EXPECT_LE(failed.size(), bound);
  // Probes only as configured: after the first wave, each request comes at least open_for after
  // the previous one (a failed probe reopens the breaker for open_for; 100 ms for rounding).
  for (size_t i = kItems; i < failed.size(); ++i) {
    EXPECT_GE(failed[i].time_ms - failed[i - 1].time_ms, kOpenForMs - 100)
        << "request " << failed[i].seq << " came too soon after " << failed[i - 1].seq;
  }
  // The breaker does probe throughout (a probe at least every 2 × open_for on this noisy machine).
  EXPECT_GE(failed.size(), static_cast<size_t>(kItems + kOutageMs / (2 * kOpenForMs) - 1));
  // It closes after recovery: the first success is after the outage, it is a single probe, and
  // the rest follow it.
  ASSERT_FALSE(recovered.empty());
  EXPECT_GE(recovered.front().time_ms, outage_end - 50);
  EXPECT_LT(recovered.front().time_ms - failed.back().time_ms, 3 * kOpenForMs);

  auto snapshot = host.registries().admission->Snapshot();
  bool found = false;
  for (const auto& m : snapshot.models) {
    if (m.key.model != "gpt-4o-outage") {
      EXPECT_EQ(m.gate.times_opened, 0) << m.key.model;
      continue;
    }
    found = true;
    EXPECT_EQ(m.gate.state, providers::admission::BreakerState::kClosed);
    // Opened once by the first wave, then again by every failed probe.
    EXPECT_EQ(m.gate.times_opened, static_cast<int64_t>(1 + failed.size() - kItems));
    EXPECT_GT(m.counters.breaker_rejections, 0);
    EXPECT_EQ(m.counters.budget_exhausted, 0);
  }
  EXPECT_TRUE(found);

  // No step failed, and a rejection is never an attempt: every failed attempt in the journal is
  // one of the 503s the server sent.
  std::vector<core::Event> events = host.Events(id);
  EXPECT_TRUE(OfType(events, core::EventType::kStepFailed).empty());
  size_t failed_calls = 0;
  for (const core::Event* e : OfType(events, core::EventType::kModelCalled)) {
    if (const auto* err = e->data.if_contains("error")) {
      EXPECT_EQ(err->at("type").as_string(), "overloaded") << ToJson(e->data);
      ++failed_calls;
    }
  }
  EXPECT_EQ(failed_calls, failed.size());
  std::printf(
      "[ figures ] 60 s outage: %zu requests reached the server during it (bound %zu), "
      "breaker opened %zu times, first success %lld ms after the outage\n",
      failed.size(), bound, 1 + failed.size() - kItems,
      static_cast<long long>(recovered.front().time_ms - outage_end));
}

}  // namespace
}  // namespace baton::reliability
