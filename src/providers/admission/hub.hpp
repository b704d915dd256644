#pragma once

// Process-wide admission state shared by every admitted model: one ModelGate (circuit breaker,
// retry budget, counters) per (provider, endpoint, model) and one KeyLimiter (RPM/TPM buckets,
// 429 hold) per (provider, endpoint, model, API-key fingerprint), plus the response cache. Many
// model instances and runs resolve to the same entries, so they share limits. Every member is
// thread-safe; each entry locks its own mutex around tiny critical sections and nobody waits
// while holding one.

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.hpp"
#include "providers/admission/admission_config.hpp"
#include "providers/admission/circuit_breaker.hpp"
#include "providers/admission/rate_limiter.hpp"
#include "providers/admission/response_cache.hpp"
#include "providers/admission/retry_budget.hpp"

namespace baton::providers::admission {

struct ModelKey {
  std::string provider;
  std::string endpoint;  // base URL; "" for the provider's default
  std::string model;     // provider's model id
  auto operator<=>(const ModelKey&) const = default;
};

struct LimitKey {
  ModelKey model;
  std::string key_fingerprint;  // KeyFingerprint(api key); never the key itself
  auto operator<=>(const LimitKey&) const = default;
};

// A short, stable, non-reversible name for an API key: the first 16 hex digits of its SHA-256;
// "" for an empty key.
std::string KeyFingerprint(std::string_view api_key);

// What admission did, per (provider, endpoint, model), since the process started.
struct AdmissionCounters {
  int64_t calls = 0;               // calls sent to the provider
  int64_t failures = 0;            // of those, failed
  int64_t rate_limit_waits = 0;    // calls that waited for a bucket or a 429 hold
  int64_t rate_limit_wait_ms = 0;  // total time those waits took
  int64_t holds = 0;               // 429s that held the key
  int64_t breaker_rejections = 0;  // calls an open breaker turned away (to a fallback or a wait)
  int64_t breaker_waits = 0;       // calls that waited for the breaker
  int64_t fallbacks = 0;           // calls moved from this model to a fallback
  int64_t cache_hits = 0;
  int64_t cache_misses = 0;
  int64_t budget_exhausted = 0;  // failures returned with no_retry: the retry budget was spent
};

enum class Counter {
  kCalls,
  kFailures,
  kRateLimitWaits,
  kRateLimitWaitMs,
  kHolds,
  kBreakerRejections,
  kBreakerWaits,
  kFallbacks,
  kCacheHits,
  kCacheMisses,
  kBudgetExhausted,
};

// The breaker, retry budget, counters and breaker waiters of one (provider, endpoint, model).
class ModelGate {
 public:
  ModelGate(ModelKey key, const BreakerConfig& breaker, const RetryBudgetConfig& budget);

  BreakerPermit Acquire(int64_t now_ms);
  // Records a permitted call's outcome; wakes the waiters when the breaker's generation moved.
  void Record(CallOutcome outcome, bool probe, int64_t now_ms);
  // Registers `wake`, called once (on the recording thread, outside the lock) when the breaker's
  // generation moves away from `generation`. Returns 0, without registering, when it has moved
  // already. `wake` must be cheap and thread-safe.
  uint64_t AddWaiter(uint64_t generation, std::function<void()> wake);
  // Unregisters a waiter that is no longer waiting (woken, timed out or cancelled).
  void RemoveWaiter(uint64_t id);

  void RecordAttempt(bool retry, int64_t now_ms);
  bool CanRetry(int64_t now_ms) const;
  RetryCounts RetryCountsAt(int64_t now_ms) const;

  void Count(Counter counter, int64_t n = 1);
  AdmissionCounters counters() const;

  BreakerState State(int64_t now_ms) const;
  int64_t open_until() const;
  const ModelKey& key() const { return key_; }

  struct Snapshot {
    BreakerState state;
    int64_t open_remaining_ms;
    int consecutive_failures;
    int probes_in_flight;
    int64_t times_opened;
    size_t waiters;
    RetryCounts retries;
  };
  Snapshot Inspect(int64_t now_ms) const;

 private:
  const ModelKey key_;
  mutable std::mutex mu_;
  CircuitBreaker breaker_;
  RetryBudget budget_;
  std::map<uint64_t, std::function<void()>> waiters_;
  uint64_t next_waiter_ = 1;
  std::array<std::atomic<int64_t>, 11> counters_{};
};

// The rate limits of one (provider, endpoint, model, key).
class KeyLimiter {
 public:
  explicit KeyLimiter(LimitKey key) : key_(std::move(key)) {}

  void Configure(const RateLimitConfig& config, int64_t now_ms);
  RateLimiter::Ticket Reserve(int64_t tokens, int64_t now_ms);
  int64_t ReadyAt(const RateLimiter::Ticket& ticket, int64_t now_ms);
  // Cancel and Settle return tokens; they wake the waiters whose reservations that covers.
  void Cancel(int64_t reserved_tokens, int64_t now_ms);
  void Settle(int64_t reserved_tokens, int64_t used_tokens, int64_t now_ms);
  // Registers `wake`, called once (on the returning thread, outside the lock) when returned
  // tokens cover `ticket` before time does. Returns 0, without registering, when it is covered
  // already. `wake` must be cheap and thread-safe.
  uint64_t AddWaiter(const RateLimiter::Ticket& ticket, int64_t now_ms, std::function<void()> wake);
  void RemoveWaiter(uint64_t id);
  void Observe(const RateLimitInfo& info, int64_t now_ms);
  void OnRateLimited(std::optional<int64_t> retry_after_ms, int64_t now_ms);
  void HoldUntil(int64_t until_ms);
  int64_t hold_until() const;
  const LimitKey& key() const { return key_; }

  struct Snapshot {
    double requests_level, requests_capacity;  // capacity 0: unlimited
    double tokens_level, tokens_capacity;
    int64_t hold_remaining_ms;
    size_t waiters;  // calls waiting for returned tokens
  };
  Snapshot Inspect(int64_t now_ms) const;

 private:
  struct Waiter {
    RateLimiter::Ticket ticket;
    std::function<void()> wake;
  };
  // Takes out the waiters whose tickets are covered at `now_ms`. Call with mu_ held.
  std::vector<std::function<void()>> TakeReadyLocked(int64_t now_ms);

  const LimitKey key_;
  mutable std::mutex mu_;
  mutable RateLimiter limiter_;
  std::map<uint64_t, Waiter> waiters_;
  uint64_t next_waiter_ = 1;
};

// For `baton stats` and metrics.
struct AdmissionSnapshot {
  struct Model {
    ModelKey key;
    ModelGate::Snapshot gate;
    AdmissionCounters counters;
  };
  struct Limit {
    LimitKey key;
    KeyLimiter::Snapshot limits;
  };
  std::vector<Model> models;  // ordered by key
  std::vector<Limit> limits;  // ordered by key
  size_t cache_entries = 0;   // when the cache is the in-memory one
  size_t cache_bytes = 0;
};

class AdmissionHub {
 public:
  static constexpr size_t kDefaultCacheBytes = 64 << 20;

  // `clock` must outlive the hub and every model using it. The cache starts as an in-memory LRU
  // of kDefaultCacheBytes.
  explicit AdmissionHub(const Clock& clock = SystemClock::Get());

  const Clock& clock() const { return clock_; }

  // The entry for `key`, created with `config` on first use. Later users with other settings
  // share the entry: their rpm/tpm lower a higher configured limit; breaker and budget settings
  // of the first user stay.
  std::shared_ptr<ModelGate> Gate(const ModelKey& key, const AdmissionConfig& config);
  std::shared_ptr<KeyLimiter> Limiter(const LimitKey& key, const RateLimitConfig& config);

  // Replaces the response cache (setup, before calls; e.g. a persistent one). Null disables it.
  void SetCache(std::shared_ptr<ResponseCache> cache);
  std::shared_ptr<ResponseCache> cache() const;

  AdmissionSnapshot Snapshot() const;

 private:
  const Clock& clock_;
  mutable std::mutex mu_;
  std::map<ModelKey, std::shared_ptr<ModelGate>> gates_;
  std::map<LimitKey, std::shared_ptr<KeyLimiter>> limiters_;
  std::shared_ptr<ResponseCache> cache_;
};

}  // namespace baton::providers::admission
