#pragma once

// The limits of one (provider, endpoint, model, API key): a request bucket (RPM), a token bucket
// (TPM), and a hold that stops every call until a time a provider named (429 Retry-After). Pure:
// decisions take the current time and return times to wait; the caller waits. Not synchronized
// (the hub locks around each call).

#include <cstdint>
#include <optional>

#include "providers/admission/token_bucket.hpp"
#include "providers/chat_model.hpp"

namespace baton::providers::admission {

struct RateLimitConfig {
  std::optional<double> rpm;  // requests per minute; none: unlimited (until headers say)
  std::optional<double> tpm;  // tokens (input + output) per minute
};

class RateLimiter {
 public:
  // Applies configured limits; where a limit is already configured the lower one wins.
  void Configure(const RateLimitConfig& config, int64_t now_ms);

  struct Ticket {
    double requests = 0;
    double tokens = 0;
  };
  // Reserves one request and `tokens` tokens. The call may be sent once ReadyAt(ticket) has
  // come; the hold is separate: callers wait until max(ReadyAt, hold_until()), re-reading both
  // after each wait (returned tokens and headers move ReadyAt).
  Ticket Reserve(int64_t tokens, int64_t now_ms);
  // The epoch millisecond from which the reservation is covered (`now_ms` when it is).
  int64_t ReadyAt(const Ticket& ticket, int64_t now_ms);
  // Gives back a reservation whose call was never sent (cancelled while waiting).
  void Cancel(int64_t reserved_tokens, int64_t now_ms);
  // Corrects a sent call's token reservation with what it actually used.
  void Settle(int64_t reserved_tokens, int64_t used_tokens, int64_t now_ms);

  // Feeds a response's rate-limit headers: `limit_*` teaches an unconfigured bucket its capacity,
  // `remaining_*` lowers a bucket that thinks more is left. When nothing is known about a bucket
  // and the provider says 0 remain, every call is held for `reset_*`.
  void Observe(const RateLimitInfo& info, int64_t now_ms);
  // A rate_limited failure: with a retry-after, holds every call until now + retry_after;
  // without one, drains the request bucket (the next call waits one request's refill time).
  void OnRateLimited(std::optional<int64_t> retry_after_ms, int64_t now_ms);
  // Holds every call until `until_ms`; an earlier time than the current hold is ignored.
  void HoldUntil(int64_t until_ms);
  int64_t hold_until() const { return hold_until_ms_; }

  TokenBucket& requests() { return requests_; }
  TokenBucket& tokens() { return tokens_; }

 private:
  TokenBucket requests_;
  TokenBucket tokens_;
  int64_t hold_until_ms_ = 0;
};

}  // namespace baton::providers::admission
