#include "providers/admission/hub.hpp"

#include "base/hash.hpp"

namespace baton::providers::admission {

std::string KeyFingerprint(std::string_view api_key) {
  if (api_key.empty()) return "";
  return Sha256Hex(api_key).substr(0, 16);
}

// ---- ModelGate --------------------------------------------------------------------------------

ModelGate::ModelGate(ModelKey key, const BreakerConfig& breaker, const RetryBudgetConfig& budget)
    : key_(std::move(key)), breaker_(breaker), budget_(budget) {}

BreakerPermit ModelGate::Acquire(int64_t now_ms) {
  std::lock_guard lock(mu_);
  return breaker_.Acquire(now_ms);
}

void ModelGate::Record(CallOutcome outcome, bool probe, int64_t now_ms) {
  std::vector<std::function<void()>> wake;
  {
    std::lock_guard lock(mu_);
    uint64_t before = breaker_.generation();
    breaker_.Record(outcome, probe, now_ms);
    if (breaker_.generation() != before) {
      wake.reserve(waiters_.size());
      for (auto& [id, fn] : waiters_) wake.push_back(std::move(fn));
      waiters_.clear();
    }
  }
  for (auto& fn : wake) fn();
}

uint64_t ModelGate::AddWaiter(uint64_t generation, std::function<void()> wake) {
  std::lock_guard lock(mu_);
  if (breaker_.generation() != generation) return 0;
  uint64_t id = next_waiter_++;
  waiters_.emplace(id, std::move(wake));
  return id;
}

void ModelGate::RemoveWaiter(uint64_t id) {
  std::function<void()> dropped;  // destroyed outside the lock
  std::lock_guard lock(mu_);
  auto it = waiters_.find(id);
  if (it != waiters_.end()) {
    dropped = std::move(it->second);
    waiters_.erase(it);
  }
}

void ModelGate::RecordAttempt(bool retry, int64_t now_ms) {
  std::lock_guard lock(mu_);
  budget_.RecordAttempt(retry, now_ms);
}

bool ModelGate::CanRetry(int64_t now_ms) const {
  std::lock_guard lock(mu_);
  return budget_.CanRetry(now_ms);
}

RetryCounts ModelGate::RetryCountsAt(int64_t now_ms) const {
  std::lock_guard lock(mu_);
  return budget_.Counts(now_ms);
}

void ModelGate::Count(Counter counter, int64_t n) {
  counters_[static_cast<size_t>(counter)].fetch_add(n, std::memory_order_relaxed);
}

AdmissionCounters ModelGate::counters() const {
  auto get = [this](Counter c) {
    return counters_[static_cast<size_t>(c)].load(std::memory_order_relaxed);
  };
  AdmissionCounters c;
  c.calls = get(Counter::kCalls);
  c.failures = get(Counter::kFailures);
  c.rate_limit_waits = get(Counter::kRateLimitWaits);
  c.rate_limit_wait_ms = get(Counter::kRateLimitWaitMs);
  c.holds = get(Counter::kHolds);
  c.breaker_rejections = get(Counter::kBreakerRejections);
  c.breaker_waits = get(Counter::kBreakerWaits);
  c.fallbacks = get(Counter::kFallbacks);
  c.cache_hits = get(Counter::kCacheHits);
  c.cache_misses = get(Counter::kCacheMisses);
  c.budget_exhausted = get(Counter::kBudgetExhausted);
  return c;
}

BreakerState ModelGate::State(int64_t now_ms) const {
  std::lock_guard lock(mu_);
  return breaker_.State(now_ms);
}

int64_t ModelGate::open_until() const {
  std::lock_guard lock(mu_);
  return breaker_.open_until();
}

ModelGate::Snapshot ModelGate::Inspect(int64_t now_ms) const {
  std::lock_guard lock(mu_);
  Snapshot s;
  s.state = breaker_.State(now_ms);
  s.open_remaining_ms =
      s.state == BreakerState::kOpen ? std::max<int64_t>(0, breaker_.open_until() - now_ms) : 0;
  s.consecutive_failures = breaker_.consecutive_failures();
  s.probes_in_flight = breaker_.probes_in_flight();
  s.times_opened = breaker_.times_opened();
  s.waiters = waiters_.size();
  s.retries = budget_.Counts(now_ms);
  return s;
}

// ---- KeyLimiter -------------------------------------------------------------------------------

void KeyLimiter::Configure(const RateLimitConfig& config, int64_t now_ms) {
  std::lock_guard lock(mu_);
  limiter_.Configure(config, now_ms);
}

RateLimiter::Ticket KeyLimiter::Reserve(int64_t tokens, int64_t now_ms) {
  std::lock_guard lock(mu_);
  return limiter_.Reserve(tokens, now_ms);
}

int64_t KeyLimiter::ReadyAt(const RateLimiter::Ticket& ticket, int64_t now_ms) {
  std::lock_guard lock(mu_);
  return limiter_.ReadyAt(ticket, now_ms);
}

std::vector<std::function<void()>> KeyLimiter::TakeReadyLocked(int64_t now_ms) {
  std::vector<std::function<void()>> ready;
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    if (limiter_.ReadyAt(it->second.ticket, now_ms) <= now_ms) {
      ready.push_back(std::move(it->second.wake));
      it = waiters_.erase(it);
    } else {
      ++it;
    }
  }
  return ready;
}

void KeyLimiter::Cancel(int64_t reserved_tokens, int64_t now_ms) {
  std::vector<std::function<void()>> wake;
  {
    std::lock_guard lock(mu_);
    limiter_.Cancel(reserved_tokens, now_ms);
    if (!waiters_.empty()) wake = TakeReadyLocked(now_ms);
  }
  for (auto& fn : wake) fn();
}

void KeyLimiter::Settle(int64_t reserved_tokens, int64_t used_tokens, int64_t now_ms) {
  std::vector<std::function<void()>> wake;
  {
    std::lock_guard lock(mu_);
    limiter_.Settle(reserved_tokens, used_tokens, now_ms);
    if (used_tokens < reserved_tokens && !waiters_.empty()) wake = TakeReadyLocked(now_ms);
  }
  for (auto& fn : wake) fn();
}

uint64_t KeyLimiter::AddWaiter(const RateLimiter::Ticket& ticket, int64_t now_ms,
                               std::function<void()> wake) {
  std::lock_guard lock(mu_);
  if (limiter_.ReadyAt(ticket, now_ms) <= now_ms) return 0;
  uint64_t id = next_waiter_++;
  waiters_.emplace(id, Waiter{ticket, std::move(wake)});
  return id;
}

void KeyLimiter::RemoveWaiter(uint64_t id) {
  std::function<void()> dropped;  // destroyed outside the lock
  std::lock_guard lock(mu_);
  auto it = waiters_.find(id);
  if (it != waiters_.end()) {
    dropped = std::move(it->second.wake);
    waiters_.erase(it);
  }
}

void KeyLimiter::Observe(const RateLimitInfo& info, int64_t now_ms) {
  std::lock_guard lock(mu_);
  limiter_.Observe(info, now_ms);
}

void KeyLimiter::OnRateLimited(std::optional<int64_t> retry_after_ms, int64_t now_ms) {
  std::lock_guard lock(mu_);
  limiter_.OnRateLimited(retry_after_ms, now_ms);
}

void KeyLimiter::HoldUntil(int64_t until_ms) {
  std::lock_guard lock(mu_);
  limiter_.HoldUntil(until_ms);
}

int64_t KeyLimiter::hold_until() const {
  std::lock_guard lock(mu_);
  return limiter_.hold_until();
}

KeyLimiter::Snapshot KeyLimiter::Inspect(int64_t now_ms) const {
  std::lock_guard lock(mu_);
  Snapshot s;
  s.requests_capacity = limiter_.requests().capacity();
  s.requests_level = limiter_.requests().Level(now_ms);
  s.tokens_capacity = limiter_.tokens().capacity();
  s.tokens_level = limiter_.tokens().Level(now_ms);
  s.hold_remaining_ms = std::max<int64_t>(0, limiter_.hold_until() - now_ms);
  s.waiters = waiters_.size();
  return s;
}

// ---- AdmissionHub -----------------------------------------------------------------------------

AdmissionHub::AdmissionHub(const Clock& clock)
    : clock_(clock), cache_(std::make_shared<MemoryResponseCache>(kDefaultCacheBytes, clock)) {}

std::shared_ptr<ModelGate> AdmissionHub::Gate(const ModelKey& key, const AdmissionConfig& config) {
  std::lock_guard lock(mu_);
  auto& gate = gates_[key];
  if (!gate) gate = std::make_shared<ModelGate>(key, config.breaker, config.retry_budget);
  return gate;
}

std::shared_ptr<KeyLimiter> AdmissionHub::Limiter(const LimitKey& key,
                                                  const RateLimitConfig& config) {
  std::shared_ptr<KeyLimiter> limiter;
  {
    std::lock_guard lock(mu_);
    auto& entry = limiters_[key];
    if (!entry) entry = std::make_shared<KeyLimiter>(key);
    limiter = entry;
  }
  limiter->Configure(config, clock_.NowMillis());
  return limiter;
}

void AdmissionHub::SetCache(std::shared_ptr<ResponseCache> cache) {
  std::lock_guard lock(mu_);
  cache_ = std::move(cache);
}

std::shared_ptr<ResponseCache> AdmissionHub::cache() const {
  std::lock_guard lock(mu_);
  return cache_;
}

AdmissionSnapshot AdmissionHub::Snapshot() const {
  std::vector<std::shared_ptr<ModelGate>> gates;
  std::vector<std::shared_ptr<KeyLimiter>> limiters;
  std::shared_ptr<ResponseCache> cache;
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, gate] : gates_) gates.push_back(gate);
    for (const auto& [key, limiter] : limiters_) limiters.push_back(limiter);
    cache = cache_;
  }
  int64_t now = clock_.NowMillis();
  AdmissionSnapshot snap;
  for (const auto& gate : gates) {
    snap.models.push_back({gate->key(), gate->Inspect(now), gate->counters()});
  }
  for (const auto& limiter : limiters) {
    snap.limits.push_back({limiter->key(), limiter->Inspect(now)});
  }
  if (auto* memory = dynamic_cast<MemoryResponseCache*>(cache.get())) {
    snap.cache_entries = memory->entries();
    snap.cache_bytes = memory->bytes();
  }
  return snap;
}

}  // namespace baton::providers::admission
