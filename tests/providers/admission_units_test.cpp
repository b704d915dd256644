// Pure admission classes driven by explicit times (FakeClock where a Clock is needed).

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "providers/admission/circuit_breaker.hpp"
#include "providers/admission/rate_limiter.hpp"
#include "providers/admission/response_cache.hpp"
#include "providers/admission/retry_budget.hpp"
#include "providers/admission/sliding_window.hpp"
#include "providers/admission/token_bucket.hpp"

namespace baton::providers::admission {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;

// ---- SlidingWindow ----------------------------------------------------------------------------

TEST(SlidingWindowTest, SumsOnlyTheWindow) {
  SlidingWindow w(Millis(10'000), 10);
  w.Add(kT0, 1, 0);
  w.Add(kT0 + 3'000, 2, 1);
  EXPECT_EQ(w.Sum(kT0 + 3'000).a, 3);
  EXPECT_EQ(w.Sum(kT0 + 3'000).b, 1);
  // 10 s after the first slot it has left the window; the second is still in.
  WindowSums later = w.Sum(kT0 + 10'500);
  EXPECT_EQ(later.a, 2);
  EXPECT_EQ(later.b, 1);
  EXPECT_EQ(w.Sum(kT0 + 14'000).a, 0);
  // A slot reused after a full turn starts from zero.
  w.Add(kT0 + 20'000, 5, 5);
  EXPECT_EQ(w.Sum(kT0 + 20'000).a, 5);
}

// ---- TokenBucket ------------------------------------------------------------------------------

TEST(TokenBucketTest, UnlimitedUntilConfigured) {
  TokenBucket b;
  EXPECT_FALSE(b.limited());
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(b.Reserve(1000, kT0).wait_ms, 0);
}

TEST(TokenBucketTest, ReservationsQueueAndRefill) {
  TokenBucket b;
  b.Configure(60, kT0);  // 1 per second, burst 60
  EXPECT_DOUBLE_EQ(b.Level(kT0), 60);
  for (int i = 0; i < 60; ++i) EXPECT_EQ(b.Reserve(1, kT0).wait_ms, 0) << i;
  // The 61st waits one refill interval, the 62nd two: reservations queue.
  EXPECT_EQ(b.Reserve(1, kT0).wait_ms, 1000);
  EXPECT_EQ(b.Reserve(1, kT0).wait_ms, 2000);
  EXPECT_DOUBLE_EQ(b.Level(kT0), -2);
  // After 2 s the queue is covered; after 2 more the bucket has 2 tokens.
  EXPECT_NEAR(b.Level(kT0 + 2'000), 0, 1e-9);
  EXPECT_NEAR(b.Level(kT0 + 4'000), 2, 1e-9);
  // Refill never overflows the capacity.
  EXPECT_NEAR(b.Level(kT0 + 3'600'000), 60, 1e-9);
}

TEST(TokenBucketTest, OversizedRequestWaitsForAFullBucketNotForever) {
  TokenBucket b;
  b.Configure(600, kT0);                          // 10 per second
  EXPECT_EQ(b.Reserve(100'000, kT0).wait_ms, 0);  // clamped to 600: takes everything
  EXPECT_EQ(b.Reserve(600, kT0).wait_ms, 60'000);
}

TEST(TokenBucketTest, GiveReturnsAndTakesTokens) {
  TokenBucket b;
  b.Configure(100, kT0);
  b.Reserve(50, kT0);
  b.Give(30, kT0);
  EXPECT_DOUBLE_EQ(b.Level(kT0), 80);
  b.Give(-100, kT0);  // a call used more than it reserved
  EXPECT_DOUBLE_EQ(b.Level(kT0), -20);
  b.Give(1'000, kT0);
  EXPECT_DOUBLE_EQ(b.Level(kT0), 100);
}

TEST(TokenBucketTest, ConfiguredLimitsTakeTheLowerOne) {
  TokenBucket b;
  b.Configure(500, kT0);
  b.Configure(100, kT0);
  EXPECT_DOUBLE_EQ(b.capacity(), 100);
  b.Configure(1'000, kT0);
  EXPECT_DOUBLE_EQ(b.capacity(), 100);
}

TEST(TokenBucketTest, HeadersLowerTheLevelButNeverRaiseIt) {
  TokenBucket b;
  b.Configure(100, kT0);
  b.Reserve(10, kT0);
  b.Observe(std::nullopt, 5, kT0);  // the server says only 5 are left
  EXPECT_DOUBLE_EQ(b.Level(kT0), 5);
  b.Observe(std::nullopt, 80, kT0);  // more than we think: ignored
  EXPECT_DOUBLE_EQ(b.Level(kT0), 5);
  b.Observe(std::nullopt, 0, kT0);
  EXPECT_EQ(b.Reserve(1, kT0).wait_ms, 600);  // 100/min: one token per 600 ms
}

TEST(TokenBucketTest, LearnsItsCapacityFromHeadersWhenNotConfigured) {
  TokenBucket b;
  b.Observe(std::nullopt, 3, kT0);  // no limit known: nothing to lower
  EXPECT_FALSE(b.limited());
  b.Observe(120, 3, kT0);
  EXPECT_TRUE(b.limited());
  EXPECT_TRUE(b.learned());
  EXPECT_DOUBLE_EQ(b.capacity(), 120);
  EXPECT_DOUBLE_EQ(b.Level(kT0), 3);
  // A configured limit replaces a learned one.
  b.Configure(1'000, kT0);
  EXPECT_FALSE(b.learned());
  EXPECT_DOUBLE_EQ(b.capacity(), 1'000);
  // ...and a header's limit no longer changes it.
  b.Observe(50, std::nullopt, kT0);
  EXPECT_DOUBLE_EQ(b.capacity(), 1'000);
}

// ---- RateLimiter ------------------------------------------------------------------------------

TEST(TokenBucketTest, TicketsQueueInOrderAndReturnedTokensShortenTheWait) {
  TokenBucket b;
  b.Configure(60, kT0);  // 1 per second
  b.Reserve(60, kT0);
  TokenBucket::Reservation first = b.Reserve(2, kT0);
  TokenBucket::Reservation second = b.Reserve(3, kT0);
  EXPECT_EQ(first.wait_ms, 2'000);
  EXPECT_EQ(second.wait_ms, 5'000);
  EXPECT_EQ(b.WaitFor(first.ticket, kT0 + 1'000), 1'000);
  EXPECT_EQ(b.WaitFor(second.ticket, kT0 + 1'000), 4'000);
  // A later reservation does not delay earlier ones.
  b.Reserve(10, kT0 + 1'000);
  EXPECT_EQ(b.WaitFor(second.ticket, kT0 + 1'000), 4'000);
  // A call that used 4 fewer tokens than it reserved pays for the queue ahead.
  b.Give(4, kT0 + 1'000);
  EXPECT_EQ(b.WaitFor(first.ticket, kT0 + 1'000), 0);
  EXPECT_EQ(b.WaitFor(second.ticket, kT0 + 1'000), 0);
  // ...the later one still waits for its own turn.
  EXPECT_EQ(b.WaitFor(b.Reserve(1, kT0 + 1'000).ticket, kT0 + 1'000), 11'000);
}

TEST(RateLimiterTest, ReadyWhenTheSlowerBucketIs) {
  RateLimiter l;
  l.Configure({.rpm = 600, .tpm = 6'000}, kT0);           // 10 req/s, 100 tok/s
  EXPECT_EQ(l.ReadyAt(l.Reserve(6'000, kT0), kT0), kT0);  // all tokens at once
  RateLimiter::Ticket t = l.Reserve(100, kT0);
  EXPECT_EQ(l.ReadyAt(t, kT0), kT0 + 1'000);  // tokens are the bottleneck
  l.Cancel(100, kT0);                         // never sent: given back
  EXPECT_EQ(l.ReadyAt(l.Reserve(50, kT0), kT0), kT0 + 500);
  RateLimiter unlimited;
  EXPECT_EQ(unlimited.ReadyAt(unlimited.Reserve(1'000'000, kT0), kT0), kT0);
}

TEST(RateLimiterTest, SettleCorrectsTheTokenEstimate) {
  RateLimiter l;
  l.Configure({.tpm = 600}, kT0);  // 10 tok/s
  EXPECT_EQ(l.ReadyAt(l.Reserve(100, kT0), kT0), kT0);
  l.Settle(100, 400, kT0);  // used 300 more than reserved
  EXPECT_DOUBLE_EQ(l.tokens().Level(kT0), 200);
  l.Settle(200, 50, kT0);
  EXPECT_DOUBLE_EQ(l.tokens().Level(kT0), 350);
}

TEST(RateLimiterTest, RateLimitedWithRetryAfterHoldsAndHoldsOnlyExtend) {
  RateLimiter l;
  l.OnRateLimited(2'000, kT0);
  EXPECT_EQ(l.hold_until(), kT0 + 2'000);
  l.OnRateLimited(500, kT0 + 100);  // an earlier end does not shorten the hold
  EXPECT_EQ(l.hold_until(), kT0 + 2'000);
  l.HoldUntil(kT0 + 5'000);
  EXPECT_EQ(l.hold_until(), kT0 + 5'000);
}

TEST(RateLimiterTest, RateLimitedWithoutRetryAfterDrainsTheRequestBucket) {
  RateLimiter l;
  l.Configure({.rpm = 60}, kT0);
  l.OnRateLimited(std::nullopt, kT0);
  EXPECT_EQ(l.hold_until(), 0);
  EXPECT_EQ(l.ReadyAt(l.Reserve(1, kT0), kT0), kT0 + 1'000);
}

TEST(RateLimiterTest, ObserveFeedsBothBucketsAndHoldsWhenNothingElseIsKnown) {
  RateLimiter l;
  RateLimitInfo info;
  info.limit_requests = 60;
  info.remaining_requests = 0;
  info.limit_tokens = 60'000;
  info.remaining_tokens = 30'000;
  l.Observe(info, kT0);
  EXPECT_DOUBLE_EQ(l.requests().capacity(), 60);
  EXPECT_DOUBLE_EQ(l.tokens().Level(kT0), 30'000);
  EXPECT_EQ(l.ReadyAt(l.Reserve(10, kT0), kT0), kT0 + 1'000);
  EXPECT_EQ(l.hold_until(), 0);

  RateLimiter unknown;
  RateLimitInfo only_remaining;
  only_remaining.remaining_tokens = 0;
  only_remaining.reset_tokens_ms = 7'000;
  unknown.Observe(only_remaining, kT0);
  EXPECT_EQ(unknown.hold_until(), kT0 + 7'000);
}

// ---- CircuitBreaker ---------------------------------------------------------------------------

BreakerConfig Breaker(int failures, int probes = 1) {
  BreakerConfig c;
  c.failures = failures;
  c.failure_rate = 0;
  c.open_for = Millis(1'000);
  c.half_open_probes = probes;
  return c;
}

TEST(CircuitBreakerTest, OpensAfterConsecutiveFailuresOnly) {
  CircuitBreaker b(Breaker(3));
  for (int round = 0; round < 3; ++round) {  // success in between resets the count
    ASSERT_TRUE(b.Acquire(kT0).allowed);
    b.Record(CallOutcome::kFailure, false, kT0);
    b.Record(CallOutcome::kFailure, false, kT0);
    b.Record(CallOutcome::kSuccess, false, kT0);
  }
  EXPECT_EQ(b.State(kT0), BreakerState::kClosed);
  b.Record(CallOutcome::kIgnored, false, kT0);  // no verdict: no change
  for (int i = 0; i < 3; ++i) b.Record(CallOutcome::kFailure, false, kT0);
  EXPECT_EQ(b.State(kT0), BreakerState::kOpen);
  EXPECT_EQ(b.times_opened(), 1);
  BreakerPermit p = b.Acquire(kT0 + 10);
  EXPECT_FALSE(p.allowed);
  EXPECT_EQ(p.retry_at_ms, kT0 + 1'000);
}

TEST(CircuitBreakerTest, OpensOnFailureRateOverTheWindow) {
  BreakerConfig c = Breaker(100);
  c.failure_rate = 0.5;
  c.min_calls = 10;
  c.window = Millis(10'000);
  CircuitBreaker b(c);
  // Alternating outcomes: never 100 in a row, but half of the calls fail.
  for (int i = 0; i < 9; ++i) {
    b.Record(i % 2 == 0 ? CallOutcome::kFailure : CallOutcome::kSuccess, false, kT0);
  }
  EXPECT_EQ(b.State(kT0), BreakerState::kClosed) << "below min_calls";
  b.Record(CallOutcome::kSuccess, false, kT0);  // 10 calls, 5 failures
  EXPECT_EQ(b.State(kT0), BreakerState::kClosed) << "the rate is checked on failures";
  b.Record(CallOutcome::kFailure, false, kT0);
  EXPECT_EQ(b.State(kT0), BreakerState::kOpen);
}

TEST(CircuitBreakerTest, OldFailuresLeaveTheWindow) {
  BreakerConfig c = Breaker(100);
  c.failure_rate = 0.5;
  c.min_calls = 4;
  c.window = Millis(10'000);
  CircuitBreaker b(c);
  for (int i = 0; i < 3; ++i) b.Record(CallOutcome::kFailure, false, kT0);
  for (int i = 0; i < 3; ++i) b.Record(CallOutcome::kSuccess, false, kT0 + 20'000);
  b.Record(CallOutcome::kFailure, false, kT0 + 20'000);  // 1 of 4 in the window
  EXPECT_EQ(b.State(kT0 + 20'000), BreakerState::kClosed);
}

TEST(CircuitBreakerTest, HalfOpenProbesCloseItAndOthersWaitForTheirSlot) {
  CircuitBreaker b(Breaker(1, 2));
  b.Record(CallOutcome::kFailure, false, kT0);
  ASSERT_EQ(b.State(kT0), BreakerState::kOpen);
  int64_t t = kT0 + 1'000;
  EXPECT_EQ(b.State(t), BreakerState::kHalfOpen);
  BreakerPermit p1 = b.Acquire(t);
  BreakerPermit p2 = b.Acquire(t);
  BreakerPermit p3 = b.Acquire(t);
  EXPECT_TRUE(p1.allowed && p1.probe);
  EXPECT_TRUE(p2.allowed && p2.probe);
  EXPECT_FALSE(p3.allowed);
  EXPECT_EQ(p3.retry_at_ms, 0) << "half-open: wait for a probe, not for a time";
  uint64_t gen = p3.generation;
  b.Record(CallOutcome::kSuccess, true, t);
  EXPECT_NE(b.generation(), gen);
  EXPECT_EQ(b.State(t), BreakerState::kHalfOpen) << "one of two probes succeeded";
  EXPECT_FALSE(b.Acquire(t).allowed) << "the succeeded probe's slot is used up";
  b.Record(CallOutcome::kSuccess, true, t);
  EXPECT_EQ(b.State(t), BreakerState::kClosed);
  EXPECT_TRUE(b.Acquire(t).allowed);
  EXPECT_EQ(b.consecutive_failures(), 0);
}

TEST(CircuitBreakerTest, AFailedProbeReopensAndACancelledOneFreesItsSlot) {
  CircuitBreaker b(Breaker(1));
  b.Record(CallOutcome::kFailure, false, kT0);
  int64_t t = kT0 + 1'000;
  BreakerPermit probe = b.Acquire(t);
  ASSERT_TRUE(probe.probe);
  EXPECT_FALSE(b.Acquire(t).allowed);
  b.Record(CallOutcome::kIgnored, true, t);  // cancelled: slot free again
  BreakerPermit again = b.Acquire(t);
  ASSERT_TRUE(again.allowed && again.probe);
  b.Record(CallOutcome::kFailure, true, t + 5);
  EXPECT_EQ(b.State(t + 5), BreakerState::kOpen);
  EXPECT_EQ(b.open_until(), t + 5 + 1'000);
  EXPECT_EQ(b.times_opened(), 2);
  // A late outcome of a call admitted while closed changes nothing now.
  b.Record(CallOutcome::kSuccess, false, t + 6);
  EXPECT_EQ(b.State(t + 6), BreakerState::kOpen);
}

TEST(CircuitBreakerTest, DisabledAlwaysAdmits) {
  BreakerConfig c = Breaker(1);
  c.enabled = false;
  CircuitBreaker b(c);
  for (int i = 0; i < 10; ++i) b.Record(CallOutcome::kFailure, false, kT0);
  EXPECT_TRUE(b.Acquire(kT0).allowed);
  EXPECT_EQ(b.State(kT0), BreakerState::kClosed);
}

// ---- RetryBudget ------------------------------------------------------------------------------

TEST(RetryBudgetTest, RetriesAreARatioOfFirstAttemptsPlusAFloor) {
  RetryBudget budget({.ratio = 0.2, .min_per_second = 0, .window = Millis(10'000)});
  EXPECT_FALSE(budget.CanRetry(kT0)) << "no traffic, no floor: no retries";
  for (int i = 0; i < 10; ++i) budget.RecordAttempt(false, kT0);
  EXPECT_TRUE(budget.CanRetry(kT0));  // 2 allowed
  budget.RecordAttempt(true, kT0);
  EXPECT_TRUE(budget.CanRetry(kT0));
  budget.RecordAttempt(true, kT0);
  EXPECT_FALSE(budget.CanRetry(kT0));
  RetryCounts c = budget.Counts(kT0);
  EXPECT_EQ(c.first_attempts, 10);
  EXPECT_EQ(c.retries, 2);
  EXPECT_DOUBLE_EQ(c.allowed, 2);
  // Everything leaves the window; a fresh first attempt buys 0.2 of a retry: not enough.
  budget.RecordAttempt(false, kT0 + 30'000);
  EXPECT_FALSE(budget.CanRetry(kT0 + 30'000));
  for (int i = 0; i < 4; ++i) budget.RecordAttempt(false, kT0 + 30'000);
  EXPECT_TRUE(budget.CanRetry(kT0 + 30'000));
}

TEST(RetryBudgetTest, FloorPerSecondAllowsRetriesAtLowTraffic) {
  RetryBudget budget({.ratio = 0.2, .min_per_second = 1, .window = Millis(10'000)});
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(budget.CanRetry(kT0)) << i;
    budget.RecordAttempt(true, kT0);
  }
  EXPECT_FALSE(budget.CanRetry(kT0));
  RetryBudget off({.enabled = false, .ratio = 0, .min_per_second = 0});
  EXPECT_TRUE(off.CanRetry(kT0));
}

// ---- Response cache ---------------------------------------------------------------------------

TEST(MemoryResponseCacheTest, GetPutAndTtl) {
  FakeClock clock;
  MemoryResponseCache cache(1 << 20, clock);
  EXPECT_FALSE(cache.Get("k"));
  cache.Put("k", "v1", Millis(1'000));
  EXPECT_EQ(cache.Get("k"), "v1");
  cache.Put("k", "v2", Millis(1'000));  // replaces
  EXPECT_EQ(cache.Get("k"), "v2");
  EXPECT_EQ(cache.entries(), 1u);
  clock.Advance(Millis(999));
  EXPECT_TRUE(cache.Get("k"));
  clock.Advance(Millis(1));
  EXPECT_FALSE(cache.Get("k"));
  EXPECT_EQ(cache.entries(), 0u);
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST(MemoryResponseCacheTest, EvictsLeastRecentlyUsedWithinTheByteBound) {
  FakeClock clock;
  const size_t entry = 1 + 100 + MemoryResponseCache::kEntryOverhead;
  MemoryResponseCache cache(3 * entry, clock);
  std::string value(100, 'x');
  cache.Put("a", value, Millis(60'000));
  cache.Put("b", value, Millis(60'000));
  cache.Put("c", value, Millis(60'000));
  EXPECT_EQ(cache.bytes(), 3 * entry);
  ASSERT_TRUE(cache.Get("a"));  // a is now the most recent; b the least
  cache.Put("d", value, Millis(60'000));
  EXPECT_TRUE(cache.Get("a"));
  EXPECT_FALSE(cache.Get("b"));
  EXPECT_TRUE(cache.Get("c"));
  EXPECT_TRUE(cache.Get("d"));
  EXPECT_LE(cache.bytes(), 3 * entry);
  // A value larger than the whole cache is not stored and evicts nothing.
  cache.Put("huge", std::string(10 * entry, 'y'), Millis(60'000));
  EXPECT_FALSE(cache.Get("huge"));
  EXPECT_EQ(cache.entries(), 3u);
}

ChatRequest Request() {
  ChatRequest r;
  r.model = "gpt-4o-mini";
  r.messages = {{"system", "Be terse."}, {"user", "What is 2+2?"}};
  r.temperature = 0.2;
  r.max_tokens = 100;
  r.run_id = "run-1";
  r.step_id = "ask";
  r.attempt = 1;
  return r;
}

TEST(ResponseCacheKeyTest, SameLogicalRequestSameKey) {
  std::string key = ResponseCacheKey(Request(), "openai", "");
  EXPECT_EQ(key.size(), 64u);
  ChatRequest other = Request();
  other.run_id = "run-2";
  other.step_id = "other-step";
  other.agent = "someone";
  other.item = 3;
  other.attempt = 4;
  other.stream = [](const StreamDelta&) {};
  EXPECT_EQ(ResponseCacheKey(other, "openai", ""), key);
  // Object key order inside a schema does not matter (canonical JSON).
  ChatRequest s1 = Request(), s2 = Request();
  s1.output_schema = ParseJson(R"({"type":"object","required":["a"]})").value();
  s2.output_schema = ParseJson(R"({"required":["a"],"type":"object"})").value();
  EXPECT_EQ(ResponseCacheKey(s1, "openai", ""), ResponseCacheKey(s2, "openai", ""));
}

TEST(ResponseCacheKeyTest, EverythingSentChangesTheKey) {
  std::string key = ResponseCacheKey(Request(), "openai", "");
  auto differs = [&](ChatRequest r, std::string_view provider = "openai",
                     std::string_view endpoint = "") {
    return ResponseCacheKey(r, provider, endpoint) != key;
  };
  ChatRequest r = Request();
  r.temperature = 0.3;
  EXPECT_TRUE(differs(r));
  r = Request();
  r.temperature.reset();
  EXPECT_TRUE(differs(r));
  r = Request();
  r.max_tokens = 101;
  EXPECT_TRUE(differs(r));
  r = Request();
  r.model = "gpt-4o";
  EXPECT_TRUE(differs(r));
  r = Request();
  r.messages[1].content = "What is 2+3?";
  EXPECT_TRUE(differs(r));
  r = Request();
  r.tools.push_back({"calc", "adds", json::object{{"type", "object"}}});
  EXPECT_TRUE(differs(r));
  r = Request();
  r.tool_choice = "none";
  EXPECT_TRUE(differs(r));
  r = Request();
  r.output_schema = json::object{{"type", "string"}};
  EXPECT_TRUE(differs(r));
  EXPECT_TRUE(differs(Request(), "anthropic"));
  EXPECT_TRUE(differs(Request(), "openai", "http://localhost:8000/v1"));
}

TEST(CachedResponseTest, RoundTrips) {
  ChatResponse r;
  r.text = "4";
  r.structured = json::object{{"answer", 4}};
  r.reasoning = "adding";
  r.usage = {.input_tokens = 10,
             .output_tokens = 2,
             .cached_tokens = 1,
             .reasoning_tokens = 1,
             .cost_usd = 0.5};
  r.finish_reason = "tool_calls";
  r.tool_calls = {{"c1", "calc", R"({"a":2})"}};
  r.native = json::object{{"role", "assistant"}};
  r.native_protocol = "openai";
  r.provider = "openai";
  r.model = "gpt-4o-mini";
  r.request_id = "req-1";
  r.notes = {"not stored"};
  auto back = DecodeCachedResponse(EncodeCachedResponse(r));
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(back->text, "4");
  EXPECT_EQ(*back->structured, *r.structured);
  EXPECT_EQ(back->reasoning, "adding");
  EXPECT_EQ(back->usage.input_tokens, 10);
  EXPECT_EQ(back->usage.output_tokens, 2);
  EXPECT_EQ(back->usage.cached_tokens, 1);
  EXPECT_EQ(back->usage.reasoning_tokens, 1);
  EXPECT_DOUBLE_EQ(back->usage.cost_usd, 0.5);
  EXPECT_EQ(back->finish_reason, "tool_calls");
  ASSERT_EQ(back->tool_calls.size(), 1u);
  EXPECT_EQ(back->tool_calls[0].arguments, R"({"a":2})");
  EXPECT_EQ(*back->native, *r.native);
  EXPECT_EQ(back->native_protocol, "openai");
  EXPECT_EQ(back->model, "gpt-4o-mini");
  EXPECT_EQ(back->request_id, "req-1");
  EXPECT_TRUE(back->notes.empty());
  EXPECT_FALSE(DecodeCachedResponse("not json").ok());
}

}  // namespace
}  // namespace baton::providers::admission
