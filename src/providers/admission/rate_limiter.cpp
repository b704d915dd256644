#include "providers/admission/rate_limiter.hpp"

#include <algorithm>

namespace baton::providers::admission {

void RateLimiter::Configure(const RateLimitConfig& config, int64_t now_ms) {
  if (config.rpm) requests_.Configure(*config.rpm, now_ms);
  if (config.tpm) tokens_.Configure(*config.tpm, now_ms);
}

RateLimiter::Ticket RateLimiter::Reserve(int64_t tokens, int64_t now_ms) {
  Ticket t;
  t.requests = requests_.Reserve(1, now_ms).ticket;
  t.tokens = tokens_.Reserve(static_cast<double>(tokens), now_ms).ticket;
  return t;
}

int64_t RateLimiter::ReadyAt(const Ticket& ticket, int64_t now_ms) {
  return now_ms + std::max(requests_.WaitFor(ticket.requests, now_ms),
                           tokens_.WaitFor(ticket.tokens, now_ms));
}

void RateLimiter::Cancel(int64_t reserved_tokens, int64_t now_ms) {
  requests_.Give(1, now_ms);
  tokens_.Give(static_cast<double>(reserved_tokens), now_ms);
}

void RateLimiter::Settle(int64_t reserved_tokens, int64_t used_tokens, int64_t now_ms) {
  if (used_tokens != reserved_tokens) {
    tokens_.Give(static_cast<double>(reserved_tokens - used_tokens), now_ms);
  }
}

void RateLimiter::Observe(const RateLimitInfo& info, int64_t now_ms) {
  requests_.Observe(info.limit_requests, info.remaining_requests, now_ms);
  tokens_.Observe(info.limit_tokens, info.remaining_tokens, now_ms);
  if (!requests_.limited() && info.remaining_requests == 0 && info.reset_requests_ms) {
    HoldUntil(now_ms + *info.reset_requests_ms);
  }
  if (!tokens_.limited() && info.remaining_tokens == 0 && info.reset_tokens_ms) {
    HoldUntil(now_ms + *info.reset_tokens_ms);
  }
}

void RateLimiter::OnRateLimited(std::optional<int64_t> retry_after_ms, int64_t now_ms) {
  if (retry_after_ms && *retry_after_ms > 0) {
    HoldUntil(now_ms + *retry_after_ms);
  } else if (requests_.limited()) {
    requests_.Observe(std::nullopt, 0, now_ms);
  }
}

void RateLimiter::HoldUntil(int64_t until_ms) {
  hold_until_ms_ = std::max(hold_until_ms_, until_ms);
}

}  // namespace baton::providers::admission
