#include "simserver/limiter.hpp"

#include <algorithm>
#include <cmath>

namespace baton::simserver {

KeyLimiter::KeyLimiter(int64_t rpm, int64_t tpm, const Clock& clock)
    : rpm_(std::max<int64_t>(rpm, 0)), tpm_(std::max<int64_t>(tpm, 0)), clock_(clock) {}

void KeyLimiter::Refill(Bucket& b, int64_t now) const {
  double elapsed = static_cast<double>(std::max<int64_t>(now - b.last_ms, 0));
  b.last_ms = std::max(b.last_ms, now);
  if (rpm_ > 0) {
    b.requests = std::min(static_cast<double>(rpm_),
                          b.requests + elapsed * static_cast<double>(rpm_) / 60000.0);
  }
  if (tpm_ > 0) {
    b.tokens = std::min(static_cast<double>(tpm_),
                        b.tokens + elapsed * static_cast<double>(tpm_) / 60000.0);
  }
}

namespace {

// Milliseconds until a bucket refilling `per_minute` per minute gains `missing`.
int64_t TimeFor(double missing, int64_t per_minute) {
  if (missing <= 0 || per_minute <= 0) return 0;
  return static_cast<int64_t>(std::ceil(missing * 60000.0 / static_cast<double>(per_minute)));
}

}  // namespace

LimitSnapshot KeyLimiter::Snapshot(const Bucket& b, int64_t now) const {
  LimitSnapshot s;
  s.now_ms = now;
  if (rpm_ > 0) {
    s.limit_requests = rpm_;
    s.remaining_requests = static_cast<int64_t>(std::floor(b.requests));
    s.reset_requests_ms = TimeFor(static_cast<double>(rpm_) - b.requests, rpm_);
  }
  if (tpm_ > 0) {
    s.limit_tokens = tpm_;
    s.remaining_tokens = static_cast<int64_t>(std::floor(b.tokens));
    s.reset_tokens_ms = TimeFor(static_cast<double>(tpm_) - b.tokens, tpm_);
  }
  return s;
}

KeyLimiter::Decision KeyLimiter::Admit(std::string_view key, int64_t tokens) {
  Decision d;
  if (!enabled()) return d;
  int64_t now = clock_.NowMillis();
  std::lock_guard lock(mu_);
  auto [it, inserted] = buckets_.try_emplace(std::string(key));
  Bucket& b = it->second;
  if (inserted) {
    b.requests = static_cast<double>(rpm_);
    b.tokens = static_cast<double>(tpm_);
    b.last_ms = now;
  }
  Refill(b, now);
  double cost = static_cast<double>(std::min(std::max<int64_t>(tokens, 0), tpm_));
  if (rpm_ > 0 && b.requests < 1.0) {
    d.allowed = false;
    d.limited_by = "requests";
    d.retry_after_ms = TimeFor(1.0 - b.requests, rpm_);
  } else if (tpm_ > 0 && b.tokens < cost) {
    d.allowed = false;
    d.limited_by = "tokens";
    d.retry_after_ms = TimeFor(cost - b.tokens, tpm_);
  } else {
    if (rpm_ > 0) b.requests -= 1.0;
    if (tpm_ > 0) b.tokens -= cost;
  }
  d.snapshot = Snapshot(b, now);
  return d;
}

}  // namespace baton::simserver
